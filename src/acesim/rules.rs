//! What the simulated ACE checks inside a transaction: the data of an entry
//! (domain.md section 3.6, for both transports), and for CATAIR the content
//! of every field against the simulator's layout table (blank M fields,
//! classes, code lists) and the conditional rules of the Cargo Release and
//! Entry Summary chapters (catair.md sections 3, 6 and 7).
//!
//! Rejections (SE90 01, record level 11) and warnings (SE90 03, record level
//! 13) carry a condition code of 3 characters. CBP's list of Cargo Release
//! condition codes (SE90 7-9) was not transcribed (catair.md section 4), so
//! every code here is s321d's own: `E..`/`W..` for the data rules the
//! simulator always had, `S..` for the layout rules added with its own
//! table. None of them is a CBP code. Outcomes ACE gives after acceptance
//! (SO60 33, 34, 30) are decided in `mod.rs`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::layouts;
use super::model::{self, Filing};
use super::read::{FieldFault, Line, scan};
use crate::normalize::countries;
use crate::policy::Policy;

/// The simulator's condition codes (all s321d's own; see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    CheckDigit,
    Reused,
    EntryType,
    Missing,
    BillTypeT,
    OneBill,
    Hts,
    Country,
    Port,
    NoEda,
    Type86Suspended,
    Type11Value,
    FilerCode,
    Ior,
    Chapter99,
    Vague,
    Short,
    /// An M field left blank, or a field the notes make mandatory.
    Blank,
    /// A value outside its field's class.
    ClassFault,
    /// A value outside its field's code list.
    BadCode,
    /// Bond type 0 where the entry type needs a bond.
    Bond,
    /// Bond type 9 without SE20 V1 and AMT.
    SingleBond,
    /// The planned port of entry left blank where SE10 Note 7 requires it.
    PlannedPort,
    /// SE10 or AE 10 filer code not the block's.
    FilerMismatch,
    /// A bill number with spaces, hyphens, slashes or other specials.
    BillSpecials,
    /// An issuer code where air (MOT 40/41) needs spaces, or `UNKN`.
    Issuer,
    /// A non-AMS bill without its SE16 conveyance.
    NonAmsConveyance,
    /// A flight number not NNN, NNNN, NNNA or NNNNA.
    Flight,
    /// An entity code that exists only for the GBI test (SH, EX, DR, PK).
    GbiEntity,
    /// An identifier on an entity other than BY, ST, CN.
    EntityQualifier,
    /// A party by name without its SE35/SE36 (or SE55/SE56).
    EntityAddress,
    /// An entity code twice at the header or on one line.
    EntityTwice,
    /// A party the entry type requires is absent.
    Parties,
    /// A line value absent where SE60 Note 3 requires it.
    LineValue,
    /// A type 86 over $800.
    Type86Value,
    /// A house bill already on another accepted entry.
    BillOnOtherEntry,
    /// Entry summary totals that do not add up.
    SummaryTotals,
    /// An entry summary already on file for the entry number.
    SummaryTwice,
    /// SE13 contact absent on an add (catair.md: whether ACE rejects it is UNVERIFIED).
    NoContact,
}

impl Condition {
    pub fn code(self) -> &'static str {
        use Condition::*;
        match self {
            CheckDigit => "E01",
            Reused => "E02",
            EntryType => "E03",
            Missing => "E04",
            BillTypeT => "E05",
            OneBill => "E06",
            Hts => "E07",
            Country => "E08",
            Port => "E09",
            NoEda => "E10",
            Type86Suspended => "E11",
            Type11Value => "E12",
            FilerCode => "E13",
            Ior => "E14",
            Chapter99 => "E15",
            Vague => "W01",
            Short => "W02",
            NoContact => "W03",
            Blank => "S01",
            ClassFault => "S02",
            BadCode => "S03",
            Bond => "S04",
            SingleBond => "S05",
            PlannedPort => "S06",
            FilerMismatch => "S07",
            BillSpecials => "S08",
            Issuer => "S09",
            NonAmsConveyance => "S10",
            Flight => "S11",
            GbiEntity => "S12",
            EntityQualifier => "S13",
            EntityAddress => "S14",
            EntityTwice => "S15",
            Parties => "S16",
            LineValue => "S17",
            Type86Value => "S18",
            BillOnOtherEntry => "S19",
            SummaryTotals => "S20",
            SummaryTwice => "S21",
        }
    }

    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Condition::Vague | Condition::Short | Condition::NoContact
        )
    }
}

