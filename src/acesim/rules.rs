//! What the simulated ACE checks (domain.md section 3.6), for entries that
//! arrive as JSON (the gateway) or as CATAIR transactions (batch files).
//!
//! Rejections (SE90 01) and record-level errors carry the simulator's own
//! condition codes, listed in [`Condition`]; warnings (SE90 03/13) are
//! accepted. An entry of another type than 86 may carry several house bills
//! (one bill of lading grouping each) and must name its importer of record;
//! a line's chapter 99 numbers come before its HTS number and carry no value. Outcomes that ACE gives after acceptance (SO60 33 for CN/HK type
//! 86 from 2025-05-02; 30/34 for the $800 person-per-day limit) are decided in
//! `release`.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::filing::catair::Record;
use crate::filing::entry::{Bill, Ch99, Entry, EntryLine, Party};
use crate::filing::entry_number::EntryNumber;
use crate::policy::{Policy, countries};

/// Entry types of the CATAIR table.
pub const ENTRY_TYPES: [&str; 12] = ["01", "02", "03", "06", "07", "11", "12", "21", "22", "23", "52", "86"];

/// The simulator's condition codes.
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
}

impl Condition {
    pub fn code(self) -> &'static str {
        match self {
            Condition::CheckDigit => "E01",
            Condition::Reused => "E02",
            Condition::EntryType => "E03",
            Condition::Missing => "E04",
            Condition::BillTypeT => "E05",
            Condition::OneBill => "E06",
            Condition::Hts => "E07",
            Condition::Country => "E08",
            Condition::Port => "E09",
            Condition::NoEda => "E10",
            Condition::Type86Suspended => "E11",
            Condition::Type11Value => "E12",
            Condition::FilerCode => "E13",
            Condition::Ior => "E14",
            Condition::Chapter99 => "E15",
            Condition::Vague => "W01",
            Condition::Short => "W02",
        }
    }

    pub fn is_warning(self) -> bool {
        matches!(self, Condition::Vague | Condition::Short)
    }
}

/// One problem found, with the narrative ACE would send (40 characters at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub condition: Condition,
    pub narrative: String,
    /// The CATAIR record it concerns (record-level SE90 11/13 follow it).
    pub record: Option<usize>,
}

fn problem(condition: Condition, narrative: impl Into<String>, record: Option<usize>) -> Problem {
    let mut n: String = narrative.into();
    n.truncate(40);
    Problem { condition, narrative: n.to_ascii_uppercase(), record }
}

/// What the simulator knows: the filer codes it accepts and the reference
/// lists (ports, vague terms, the HTS reference) of an s321d policy.
pub struct Rules {
    pub filer_codes: BTreeSet<String>,
    pub policy: Policy,
}

/// An entry as ACE sees it, plus what only CATAIR can say.
#[derive(Debug, Clone)]
pub struct Submission {
    pub entry: Entry,
    /// Bill types of the SE15 records (`M`, `H`, `T`, ...).
    pub bill_types: Vec<String>,
    pub has_eda: bool,
    /// Faults in the records' order or content found while reading them
    /// (CATAIR only: JSON has no order to get wrong).
    pub faults: Vec<Problem>,
}

