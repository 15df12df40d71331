//! The policy file (contract section 3): thresholds, the effective-dated regime
//! timeline, FX rates and reference lists.
//!
//! Loading is two-level: [`RawPolicy`] is what serde reads (every key optional,
//! unknown keys refused), [`Policy`] is the checked, typed result. A file is
//! layered over the shipped default (`config/policy.toml`, embedded): each key it
//! sets replaces the default's value whole, each key it leaves out keeps it.
//! Every problem is reported at once with its key path.

mod hts_reference;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::duty::{self, DutyPolicy};
use crate::money;
use crate::normalize::{self, countries};
use crate::problem::{Problem, Problems};
pub use hts_reference::HtsReference;

/// The shipped default policy, embedded so the binary runs with no files.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../config/policy.toml");

/// A number written either as a TOML string (`"800.00"`, preferred: exact) or a
/// TOML number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DecimalText {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl DecimalText {
    fn parse(&self) -> Result<i128, String> {
        match self {
            DecimalText::Text(s) => {
                money::parse_decimal(s).map_err(|_| format!("{s:?} is not a decimal number"))
            }
            DecimalText::Integer(i) => Ok(i128::from(*i) * money::ONE),
            // `{}` prints the shortest text that reads back as the same f64.
            DecimalText::Float(f) => money::parse_decimal(&format!("{f}"))
                .map_err(|_| format!("{f} is not a decimal number")),
        }
    }

    /// As an exact FX rate (see [`money::Rate`]).
    fn parse_rate(&self) -> Result<money::Rate, String> {
        let text = match self {
            DecimalText::Text(s) => s.clone(),
            DecimalText::Integer(i) => i.to_string(),
            DecimalText::Float(f) => format!("{f}"),
        };
        money::parse_rate(&text).map_err(|_| format!("{text:?} is not a decimal number"))
    }
}

/// `[[regime]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegime {
    pub from: Option<toml::Value>,
    pub de_minimis: Option<bool>,
    #[serde(default)]
    pub suspended_origins: Vec<String>,
    pub basis: Option<String>,
    /// s321d extension: a threshold for this regime only (e.g. 200 before 2016).
    pub threshold_usd: Option<DecimalText>,
}

/// `[lists]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLists {
    pub ports: Option<Vec<String>>,
    pub vague_terms: Option<Vec<String>>,
    pub pga_prefixes: Option<Vec<String>>,
    pub restricted_prefixes: Option<Vec<String>>,
    /// v2: HTS prefixes in scope of an AD/CVD order (E004, type 03).
    pub adcvd_prefixes: Option<Vec<String>>,
    /// s321d extension: codes accepted by V003 beyond ISO's assigned ones.
    pub extra_countries: Option<Vec<String>>,
}

/// `[risk]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    pub undervalued_usd_per_kg: Option<BTreeMap<String, DecimalText>>,
}

/// `[entries]` as written (contract v2 section 3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntries {
    pub over_limit: Option<String>,
}

/// What to do with a 141.51 group above the informal limit (contract section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverLimit {
    /// Separate bills make separate entries (141.52(e)), first-fit decreasing.
    #[default]
    SplitByBill,
    /// The whole group is one formal entry.
    Formal,
}

impl OverLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            OverLimit::SplitByBill => "split_by_bill",
            OverLimit::Formal => "formal",
        }
    }
}

/// The policy file as serde reads it; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub threshold_usd: Option<DecimalText>,
    pub informal_limit_usd: Option<DecimalText>,
    /// s321d extension: the date the `[fx]` rates are from.
    pub fx_as_of: Option<toml::Value>,
    /// s321d extension: path of an HTS reference list (relative to this file).
    pub hts_reference: Option<String>,
    pub regime: Option<Vec<RawRegime>>,
    pub fx: Option<BTreeMap<String, DecimalText>>,
    pub lists: Option<RawLists>,
    /// s321d extension: agency label per PGA prefix, for messages.
    pub pga_agency: Option<BTreeMap<String, String>>,
    pub risk: Option<RawRisk>,
    /// v2: entry grouping.
    pub entries: Option<RawEntries>,
    /// v2: HTS revisions, chapter 99 layers, review date.
    pub duty: Option<duty::config::RawDuty>,
    /// v2: MPF and HMF.
    pub fees: Option<duty::config::RawFees>,
}

