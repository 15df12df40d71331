//! Chapter 99 layers (contract section 9 step 5): which `[[duty.layer]]`
//! headings add duty to a line, and how much.
//!
//! [`applicable`] is the rule as written, over any slice of layers.
//! [`LayerIndex`] gives the same answer for millions of lines: the layers in
//! force are looked up by date segment (a binary search), origins by binary
//! search, and HTS prefixes as numbers in a hash set, so a layer with
//! thousands of prefixes costs a few lookups per line, not a scan.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::NaiveDate;

use super::rate::Percent;

/// One `[[duty.layer]]`: an additional ad valorem duty under a chapter 99
/// heading. Codes are normalised: origins upper-case, HTS prefixes digits
/// only (dots stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The chapter 99 number reported with the line (`9903.88.03`).
    pub heading: String,
    /// A label that `not_with` refers to (`301`, `232`).
    pub program: String,
    pub rate: Percent,
    /// Empty = every origin.
    pub origins: Vec<String>,
    pub exclude_origins: Vec<String>,
    /// HTS prefixes; empty = every line.
    pub hts: Vec<String>,
    pub exclude_hts: Vec<String>,
    /// In force from this date ...
    pub from: NaiveDate,
    /// ... until the day before this one; `None` = open-ended.
    pub to: Option<NaiveDate>,
    /// Programs whose layers, when they cover the line, drop this one.
    pub not_with: Vec<String>,
    pub basis: Option<String>,
}

impl Layer {
    /// `from <= date < to`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date < to)
    }

    /// Origins and HTS prefixes match; exclusions do not.
    fn covers(&self, hts10: &str, origin: &str) -> bool {
        let starts = |p: &String| hts10.as_bytes().starts_with(p.as_bytes());
        (self.origins.is_empty() || self.origins.iter().any(|o| o == origin))
            && !self.exclude_origins.iter().any(|o| o == origin)
            && (self.hts.is_empty() || self.hts.iter().any(starts))
            && !self.exclude_hts.iter().any(starts)
    }
}

/// Step 5: the layers in force on `date` that cover the line, in policy
/// order, without those whose `not_with` names the program of another.
pub fn applicable<'a>(
    layers: &'a [Layer],
    date: NaiveDate,
    hts10: &str,
    origin: &str,
) -> Vec<&'a Layer> {
    let matched: Vec<&Layer> = layers
        .iter()
        .filter(|l| l.in_force(date) && l.covers(hts10, origin))
        .collect();
    drop_not_with(matched)
}

/// Drops each layer whose `not_with` names the program of another matching
/// layer (all judged against the same matching set).
fn drop_not_with(matched: Vec<&Layer>) -> Vec<&Layer> {
    if matched.iter().all(|l| l.not_with.is_empty()) {
        return matched;
    }
    let dropped: Vec<bool> = matched
        .iter()
        .enumerate()
        .map(|(i, l)| {
            matched
                .iter()
                .enumerate()
                .any(|(j, other)| i != j && l.not_with.contains(&other.program))
        })
        .collect();
    matched
        .into_iter()
        .zip(dropped)
        .filter(|(_, d)| !d)
        .map(|(l, _)| l)
        .collect()
}

/// A layer's amount: rate x entered value, rounded half-up to the cent on its
/// own (step 6), in money units.
pub fn layer_amount(layer: &Layer, entered_value: i128) -> i128 {
    layer.rate.of_rounded(entered_value)
}

/// A multiplicative hasher for `u64` keys that are already well spread.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// The numeric value of each leading run of `code` (`values[n]` = the first
/// n bytes as a number), `None` from the first non-digit on.
fn prefix_values(code: &[u8]) -> [Option<u64>; 11] {
    let mut values = [None; 11];
    let mut acc = Some(0u64);
    values[0] = acc;
    for (i, b) in code.iter().take(10).enumerate() {
        acc = acc
            .filter(|_| b.is_ascii_digit())
            .map(|a| a * 10 + u64::from(b - b'0'));
        values[i + 1] = acc;
    }
    values
}

/// A set of HTS prefixes: digit prefixes as `value * 16 + length` keys, any
/// other text (which a checked policy never has) compared as bytes.
struct PrefixSet {
    lengths: u16,
    keys: KeySet,
    other: Vec<Box<[u8]>>,
}

impl PrefixSet {
    fn new(prefixes: &[String]) -> PrefixSet {
        let mut set = PrefixSet {
            lengths: 0,
            keys: KeySet::default(),
            other: Vec::new(),
        };
        for p in prefixes {
            let b = p.as_bytes();
            if (1..=10).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
                let value = prefix_values(b)[b.len()].expect("digits");
                set.lengths |= 1 << b.len();
                set.keys.insert(value * 16 + b.len() as u64);
            } else {
                set.other.push(b.into());
            }
        }
        set
    }

    fn matches(&self, code: &[u8], values: &[Option<u64>; 11]) -> bool {
        let mut lengths = self.lengths;
        while lengths != 0 {
            let len = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            if let Some(v) = values.get(len).copied().flatten()
                && len <= code.len()
                && self.keys.contains(&(v * 16 + len as u64))
            {
                return true;
            }
        }
        self.other.iter().any(|p| code.starts_with(p))
    }
}

