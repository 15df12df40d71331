//! The `[duty]` and `[fees]` policy keys (contract section 3) as serde reads
//! them, and [`build`], which checks them and makes a [`DutyPolicy`].
//!
//! Two levels, as for the rest of the policy: `Raw*` structs take the file as
//! written (every key optional, unknown keys refused, dates as TOML dates or
//! strings, money as strings or numbers); [`build`] reports every problem
//! with its key (`duty.layer[3].rate`) and keeps what is sound. HTS files are
//! loaded here, each file once however many revisions name it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use serde::Deserialize;

use super::DutyPolicy;
use super::fees::{FeeTable, MpfRow};
use super::hts::HtsRevision;
use super::layers::Layer;
use super::rate::Percent;
use crate::money;
use crate::normalize;
use crate::normalize::countries;

/// `[duty]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDuty {
    /// Last date the rates were checked against CBP's guidance (T002).
    pub reviewed_through: Option<toml::Value>,
    /// Origins that pay HTS column 2.
    pub column2_origins: Option<Vec<String>>,
    /// `[[duty.hts]]`: HTS revisions, effective-dated.
    pub hts: Option<Vec<RawHts>>,
    /// `[[duty.layer]]`: chapter 99 headings.
    pub layer: Option<Vec<RawLayer>>,
}

/// `[[duty.hts]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHts {
    /// In force from this date (the last whose `from` <= arrival date applies).
    pub from: Option<toml::Value>,
    /// A USITC export, CSV or JSON, relative to the policy file.
    pub file: Option<String>,
}

/// `[[duty.layer]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayer {
    pub heading: Option<String>,
    pub program: Option<String>,
    /// `"N%"`.
    pub rate: Option<toml::Value>,
    pub origins: Option<Vec<String>>,
    pub exclude_origins: Option<Vec<String>>,
    pub hts: Option<Vec<String>>,
    pub exclude_hts: Option<Vec<String>>,
    pub from: Option<toml::Value>,
    /// Empty or absent: open-ended.
    pub to: Option<toml::Value>,
    pub not_with: Option<Vec<String>>,
    pub basis: Option<String>,
}

/// `[fees]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFees {
    /// `"N%"`, ocean arrivals only.
    pub hmf_rate: Option<toml::Value>,
    pub informal_exempt_ports: Option<Vec<String>>,
    /// `[[fees.mpf]]`, one row per fiscal year.
    pub mpf: Option<Vec<RawMpf>>,
}

/// `[[fees.mpf]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMpf {
    pub from: Option<toml::Value>,
    /// Default: one year after `from`.
    pub to: Option<toml::Value>,
    pub informal_usd: Option<Amount>,
    /// `"N%"`.
    pub formal_rate: Option<toml::Value>,
    pub formal_min_usd: Option<Amount>,
    pub formal_max_usd: Option<Amount>,
}

/// A money amount written as a TOML string (`"2.69"`, exact, preferred) or a
/// number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl Amount {
    /// In money units; must not be negative.
    fn parse(&self) -> Result<i128, String> {
        let units = match self {
            Amount::Text(s) => {
                money::parse_decimal(s).map_err(|_| format!("{s:?} is not a decimal number"))?
            }
            Amount::Integer(i) => i128::from(*i) * money::ONE,
            // `{}` prints the shortest text that reads back as the same f64.
            Amount::Float(f) => money::parse_decimal(&format!("{f}"))
                .map_err(|_| format!("{f} is not a decimal number"))?,
        };
        if units < 0 {
            Err("must not be negative".into())
        } else {
            Ok(units)
        }
    }
}

/// A date written as a TOML date (`2026-01-01`) or a string (`"2026-01-01"`).
fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    match value {
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)")),
        toml::Value::Datetime(dt) => match (dt.date, dt.time) {
            (Some(d), None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .ok_or_else(|| format!("{dt} is not a date"))
            }
            _ => Err(format!("{dt} is not a plain date (YYYY-MM-DD)")),
        },
        other => Err(format!("{other} is not a date (YYYY-MM-DD)")),
    }
}

/// A percentage written as a TOML string `"N%"`.
fn parse_percent(value: &toml::Value) -> Result<Percent, String> {
    match value {
        toml::Value::String(s) => Percent::parse(s),
        other => Err(format!(
            "{other} is not a percentage: write it as a string, \"N%\""
        )),
    }
}

