//! Duties and fees (contract section 9): the estimate of one line's duty, and
//! the fees of an entry, from the `[duty]` and `[fees]` policy keys.
//!
//! Owns the whole computation for a line: the HTS revision in force
//! ([`hts`]), its rate column and text and their exact amount ([`rate`]), the
//! chapter 99 layers ([`layers`]), and the fee table ([`fees`]); [`config`]
//! reads and checks the policy keys. It does not group lines into entries,
//! decide entry types, or write files: callers do, with [`DutyPolicy::line`]
//! per line and [`FeeTable::fees`] per entry.
//!
//! Money is fixed-point `i128` at twelve decimals ([`crate::money`]); each
//! amount is computed exactly and rounded once, half-up to the cent.

pub mod config;
pub mod exact;
pub mod fees;
pub mod hts;
pub mod layers;
pub mod rate;
pub mod survey;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;

pub use config::{RawDuty, RawFees, build};
pub use fees::{FeeEntryType, FeeTable, Fees, MpfRow};
pub use hts::{Coverage, HtsRevision, RateRow};
pub use layers::{Layer, LayerIndex, applicable, layer_amount};
pub use rate::{Percent, Quantities, Rate, RateColumn};

/// The checked `[duty]` and `[fees]` keys. Build it with [`config::build`]
/// or [`DutyPolicy::new`]; the fields are for reading (the layer index is
/// built from `layers` once).
#[derive(Debug)]
pub struct DutyPolicy {
    /// Last date the rates were checked against CBP's guidance (T002).
    pub reviewed_through: Option<NaiveDate>,
    /// Origins that pay column 2, upper-case.
    pub column2_origins: BTreeSet<String>,
    /// `(from, file as written, revision)`, sorted by `from`, no two on one day.
    pub revisions: Vec<(NaiveDate, String, Arc<HtsRevision>)>,
    pub layers: Vec<Layer>,
    pub fees: FeeTable,
    layer_index: LayerIndex,
}

impl Default for DutyPolicy {
    /// No revisions, layers or fees: no duty is computed.
    fn default() -> DutyPolicy {
        DutyPolicy::new(
            None,
            BTreeSet::new(),
            Vec::new(),
            Vec::new(),
            FeeTable::default(),
        )
    }
}

/// One line, as [`DutyPolicy::line`] needs it. Codes are normalised by the
/// caller (contract section 4): `hts10` ten digits, `origin` upper-case.
#[derive(Debug, Clone, Copy)]
pub struct LineIn<'a> {
    pub date: NaiveDate,
    pub hts10: &'a str,
    pub origin: &'a str,
    /// The special program indicator claimed (`S`, `KR`, ...); may be empty.
    pub special_program: &'a str,
    /// Money units (12 decimals).
    pub entered_value: i128,
    /// In the code's first unit of quantity; 12 decimals.
    pub quantity: Option<i128>,
    /// 12 decimals.
    pub weight_kg: Option<i128>,
}

/// One line's duty (money in money units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDuty {
    /// `general`, `special:<code>` or `column2`; empty when no revision covers
    /// the date or the code is not in it.
    pub rate_column: String,
    /// The rate text as printed in the HTS file.
    pub rate: String,
    /// The HTS-rate amount; `None` when unknown.
    pub hts_duty: Option<i128>,
    /// `(heading, program, amount)` of each chapter 99 layer, listed even when
    /// the HTS part is unknown.
    pub ch99: Vec<(String, String, i128)>,
    /// `hts_duty` plus the chapter 99 amounts; `None` when unknown.
    pub duty: Option<i128>,
    /// Why the duty is unknown (the T001 reason).
    pub unknown: Option<String>,
}