impl From<Entry> for Submission {
    fn from(entry: Entry) -> Submission {
        let mut bill_types = Vec::new();
        for b in entry.all_bills() {
            if !b.master_bill.is_empty() {
                bill_types.push("M".to_owned());
            }
            bill_types.push("H".to_owned());
        }
        Submission { entry, bill_types, has_eda: true, faults: Vec::new() }
    }
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
    /// Checks a submission; `reused` says its entry number was filed before.
    pub fn check(&self, s: &Submission, reused: bool) -> Vec<Problem> {
        let e = &s.entry;
        let mut out = Vec::new();
        if !self.filer_codes.contains(&e.filer_code) {
            out.push(problem(Condition::FilerCode, format!("FILER CODE {} NOT AUTHORIZED", e.filer_code), Some(0)));
        }
        match EntryNumber::parse(&e.entry_number) {
            Err(_) => out.push(problem(Condition::CheckDigit, "ENTRY NUMBER CHECK DIGIT INVALID", Some(0))),
            Ok(n) if n.filer_code != e.filer_code => out.push(problem(Condition::CheckDigit, "ENTRY NUMBER FILER CODE MISMATCH", Some(0))),
            Ok(_) if reused => out.push(problem(Condition::Reused, "ENTRY NUMBER PREVIOUSLY USED", Some(0))),
            Ok(_) => {}
        }
        if !ENTRY_TYPES.contains(&e.entry_type.as_str()) {
            out.push(problem(Condition::EntryType, format!("ENTRY TYPE {} INVALID", e.entry_type), Some(0)));
        }
        if e.house_bill.trim().is_empty() && e.master_bill.trim().is_empty() {
            out.push(problem(Condition::Missing, "BILL OF LADING MISSING", Some(1)));
        }
        if e.lines.is_empty() {
            out.push(problem(Condition::Missing, "NO COMMERCIAL LINES", None));
        }
        let port_ok = e.port_of_entry.len() == 4 && self.policy.ports.contains(&e.port_of_entry);
        if !port_ok {
            out.push(problem(Condition::Port, format!("PORT {} NOT IN SCHEDULE D", e.port_of_entry), Some(0)));
        }
        for l in &e.lines {
            if l.hts.len() != 10 || !l.hts.bytes().all(|b| b.is_ascii_digit()) {
                out.push(problem(Condition::Hts, format!("LINE {} HTS NOT 10 DIGITS", l.line), None));
            } else if let Some(reference) = &self.policy.hts_reference
                && !reference.codes.contains(&l.hts)
            {
                out.push(problem(Condition::Hts, format!("LINE {} HTS NOT VALID", l.line), None));
            }
            if !countries::is_assigned(&l.origin) {
                out.push(problem(Condition::Country, format!("LINE {} COUNTRY {} INVALID", l.line, l.origin), None));
            }
            let desc = crate::engine::normalize::norm(&l.description);
            if self.policy.vague_terms.contains(&desc) {
                out.push(problem(Condition::Vague, format!("LINE {} DESCRIPTION VAGUE", l.line), None));
            } else if desc.chars().count() < 3 {
                out.push(problem(Condition::Short, format!("LINE {} DESCRIPTION TOO SHORT", l.line), None));
            }
        }
        if !e.shipper.country.is_empty() && !countries::is_assigned(&e.shipper.country) {
            out.push(problem(Condition::Country, format!("SHIPPER COUNTRY {} INVALID", e.shipper.country), None));
        }
        if e.entry_type == "86" {
            if !s.has_eda {
                out.push(problem(Condition::NoEda, "EDA REQUIRED FOR TYPE 86", None));
            }
            if s.bill_types.iter().any(|t| t == "T") {
                out.push(problem(Condition::BillTypeT, "BILL TYPE T NOT ALLOWED FOR TYPE 86", Some(1)));
            }
            let houses = s.bill_types.iter().filter(|t| t.as_str() != "M").count();
            let masters = s.bill_types.iter().filter(|t| t.as_str() == "M").count();
            if houses > 1 || masters > 1 {
                out.push(problem(Condition::OneBill, "ONE BILL PER TYPE 86 ENTRY", Some(1)));
            }
            if e.arrival_date >= type86_end() {
                out.push(problem(Condition::Type86Suspended, "TYPE 86 NOT ALLOWED; DE MINIMIS SUSPENDED", Some(0)));
            }
        }
        if e.entry_type == "11" && e.entry_value_usd > 2500 {
            out.push(problem(Condition::Type11Value, "TYPE 11 VALUE OVER 2500 USD", Some(0)));
        }
        // SE10 Notes 3-4: the IOR is waived only for type 86.
        if e.entry_type != "86" && ENTRY_TYPES.contains(&e.entry_type.as_str()) {
            match crate::filing::entry::ior_type_of(&e.ior_number) {
                None => out.push(problem(Condition::Ior, format!("IOR NUMBER REQUIRED FOR TYPE {}", e.entry_type), Some(0))),
                Some(t) if t != e.ior_type.trim() => out.push(problem(Condition::Ior, format!("IOR TYPE {} DOES NOT MATCH NUMBER", e.ior_type), Some(0))),
                Some(_) => {}
            }
        }
        for l in &e.lines {
            for c in &l.ch99 {
                let digits = c.heading.chars().filter(char::is_ascii_digit).count();
                if !c.heading.starts_with("99") || !matches!(digits, 8 | 10) {
                    out.push(problem(Condition::Chapter99, format!("LINE {} CHAPTER 99 NUMBER {} INVALID", l.line, c.heading), None));
                }
            }
        }
        out.extend(s.faults.iter().cloned());
        out
    }
}