impl RawPolicy {
    /// Whether the file sets any v2 key (`[entries]`, `[duty]`, `[fees]`,
    /// `lists.adcvd_prefixes`).
    fn has_v2_keys(&self) -> bool {
        self.entries.is_some()
            || self.duty.is_some()
            || self.fees.is_some()
            || self
                .lists
                .as_ref()
                .is_some_and(|l| l.adcvd_prefixes.is_some())
    }

    /// `self` over `base`: keys set here win whole.
    ///
    /// `[pga_agency]` labels the entries of `lists.pga_prefixes`, so it follows
    /// that list: a file that replaces the list but sets no labels of its own
    /// keeps the base's labels only for the prefixes its list still has.
    fn layered_over(self, base: RawPolicy) -> RawPolicy {
        let pga_agency = match (
            self.pga_agency,
            self.lists.as_ref().and_then(|l| l.pga_prefixes.as_ref()),
        ) {
            (Some(own), _) => Some(own),
            (None, Some(prefixes)) => {
                let kept: HashSet<String> = prefixes.iter().map(|p| normalize::hts(p)).collect();
                base.pga_agency.map(|labels| {
                    labels
                        .into_iter()
                        .filter(|(p, _)| kept.contains(&normalize::hts(p)))
                        .collect()
                })
            }
            (None, None) => base.pga_agency,
        };
        let lists = match (self.lists, base.lists) {
            (Some(top), Some(b)) => Some(RawLists {
                ports: top.ports.or(b.ports),
                vague_terms: top.vague_terms.or(b.vague_terms),
                pga_prefixes: top.pga_prefixes.or(b.pga_prefixes),
                restricted_prefixes: top.restricted_prefixes.or(b.restricted_prefixes),
                adcvd_prefixes: top.adcvd_prefixes,
                extra_countries: top.extra_countries.or(b.extra_countries),
            }),
            (Some(top), None) => Some(top),
            (None, Some(b)) => Some(RawLists {
                adcvd_prefixes: None,
                ..b
            }),
            (None, None) => None,
        };
        let risk = match (self.risk, base.risk) {
            (Some(top), Some(b)) => Some(RawRisk {
                undervalued_usd_per_kg: top.undervalued_usd_per_kg.or(b.undervalued_usd_per_kg),
            }),
            (top, b) => top.or(b),
        };
        RawPolicy {
            threshold_usd: self.threshold_usd.or(base.threshold_usd),
            informal_limit_usd: self.informal_limit_usd.or(base.informal_limit_usd),
            fx_as_of: self.fx_as_of.or(base.fx_as_of),
            hts_reference: self.hts_reference.or(base.hts_reference),
            regime: self.regime.or(base.regime),
            fx: self.fx.or(base.fx),
            lists,
            pga_agency,
            risk,
            // v2 keys are never inherited from the shipped default: a v1 policy
            // file still gives v1 results (contract v2 preamble). A file states
            // its own `[duty]`, `[fees]`, `[entries]` and `adcvd_prefixes`.
            entries: self.entries,
            duty: self.duty,
            fees: self.fees,
        }
    }
}

/// One effective-dated regime.
#[derive(Debug, Clone, PartialEq)]
pub struct Regime {
    /// First arrival date it applies to.
    pub from: NaiveDate,
    pub de_minimis: bool,
    /// Origins (ISO alpha-2) that lose de minimis under this regime.
    pub suspended_origins: BTreeSet<String>,
    /// The legal instrument, cited in messages, reports and audits.
    pub basis: Option<String>,
    /// The per-person-per-day threshold under this regime (fixed point).
    pub threshold_usd: i128,
}