impl DutyPolicy {
    /// Sorts `revisions` by `from` and indexes `layers`.
    pub fn new(
        reviewed_through: Option<NaiveDate>,
        column2_origins: BTreeSet<String>,
        mut revisions: Vec<(NaiveDate, String, Arc<HtsRevision>)>,
        layers: Vec<Layer>,
        fees: FeeTable,
    ) -> DutyPolicy {
        revisions.sort_by_key(|r| r.0);
        let layer_index = LayerIndex::new(&layers);
        DutyPolicy {
            reviewed_through,
            column2_origins,
            revisions,
            layers,
            fees,
            layer_index,
        }
    }

    /// Whether any `[[duty.hts]]` is set (without one no duty is computed).
    pub fn has_hts(&self) -> bool {
        !self.revisions.is_empty()
    }

    /// The revision in force on `date`: the last whose `from` <= date, with
    /// its position in [`DutyPolicy::revisions`].
    pub fn revision_on(&self, date: NaiveDate) -> Option<(usize, &HtsRevision)> {
        let i = self
            .revisions
            .partition_point(|r| r.0 <= date)
            .checked_sub(1)?;
        Some((i, &self.revisions[i].2))
    }

    /// The chapter 99 layers that apply to a line, with their amounts.
    fn ch99(&self, l: &LineIn<'_>) -> Vec<(String, String, i128)> {
        let found = if self.layer_index.len() == self.layers.len() {
            self.layer_index
                .applicable(&self.layers, l.date, l.hts10, l.origin)
        } else {
            applicable(&self.layers, l.date, l.hts10, l.origin)
        };
        found
            .into_iter()
            .map(|x| {
                (
                    x.heading.clone(),
                    x.program.clone(),
                    layer_amount(x, l.entered_value),
                )
            })
            .collect()
    }