/// One problem found, with the narrative ACE would send (40 characters at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub condition: Condition,
    pub narrative: String,
    /// The record (index in its transaction) it concerns: record-level
    /// SE90 11/13 follow that record in the answer.
    pub record: Option<usize>,
}

pub fn problem(
    condition: Condition,
    narrative: impl Into<String>,
    record: Option<usize>,
) -> Problem {
    let mut n: String = narrative.into().to_ascii_uppercase();
    n.truncate(40);
    Problem {
        condition,
        narrative: n,
        record,
    }
}

/// Which way an entry came: CATAIR checks what JSON cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Json,
    Catair,
}

/// What the simulator knows: the filer codes it accepts and the reference
/// lists (ports, vague terms, the HTS reference) of an s321d policy.
pub struct Rules {
    pub filer_codes: BTreeSet<String>,
    pub policy: Policy,
}

/// The suspension of type 86 for every origin (EO 14324).
pub fn type86_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 8, 29).expect("date")
}

/// CN/HK lose type 86 (EO 14256).
pub fn cn_hk_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 5, 2).expect("date")
}

impl Rules {
    /// The data rules, for an entry from either transport; `reused` says its
    /// entry number was filed before.
    pub fn check(&self, e: &Filing, reused: bool, source: Source) -> Vec<Problem> {
        let mut out = Vec::new();
        let head = Some(0);
        if !self.filer_codes.contains(&e.filer_code) {
            out.push(problem(
                Condition::FilerCode,
                format!("FILER CODE {} NOT AUTHORIZED", e.filer_code),
                head,
            ));
        }
        if !model::entry_number_valid(&e.entry_number) {
            out.push(problem(
                Condition::CheckDigit,
                "ENTRY NUMBER CHECK DIGIT INVALID",
                head,
            ));
        } else if !e.entry_number.starts_with(&e.filer_code) {
            out.push(problem(
                Condition::CheckDigit,
                "ENTRY NUMBER FILER CODE MISMATCH",
                head,
            ));
        } else if reused {
            out.push(problem(
                Condition::Reused,
                "ENTRY NUMBER PREVIOUSLY USED",
                head,
            ));
        }
        if !layouts::ENTRY_TYPES_SE.contains(&e.entry_type.as_str()) {
            out.push(problem(
                Condition::EntryType,
                format!("ENTRY TYPE {} INVALID", e.entry_type),
                head,
            ));
        }
        if e.all_bills().is_empty() {
            out.push(problem(Condition::Missing, "BILL OF LADING MISSING", None));
        }
        if e.lines.is_empty() {
            out.push(problem(Condition::Missing, "NO COMMERCIAL LINES", None));
        }
        // In CATAIR a blank planned port is derived from the bill (SE10
        // Note 7); where it is required, the layout rules say so.
        if !(source == Source::Catair && e.port_of_entry.is_empty()) {
            let port_ok =
                e.port_of_entry.len() == 4 && self.policy.ports.contains(&e.port_of_entry);
            if !port_ok {
                out.push(problem(
                    Condition::Port,
                    format!("PORT {} NOT IN SCHEDULE D", e.port_of_entry),
                    head,
                ));
            }
        }
        for l in &e.lines {
            if l.hts.len() != 10 || !l.hts.bytes().all(|b| b.is_ascii_digit()) {
                out.push(problem(
                    Condition::Hts,
                    format!("LINE {} HTS NOT 10 DIGITS", l.line),
                    None,
                ));
            } else if let Some(reference) = &self.policy.hts_reference
                && !reference.codes.contains(&l.hts)
            {
                out.push(problem(
                    Condition::Hts,
                    format!("LINE {} HTS NOT VALID", l.line),
                    None,
                ));
            }
            if !countries::is_assigned(&l.origin) {
                out.push(problem(
                    Condition::Country,
                    format!("LINE {} COUNTRY {} INVALID", l.line, l.origin),
                    None,
                ));
            }
            let desc = crate::normalize::norm(&l.description);
            if self.policy.vague_terms.contains(&desc) {
                out.push(problem(
                    Condition::Vague,
                    format!("LINE {} DESCRIPTION VAGUE", l.line),
                    None,
                ));
            } else if desc.chars().count() < 3 {
                out.push(problem(
                    Condition::Short,
                    format!("LINE {} DESCRIPTION TOO SHORT", l.line),
                    None,
                ));
            }
            for c in &l.ch99 {
                let digits = c.heading.chars().filter(char::is_ascii_digit).count();
                if !c.heading.starts_with("99") || !matches!(digits, 8 | 10) {
                    out.push(problem(
                        Condition::Chapter99,
                        format!("LINE {} CHAPTER 99 NUMBER {} INVALID", l.line, c.heading),
                        None,
                    ));
                }
                if c.late {
                    out.push(problem(
                        Condition::Chapter99,
                        format!("LINE {} CHAPTER 99 AFTER HTS", l.line),
                        None,
                    ));
                }
                if c.valued {
                    out.push(problem(
                        Condition::Chapter99,
                        format!("LINE {} VALUE ON CHAPTER 99 NUMBER", l.line),
                        None,
                    ));
                }
            }
        }
        if !e.shipper.country.is_empty() && !countries::is_assigned(&e.shipper.country) {
            out.push(problem(
                Condition::Country,
                format!("SHIPPER COUNTRY {} INVALID", e.shipper.country),
                None,
            ));
        }
        if e.entry_type == "86" {
            if e.arrival_date.is_none() {
                out.push(problem(Condition::NoEda, "EDA REQUIRED FOR TYPE 86", None));
            }
            if e.all_bills().len() > 1 {
                out.push(problem(
                    Condition::OneBill,
                    "ONE BILL PER TYPE 86 ENTRY",
                    None,
                ));
            }
            if e.arrival_date.is_some_and(|d| d >= type86_end()) {
                out.push(problem(
                    Condition::Type86Suspended,
                    "TYPE 86 NOT ALLOWED; DE MINIMIS SUSPENDED",
                    head,
                ));
            }
            if e.entry_value_usd > 800 {
                out.push(problem(
                    Condition::Type86Value,
                    "TYPE 86 VALUE OVER 800 USD",
                    head,
                ));
            }
        }
        if e.entry_type == "11" && e.entry_value_usd > 2500 {
            out.push(problem(
                Condition::Type11Value,
                "TYPE 11 VALUE OVER 2500 USD",
                head,
            ));
        }
        // SE10 Notes 3-4: the IOR is waived only for type 86.
        if e.entry_type != "86" && layouts::ENTRY_TYPES_SE.contains(&e.entry_type.as_str()) {
            match model::ior_type_of(&e.ior_number) {
                None => out.push(problem(
                    Condition::Ior,
                    format!("IOR NUMBER REQUIRED FOR TYPE {}", e.entry_type),
                    head,
                )),
                Some(t) if t != e.ior_type.trim() => out.push(problem(
                    Condition::Ior,
                    format!("IOR TYPE {} DOES NOT MATCH NUMBER", e.ior_type),
                    head,
                )),
                Some(_) => {}
            }
        }
        out
    }
}