/// A checked policy, ready for the engine.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Default de minimis threshold (fixed point, see [`crate::money`]).
    pub threshold_usd: i128,
    /// Highest value of an informal (type 11) entry.
    pub informal_limit_usd: i128,
    /// Sorted by `from`, strictly increasing.
    pub regimes: Vec<Regime>,
    /// USD per unit of currency, by upper-case ISO 4217 code, exact as
    /// written: what the rules convert with ([`money::convert`]).
    pub fx_rates: BTreeMap<String, money::Rate>,
    pub fx_as_of: Option<NaiveDate>,
    /// Schedule D ports.
    pub ports: BTreeSet<String>,
    /// Vague descriptions, already passed through `norm`.
    pub vague_terms: BTreeSet<String>,
    pub pga_prefixes: Vec<String>,
    pub pga_agency: BTreeMap<String, String>,
    pub restricted_prefixes: Vec<String>,
    pub extra_countries: BTreeSet<String>,
    /// R001 floors: USD per kg by two-digit HTS chapter (fixed point).
    pub undervalued_usd_per_kg: BTreeMap<String, i128>,
    pub hts_reference: Option<HtsReference>,
    /// v2: AD/CVD prefixes (E004), normalised.
    pub adcvd_prefixes: Vec<String>,
    /// v2: `[entries] over_limit`.
    pub over_limit: OverLimit,
    /// v2: whether the policy has any v2 key (reports say "v1 policy" otherwise).
    pub v2: bool,
    /// v2: HTS revisions, layers and fees.
    pub duty: Arc<DutyPolicy>,
    /// Where the policy came from (`builtin` or a path), for summaries and audits.
    pub source: String,
    /// SHA-256 of the file text (and the default it was layered on): the
    /// policy's version in run summaries and the audit trail.
    pub digest: String,
}

impl Policy {
    /// The shipped default.
    pub fn builtin() -> Policy {
        Policy::parse(DEFAULT_POLICY_TOML, "builtin", None, false)
            .expect("the shipped policy is valid")
    }

    /// Loads a policy file layered over the shipped default.
    pub fn load(path: &Path) -> Result<Policy, Problems> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![Problem {
                file: name.clone(),
                key: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Policy::from_toml(&text, &name, path.parent())
    }

    /// Parses and checks policy text layered over the shipped default. `dir`
    /// resolves relative paths in it.
    pub fn from_toml(text: &str, name: &str, dir: Option<&Path>) -> Result<Policy, Problems> {
        Policy::parse(text, name, dir, true).map_err(Problems::escaped)
    }

    fn parse(
        text: &str,
        name: &str,
        dir: Option<&Path>,
        layered: bool,
    ) -> Result<Policy, Problems> {
        let problem = |key: &str, message: String| Problem {
            file: name.to_owned(),
            key: key.to_owned(),
            message,
        };
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| Problems(vec![toml_problem(name, text, &e)]))?;
        let raw = if layered {
            let base: RawPolicy =
                toml::from_str(DEFAULT_POLICY_TOML).expect("the shipped policy parses");
            raw.layered_over(base)
        } else {
            raw
        };
        let mut digest = Sha256::new();
        digest.update(DEFAULT_POLICY_TOML.as_bytes());
        if layered {
            digest.update(text.as_bytes());
        }
        let digest = hex::encode(digest.finalize());
        let mut problems = Vec::new();
        let policy = check(raw, dir, &mut |key, msg| problems.push(problem(key, msg)));
        if problems.is_empty() {
            let mut policy = policy;
            policy.source = name.to_owned();
            policy.digest = digest;
            Ok(policy)
        } else {
            Err(Problems(problems))
        }
    }

    /// Index of the regime in force on `date`: the last whose `from` <= date.
    pub fn regime_index(&self, date: NaiveDate) -> Option<usize> {
        self.regimes
            .partition_point(|r| r.from <= date)
            .checked_sub(1)
    }

    /// The regime in force on `date`, if any.
    pub fn regime_on(&self, date: NaiveDate) -> Option<&Regime> {
        self.regime_index(date).map(|i| &self.regimes[i])
    }

    /// The de minimis threshold on `date` (the regime's own, else the default).
    pub fn threshold_on(&self, date: Option<NaiveDate>) -> i128 {
        date.and_then(|d| self.regime_on(d))
            .map_or(self.threshold_usd, |r| r.threshold_usd)
    }

    /// Whether V003 accepts a normalised country code.
    pub fn country_is_valid(&self, code: &str) -> bool {
        countries::is_assigned(code) || self.extra_countries.contains(code)
    }

    /// Every country code V003 accepts.
    pub fn valid_countries(&self) -> Vec<String> {
        countries::ISO_3166_ALPHA2
            .iter()
            .map(|c| (*c).to_owned())
            .chain(self.extra_countries.iter().cloned())
            .collect()
    }
}