/// Reports problems under one key prefix.
struct Report<'p> {
    problem: &'p mut dyn FnMut(&str, String),
    failed: bool,
}

impl Report<'_> {
    fn at(&mut self, key: &str, message: String) {
        self.failed = true;
        (self.problem)(key, message);
    }

    fn required<'v, T>(&mut self, value: Option<&'v T>, key: &str) -> Option<&'v T> {
        if value.is_none() {
            self.at(key, "is required".into());
        }
        value
    }

    fn date(&mut self, value: Option<&toml::Value>, key: &str) -> Option<NaiveDate> {
        parse_date(self.required(value, key)?)
            .map_err(|e| self.at(key, e))
            .ok()
    }

    fn percent(&mut self, value: Option<&toml::Value>, key: &str) -> Option<Percent> {
        parse_percent(self.required(value, key)?)
            .map_err(|e| self.at(key, e))
            .ok()
    }

    fn amount(&mut self, value: Option<&Amount>, key: &str) -> Option<i128> {
        self.required(value, key)?
            .parse()
            .map_err(|e| self.at(key, e))
            .ok()
    }

    /// Country codes: trimmed, upper-case, assigned ISO 3166-1 alpha-2.
    fn countries(&mut self, list: Option<&Vec<String>>, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, raw) in list.into_iter().flatten().enumerate() {
            let code = normalize::country(raw);
            if countries::is_assigned(&code) {
                out.push(code);
            } else {
                self.at(
                    &format!("{key}[{k}]"),
                    format!("{raw:?} is not an ISO 3166-1 alpha-2 country code"),
                );
            }
        }
        out
    }

    /// HTS prefixes: dots, spaces and `-` dropped; 1 to 10 digits.
    fn prefixes(&mut self, list: Option<&Vec<String>>, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, raw) in list.into_iter().flatten().enumerate() {
            let p = normalize::hts(raw);
            if (1..=10).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
                out.push(p);
            } else {
                self.at(
                    &format!("{key}[{k}]"),
                    format!("{raw:?} is not an HTS prefix (1 to 10 digits, dots allowed)"),
                );
            }
        }
        out
    }
}

/// Checks `[duty]` and `[fees]` and builds the duty policy. Every problem is
/// passed to `problem` with its key; what has a problem is left out of the
/// result (a revision whose file does not load, a layer with a bad rate), so
/// a caller that got any problem should refuse the policy. HTS files are
/// relative to `dir` (the policy file's folder).
pub fn build(
    raw_duty: Option<&RawDuty>,
    raw_fees: Option<&RawFees>,
    dir: Option<&Path>,
    problem: &mut dyn FnMut(&str, String),
) -> DutyPolicy {
    let mut r = Report {
        problem,
        failed: false,
    };
    let empty = RawDuty::default();
    let duty = raw_duty.unwrap_or(&empty);
    let reviewed_through = duty.reviewed_through.as_ref().and_then(|v| {
        parse_date(v)
            .map_err(|e| r.at("duty.reviewed_through", e))
            .ok()
    });
    let column2_origins: BTreeSet<String> = r
        .countries(duty.column2_origins.as_ref(), "duty.column2_origins")
        .into_iter()
        .collect();
    let revisions = revisions(&mut r, duty.hts.as_deref().unwrap_or(&[]), dir);
    let layers = layers(&mut r, duty.layer.as_deref().unwrap_or(&[]));
    let fees = fees(&mut r, raw_fees);
    DutyPolicy::new(reviewed_through, column2_origins, revisions, layers, fees)
}

/// The HTS revision the repository ships (`reference/`), built into the
/// binary so that the embedded default policy prices lines with no files
/// installed.
pub const SHIPPED_HTS_NAME: &str = "hts-2026-rev4.csv";
const SHIPPED_HTS_CSV: &str = include_str!("../../reference/hts-2026-rev4.csv");

/// The built-in copy of the shipped revision, for a `file` that names it
/// (`.../hts-2026-rev4.csv`) and is not on disk: the embedded default policy,
/// or a copy of it moved away from `config/`. A file on disk always wins.
fn shipped_revision(path: &Path) -> Option<&'static str> {
    let named = path.file_name().is_some_and(|n| n == SHIPPED_HTS_NAME);
    (named && !path.exists()).then_some(SHIPPED_HTS_CSV)
}