fn field_label(name: &str) -> String {
    name.replace('_', " ").to_ascii_uppercase()
}

/// The field faults of a record that belong to its transaction (blank M
/// fields, classes, code lists; fillers and stray characters are batch
/// faults, found by `read`).
pub fn field_problems(records: &[Line]) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        for (field, fault) in scan(&r.text, r.layout) {
            let label = field_label(field.name);
            let p = match fault {
                FieldFault::Blank => problem(
                    Condition::Blank,
                    format!("{} {label} REQUIRED", r.id()),
                    Some(i),
                ),
                FieldFault::Class => problem(
                    Condition::ClassFault,
                    format!(
                        "{} {label} NOT {} POS {}-{}",
                        r.id(),
                        field.class.label(),
                        field.start,
                        field.end()
                    ),
                    Some(i),
                ),
                FieldFault::Code => problem(
                    Condition::BadCode,
                    format!(
                        "{} {label} {} INVALID",
                        r.id(),
                        layouts::raw(&r.text, field).trim()
                    ),
                    Some(i),
                ),
                FieldFault::Filler | FieldFault::NonStandard => continue,
            };
            out.push(p);
        }
    }
    out
}

/// The conditional rules of the Cargo Release chapter for one SE
/// transaction (SE10 first), whose block names `block_filer`.
pub fn se_problems(records: &[Line], block_filer: &str) -> Vec<Problem> {
    let mut out = field_problems(records);
    let Some(head) = records.first() else {
        return out;
    };
    let entry_type = head.get("entry_type");
    let action = head.get("action");
    let mot = head.get("mot");
    let air = matches!(mot, "40" | "41");
    let at = |id: &str| records.iter().position(|r| r.id() == id);
    if head.get("filer") != block_filer {
        out.push(problem(
            Condition::FilerMismatch,
            format!("SE10 FILER {} IS NOT THE BLOCK'S", head.get("filer")),
            Some(0),
        ));
    }
    // The IOR type and number go together (Notes 3-4); an IOR type with a
    // blank number is a fault even on a type 86.
    if !head.get("ior_type").is_empty() && head.get("ior_number").trim().is_empty() {
        out.push(problem(
            Condition::Ior,
            format!("IOR TYPE {} WITHOUT IOR NUMBER", head.get("ior_type")),
            Some(0),
        ));
    }
    if mot.is_empty() && entry_type != "06" && action != "D" {
        out.push(problem(Condition::Blank, "SE10 MOT REQUIRED", Some(0)));
    }
    let refs: BTreeMap<&str, &str> = records
        .iter()
        .filter(|r| r.id() == "SE20")
        .map(|r| (r.get("qualifier"), r.get("value").trim()))
        .collect();
    if matches!(action, "A" | "R") {
        // Table 6.3: only type 86 goes without a bond. Bond 0 on a type 11
        // is UNVERIFIED as refused (catair.md 6.3); the simulator refuses it.
        if head.get("bond_type") == "0" && entry_type != "86" && !entry_type.is_empty() {
            out.push(problem(
                Condition::Bond,
                format!("BOND TYPE 0 NOT ALLOWED FOR TYPE {entry_type}"),
                Some(0),
            ));
        }
        if head.get("bond_type") == "9" && !(refs.contains_key("V1") && refs.contains_key("AMT")) {
            out.push(problem(
                Condition::SingleBond,
                "BOND TYPE 9 NEEDS SE20 V1 AND AMT",
                Some(0),
            ));
        }
        if at("SE13").is_none() {
            out.push(problem(
                Condition::NoContact,
                "SE13 CONTACT RECORD MISSING",
                Some(0),
            ));
        }
    }
    if matches!(action, "D" | "R") && at("SE13").is_none() {
        out.push(problem(
            Condition::Blank,
            format!("SE13 REQUIRED FOR ACTION {action}"),
            Some(0),
        ));
    }
    if let Some(amt) = refs.get("AMT")
        && (amt.starts_with('0') || !amt.bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(problem(
            Condition::BadCode,
            format!("SE20 AMT {amt} NOT WHOLE DOLLARS"),
            at("SE20"),
        ));
    }
    if let Some(eda) = refs.get("EDA")
        && NaiveDate::parse_from_str(eda, "%m%d%y").is_err()
    {
        out.push(problem(
            Condition::BadCode,
            format!("SE20 EDA {eda} NOT MMDDYY"),
            at("SE20"),
        ));
    }
    let non_ams = records
        .iter()
        .any(|r| r.id() == "SE15" && r.get("non_ams") == "Y");
    let port_required = matches!(
        entry_type,
        "02" | "06" | "07" | "12" | "21" | "22" | "23" | "86"
    ) || non_ams
        || action == "D";
    if port_required && head.get("planned_port").trim().is_empty() {
        out.push(problem(
            Condition::PlannedPort,
            format!("SE10 PLANNED PORT REQUIRED FOR TYPE {entry_type}"),
            Some(0),
        ));
    }
    // Bills (SE15 Notes 1-12).
    let mut bill_types = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match r.id() {
            "SE15" => {
                let bill = r.get("bill");
                bill_types.push(r.get("bill_type"));
                if !bill.is_empty()
                    && !bill
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    out.push(problem(
                        Condition::BillSpecials,
                        "BILL NUMBER HAS SPACES OR SPECIALS",
                        Some(i),
                    ));
                }
                let issuer = r.get("issuer");
                if issuer == "UNKN" || (air && !issuer.is_empty()) {
                    out.push(problem(
                        Condition::Issuer,
                        format!("ISSUER CODE {issuer} NOT ALLOWED FOR MOT {mot}"),
                        Some(i),
                    ));
                }
                if r.get("non_ams") == "Y"
                    && records
                        .get(i + 1..)
                        .and_then(|rest| {
                            rest.iter()
                                .take_while(|n| n.id() != "SE15")
                                .find(|n| n.id() == "SE16")
                        })
                        .is_none()
                {
                    out.push(problem(
                        Condition::NonAmsConveyance,
                        "NON-AMS BILL NEEDS SE16 CONVEYANCE",
                        Some(i),
                    ));
                }
                if entry_type == "86"
                    && r.get("quantity").trim().is_empty()
                    && r.get("bill_type") != "M"
                {
                    out.push(problem(
                        Condition::Blank,
                        "SE15 QUANTITY REQUIRED FOR TYPE 86",
                        Some(i),
                    ));
                }
            }
            "SE16" if air => {
                let v = r.get("voyage").trim();
                let digits = v.bytes().take_while(u8::is_ascii_digit).count();
                let ok = matches!((v.len(), digits), (3, 3) | (4, 4) | (4, 3) | (5, 4))
                    && v.bytes().skip(digits).all(|b| b.is_ascii_uppercase());
                if !ok {
                    out.push(problem(
                        Condition::Flight,
                        format!("FLIGHT {v} NOT NNN/NNNN/NNNA/NNNNA"),
                        Some(i),
                    ));
                }
            }
            _ => {}
        }
    }
    if entry_type == "86" && bill_types.contains(&"T") {
        out.push(problem(
            Condition::BillTypeT,
            "BILL TYPE T NOT ALLOWED FOR TYPE 86",
            at("SE15"),
        ));
    }
    if matches!(action, "A" | "R") {
        out.extend(party_problems(records, entry_type));
    }
    out
}