fn toml_problem(name: &str, text: &str, e: &toml::de::Error) -> Problem {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
    let message = e.message().trim().to_owned();
    Problem {
        file: name.to_owned(),
        key: line.map(|l| format!("line {l}")).unwrap_or_default(),
        message,
    }
}

fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    match value {
        toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
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

fn positive(value: &DecimalText, key: &str, report: &mut dyn FnMut(&str, String)) -> i128 {
    match value.parse() {
        Ok(v) if v > 0 => v,
        Ok(_) => {
            report(key, "must be above zero".into());
            0
        }
        Err(e) => {
            report(key, e);
            0
        }
    }
}

fn digit_prefixes(
    list: Vec<String>,
    key: &str,
    report: &mut dyn FnMut(&str, String),
) -> Vec<String> {
    let mut out = Vec::with_capacity(list.len());
    for (i, p) in list.into_iter().enumerate() {
        let n = normalize::hts(&p);
        if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            report(
                &format!("{key}[{i}]"),
                format!("{p:?} is not an HTS prefix (1 to 10 digits)"),
            );
        } else if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn check(raw: RawPolicy, dir: Option<&Path>, report: &mut dyn FnMut(&str, String)) -> Policy {
    let v2 = raw.has_v2_keys();
    let missing = "is required (the shipped default has it: was it removed?)";
    let threshold_usd = match &raw.threshold_usd {
        Some(v) => positive(v, "threshold_usd", report),
        None => {
            report("threshold_usd", missing.into());
            0
        }
    };
    let informal_limit_usd = match &raw.informal_limit_usd {
        Some(v) => positive(v, "informal_limit_usd", report),
        None => {
            report("informal_limit_usd", missing.into());
            0
        }
    };
    if informal_limit_usd > 0 && threshold_usd > informal_limit_usd {
        report(
            "informal_limit_usd",
            "must not be below threshold_usd".into(),
        );
    }
    let fx_as_of = raw
        .fx_as_of
        .as_ref()
        .and_then(|v| parse_date(v).map_err(|e| report("fx_as_of", e)).ok());

    let mut regimes: Vec<Regime> = Vec::new();
    let raw_regimes = raw.regime.unwrap_or_default();
    let regimes_given = !raw_regimes.is_empty();
    for (i, r) in raw_regimes.into_iter().enumerate() {
        let key = |k: &str| format!("regime[{i}].{k}");
        let from = match &r.from {
            Some(v) => parse_date(v).map_err(|e| report(&key("from"), e)).ok(),
            None => {
                report(&key("from"), "is required".into());
                None
            }
        };
        let de_minimis = r.de_minimis.unwrap_or_else(|| {
            report(&key("de_minimis"), "is required (true or false)".into());
            false
        });
        let mut suspended = BTreeSet::new();
        for (j, c) in r.suspended_origins.iter().enumerate() {
            let code = normalize::country(c);
            if countries::is_assigned(&code) {
                suspended.insert(code);
            } else {
                report(
                    &format!("regime[{i}].suspended_origins[{j}]"),
                    format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                );
            }
        }
        let threshold = r.threshold_usd.as_ref().map_or(threshold_usd, |t| {
            positive(t, &key("threshold_usd"), report)
        });
        if let Some(from) = from {
            if let Some(prev) = regimes.last()
                && from <= prev.from
            {
                report(
                    &key("from"),
                    format!(
                        "{from} is not after the previous regime's {}: regimes must be in increasing, non-overlapping order",
                        prev.from
                    ),
                );
                continue;
            }
            regimes.push(Regime {
                from,
                de_minimis,
                suspended_origins: suspended,
                basis: r.basis,
                threshold_usd: threshold,
            });
        }
    }
    if !regimes_given {
        report("regime", "at least one [[regime]] is required".into());
    }

    let mut fx_rates = BTreeMap::new();
    for (code, rate) in raw.fx.unwrap_or_default() {
        let key = format!("fx.{code}");
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            report(
                &key,
                format!("{code:?} is not an ISO 4217 code (three upper-case letters)"),
            );
            continue;
        }
        let v = positive(&rate, &key, report);
        if v > 0 {
            match rate.parse_rate() {
                Ok(exact) => {
                    fx_rates.insert(code.clone(), exact);
                }
                Err(e) => report(&key, e),
            }
        }
    }

    let lists = raw.lists.unwrap_or_default();
    let mut ports = BTreeSet::new();
    for (i, p) in lists.ports.unwrap_or_default().into_iter().enumerate() {
        let t = p.trim();
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            ports.insert(t.to_owned());
        } else {
            report(
                &format!("lists.ports[{i}]"),
                format!("{p:?} is not a 4-digit Schedule D port code"),
            );
        }
    }
    let mut vague_terms = BTreeSet::new();
    for (i, t) in lists
        .vague_terms
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let n = normalize::norm(&t);
        if n.is_empty() {
            report(
                &format!("lists.vague_terms[{i}]"),
                format!("{t:?} has no letters or digits"),
            );
        } else {
            vague_terms.insert(n);
        }
    }
    let pga_prefixes = digit_prefixes(
        lists.pga_prefixes.unwrap_or_default(),
        "lists.pga_prefixes",
        report,
    );
    let restricted_prefixes = digit_prefixes(
        lists.restricted_prefixes.unwrap_or_default(),
        "lists.restricted_prefixes",
        report,
    );
    let mut extra_countries = BTreeSet::new();
    for (i, c) in lists
        .extra_countries
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let code = normalize::country(&c);
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            extra_countries.insert(code);
        } else {
            report(
                &format!("lists.extra_countries[{i}]"),
                format!("{c:?} is not a two-letter code"),
            );
        }
    }
    let mut pga_agency = BTreeMap::new();
    for (prefix, agency) in raw.pga_agency.unwrap_or_default() {
        let n = normalize::hts(&prefix);
        if !pga_prefixes.contains(&n) {
            report(
                &format!("pga_agency.{prefix}"),
                "names a prefix that is not in lists.pga_prefixes".into(),
            );
        } else {
            pga_agency.insert(n, agency);
        }
    }

    let mut undervalued_usd_per_kg = BTreeMap::new();
    let risk = raw.risk.unwrap_or_default();
    for (chapter, floor) in risk.undervalued_usd_per_kg.unwrap_or_default() {
        let key = format!("risk.undervalued_usd_per_kg.{chapter}");
        if chapter.len() != 2 || !chapter.bytes().all(|b| b.is_ascii_digit()) {
            report(&key, format!("{chapter:?} is not a two-digit HTS chapter"));
            continue;
        }
        undervalued_usd_per_kg.insert(chapter, positive(&floor, &key, report));
    }

    let adcvd_prefixes = digit_prefixes(
        lists.adcvd_prefixes.unwrap_or_default(),
        "lists.adcvd_prefixes",
        report,
    );
    let over_limit = match raw.entries.as_ref().and_then(|e| e.over_limit.as_deref()) {
        None | Some("split_by_bill") => OverLimit::SplitByBill,
        Some("formal") => OverLimit::Formal,
        Some(other) => {
            report(
                "entries.over_limit",
                format!("{other:?} is not \"split_by_bill\" or \"formal\""),
            );
            OverLimit::SplitByBill
        }
    };
    let duty = Arc::new(duty::config::build(
        raw.duty.as_ref(),
        raw.fees.as_ref(),
        dir,
        report,
    ));

    let hts_reference = raw.hts_reference.as_ref().and_then(|p| {
        let path = resolve(dir, p);
        HtsReference::load(&path)
            .map_err(|e| report("hts_reference", format!("{}: {e}", path.display())))
            .ok()
    });

    Policy {
        threshold_usd,
        informal_limit_usd,
        regimes,
        fx_rates,
        fx_as_of,
        ports,
        vague_terms,
        pga_prefixes,
        pga_agency,
        restricted_prefixes,
        extra_countries,
        undervalued_usd_per_kg,
        hts_reference,
        adcvd_prefixes,
        over_limit,
        v2,
        duty,
        source: String::new(),
        digest: String::new(),
    }
}