/// `[[duty.hts]]`: sorted by `from`; no two on the same day; each file loaded once.
fn revisions(
    r: &mut Report<'_>,
    raw: &[RawHts],
    dir: Option<&Path>,
) -> Vec<(NaiveDate, String, Arc<HtsRevision>)> {
    let mut loaded: HashMap<PathBuf, Result<Arc<HtsRevision>, String>> = HashMap::new();
    let mut out: Vec<(usize, NaiveDate, String, Arc<HtsRevision>)> = Vec::new();
    let mut starts: Vec<(NaiveDate, usize)> = Vec::new();
    for (i, h) in raw.iter().enumerate() {
        let key = |k: &str| format!("duty.hts[{i}].{k}");
        let from = r.date(h.from.as_ref(), &key("from"));
        if let Some(from) = from {
            if let Some((_, j)) = starts.iter().find(|(d, _)| *d == from) {
                r.at(&key("from"), format!("{from} is also the from of duty.hts[{j}]: two HTS revisions cannot start on the same day"));
            } else {
                starts.push((from, i));
            }
        }
        let file = match h.file.as_deref().map(str::trim) {
            Some("") => {
                r.at(&key("file"), "is empty".into());
                None
            }
            Some(f) => Some(f),
            None => {
                r.at(&key("file"), "is required".into());
                None
            }
        };
        let Some(file) = file else { continue };
        let path = match dir {
            Some(d) if Path::new(file).is_relative() => d.join(file),
            _ => PathBuf::from(file),
        };
        let cache_key = path.canonicalize().unwrap_or_else(|_| path.clone());
        let revision = loaded
            .entry(cache_key)
            .or_insert_with(|| match shipped_revision(&path) {
                Some(text) => HtsRevision::from_csv(text).map(Arc::new),
                None => HtsRevision::load(&path).map(Arc::new),
            })
            .clone();
        match revision {
            Err(e) => r.at(&key("file"), format!("{}: {e}", path.display())),
            Ok(rev) if rev.coverage().ten_digit_codes == 0 => {
                r.at(
                    &key("file"),
                    format!("{}: holds no 10-digit HTS numbers", path.display()),
                );
            }
            Ok(rev) => {
                if let Some(from) = from {
                    out.push((i, from, file.to_owned(), rev));
                }
            }
        }
    }
    let mut out: Vec<_> = out
        .into_iter()
        .filter(|(i, from, ..)| starts.contains(&(*from, *i)))
        .collect();
    out.sort_by_key(|(_, from, ..)| *from);
    out.into_iter()
        .map(|(_, from, file, rev)| (from, file, rev))
        .collect()
}

/// `[[duty.layer]]`.
fn layers(r: &mut Report<'_>, raw: &[RawLayer]) -> Vec<Layer> {
    let mut out: Vec<(usize, Layer)> = Vec::new();
    // Programs and not_with of every layer read so far, sound or not: a pair
    // that names each other is a problem whatever else is wrong with them.
    let mut seen: Vec<(String, Vec<String>)> = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let key = |k: &str| format!("duty.layer[{i}].{k}");
        r.failed = false;
        let heading = match l.heading.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => Some(h.to_owned()),
            Some(_) => {
                r.at(&key("heading"), "is empty".into());
                None
            }
            None => {
                r.at(&key("heading"), "is required".into());
                None
            }
        };
        let rate = r.percent(l.rate.as_ref(), &key("rate"));
        let from = r.date(l.from.as_ref(), &key("from"));
        let to = match &l.to {
            Some(toml::Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => parse_date(v).map_err(|e| r.at(&key("to"), e)).ok(),
            None => None,
        };
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            r.at(&key("to"), format!("{to} is not after from ({from})"));
        }
        let origins = r.countries(l.origins.as_ref(), &key("origins"));
        let exclude_origins = r.countries(l.exclude_origins.as_ref(), &key("exclude_origins"));
        let hts = r.prefixes(l.hts.as_ref(), &key("hts"));
        let exclude_hts = r.prefixes(l.exclude_hts.as_ref(), &key("exclude_hts"));
        let program = l.program.as_deref().unwrap_or("").trim().to_owned();
        let not_with: Vec<String> = l
            .not_with
            .iter()
            .flatten()
            .map(|p| p.trim().to_owned())
            .collect();
        for (j, (other_program, other_not_with)) in seen.iter().enumerate() {
            if not_with.contains(other_program) && other_not_with.contains(&program) {
                r.at(
                    &key("not_with"),
                    format!(
                        "names program {other_program:?} of duty.layer[{j}], whose not_with names this layer's program {program:?}: each would drop the other"
                    ),
                );
            }
        }
        seen.push((program.clone(), not_with.clone()));
        if let (Some(heading), Some(rate), Some(from), false) = (heading, rate, from, r.failed) {
            let layer = Layer {
                heading,
                program,
                rate,
                origins,
                exclude_origins,
                hts,
                exclude_hts,
                from,
                to,
                not_with,
                basis: l.basis.clone(),
            };
            out.push((i, layer));
        }
    }
    out.into_iter().map(|(_, l)| l).collect()
}