/// Rebuilds a submission from one CATAIR transaction (SE10 first).
pub fn from_transaction(records: &[Record]) -> Submission {
    let mut entry = Entry {
        entry_number: String::new(),
        entry_type: String::new(),
        filer_code: String::new(),
        carrier: String::new(),
        house_bill: String::new(),
        master_bill: String::new(),
        arrival_date: NaiveDate::default(),
        port_of_entry: String::new(),
        mode_of_transport: String::new(),
        ior_type: String::new(),
        ior_number: String::new(),
        bond_type: String::new(),
        entry_value_usd: 0,
        consignee: Party::default(),
        shipper: Party::default(),
        seller: None,
        lines: Vec::new(),
        bills: Vec::new(),
        conveyance: String::new(),
        entry_ref: String::new(),
        estimate: None,
    };
    let mut bill_types = Vec::new();
    let mut has_eda = false;
    let mut entity: Option<String> = None;
    let mut master: Option<String> = None;
    let mut faults = Vec::new();
    // Whether the current line's chapter 1-97 number came already.
    let mut line_hts_seen = false;
    for (i, r) in records.iter().enumerate() {
        match r.id() {
            "SE10" => {
                entry.filer_code = r.get("filer_code").to_owned();
                let n = r.get("entry_number");
                entry.entry_number = if n.len() == 8 { format!("{}-{}-{}", entry.filer_code, &n[..7], &n[7..]) } else { String::new() };
                entry.entry_type = r.get("entry_type").to_owned();
                entry.ior_type = r.get("ior_type").trim().to_owned();
                entry.ior_number = r.get("ior_number").trim().to_owned();
                entry.port_of_entry = r.get("port_of_entry").trim().to_owned();
                entry.entry_value_usd = r.get("entry_value").parse().unwrap_or(0);
                entry.bond_type = r.get("bond_type").to_owned();
            }
            "SE15" => {
                bill_types.push(r.get("bill_type").to_owned());
                match r.get("bill_type") {
                    "M" => master = Some(r.get("bill").to_owned()),
                    _ => entry.bills.push(Bill {
                        master_bill: master.take().unwrap_or_default(),
                        house_bill: r.get("bill").to_owned(),
                        quantity: r.get("quantity").trim().parse().unwrap_or(0),
                    }),
                }
                if entry.carrier.is_empty() && r.get("bill_type") != "M" {
                    entry.carrier = r.get("issuer").to_owned();
                }
            }
            "SE20" if r.get("qualifier") == "EDA" => {
                has_eda = true;
                entry.arrival_date = NaiveDate::parse_from_str(r.get("value").trim(), "%m%d%y").unwrap_or_default();
            }
            "SE30" | "SE50" => entity = Some(r.get("entity_code").to_owned()),
            "SE36" | "SE56" => {
                let party = Party {
                    name: String::new(),
                    city: r.get("city").to_owned(),
                    state: r.get("subdivision").to_owned(),
                    postal_code: r.get("postal_code").to_owned(),
                    country: r.get("country").to_owned(),
                    address: String::new(),
                };
                match entity.as_deref() {
                    Some("CN") => entry.consignee = Party { name: entry.consignee.name.clone(), address: entry.consignee.address.clone(), ..party },
                    Some("SH") => entry.shipper.country = party.country,
                    Some("SE") if r.id() == "SE56" => {
                        if let Some(l) = entry.lines.last_mut() {
                            l.seller_country = party.country;
                        }
                    }
                    _ => {}
                }
            }
            "SE35" if entity.as_deref() == Some("CN") => entry.consignee.address = r.get("text").to_owned(),
            "SE40" => {
                line_hts_seen = false;
                entry.lines.push(EntryLine {
                    line: r.get("line").parse().unwrap_or(0),
                    origin: r.get("origin").to_owned(),
                    description: r.get("description").to_owned(),
                    hts: String::new(),
                    value_usd: 0,
                    house_bill: String::new(),
                    seller: String::new(),
                    seller_country: String::new(),
                    ch99: Vec::new(),
                    duty_usd: String::new(),
                })
            }
            "SE60" => {
                let hts = r.get("hts").trim().to_owned();
                let value = r.get("value");
                if let Some(l) = entry.lines.last_mut() {
                    if hts.starts_with("99") {
                        // SE60 Note 2: chapter 99 numbers first, the value on
                        // the chapter 1-97 number.
                        if line_hts_seen {
                            faults.push(problem(Condition::Chapter99, format!("LINE {} CHAPTER 99 AFTER HTS", l.line), Some(i)));
                        }
                        if !value.trim().trim_start_matches('0').is_empty() {
                            faults.push(problem(Condition::Chapter99, format!("LINE {} VALUE ON CHAPTER 99 NUMBER", l.line), Some(i)));
                        }
                        l.ch99.push(Ch99 { heading: hts, amount_usd: String::new() });
                    } else {
                        line_hts_seen = true;
                        l.hts = hts;
                        l.value_usd = value.parse().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
        if r.id() == "SE30" && r.get("entity_code") == "CN" {
            entry.consignee.name = r.get("name").to_owned();
        }
        if r.id() == "SE50"
            && r.get("entity_code") == "SE"
            && let Some(l) = entry.lines.last_mut()
        {
            l.seller = r.get("name").to_owned();
        }
    }
    if let Some(m) = master {
        // A master with no house after it: a bill of its own.
        entry.bills.push(Bill { master_bill: m, house_bill: String::new(), quantity: 0 });
    }
    if let Some(first) = entry.bills.first() {
        entry.house_bill = first.house_bill.clone();
        entry.master_bill = first.master_bill.clone();
    }
    Submission { entry, bill_types, has_eda, faults }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::entry::tests_support::sample;

    fn rules() -> Rules {
        Rules { filer_codes: ["ABC".to_owned()].into(), policy: Policy::builtin() }
    }

    fn conditions(s: &Submission, reused: bool) -> Vec<&'static str> {
        rules().check(s, reused).iter().map(|p| p.condition.code()).collect()
    }

    #[test]
    fn a_clean_type_86_before_the_suspension_passes() {
        assert!(conditions(&sample().into(), false).is_empty());
    }

    #[test]
    fn every_rule_of_section_3_6() {
        let used = false;
        let with = |f: &dyn Fn(&mut Entry)| {
            let mut e = sample();
            f(&mut e);
            conditions(&e.into(), used)
        };
        assert_eq!(with(&|e| e.entry_number = "ABC-1234567-5".into()), ["E01"]);
        assert_eq!(conditions(&sample().into(), true), ["E02"]);
        assert_eq!(with(&|e| e.entry_type = "99".into()), ["E03"]);
        assert_eq!(with(&|e| e.lines[0].hts = "6214".into()), ["E07"]);
        assert_eq!(with(&|e| e.lines[0].origin = "XX".into()), ["E08"]);
        assert_eq!(with(&|e| e.port_of_entry = "9999".into()), ["E09"]);
        assert_eq!(with(&|e| e.arrival_date = type86_end()), ["E11"]);
        let type11 = |e: &mut Entry, value: u64| {
            e.entry_type = "11".into();
            e.ior_number = "12-345678900".into();
            e.entry_value_usd = value;
        };
        assert_eq!(with(&|e| type11(e, 2501)), ["E12"]);
        assert!(with(&|e| type11(e, 2500)).is_empty());
        assert_eq!(with(&|e| e.entry_type = "11".into()), ["E14"], "an IOR on every entry but 86");
        assert_eq!(with(&|e| { type11(e, 10); e.ior_type = "34".into() }), ["E14"], "the IOR type fits the number");
        assert_eq!(with(&|e| e.filer_code = "XYZ".into()), ["E13", "E01"]);
        assert_eq!(with(&|e| e.lines[0].description = "Gift".into()), ["W01"]);
        let mut s: Submission = sample().into();
        s.bill_types = vec!["T".into()];
        assert_eq!(conditions(&s, used), ["E05"]);
        s.bill_types = vec!["H".into(), "H".into()];
        assert_eq!(conditions(&s, used), ["E06"]);
        s.bill_types = vec!["H".into()];
        s.has_eda = false;
        assert_eq!(conditions(&s, used), ["E10"]);
    }

    #[test]
    fn a_type_11_of_several_house_bills_passes_both_ways_and_keeps_its_rules() {
        use crate::filing::entry::tests_support::sample11;
        let e = sample11();
        assert!(conditions(&e.clone().into(), false).is_empty(), "JSON");
        let recs = crate::filing::entry::records(&e).unwrap();
        let s = from_transaction(&recs);
        assert!(conditions(&s, false).is_empty(), "CATAIR: {:?}", rules().check(&s, false));
        assert_eq!(s.entry.all_bills().iter().map(|b| b.house_bill.as_str()).collect::<Vec<_>>(), ["DX2001", "DX2002", "DX2003"]);
        assert_eq!(s.bill_types, ["M", "H", "M", "H", "M", "H"]);
        assert_eq!((s.entry.ior_type.as_str(), s.entry.ior_number.as_str()), ("EI", "12-345678900"));
        assert_eq!(s.entry.lines[0].ch99.iter().map(|c| c.heading.as_str()).collect::<Vec<_>>(), ["99038803", "99030125"]);
        assert_eq!((s.entry.lines[0].hts.as_str(), s.entry.lines[0].value_usd), ("8518302000", 250), "the value stays on the HTS number");
        assert_eq!(s.entry.lines[3].seller, "Seller DX2003");
        // The same bills as a type 86: one bill only.
        let mut as86 = e.clone();
        as86.entry_type = "86".into();
        as86.arrival_date = sample().arrival_date;
        assert_eq!(conditions(&as86.into(), false), ["E06"]);
        // A chapter 99 number after the HTS number, or with a value: refused.
        let mut late = recs.clone();
        let first_hts = late.iter().position(|r| r.id() == "SE60" && r.get("hts") == "8518302000").unwrap();
        let ch99 = late.remove(first_hts - 1);
        late.insert(first_hts, ch99);
        assert_eq!(conditions(&from_transaction(&late), false), ["E15"]);
        let mut valued = recs.clone();
        let i = valued.iter().position(|r| r.id() == "SE60" && r.get("hts").starts_with("99")).unwrap();
        valued[i].num("value", 5).unwrap();
        assert_eq!(conditions(&from_transaction(&valued), false), ["E15"]);
        // Without an IOR, as a type 11 must not be.
        let mut no_ior = e.clone();
        no_ior.ior_number.clear();
        assert_eq!(conditions(&from_transaction(&crate::filing::entry::records(&no_ior).unwrap()), false), ["E14"]);
    }

    #[test]
    fn transactions_read_back_into_submissions() {
        let recs = crate::filing::entry::records(&sample()).unwrap();
        let s = from_transaction(&recs);
        assert_eq!(s.entry.entry_number, "ABC-1234567-6");
        assert_eq!(s.entry.house_bill, "DX1001");
        assert_eq!(s.bill_types, ["M", "H"]);
        assert!(s.has_eda);
        assert_eq!(s.entry.arrival_date, sample().arrival_date);
        assert_eq!(s.entry.lines[0].hts, "6214101000");
        assert_eq!(s.entry.consignee.postal_code, "94121");
        assert!(conditions(&s, false).is_empty());
    }
}