fn resolve(dir: Option<&Path>, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    match dir {
        Some(d) if path.is_relative() => d.join(path),
        _ => path,
    }
}

/// Vague terms as a set for quick membership tests outside polars.
pub fn term_set(policy: &Policy) -> HashSet<&str> {
    policy.vague_terms.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn shipped_policy_has_the_real_timeline() {
        let p = Policy::builtin();
        assert_eq!(p.threshold_usd, 800 * money::ONE);
        assert_eq!(p.informal_limit_usd, 2500 * money::ONE);
        assert!(p.regime_on(date("2016-03-09")).is_none());
        let r = p.regime_on(date("2016-03-10")).unwrap();
        assert!(r.de_minimis && r.suspended_origins.is_empty());
        let r = p.regime_on(date("2025-05-01")).unwrap();
        assert!(r.de_minimis && r.suspended_origins.is_empty());
        let r = p.regime_on(date("2025-05-02")).unwrap();
        assert!(r.de_minimis);
        assert_eq!(
            r.suspended_origins.iter().cloned().collect::<Vec<_>>(),
            ["CN", "HK"]
        );
        assert!(
            !p.regime_on(date("2025-08-28"))
                .unwrap()
                .suspended_origins
                .is_empty()
        );
        assert!(!p.regime_on(date("2025-08-29")).unwrap().de_minimis);
        assert!(!p.regime_on(date("2026-11-25")).unwrap().de_minimis);
        assert!(!p.regime_on(date("2027-07-01")).unwrap().de_minimis);
        assert!(p.ports.contains("4701") && p.ports.contains("2720"));
        assert!(p.fx_rates.contains_key("EUR") && p.fx_as_of.is_some());
        assert!(p.vague_terms.contains("gift"));
        assert!(
            p.restricted_prefixes.iter().any(|x| x == "2203")
                && p.restricted_prefixes.iter().any(|x| x == "24")
        );
        assert!(p.restricted_prefixes.iter().any(|x| x == "93"));
    }

    #[test]
    fn a_file_is_layered_over_the_default() {
        let p = Policy::from_toml(
            "threshold_usd = \"200\"\n[fx]\nEUR = \"1.25\"\n",
            "t.toml",
            None,
        )
        .unwrap();
        assert_eq!(p.threshold_usd, 200 * money::ONE);
        assert_eq!(
            p.fx_rates.len(),
            1,
            "a table that is set replaces the default's whole"
        );
        assert_eq!(p.fx_rates["EUR"], money::parse_rate("1.25").unwrap());
        assert!(p.ports.contains("4701"), "lists left out keep the default");
        assert_eq!(p.regimes.len(), Policy::builtin().regimes.len());
        // Regimes without their own threshold take the file's.
        assert_eq!(p.threshold_on(Some(date("2020-01-01"))), 200 * money::ONE);
    }

    #[test]
    fn numbers_may_be_toml_numbers() {
        let p = Policy::from_toml(
            "threshold_usd = 800\ninformal_limit_usd = 2500.5\n[fx]\nJPY = 0.0067\n",
            "t",
            None,
        )
        .unwrap();
        assert_eq!(
            p.informal_limit_usd,
            money::parse_decimal("2500.5").unwrap()
        );
        assert_eq!(p.fx_rates["JPY"], money::parse_rate("0.0067").unwrap());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let text = r#"
threshold_usd = "eight hundred"
informal_limit_usd = "-1"
[[regime]]
from = "2025-05-02"
de_minimis = true
suspended_origins = ["CN", "ZZ"]
[[regime]]
from = "2016-03-10"
de_minimis = true
[[regime]]
from = "2025-13-01"
de_minimis = false
[fx]
eur = "1.1"
GBP = "x"
[lists]
ports = ["4701", "47O1", "123"]
pga_prefixes = ["02", "3304.a"]
[risk]
undervalued_usd_per_kg = { "611" = "2.00", "85" = "0" }
"#;
        let err = Policy::from_toml(text, "bad.toml", None).unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        for expected in [
            "threshold_usd",
            "informal_limit_usd",
            "regime[0].suspended_origins[1]",
            "regime[1].from",
            "regime[2].from",
            "fx.eur",
            "fx.GBP",
            "lists.ports[1]",
            "lists.ports[2]",
            "lists.pga_prefixes[1]",
            "risk.undervalued_usd_per_kg.611",
            "risk.undervalued_usd_per_kg.85",
        ] {
            assert!(
                keys.contains(&expected),
                "missing problem for {expected}: {err}"
            );
        }
        assert!(
            err.to_string()
                .contains("bad.toml: regime[1].from: 2016-03-10 is not after")
        );
    }

    #[test]
    fn unknown_keys_and_bad_syntax_are_refused() {
        let err = Policy::from_toml("threshhold_usd = \"800\"\n", "t.toml", None).unwrap_err();
        assert!(err.to_string().contains("threshhold_usd"), "{err}");
        let err = Policy::from_toml("[lists]\nports = [\"4701\"\nx", "t.toml", None).unwrap_err();
        assert!(err.0[0].key.starts_with("line "), "{err}");
    }

    /// The example policy of contract section 3, as an operator would copy it.
    const CONTRACT_EXAMPLE: &str = r#"
threshold_usd = "800"
informal_limit_usd = "2500"
[[regime]]
from = "2016-03-10"
de_minimis = true
suspended_origins = []
basis = "19 USC 1321(a)(2)(C) as amended by TFTEA s.901"
[[regime]]
from = "2025-05-02"
de_minimis = true
suspended_origins = ["CN", "HK"]
basis = "EO 14256"
[[regime]]
from = "2025-08-29"
de_minimis = false
basis = "EO 14324"
[fx]
EUR = "1.08"
[lists]
ports = ["4701", "2720"]
vague_terms = ["gift", "sample"]
pga_prefixes = ["02", "3304"]
restricted_prefixes = ["2203", "24"]
[risk]
undervalued_usd_per_kg = { "61" = "2.00", "85" = "5.00" }
"#;

    #[test]
    fn the_contract_example_policy_is_accepted() {
        let p = Policy::from_toml(CONTRACT_EXAMPLE, "example.toml", None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.pga_prefixes, ["02", "3304"]);
        // The shipped labels of the prefixes the file keeps stay; the others go with their prefixes.
        let builtin = Policy::builtin();
        assert_eq!(p.pga_agency.get("02"), builtin.pga_agency.get("02"));
        assert!(p.pga_agency.contains_key("02"));
        assert!(
            p.pga_agency.keys().all(|k| k == "02" || k == "3304"),
            "{:?}",
            p.pga_agency
        );
    }

    #[test]
    fn replacing_pga_prefixes_drops_the_shipped_labels_of_the_others() {
        let p = Policy::from_toml("[lists]\npga_prefixes = [\"02\"]\n", "t.toml", None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.pga_prefixes, ["02"]);
        assert_eq!(p.pga_agency.keys().collect::<Vec<_>>(), ["02"]);
        // Prefixes are compared normalised, as the list itself is.
        let p = Policy::from_toml(
            "[lists]\npga_prefixes = [\"0 2\", \"9999\"]\n",
            "t.toml",
            None,
        )
        .unwrap();
        assert_eq!(p.pga_agency.keys().collect::<Vec<_>>(), ["02"]);
        // A file's own labels are its own: one for a prefix it does not list is still an error.
        let err = Policy::from_toml(
            "[lists]\npga_prefixes = [\"02\"]\n[pga_agency]\n\"03\" = \"FDA\"\n",
            "t.toml",
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.0.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["pga_agency.03"]
        );
        // Labels alone, over the shipped prefixes, still work.
        let p =
            Policy::from_toml("[pga_agency]\n\"02\" = \"Meat people\"\n", "t.toml", None).unwrap();
        assert_eq!(p.pga_agency.len(), 1);
        assert_eq!(p.pga_prefixes, Policy::builtin().pga_prefixes);
    }

    #[test]
    fn regimes_can_carry_their_own_threshold() {
        let text = "[[regime]]\nfrom = 1994-01-01\nde_minimis = true\nthreshold_usd = \"200\"\n[[regime]]\nfrom = 2016-03-10\nde_minimis = true\n";
        let p = Policy::from_toml(text, "t", None).unwrap();
        assert_eq!(p.threshold_on(Some(date("2000-01-01"))), 200 * money::ONE);
        assert_eq!(p.threshold_on(Some(date("2020-01-01"))), 800 * money::ONE);
        assert_eq!(p.threshold_on(None), 800 * money::ONE);
    }
}