/// `[fees]`.
fn fees(r: &mut Report<'_>, raw: Option<&RawFees>) -> FeeTable {
    let Some(raw) = raw else {
        return FeeTable::default();
    };
    let hmf_rate = raw
        .hmf_rate
        .as_ref()
        .and_then(|v| parse_percent(v).map_err(|e| r.at("fees.hmf_rate", e)).ok());
    let mut informal_exempt_ports = BTreeSet::new();
    for (k, port) in raw.informal_exempt_ports.iter().flatten().enumerate() {
        let p = port.trim();
        if p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()) {
            informal_exempt_ports.insert(p.to_owned());
        } else {
            r.at(
                &format!("fees.informal_exempt_ports[{k}]"),
                format!("{port:?} is not a 4-digit port code"),
            );
        }
    }
    let mut mpf: Vec<MpfRow> = Vec::new();
    let mut previous: Option<(usize, NaiveDate, NaiveDate)> = None;
    for (i, m) in raw.mpf.iter().flatten().enumerate() {
        let key = |k: &str| format!("fees.mpf[{i}].{k}");
        r.failed = false;
        let from = r.date(m.from.as_ref(), &key("from"));
        let to = match (&m.to, from) {
            (Some(v), _) => parse_date(v).map_err(|e| r.at(&key("to"), e)).ok(),
            (None, Some(from)) => from.checked_add_months(Months::new(12)),
            (None, None) => None,
        };
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                r.at(&key("to"), format!("{to} is not after from ({from})"));
            } else {
                if let Some((j, pfrom, pto)) = previous
                    && from < pto
                {
                    let why = if from <= pfrom {
                        "rows must be in increasing order of from"
                    } else {
                        "rows must not overlap"
                    };
                    r.at(
                        &key("from"),
                        format!(
                            "{from} is before the end of fees.mpf[{j}] ({pfrom} to {pto}): {why}"
                        ),
                    );
                }
                previous = Some((i, from, to));
            }
        }
        let informal_usd = r.amount(m.informal_usd.as_ref(), &key("informal_usd"));
        let formal_rate = r.percent(m.formal_rate.as_ref(), &key("formal_rate"));
        let min = r.amount(m.formal_min_usd.as_ref(), &key("formal_min_usd"));
        let max = r.amount(m.formal_max_usd.as_ref(), &key("formal_max_usd"));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            r.at(
                &key("formal_max_usd"),
                format!(
                    "{} is below formal_min_usd ({})",
                    money::format(max),
                    money::format(min)
                ),
            );
        }
        if let (
            Some(from),
            Some(to),
            Some(informal_usd),
            Some(formal_rate),
            Some(formal_min_usd),
            Some(formal_max_usd),
            false,
        ) = (from, to, informal_usd, formal_rate, min, max, r.failed)
        {
            mpf.push(MpfRow {
                from,
                to,
                informal_usd,
                formal_rate,
                formal_min_usd,
                formal_max_usd,
            });
        }
    }
    FeeTable {
        hmf_rate,
        informal_exempt_ports,
        mpf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        duty: Option<RawDuty>,
        fees: Option<RawFees>,
    }

    /// Builds from TOML text; returns the policy and the problems as `key: message`.
    fn build_toml(text: &str, dir: Option<&Path>) -> (DutyPolicy, Vec<String>) {
        let file: File = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let mut problems = Vec::new();
        let policy = build(file.duty.as_ref(), file.fees.as_ref(), dir, &mut |k, m| {
            problems.push(format!("{k}: {m}"))
        });
        (policy, problems)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const CONTRACT_EXAMPLE: &str = r#"
[duty]
reviewed_through = "2026-12-01"
column2_origins = ["CU", "KP", "RU", "BY"]
[[duty.hts]]
from = "2026-01-01"
file = "reference/hts-2026-rev4.csv"
[[duty.layer]]
heading = "9903.88.03"
program = "301"
rate = "25%"
origins = ["CN"]
exclude_origins = []
hts = ["8504", "8471.30"]
exclude_hts = ["8471.30.0100"]
from = "2018-07-06"
to = ""
not_with = ["232"]
basis = "USTR notice 83 FR 40823"
[fees]
hmf_rate = "0.125%"
informal_exempt_ports = []
[[fees.mpf]]
from = "2025-10-01"
to = "2026-10-01"
informal_usd = "2.69"
formal_rate = "0.3464%"
formal_min_usd = "33.58"
formal_max_usd = "651.50"
"#;

    #[test]
    fn the_contract_example_builds() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (p, problems) = build_toml(CONTRACT_EXAMPLE, Some(dir));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.reviewed_through, Some(day("2026-12-01")));
        assert_eq!(
            p.column2_origins
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["BY", "CU", "KP", "RU"]
        );
        assert_eq!(p.revisions.len(), 1);
        assert_eq!(p.revisions[0].1, "reference/hts-2026-rev4.csv");
        assert!(p.revisions[0].2.contains("6109100012"));
        let l = &p.layers[0];
        assert_eq!(
            (l.heading.as_str(), l.program.as_str(), l.to),
            ("9903.88.03", "301", None)
        );
        assert_eq!(l.hts, ["8504", "847130"]);
        assert_eq!(l.exclude_hts, ["8471300100"]);
        assert_eq!(l.rate.to_string(), "25%");
        assert_eq!(p.fees.mpf.len(), 1);
        assert_eq!(
            p.fees.mpf[0].informal_usd,
            money::parse_decimal("2.69").unwrap()
        );
        assert_eq!(p.fees.hmf_rate.unwrap().to_string(), "0.125%");
    }

    #[test]
    fn dates_and_amounts_may_be_toml_dates_and_numbers() {
        let text = r#"
[duty]
reviewed_through = 2026-12-01
[[duty.layer]]
heading = "9903.01.24"
program = "ieepa"
rate = "10%"
from = 2025-11-10
to = 2026-02-24
[[fees.mpf]]
from = 2025-10-01
informal_usd = 2.69
formal_rate = "0.3464%"
formal_min_usd = 33.58
formal_max_usd = 651
"#;
        let (p, problems) = build_toml(text, None);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.reviewed_through, Some(day("2026-12-01")));
        assert_eq!(p.layers[0].to, Some(day("2026-02-24")));
        let row = &p.fees.mpf[0];
        assert_eq!(row.to, day("2026-10-01"), "default: one year after from");
        assert_eq!(row.informal_usd, money::parse_decimal("2.69").unwrap());
        assert_eq!(row.formal_max_usd, 651 * money::ONE);
        assert!(!p.has_hts());
    }

    #[test]
    fn every_rejection_of_the_contract_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.csv"),
            "HTS Number,Indent,General Rate of Duty\n0101,x,\n",
        )
        .unwrap();
        let text = r#"