/// One layer's precomputed tests.
struct Matcher {
    /// Sorted; `None` = every origin.
    origins: Option<Vec<String>>,
    exclude_origins: Vec<String>,
    /// `None` = every line.
    hts: Option<PrefixSet>,
    exclude_hts: PrefixSet,
    has_not_with: bool,
}

/// [`applicable`], precomputed for one list of layers.
pub struct LayerIndex {
    count: usize,
    /// Every `from` and `to`, sorted, distinct.
    cuts: Vec<NaiveDate>,
    /// `segments[k]`: the layers in force from `cuts[k]` until `cuts[k + 1]`.
    segments: Vec<Vec<u32>>,
    matchers: Vec<Matcher>,
}

impl std::fmt::Debug for LayerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerIndex")
            .field("layers", &self.count)
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl LayerIndex {
    pub fn new(layers: &[Layer]) -> LayerIndex {
        let mut cuts: Vec<NaiveDate> = layers
            .iter()
            .flat_map(|l| std::iter::once(l.from).chain(l.to))
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let segments = cuts
            .iter()
            .map(|&day| {
                (0..layers.len() as u32)
                    .filter(|&i| layers[i as usize].in_force(day))
                    .collect()
            })
            .collect();
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let matchers = layers
            .iter()
            .map(|l| Matcher {
                origins: (!l.origins.is_empty()).then(|| sorted(&l.origins)),
                exclude_origins: sorted(&l.exclude_origins),
                hts: (!l.hts.is_empty()).then(|| PrefixSet::new(&l.hts)),
                exclude_hts: PrefixSet::new(&l.exclude_hts),
                has_not_with: !l.not_with.is_empty(),
            })
            .collect();
        LayerIndex {
            count: layers.len(),
            cuts,
            segments,
            matchers,
        }
    }

    /// How many layers the index was built for.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// [`applicable`] for the layers the index was built from (`layers` must
    /// be that same list).
    pub fn applicable<'a>(
        &self,
        layers: &'a [Layer],
        date: NaiveDate,
        hts10: &str,
        origin: &str,
    ) -> Vec<&'a Layer> {
        debug_assert_eq!(
            layers.len(),
            self.count,
            "a LayerIndex serves the layers it was built from"
        );
        let segment = self.cuts.partition_point(|c| *c <= date);
        let Some(in_force) = segment.checked_sub(1).map(|k| &self.segments[k]) else {
            return Vec::new();
        };
        if in_force.is_empty() {
            return Vec::new();
        }
        let code = hts10.as_bytes();
        let values = prefix_values(code);
        let mut matched = Vec::new();
        let mut any_not_with = false;
        for &i in in_force {
            let m = &self.matchers[i as usize];
            let origin_ok = m
                .origins
                .as_ref()
                .is_none_or(|o| o.binary_search_by(|x| x.as_str().cmp(origin)).is_ok())
                && m.exclude_origins
                    .binary_search_by(|x| x.as_str().cmp(origin))
                    .is_err();
            if origin_ok
                && m.hts.as_ref().is_none_or(|p| p.matches(code, &values))
                && !m.exclude_hts.matches(code, &values)
            {
                any_not_with |= m.has_not_with;
                matched.push(&layers[i as usize]);
            }
        }
        if any_not_with {
            drop_not_with(matched)
        } else {
            matched
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn layer(heading: &str, program: &str, rate: &str, from: &str, to: Option<&str>) -> Layer {
        Layer {
            heading: heading.into(),
            program: program.into(),
            rate: Percent::parse(rate).unwrap(),
            origins: Vec::new(),
            exclude_origins: Vec::new(),
            hts: Vec::new(),
            exclude_hts: Vec::new(),
            from: day(from),
            to: to.map(day),
            not_with: Vec::new(),
            basis: None,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn headings(found: &[&Layer]) -> Vec<String> {
        found.iter().map(|l| l.heading.clone()).collect()
    }

    /// Both implementations, checked against each other.
    fn both(layers: &[Layer], date: &str, hts: &str, origin: &str) -> Vec<String> {
        let plain = headings(&applicable(layers, day(date), hts, origin));
        let indexed = headings(&LayerIndex::new(layers).applicable(layers, day(date), hts, origin));
        assert_eq!(plain, indexed, "{date} {hts} {origin}");
        plain
    }

    #[test]
    fn from_is_inclusive_and_to_exclusive() {
        let layers = [layer(
            "9903.03.01",
            "122",
            "10%",
            "2026-02-24",
            Some("2026-07-24"),
        )];
        assert!(both(&layers, "2026-02-23", "6109100012", "CN").is_empty());
        assert_eq!(
            both(&layers, "2026-02-24", "6109100012", "CN"),
            ["9903.03.01"]
        );
        assert_eq!(
            both(&layers, "2026-07-23", "6109100012", "CN"),
            ["9903.03.01"]
        );
        assert!(both(&layers, "2026-07-24", "6109100012", "CN").is_empty());
        let open = [layer("9903.88.03", "301", "25%", "2018-07-06", None)];
        assert_eq!(
            both(&open, "2099-01-01", "8504000000", "CN"),
            ["9903.88.03"]
        );
    }

    #[test]
    fn origins_and_hts_prefixes_with_exclusions() {
        let mut l301 = layer("9903.88.03", "301", "25%", "2018-07-06", None);
        l301.origins = strings(&["CN"]);
        l301.hts = strings(&["8504", "847130"]);
        l301.exclude_hts = strings(&["8471300100"]);
        let mut all_but = layer("9903.01.10", "ieepa", "25%", "2025-03-04", None);
        all_but.exclude_origins = strings(&["CA", "MX"]);
        let layers = [l301, all_but];
        assert_eq!(
            both(&layers, "2025-06-01", "8504400000", "CN"),
            ["9903.88.03", "9903.01.10"]
        );
        assert_eq!(
            both(&layers, "2025-06-01", "8471305000", "CN"),
            ["9903.88.03", "9903.01.10"]
        );
        assert_eq!(
            both(&layers, "2025-06-01", "8471300100", "CN"),
            ["9903.01.10"],
            "excluded prefix"
        );
        assert_eq!(
            both(&layers, "2025-06-01", "8504400000", "HK"),
            ["9903.01.10"],
            "other origin"
        );
        assert!(
            both(&layers, "2025-06-01", "8504400000", "MX").is_empty(),
            "excluded origin"
        );
        assert_eq!(
            both(&layers, "2025-06-01", "8505000000", "CN"),
            ["9903.01.10"]
        );
    }

    #[test]
    fn not_with_drops_a_layer_when_the_named_program_covers_the_line() {
        let mut s232 = layer("9903.81.90", "232", "50%", "2025-06-04", None);
        s232.hts = strings(&["7318"]);
        let mut s122 = layer("9903.03.01", "122", "10%", "2026-02-24", Some("2026-07-24"));
        s122.not_with = strings(&["232"]);
        let s301 = layer("9903.88.03", "301", "25%", "2018-07-06", None);
        let layers = [s232, s122, s301];
        assert_eq!(
            both(&layers, "2026-03-01", "7318150000", "CN"),
            ["9903.81.90", "9903.88.03"]
        );
        // No 232 on this line: 122 stays.
        assert_eq!(
            both(&layers, "2026-03-01", "6109100012", "CN"),
            ["9903.03.01", "9903.88.03"]
        );
        // 232 not in force yet (a date before it): 122 not in force either.
        assert_eq!(
            both(&layers, "2025-01-01", "7318150000", "CN"),
            ["9903.88.03"]
        );
    }

    #[test]
    fn many_prefixes_and_many_dates_agree_with_the_rule() {
        let mut layers = Vec::new();
        for i in 0..40u32 {
            let mut l = layer(
                &format!("9903.{i:02}"),
                &format!("p{}", i % 5),
                "1%",
                "2020-01-01",
                None,
            );
            l.from = day("2020-01-01") + chrono::Days::new(u64::from(i) * 30);
            l.to = (i % 3 == 0).then(|| l.from + chrono::Days::new(200));
            l.hts = (0..i).map(|k| format!("{}", 1000 + k * 37)).collect();
            if i % 4 == 0 {
                l.origins = strings(&["CN", "VN"]);
            }
            if i % 7 == 0 {
                l.exclude_hts = strings(&["1037", "10"]);
                l.not_with = strings(&["p1"]);
            }
            layers.push(l);
        }
        let index = LayerIndex::new(&layers);
        let mut seen = 0;
        for d in (0..1500).step_by(17) {
            let date = day("2019-12-01") + chrono::Days::new(d);
            for code in [
                "1000000000",
                "1037123456",
                "1074000000",
                "2443999999",
                "9999999999",
                "10x0000000",
            ] {
                for origin in ["CN", "DE"] {
                    let plain = headings(&applicable(&layers, date, code, origin));
                    let fast = headings(&index.applicable(&layers, date, code, origin));
                    assert_eq!(plain, fast, "{date} {code} {origin}");
                    seen += plain.len();
                }
            }
        }
        assert!(seen > 100, "the test exercised matches: {seen}");
    }

    #[test]
    fn amounts_round_half_up_on_their_own() {
        let l = layer("9903.88.15", "301", "7.5%", "2019-09-01", None);
        // 7.5% x 10.10 = 0.7575 -> 0.76; x 0.20 = 0.015 -> 0.02.
        assert_eq!(
            layer_amount(&l, money::parse_decimal("10.10").unwrap()),
            money::parse_decimal("0.76").unwrap()
        );
        assert_eq!(
            layer_amount(&l, money::parse_decimal("0.20").unwrap()),
            money::parse_decimal("0.02").unwrap()
        );
        assert_eq!(layer_amount(&l, 0), 0);
    }
}