/// Entities (SE30-SE36 at the header, SE50-SE56 per line), table 6.1 and
/// the entity rules of catair.md section 3.
fn party_problems(records: &[Line], entry_type: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut header: BTreeSet<String> = BTreeSet::new();
    let mut lines: Vec<BTreeSet<String>> = Vec::new();
    let mut cn_by_name = false;
    for (i, r) in records.iter().enumerate() {
        match r.id() {
            "SE40" => lines.push(BTreeSet::new()),
            "SE30" | "SE50" => {
                let code = r.get("entity").trim().to_owned();
                let seen = if r.id() == "SE30" {
                    &mut header
                } else {
                    lines.last_mut().unwrap_or(&mut header)
                };
                if !seen.insert(code.clone()) {
                    out.push(problem(
                        Condition::EntityTwice,
                        format!("ENTITY {code} REPORTED TWICE"),
                        Some(i),
                    ));
                }
                if layouts::GBI_ONLY.contains(&code.as_str()) {
                    out.push(problem(
                        Condition::GbiEntity,
                        format!("ENTITY CODE {code} IS FOR GBI TEST ONLY"),
                        Some(i),
                    ));
                }
                let has_id = !r.get("id_qualifier").is_empty() || !r.get("identifier").is_empty();
                if has_id && !matches!(code.as_str(), "BY" | "ST" | "CN") {
                    out.push(problem(
                        Condition::EntityQualifier,
                        format!("NO IDENTIFIER ALLOWED FOR ENTITY {code}"),
                        Some(i),
                    ));
                }
                if has_id && (r.get("id_qualifier").is_empty() || r.get("identifier").is_empty()) {
                    out.push(problem(
                        Condition::EntityQualifier,
                        format!("ENTITY {code} QUALIFIER WITHOUT IDENTIFIER"),
                        Some(i),
                    ));
                }
                let named = !r.get("name").is_empty();
                if matches!(code.as_str(), "MF" | "SE" | "CS" | "LG") && !named {
                    out.push(problem(
                        Condition::Blank,
                        format!("{} {code} NAME REQUIRED", r.id()),
                        Some(i),
                    ));
                }
                if code == "CN" && named && !has_id {
                    cn_by_name = true;
                }
                if named && !has_id {
                    // A party by name: its address and city records follow.
                    let geo = if r.id() == "SE30" { "SE36" } else { "SE56" };
                    let group = records[i + 1..]
                        .iter()
                        .take_while(|n| !matches!(n.id(), "SE30" | "SE50" | "SE40" | "SE60"));
                    if !group.clone().any(|n| n.id() == geo) {
                        out.push(problem(
                            Condition::EntityAddress,
                            format!("ENTITY {code} NEEDS {geo} CITY/COUNTRY"),
                            Some(i),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let everywhere = |code: &str| {
        header.contains(code) || (!lines.is_empty() && lines.iter().all(|l| l.contains(code)))
    };
    if !everywhere("SE") {
        out.push(problem(
            Condition::Parties,
            "SELLER (SE) NAME AND ADDRESS REQUIRED",
            None,
        ));
    }
    if !everywhere("CN") {
        out.push(problem(Condition::Parties, "CONSIGNEE (CN) REQUIRED", None));
    }
    if entry_type != "86" && !everywhere("MF") {
        out.push(problem(
            Condition::Parties,
            "MANUFACTURER/SUPPLIER (MF) REQUIRED",
            None,
        ));
    }
    // SE60 Note 3: the line value is mandatory for type 86 and whenever CN
    // is given by name and address, on the chapter 1-97 number.
    if entry_type == "86" || cn_by_name {
        for (i, r) in records.iter().enumerate() {
            if r.id() == "SE60"
                && !r.get("hts").starts_with("99")
                && r.get("value").trim().is_empty()
            {
                out.push(problem(
                    Condition::LineValue,
                    "SE60 LINE VALUE REQUIRED",
                    Some(i),
                ));
            }
        }
    }
    out
}

/// Amounts with 2 implied decimals, as cents.
fn cents(text: &str) -> i64 {
    text.trim().parse().unwrap_or(0)
}

/// An entry summary read from an AE transaction (10 first): what ACE keeps.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub entry_number: String,
    pub filer: String,
    pub entry_type: String,
    pub port: String,
    pub certified: bool,
    pub action: String,
    pub duty_cents: i64,
    pub fees_cents: i64,
}

/// The rules of the Entry Summary chapter the simulator checks for one AE
/// transaction (catair.md section 7): field content, the entry number, the
/// IOR, the bond where the type needs one, and the totals (89 per class =
/// the class's 62 and 34 amounts; 90 duty = the 50 duties; 90 user fees =
/// the 89 totals; the simulator's reading of usage notes not read, UNVERIFIED).
pub fn ae_problems(records: &[Line], block_filer: &str, rules: &Rules) -> (Summary, Vec<Problem>) {
    let mut out = field_problems(records);
    let mut s = Summary::default();
    let Some(head) = records.first() else {
        return (s, out);
    };
    s.filer = head.get("filer").to_owned();
    let n = head.get("entry_number");
    s.entry_number = if n.len() == 8 {
        format!("{}-{}-{}", s.filer, &n[..7], &n[7..])
    } else {
        n.to_owned()
    };
    s.entry_type = head.get("entry_type").to_owned();
    s.port = head.get("port").trim().to_owned();
    s.certified = head.get("certify") == "A";
    s.action = head.get("action").to_owned();
    if s.filer != block_filer {
        out.push(problem(
            Condition::FilerMismatch,
            format!("10 FILER {} IS NOT THE BLOCK'S", s.filer),
            Some(0),
        ));
    }
    if !rules.filer_codes.contains(&s.filer) {
        out.push(problem(
            Condition::FilerCode,
            format!("FILER CODE {} NOT AUTHORIZED", s.filer),
            Some(0),
        ));
    }
    if !model::entry_number_valid(&s.entry_number) {
        out.push(problem(
            Condition::CheckDigit,
            "ENTRY NUMBER CHECK DIGIT INVALID",
            Some(0),
        ));
    }
    if !s.port.is_empty() && !rules.policy.ports.contains(&s.port) {
        out.push(problem(
            Condition::Port,
            format!("PORT {} NOT IN SCHEDULE D", s.port),
            Some(0),
        ));
    }
    if s.action == "D" {
        return (s, out);
    }
    if head.get("signature") != "X" {
        out.push(problem(
            Condition::Blank,
            "10 ELECTRONIC SIGNATURE REQUIRED",
            Some(0),
        ));
    }
    match records.iter().position(|r| r.id() == "11") {
        None => out.push(problem(Condition::Ior, "11 RECORD (IOR) REQUIRED", Some(0))),
        Some(i) if model::ior_type_of(records[i].get("ior")).is_none() => {
            out.push(problem(
                Condition::Ior,
                format!("IOR {} NOT A VALID NUMBER", records[i].get("ior")),
                Some(i),
            ));
        }
        Some(_) => {}
    }
    if matches!(s.entry_type.as_str(), "01" | "03") && !records.iter().any(|r| r.id() == "31") {
        out.push(problem(
            Condition::Bond,
            format!("BOND (31) REQUIRED FOR TYPE {}", s.entry_type),
            Some(0),
        ));
    }
    let mut by_class: BTreeMap<String, i64> = BTreeMap::new();
    let mut totals: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    let mut grand: Option<(i64, i64, usize)> = None;
    for (i, r) in records.iter().enumerate() {
        match r.id() {
            "50" => {
                s.duty_cents += cents(r.get("duty"));
                let hts = r.get("hts");
                if hts.len() != 10 || !hts.bytes().all(|b| b.is_ascii_digit()) {
                    out.push(problem(
                        Condition::Hts,
                        format!("HTS {hts} NOT 10 DIGITS"),
                        Some(i),
                    ));
                }
            }
            "62" => {
                *by_class.entry(r.get("class").to_owned()).or_default() += cents(r.get("amount"))
            }
            "34" => {
                for k in 1..=7 {
                    let class = r.get(&format!("class{k}"));
                    if !class.is_empty() {
                        *by_class.entry(class.to_owned()).or_default() +=
                            cents(r.get(&format!("amount{k}")));
                    }
                }
            }
            "89" => {
                for k in 1..=5 {
                    let class = r.get(&format!("class{k}"));
                    if !class.is_empty() {
                        totals.insert(class.to_owned(), (cents(r.get(&format!("total{k}"))), i));
                    }
                }
            }
            "90" => grand = Some((cents(r.get("duty")), cents(r.get("fees")), i)),
            _ => {}
        }
    }
    for (class, amount) in &by_class {
        match totals.get(class) {
            Some((total, _)) if total == amount => {}
            Some((_, i)) => out.push(problem(
                Condition::SummaryTotals,
                format!("89 CLASS {class} TOTAL NOT THE FEES'"),
                Some(*i),
            )),
            None => out.push(problem(
                Condition::SummaryTotals,
                format!("89 TOTAL FOR CLASS {class} MISSING"),
                None,
            )),
        }
    }
    s.fees_cents = totals.values().map(|(t, _)| t).sum();
    match grand {
        None => out.push(problem(
            Condition::SummaryTotals,
            "90 GRAND TOTALS MISSING",
            None,
        )),
        Some((duty, fees, i)) => {
            if duty != s.duty_cents {
                out.push(problem(
                    Condition::SummaryTotals,
                    "90 DUTY NOT THE SUM OF THE 50 DUTIES",
                    Some(i),
                ));
            }
            if fees != s.fees_cents {
                out.push(problem(
                    Condition::SummaryTotals,
                    "90 USER FEES NOT THE SUM OF 89",
                    Some(i),
                ));
            }
        }
    }
    (s, out)
}
