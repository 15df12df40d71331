//! The rule catalogue of contract section 5: every code, its name, severity and
//! level. Codes are a public contract: add, never rename.

use std::fmt;

/// How urgent a finding is (contract section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The data must be fixed; the shipment is held.
    Error,
    /// Review; the shipment still moves.
    Warning,
    /// A note that changes the route.
    Info,
}

impl Severity {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What a finding is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    File,
    Line,
    Shipment,
}

macro_rules! rules {
    ($($variant:ident => $name:literal, $sev:ident, $level:ident;)*) => {
        /// A rule code. Declaration order is the contract's table order, which
        /// is also the order of codes in a disposition's `reasons`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $($variant),* }

        impl Rule {
            /// Every rule, in contract order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The code, e.g. `V002`.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => stringify!($variant)),* }
            }

            /// The contract's name, e.g. `HTS_INVALID`.
            pub fn name(self) -> &'static str {
                match self { $(Rule::$variant => $name),* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$sev),* }
            }

            pub fn level(self) -> Level {
                match self { $(Rule::$variant => Level::$level),* }
            }
        }
    };
}

rules! {
    F001 => "FILE_UNREADABLE", Error, File;
    F002 => "COLUMN_MISSING", Error, File;
    F003 => "ROW_MALFORMED", Error, Line;
    V001 => "MISSING_FIELD", Error, Line;
    V002 => "HTS_INVALID", Error, Line;
    V003 => "COUNTRY_INVALID", Error, Line;
    V004 => "VALUE_INVALID", Error, Line;
    V005 => "PORT_INVALID", Error, Line;
    V006 => "DATE_INVALID", Error, Line;
    V007 => "DESCRIPTION_VAGUE", Warning, Line;
    V008 => "CURRENCY_UNCONVERTED", Error, Line;
    V009 => "ZIP_INVALID", Warning, Line;
    D001 => "DUPLICATE_LINE", Warning, Line;
    D002 => "HOUSE_BILL_CONFLICT", Error, Line;
    D003 => "DUPLICATE_ACROSS_FILES", Warning, Shipment;
    D004 => "POSSIBLE_DUPLICATE", Warning, Shipment;
    L001 => "MULTIPLE_SHIPMENTS_PER_DAY", Warning, Shipment;
    L002 => "DAILY_LIMIT_EXCEEDED", Warning, Shipment;
    L003 => "SHIPMENT_OVER_THRESHOLD", Info, Shipment;
    E001 => "DE_MINIMIS_UNAVAILABLE", Info, Line;
    E002 => "PGA_REVIEW", Warning, Line;
    E003 => "RESTRICTED_COMMODITY", Warning, Line;
    R001 => "UNDERVALUED", Warning, Line;
    R002 => "TRANSSHIPMENT_RISK", Warning, Line;
    E004 => "ADCVD_SCOPE", Warning, Line;
    V010 => "IOR_MISSING", Warning, Shipment;
    T001 => "DUTY_UNKNOWN", Warning, Line;
    T002 => "RATES_UNREVIEWED", Warning, File;
    // s321d extensions (issue 11): silent choices made visible.
    F004 => "COLUMN_DUPLICATED", Warning, File;
    V011 => "CONTROL_CHARACTER", Error, Line;
}

impl Rule {
    /// Bit of this rule in a `u32` rule set (see [`RuleSet`]).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Looks a code up (`"V002"`).
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A shipment's disposition (contract sections 6-7), in the order summaries
/// list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Disposition {
    Hold,
    Duplicate,
    /// Type 03: AD/CVD entry (v2).
    Adcvd03,
    /// Type 01: formal entry.
    Formal01,
    /// Type 86: Section 321.
    Section321,
    /// Type 11: informal entry.
    Informal11,
}

impl Disposition {
    pub const ALL: [Disposition; 6] = [
        Disposition::Hold,
        Disposition::Duplicate,
        Disposition::Adcvd03,
        Disposition::Formal01,
        Disposition::Section321,
        Disposition::Informal11,
    ];

    /// The contract's spelling in `dispositions.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Hold => "hold",
            Disposition::Duplicate => "duplicate",
            Disposition::Adcvd03 => "03",
            Disposition::Formal01 => "01",
            Disposition::Section321 => "86",
            Disposition::Informal11 => "11",
        }
    }

    pub fn from_code(code: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.as_str() == code)
    }
}

/// A set of rules packed in a `u32`, so polars can OR them per shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleSet(pub u32);

impl RuleSet {
    pub fn contains(self, rule: Rule) -> bool {
        self.0 & rule.bit() != 0
    }

    pub fn insert(&mut self, rule: Rule) {
        self.0 |= rule.bit();
    }

    /// Members in contract order.
    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.iter().copied().filter(move |r| self.contains(*r))
    }

    /// `;`-separated codes in contract order, as in `dispositions.csv`.
    pub fn joined(self) -> String {
        self.iter().map(Rule::code).collect::<Vec<_>>().join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_matches_contract() {
        // The contract's 28 and s321d's extensions F004 and V011.
        assert_eq!(Rule::ALL.len(), 30);
        assert!(Rule::ALL.len() <= 32, "RuleSet packs rules in a u32");
        assert_eq!(Rule::V002.name(), "HTS_INVALID");
        assert_eq!(Rule::L003.severity(), Severity::Info);
        assert_eq!(Rule::D003.level(), Level::Shipment);
        assert_eq!(Rule::from_code("R002"), Some(Rule::R002));
        let errors: Vec<_> = Rule::ALL
            .iter()
            .filter(|r| r.severity() == Severity::Error)
            .map(|r| r.code())
            .collect();
        assert_eq!(
            errors,
            [
                "F001", "F002", "F003", "V001", "V002", "V003", "V004", "V005", "V006", "V008",
                "D002", "V011"
            ]
        );
        assert_eq!(
            (Rule::F004.severity(), Rule::F004.level()),
            (Severity::Warning, Level::File)
        );
    }

    #[test]
    fn rule_sets_list_codes_in_contract_order() {
        let mut set = RuleSet::default();
        set.insert(Rule::V001);
        set.insert(Rule::F002);
        set.insert(Rule::D002);
        assert_eq!(set.joined(), "F002;V001;D002");
    }
}