    /// Steps 1 to 6 of contract section 9 for one line.
    pub fn line(&self, l: &LineIn<'_>) -> LineDuty {
        let ch99 = self.ch99(l);
        let ch99_sum: i128 = ch99.iter().map(|c| c.2).sum();
        let unknown = |rate_column: String, rate: String, why: String, ch99| LineDuty {
            rate_column,
            rate,
            hts_duty: None,
            ch99,
            duty: None,
            unknown: Some(why),
        };
        let Some((i, rev)) = self.revision_on(l.date) else {
            return unknown(
                String::new(),
                String::new(),
                format!("no HTS revision in force on {}", l.date),
                ch99,
            );
        };
        let file = &self.revisions[i].1;
        let Some(position) = rev.position(l.hts10) else {
            return unknown(
                String::new(),
                String::new(),
                format!("{} is not in HTS file {file}", l.hts10),
                ch99,
            );
        };
        let entry = rev.entry(position);
        let (column, text_id) = if self.column2_origins.contains(l.origin) {
            (RateColumn::Column2, entry.other)
        } else {
            let program = l.special_program.trim();
            let special = (!program.is_empty())
                .then(|| {
                    rev.groups(entry.special).iter().find_map(|g| {
                        g.codes
                            .iter()
                            .find(|c| c.eq_ignore_ascii_case(program))
                            .map(|c| (c, g.text))
                    })
                })
                .flatten();
            match special {
                Some((code, text)) => (RateColumn::Special(code.to_string()), text),
                None => (RateColumn::General, entry.general),
            }
        };
        let text = rev.text(text_id);
        let amount = if text.is_empty() {
            Err(format!(
                "{} has no {column} rate in HTS file {file}",
                l.hts10
            ))
        } else {
            rev.parsed(text_id)
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|rate| {
                    rate.amount_for(l.entered_value, l.quantity, l.weight_kg, rev.unit_of(entry))
                })
        };
        match amount {
            Ok(hts_duty) => LineDuty {
                rate_column: column.to_string(),
                rate: text.to_owned(),
                hts_duty: Some(hts_duty),
                duty: Some(hts_duty + ch99_sum),
                ch99,
                unknown: None,
            },
            Err(why) => unknown(column.to_string(), text.to_owned(), why, ch99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money;

    fn d(s: &str) -> i128 {
        money::parse_decimal(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const HEADER: &str = "HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of Duty,Quota Quantity,Additional Duties\n";

    fn revision() -> Arc<HtsRevision> {
        let body = concat!(
            "\"6109.10.00\",\"1\",\"Of cotton\",\"\",\"16.5%\",\"Free (AU,BH,KR,S) 3.4% (A+)\",\"90%\",\"\",\"\"\n",
            "\"6109.10.00.12\",\"2\",\"Men's\",\"[\"\"doz.\"\",\"\"kg\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"2204.21.50\",\"1\",\"Wine\",\"\",\"6.3¢/liter\",\"\",\"67¢/liter\",\"\",\"\"\n",
            "\"2204.21.50.10\",\"2\",\"x\",\"[\"\"liters\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"2204.21.50.20\",\"2\",\"x\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"6201.20.00.00\",\"1\",\"Coats\",\"[\"\"No.\"\"]\",\"The rate applicable to each garment in the ensemble if separately entered\",\"\",\"\",\"\",\"\"\n",
        );
        Arc::new(HtsRevision::from_csv(&format!("{HEADER}{body}")).unwrap())
    }

    fn policy() -> DutyPolicy {
        let mut l301 = Layer {
            heading: "9903.88.15".into(),
            program: "301".into(),
            rate: Percent::parse("7.5%").unwrap(),
            origins: vec!["CN".into()],
            exclude_origins: Vec::new(),
            hts: vec!["6109".into()],
            exclude_hts: Vec::new(),
            from: day("2019-09-01"),
            to: None,
            not_with: Vec::new(),
            basis: None,
        };
        let l122 = Layer {
            heading: "9903.03.01".into(),
            program: "122".into(),
            rate: Percent::parse("10%").unwrap(),
            origins: Vec::new(),
            hts: Vec::new(),
            from: day("2026-02-24"),
            to: Some(day("2026-07-24")),
            ..l301.clone()
        };
        l301.basis = Some("USTR".into());
        DutyPolicy::new(
            Some(day("2026-12-01")),
            ["RU".to_owned()].into(),
            vec![(day("2026-01-01"), "reference/rev.csv".into(), revision())],
            vec![l301, l122],
            FeeTable::default(),
        )
    }

    fn line<'a>(hts10: &'a str, origin: &'a str, program: &'a str, value: &str) -> LineIn<'a> {
        LineIn {
            date: day("2026-03-01"),
            hts10,
            origin,
            special_program: program,
            entered_value: d(value),
            quantity: None,
            weight_kg: None,
        }
    }

    #[test]
    fn general_rate_and_layers_add_up() {
        let p = policy();
        let out = p.line(&line("6109100012", "CN", "", "100"));
        assert_eq!(out.rate_column, "general");
        assert_eq!(out.rate, "16.5%");
        assert_eq!(out.hts_duty, Some(d("16.50")));
        assert_eq!(
            out.ch99,
            [
                ("9903.88.15".to_owned(), "301".to_owned(), d("7.50")),
                ("9903.03.01".to_owned(), "122".to_owned(), d("10.00"))
            ]
        );
        assert_eq!(out.duty, Some(d("34.00")));
        assert_eq!(out.unknown, None);
    }

    #[test]
    fn special_program_and_column2() {
        let p = policy();
        let out = p.line(&line("6109100012", "KR", "KR", "100"));
        assert_eq!(
            (out.rate_column.as_str(), out.rate.as_str(), out.hts_duty),
            ("special:KR", "Free", Some(0))
        );
        assert_eq!(out.duty, Some(d("10.00")), "the 122 layer still applies");
        let out = p.line(&line("6109100012", "AU", "A+", "100"));
        assert_eq!(
            (out.rate_column.as_str(), out.rate.as_str(), out.hts_duty),
            ("special:A+", "3.4%", Some(d("3.40")))
        );
        // "A" is not "A+": general.
        let out = p.line(&line("6109100012", "AU", "A", "100"));
        assert_eq!(out.rate_column, "general");
        // Column 2 wins over a claimed program.
        let out = p.line(&line("6109100012", "RU", "KR", "100"));
        assert_eq!(
            (out.rate_column.as_str(), out.rate.as_str(), out.hts_duty),
            ("column2", "90%", Some(d("90.00")))
        );
    }

    #[test]
    fn specific_rates_need_the_codes_unit() {
        let p = policy();
        let mut l = line("2204215010", "FR", "", "20");
        l.quantity = Some(d("9"));
        let out = p.line(&l);
        assert_eq!(
            (out.rate.as_str(), out.hts_duty),
            ("6.3¢/liter", Some(d("0.57")))
        ); // 56.7¢
        let mut l = line("2204215020", "FR", "", "20");
        l.quantity = Some(d("9"));
        let out = p.line(&l);
        assert_eq!(out.hts_duty, None);
        assert_eq!(out.duty, None);
        assert_eq!(
            out.unknown.as_deref(),
            Some(r#"rate "6.3¢/liter" needs quantity in liter but the code's unit is "No.""#)
        );
        assert_eq!(out.rate_column, "general");
    }

    #[test]
    fn unknown_duty_keeps_the_layers() {
        let p = policy();
        let out = p.line(&line("6201200000", "CN", "", "100"));
        assert_eq!(out.hts_duty, None);
        assert_eq!(out.duty, None);
        assert!(
            out.unknown
                .as_deref()
                .unwrap()
                .contains("is not computable"),
            "{out:?}"
        );
        assert_eq!(out.ch99.len(), 1, "the 122 layer is listed: {out:?}");
        let out = p.line(&line("6109100099", "CN", "", "100"));
        assert_eq!(
            out.unknown.as_deref(),
            Some("6109100099 is not in HTS file reference/rev.csv")
        );
        assert_eq!(out.rate_column, "");
        assert_eq!(out.ch99.len(), 2);
        let mut l = line("6109100012", "CN", "", "100");
        l.date = day("2025-03-01");
        let out = p.line(&l);
        assert_eq!(
            out.unknown.as_deref(),
            Some("no HTS revision in force on 2025-03-01")
        );
        assert_eq!((out.rate_column.as_str(), out.rate.as_str()), ("", ""));
        assert_eq!(
            out.ch99,
            [("9903.88.15".to_owned(), "301".to_owned(), d("7.50"))]
        );
    }

    #[test]
    fn a_code_without_a_rate_says_so() {
        let body = "\"9999.00.00.00\",\"0\",\"x\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"\n";
        let rev = Arc::new(HtsRevision::from_csv(&format!("{HEADER}{body}")).unwrap());
        let p = DutyPolicy::new(
            None,
            BTreeSet::new(),
            vec![(day("2026-01-01"), "f.csv".into(), rev)],
            Vec::new(),
            FeeTable::default(),
        );
        let out = p.line(&line("9999000000", "DE", "", "1"));
        assert_eq!(
            out.unknown.as_deref(),
            Some("9999000000 has no general rate in HTS file f.csv")
        );
    }

    #[test]
    fn revision_on_picks_the_last_that_started() {
        let rev = revision();
        let p = DutyPolicy::new(
            None,
            BTreeSet::new(),
            vec![
                (day("2026-07-01"), "b".into(), rev.clone()),
                (day("2026-01-01"), "a".into(), rev),
            ],
            Vec::new(),
            FeeTable::default(),
        );
        assert!(p.has_hts());
        assert_eq!(p.revision_on(day("2025-12-31")).map(|r| r.0), None);
        assert_eq!(p.revision_on(day("2026-01-01")).map(|r| r.0), Some(0));
        assert_eq!(p.revision_on(day("2026-06-30")).map(|r| r.0), Some(0));
        assert_eq!(p.revision_on(day("2026-07-01")).map(|r| r.0), Some(1));
        assert_eq!(p.revisions[1].1, "b");
        assert!(!DutyPolicy::default().has_hts());
    }
}