[duty]
reviewed_through = "2026-13-01"
column2_origins = ["CU", "XX"]
[[duty.hts]]
from = "2026-01-01"
file = "missing.csv"
[[duty.hts]]
from = "2026-01-01"
file = "bad.csv"
[[duty.layer]]
heading = "9903.88.03"
program = "301"
rate = "25"
from = "2018-07-06"
hts = ["85.04", "84x"]
[[duty.layer]]
heading = "9903.03.01"
program = "122"
rate = "10%"
from = "2026-02-24"
to = "2026-02-24"
not_with = ["232"]
[[duty.layer]]
heading = "9903.81.90"
program = "232"
rate = 50
from = "2025-06-04"
not_with = ["122"]
[[duty.layer]]
heading = "9903.81.91"
program = "232"
rate = "50%"
from = "2025-06-04"
not_with = ["122"]
[fees]
hmf_rate = 0.125
informal_exempt_ports = ["4701", "47"]
[[fees.mpf]]
from = "2025-10-01"
informal_usd = "2.69"
formal_rate = "0.3464%"
formal_min_usd = "33.58"
formal_max_usd = "651.50"
[[fees.mpf]]
from = "2024-10-01"
informal_usd = "abc"
formal_rate = "0.3464%"
formal_min_usd = "40"
formal_max_usd = "30"
"#;
        let (p, problems) = build_toml(text, Some(dir.path()));
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "duty.reviewed_through",
                "duty.column2_origins[1]",
                "duty.hts[0].file",
                "duty.hts[1].from",
                "duty.hts[1].file",
                "duty.layer[0].rate",
                "duty.layer[0].hts[1]",
                "duty.layer[1].to",
                "duty.layer[2].rate",
                "duty.layer[2].not_with",
                "duty.layer[3].not_with",
                "fees.hmf_rate",
                "fees.informal_exempt_ports[1]",
                "fees.mpf[1].from",
                "fees.mpf[1].informal_usd",
                "fees.mpf[1].formal_max_usd",
            ],
            "{problems:#?}"
        );
        assert!(
            problems[3].contains("two HTS revisions cannot start on the same day"),
            "{}",
            problems[3]
        );
        assert!(
            problems[4].contains("line 2: indent \"x\""),
            "{}",
            problems[4]
        );
        assert!(problems[5].contains("not a percentage"), "{}", problems[5]);
        assert!(
            problems[9].contains("each would drop the other"),
            "{}",
            problems[9]
        );
        assert!(
            problems[10]
                .starts_with("duty.layer[3].not_with: names program \"122\" of duty.layer[1]"),
            "{}",
            problems[10]
        );
        assert!(
            problems[13].contains("increasing order"),
            "{}",
            problems[13]
        );
        // What had a problem is left out.
        assert!(p.revisions.is_empty());
        assert!(p.layers.is_empty(), "{:?}", p.layers);
        assert_eq!(p.fees.mpf.len(), 1);
    }

    #[test]
    fn overlapping_mpf_rows_are_rejected() {
        let text = r#"
[[fees.mpf]]
from = "2024-10-01"
to = "2025-10-02"
informal_usd = "2.62"
formal_rate = "0.3464%"
formal_min_usd = "32.71"
formal_max_usd = "634.62"
[[fees.mpf]]
from = "2025-10-01"
informal_usd = "2.69"
formal_rate = "0.3464%"
formal_min_usd = "33.58"
formal_max_usd = "651.50"
"#;
        let (_, problems) = build_toml(text, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("fees.mpf[1].from: 2025-10-01 is before the end of fees.mpf[0]"),
            "{}",
            problems[0]
        );
        assert!(problems[0].ends_with("rows must not overlap"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<File>("[duty]\nreviewed_thru = \"2026-01-01\"\n").is_err());
        assert!(
            toml::from_str::<File>("[[duty.layer]]\nheading = \"x\"\nrates = \"5%\"\n").is_err()
        );
        assert!(
            toml::from_str::<File>("[[fees.mpf]]\nfrom = \"2025-10-01\"\nmin = \"1\"\n").is_err()
        );
    }

    #[test]
    fn revisions_naming_one_file_share_it_and_sort_by_from() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rev.json"),
            r#"[{"htsno": "3213.10.00.00", "indent": 0, "units": ["kg"], "general": "Free"}]"#,
        )
        .unwrap();
        let text = r#"
[[duty.hts]]
from = "2026-07-01"
file = "rev.json"
[[duty.hts]]
from = "2026-01-01"
file = "./rev.json"
"#;
        let (p, problems) = build_toml(text, Some(dir.path()));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            p.revisions.iter().map(|r| r.0).collect::<Vec<_>>(),
            [day("2026-01-01"), day("2026-07-01")]
        );
        assert!(
            Arc::ptr_eq(&p.revisions[0].2, &p.revisions[1].2),
            "loaded once"
        );
    }
}
