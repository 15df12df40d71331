//! One HTS revision (a USITC export, CSV or JSON): which 10-digit codes it
//! holds and the rates and unit of each (contract section 9 step 2).
//!
//! Owns reading the exports and the indent rules: a row's parent is the first
//! row above it with a lower indent; a 10-digit code's rates are its own when
//! its general column is set, else those of its nearest ancestor whose general
//! column is set (all three columns from that one row). A 10-digit row is in
//! the revision whatever follows it; an 8-digit row stands for `<8 digits>00`
//! when it has a unit of quantity and no 10-digit row under it. Header rows
//! (no HTS number, `"htsno": null`) hold no code but still count as indent
//! levels. Rate texts are interned and parsed once here, so a line's lookup is
//! a binary search and two vector reads. What a rate means is `rate`'s.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::rate::{self, Rate};
use crate::normalize;

/// No interned text (an absent unit).
const NONE: u32 = u32::MAX;
/// The interned empty text.
const EMPTY: u32 = 0;

/// What [`HtsRevision::coverage`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Data rows read (header rows included; the CSV header line not).
    pub rows: usize,
    /// Codes [`HtsRevision::contains`] accepts.
    pub ten_digit_codes: usize,
    /// Rows whose general column is not empty.
    pub rated_rows: usize,
}

/// The rates of one 10-digit code, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRow<'a> {
    pub general: &'a str,
    pub special: &'a str,
    pub other: &'a str,
    /// The code's first unit of quantity.
    pub unit: Option<&'a str>,
    /// The HTS number of the row the rates come from, dotted as printed
    /// (empty when no row above the code has a general rate).
    pub rated_code: &'a str,
}

/// A special-rate group, resolved at load: its codes and its rate text id.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) codes: Box<[Box<str>]>,
    pub(crate) text: u32,
}

/// One code's row: ids of interned texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) general: u32,
    pub(crate) special: u32,
    pub(crate) other: u32,
    pub(crate) rated: u32,
    pub(crate) unit: u32,
}

/// A loaded HTS revision.
pub struct HtsRevision {
    /// Sorted 10-digit codes as numbers, parallel to `entries`.
    keys: Vec<u64>,
    entries: Vec<Entry>,
    /// The same codes as text, ten bytes each, for [`HtsRevision::codes`].
    code_text: String,
    texts: Vec<Box<str>>,
    /// `parse` of each interned text (units and codes too; unused there).
    parsed: Vec<Result<Rate, String>>,
    /// Special groups per interned special text (empty for other texts).
    groups: Vec<Box<[Group]>>,
    /// Distinct texts of each column, for the survey.
    pub(crate) general_ids: Vec<u32>,
    pub(crate) special_ids: Vec<u32>,
    pub(crate) other_ids: Vec<u32>,
    coverage: Coverage,
}

impl fmt::Debug for HtsRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtsRevision")
            .field("coverage", &self.coverage)
            .finish_non_exhaustive()
    }
}

/// Where a row is, for errors: a CSV line or a JSON array index.
#[derive(Clone, Copy)]
enum Loc {
    Line(u64),
    Index(usize),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Line(n) => write!(f, "line {n}"),
            Loc::Index(i) => write!(f, "row {i} (array index)"),
        }
    }
}

/// The rate source a row passes to its descendants.
#[derive(Clone, Copy)]
struct Src {
    general: u32,
    special: u32,
    other: u32,
    rated: u32,
}

/// An 8-digit row still open on the stack.
struct Eight {
    code: u64,
    unit: u32,
    has_ten: bool,
}

/// A row on the ancestor stack.
struct Frame {
    indent: u32,
    src: Option<Src>,
    eight: Option<Eight>,
}

/// One row as either export gives it.
struct RowIn<'a> {
    htsno: &'a str,
    indent: u32,
    first_unit: Option<&'a str>,
    general: &'a str,
    special: &'a str,
    other: &'a str,
}

#[derive(Default)]
struct Builder {
    index: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    stack: Vec<Frame>,
    /// code -> (entry, from a row of its own)
    entries: HashMap<u64, (Entry, bool)>,
    general_ids: Vec<u32>,
    special_ids: Vec<u32>,
    other_ids: Vec<u32>,
    rows: usize,
    rated_rows: usize,
}

impl Builder {
    fn new() -> Builder {
        let mut b = Builder::default();
        b.intern("");
        b
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.into());
        self.index.insert(text.into(), id);
        id
    }

    fn push(&mut self, loc: Loc, row: RowIn<'_>) -> Result<(), String> {
        self.rows += 1;
        let htsno = row.htsno.trim();
        let digits = normalize::hts(htsno);
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 10 {
            return Err(format!(
                "{loc}: HTS number {htsno:?} is not up to 10 digits with dots"
            ));
        }
        while self.stack.last().is_some_and(|f| f.indent >= row.indent) {
            let frame = self.stack.pop().expect("checked non-empty");
            self.close(frame);
        }
        let general = row.general.trim();
        let inherited = self.stack.last().and_then(|f| f.src);
        let src = if general.is_empty() {
            inherited
        } else {
            self.rated_rows += 1;
            Some(Src {
                general: self.intern(general),
                special: self.intern(row.special.trim()),
                other: self.intern(row.other.trim()),
                rated: self.intern(htsno),
            })
        };
        for (text, ids) in [(general, 0), (row.special.trim(), 1), (row.other.trim(), 2)] {
            if !text.is_empty() {
                let id = self.intern(text);
                let list = match ids {
                    0 => &mut self.general_ids,
                    1 => &mut self.special_ids,
                    _ => &mut self.other_ids,
                };
                list.push(id);
            }
        }
        let unit = match row.first_unit.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => self.intern(u),
            None => NONE,
        };
        let mut eight = None;
        match digits.len() {
            10 => {
                let code: u64 = digits.parse().expect("ten ASCII digits");
                for frame in &mut self.stack {
                    if let Some(e) = &mut frame.eight {
                        e.has_ten = true;
                    }
                }
                let entry = entry_of(src, unit);
                match self.entries.get(&code) {
                    // A second row of the same code: the first one stands.
                    Some((_, true)) => {}
                    _ => {
                        self.entries.insert(code, (entry, true));
                    }
                }
            }
            8 => {
                let code: u64 = digits.parse().expect("eight ASCII digits");
                eight = Some(Eight {
                    code,
                    unit,
                    has_ten: false,
                });
            }
            _ => {}
        }
        self.stack.push(Frame {
            indent: row.indent,
            src,
            eight,
        });
        Ok(())
    }

    /// A row leaves the stack: an 8-digit row with a unit and no 10-digit row
    /// under it stands for its number followed by `00`.
    fn close(&mut self, frame: Frame) {
        if let Some(e) = frame.eight
            && e.unit != NONE
            && !e.has_ten
        {
            self.entries
                .entry(e.code * 100)
                .or_insert((entry_of(frame.src, e.unit), false));
        }
    }

    fn finish(mut self) -> HtsRevision {
        while let Some(frame) = self.stack.pop() {
            self.close(frame);
        }
        let mut pairs: Vec<(u64, Entry)> = self.entries.drain().map(|(k, (e, _))| (k, e)).collect();
        pairs.sort_unstable_by_key(|p| p.0);
        let mut code_text = String::with_capacity(pairs.len() * 10);
        for (k, _) in &pairs {
            let _ = write!(code_text, "{k:010}");
        }
        // Each special text is split into its program groups once; the
        // groups' rate texts are interned (and parsed below) like the rest.
        let special_ids = dedup(std::mem::take(&mut self.special_ids));
        let mut split = Vec::with_capacity(special_ids.len());
        for &id in &special_ids {
            let text = self.texts[id as usize].clone();
            let mut list = Vec::new();
            for g in rate::special_groups(&text) {
                let codes = g.codes.iter().map(|c| Box::<str>::from(*c)).collect();
                list.push(Group {
                    codes,
                    text: self.intern(g.rate),
                });
            }
            split.push((id, list.into_boxed_slice()));
        }
        let mut groups: Vec<Box<[Group]>> = vec![Box::default(); self.texts.len()];
        for (id, list) in split {
            groups[id as usize] = list;
        }
        let parsed = self.texts.iter().map(|t| rate::parse(t)).collect();
        let coverage = Coverage {
            rows: self.rows,
            ten_digit_codes: pairs.len(),
            rated_rows: self.rated_rows,
        };
        let (keys, entries) = pairs.into_iter().unzip();
        HtsRevision {
            keys,
            entries,
            code_text,
            texts: self.texts,
            parsed,
            groups,
            general_ids: dedup(self.general_ids),
            special_ids,
            other_ids: dedup(self.other_ids),
            coverage,
        }
    }
}

fn entry_of(src: Option<Src>, unit: u32) -> Entry {
    match src {
        Some(s) => Entry {
            general: s.general,
            special: s.special,
            other: s.other,
            rated: s.rated,
            unit,
        },
        None => Entry {
            general: EMPTY,
            special: EMPTY,
            other: EMPTY,
            rated: EMPTY,
            unit,
        },
    }
}

fn dedup(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// An indent as text (`"3"`, `"03"`).
fn parse_indent(loc: Loc, text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{loc}: indent {text:?} is not a whole number"))
}

/// The JSON export's row; other keys are ignored.
#[derive(Deserialize)]
struct JsonRow {
    #[serde(default)]
    htsno: Option<String>,
    #[serde(default)]
    indent: Option<JsonIndent>,
    #[serde(default)]
    units: Option<JsonUnits>,
    #[serde(default)]
    general: Option<String>,
    #[serde(default)]
    special: Option<String>,
    #[serde(default)]
    other: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonIndent {
    Number(u32),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonUnits {
    List(Vec<Option<String>>),
    One(String),
}

/// The CSV columns the loader reads, by header name.
struct CsvColumns {
    htsno: usize,
    indent: usize,
    units: Option<usize>,
    general: usize,
    special: Option<usize>,
    other: Option<usize>,
}

impl CsvColumns {
    fn from_header(header: &csv::StringRecord) -> Result<CsvColumns, String> {
        let find = |names: &[&str]| {
            header.iter().position(|h| {
                let h = h.trim().trim_start_matches('\u{feff}');
                names.iter().any(|n| h.eq_ignore_ascii_case(n))
            })
        };
        let need =
            |names: &[&str]| find(names).ok_or_else(|| format!("line 1: no {:?} column", names[0]));
        Ok(CsvColumns {
            htsno: need(&["HTS Number", "htsno"])?,
            indent: need(&["Indent"])?,
            units: find(&["Unit of Quantity", "units"]),
            general: need(&["General Rate of Duty", "general"])?,
            special: find(&["Special Rate of Duty", "special"]),
            other: find(&["Column 2 Rate of Duty", "other"]),
        })
    }
}

/// The first non-blank unit of a CSV units field: a JSON array as USITC
/// writes it (`["doz.","kg"]`), or plain text.
fn first_unit_csv(loc: Loc, field: &str) -> Result<Option<String>, String> {
    let f = field.trim();
    if f.starts_with('[') {
        let list: Vec<Option<String>> = serde_json::from_str(f)
            .map_err(|e| format!("{loc}: unit of quantity {f:?} is not a JSON list: {e}"))?;
        Ok(list
            .into_iter()
            .flatten()
            .map(|u| u.trim().to_owned())
            .find(|u| !u.is_empty()))
    } else {
        Ok((!f.is_empty()).then(|| f.to_owned()))
    }
}

impl HtsRevision {
    /// Reads a USITC export from a file: JSON when its first character (after
    /// a BOM and white space) is `[`, else CSV.
    pub fn load(path: &Path) -> Result<HtsRevision, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
        let body = text.trim_start_matches('\u{feff}');
        if body.trim_start().starts_with('[') {
            HtsRevision::from_json(body)
        } else {
            HtsRevision::from_csv(body)
        }
    }

    /// Reads the USITC CSV export (header `HTS Number,Indent,Description,Unit
    /// of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of
    /// Duty,...`; a BOM is accepted).
    pub fn from_csv(text: &str) -> Result<HtsRevision, String> {
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| format!("line 1: {e}"))?
            .clone();
        let cols = CsvColumns::from_header(&header)?;
        let mut builder = Builder::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader
                .read_record(&mut record)
                .map_err(|e| match e.position() {
                    Some(p) => format!("line {}: {e}", p.line()),
                    None => e.to_string(),
                })?;
            if !more {
                break;
            }
            let loc = Loc::Line(record.position().map_or(0, |p| p.line()));
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let field = |i: usize| record.get(i).unwrap_or("");
            let opt = |i: Option<usize>| i.map_or("", field);
            let indent = parse_indent(loc, field(cols.indent))?;
            let unit = first_unit_csv(loc, opt(cols.units))?;
            let row = RowIn {
                htsno: field(cols.htsno),
                indent,
                first_unit: unit.as_deref(),
                general: field(cols.general),
                special: opt(cols.special),
                other: opt(cols.other),
            };
            builder.push(loc, row)?;
        }
        Ok(builder.finish())
    }

    /// Reads the USITC JSON export: an array of objects with `htsno` (string
    /// or null), `indent` (string or number), `units`, `general`, `special`,
    /// `other`; other keys are ignored.
    pub fn from_json(text: &str) -> Result<HtsRevision, String> {
        let text = text.trim_start_matches('\u{feff}');
        let rows: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|e| format!("not a USITC HTS JSON export (an array of rows): {e}"))?;
        let mut builder = Builder::new();
        for (i, raw) in rows.iter().enumerate() {
            let loc = Loc::Index(i);
            let row: JsonRow =
                serde_json::from_str(raw.get()).map_err(|e| format!("{loc}: {e}"))?;
            let indent = match &row.indent {
                Some(JsonIndent::Number(n)) => *n,
                Some(JsonIndent::Text(t)) => parse_indent(loc, t)?,
                None => return Err(format!("{loc}: no indent")),
            };
            let unit = match &row.units {
                Some(JsonUnits::List(list)) => list
                    .iter()
                    .flatten()
                    .map(|u| u.trim())
                    .find(|u| !u.is_empty()),
                Some(JsonUnits::One(u)) => Some(u.trim()).filter(|u| !u.is_empty()),
                None => None,
            };
            let row_in = RowIn {
                htsno: row.htsno.as_deref().unwrap_or(""),
                indent,
                first_unit: unit,
                general: row.general.as_deref().unwrap_or(""),
                special: row.special.as_deref().unwrap_or(""),
                other: row.other.as_deref().unwrap_or(""),
            };
            builder.push(loc, row_in)?;
        }
        Ok(builder.finish())
    }

    /// The position of a code, if the revision holds it.
    pub(crate) fn position(&self, code10: &str) -> Option<usize> {
        let b = code10.as_bytes();
        if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let key = b.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        self.keys.binary_search(&key).ok()
    }

    /// Whether the revision holds a code (10 ASCII digits, normalised).
    pub fn contains(&self, code10: &str) -> bool {
        self.position(code10).is_some()
    }

    /// The rates and unit of a code.
    pub fn rate_row(&self, code10: &str) -> Option<RateRow<'_>> {
        self.position(code10).map(|i| {
            let e = &self.entries[i];
            RateRow {
                general: self.text(e.general),
                special: self.text(e.special),
                other: self.text(e.other),
                unit: self.unit_of(e),
                rated_code: self.text(e.rated),
            }
        })
    }

    /// What was read: rows, codes, rows with a general rate.
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// Every 10-digit code the revision holds, in ascending order.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        (0..self.keys.len()).map(|i| &self.code_text[i * 10..i * 10 + 10])
    }

    pub(crate) fn entry(&self, position: usize) -> &Entry {
        &self.entries[position]
    }

    pub(crate) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    pub(crate) fn parsed(&self, id: u32) -> &Result<Rate, String> {
        &self.parsed[id as usize]
    }

    pub(crate) fn groups(&self, special: u32) -> &[Group] {
        &self.groups[special as usize]
    }

    pub(crate) fn unit_of(&self, e: &Entry) -> Option<&str> {
        (e.unit != NONE).then(|| self.text(e.unit))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The real 2026 Revision 4 CSV export, shipped with the repository.
    pub(crate) const REAL_CSV: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/reference/hts-2026-rev4.csv");

    const HEADER: &str = "\u{feff}HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of Duty,Quota Quantity,Additional Duties\n";

    fn csv(body: &str) -> HtsRevision {
        HtsRevision::from_csv(&format!("{HEADER}{body}")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_csv_export_loads_with_its_bom_and_json_units() {
        let rev = csv(concat!(
            "\"0101\",\"0\",\"Live horses\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"\",\"1\",\"Horses:\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"0101.21.00\",\"2\",\"Purebred\",\"\",\"Free\",\"\",\"Free\",\"\",\"\"\n",
            "\"0101.21.00.10\",\"3\",\"Males\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"0102.29.20.11\",\"3\",\"Cows\",\"[\"\"No.\"\",\"\"kg\"\"]\",\"6.6%\",\"Free (A+,AU)\",\"20%\",\"\",\"\"\n",
        ));
        assert_eq!(
            rev.coverage(),
            Coverage {
                rows: 5,
                ten_digit_codes: 2,
                rated_rows: 2
            }
        );
        let row = rev.rate_row("0101210010").unwrap();
        assert_eq!(
            row,
            RateRow {
                general: "Free",
                special: "",
                other: "Free",
                unit: Some("No."),
                rated_code: "0101.21.00"
            }
        );
        let row = rev.rate_row("0102292011").unwrap();
        assert_eq!(
            (row.general, row.special, row.unit, row.rated_code),
            ("6.6%", "Free (A+,AU)", Some("No."), "0102.29.20.11")
        );
        assert_eq!(
            rev.codes().collect::<Vec<_>>(),
            ["0101210010", "0102292011"]
        );
        assert!(
            !rev.contains("0101210020") && !rev.contains("01012100") && !rev.contains("01012100x0")
        );
    }

    #[test]
    fn a_ten_digit_row_is_kept_whatever_follows_it() {
        // The old loader dropped 2716.00.00.00: the next row is a section
        // header with a deeper indent, which it took for a child.
        let rev = csv(concat!(
            "\"2716.00.00.00\",\"0\",\"Electrical energy\",\"[\"\"MWh\"\"]\",\"Free\",\"\",\"Free\",\"\",\"\"\n",
            "\"\",\"1\",\"I. CHEMICAL ELEMENTS\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"2801\",\"0\",\"Fluorine, chlorine\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"2801.10.00.00\",\"1\",\"Chlorine\",\"[\"\"kg\"\"]\",\"Free\",\"\",\"25%\",\"\",\"\"\n",
        ));
        assert!(rev.contains("2716000000"));
        assert_eq!(rev.rate_row("2716000000").unwrap().unit, Some("MWh"));
        assert_eq!(rev.rate_row("2801100000").unwrap().other, "25%");
    }

    #[test]
    fn rates_are_inherited_through_header_rows_from_the_nearest_rated_ancestor() {
        let rev = csv(concat!(
            "\"0102.29.40\",\"3\",\"Other\",\"\",\"1¢/kg\",\"Free (A+,S)\",\"5.5¢/kg\",\"\",\"\"\n",
            "\"\",\"4\",\"Weighing less than 90 kg each:\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"0102.29.40.24\",\"5\",\"Male\",\"[\"\"No.\"\",\"\"kg\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            // Own general: its own special (empty) and other, not the parent's.
            "\"0102.29.40.28\",\"5\",\"Female\",\"[\"\"No.\"\"]\",\"2%\",\"\",\"9%\",\"\",\"\"\n",
            // A sibling of the 8-digit row: the rates of 0102.29.40 do not reach it.
            "\"0102.29.50\",\"3\",\"Other\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"0102.29.50.00\",\"4\",\"x\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
        ));
        let r = rev.rate_row("0102294024").unwrap();
        assert_eq!(
            (r.general, r.special, r.other, r.rated_code),
            ("1¢/kg", "Free (A+,S)", "5.5¢/kg", "0102.29.40")
        );
        let r = rev.rate_row("0102294028").unwrap();
        assert_eq!(
            (r.general, r.special, r.other, r.rated_code),
            ("2%", "", "9%", "0102.29.40.28")
        );
        let r = rev.rate_row("0102295000").unwrap();
        assert_eq!((r.general, r.rated_code), ("", ""));
    }

    #[test]
    fn an_eight_digit_row_with_a_unit_and_no_ten_digit_rows_stands_for_its_00_code() {
        let rev = csv(concat!(
            // Unit, nothing under it: 3213.10.00 -> 3213100000.
            "\"3213.10.00\",\"1\",\"Colours in sets\",\"[\"\"kg\"\"]\",\"6.5%\",\"\",\"40%\",\"\",\"\"\n",
            // Unit, but a 10-digit row under it (through a header): not 3213900000.
            "\"3213.90.00\",\"1\",\"Other\",\"[\"\"kg\"\"]\",\"6.5%\",\"\",\"40%\",\"\",\"\"\n",
            "\"\",\"2\",\"Header\",\"\",\"\",\"\",\"\",\"\",\"\"\n",
            "\"3213.90.00.10\",\"3\",\"x\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"\n",
            // No unit (a blank list), nothing under it: no code.
            "\"9915.04.17\",\"1\",\"x\",\"[\"\"\"\"]\",\"Free\",\"\",\"\",\"\",\"\"\n",
        ));
        assert_eq!(
            rev.codes().collect::<Vec<_>>(),
            ["3213100000", "3213900010"]
        );
        let r = rev.rate_row("3213100000").unwrap();
        assert_eq!(
            (r.general, r.unit, r.rated_code),
            ("6.5%", Some("kg"), "3213.10.00")
        );
        assert_eq!(rev.rate_row("3213900010").unwrap().rated_code, "3213.90.00");
    }

    #[test]
    fn json_export_skips_null_htsno_rows_but_keeps_their_indent() {
        let json = r#"[
            {"htsno": "6109", "indent": "0", "description": "T-shirts", "units": [], "general": "", "special": "", "other": "", "footnotes": []},
            {"htsno": "6109.10.00", "indent": 1, "units": [], "general": "16.5%", "special": "Free (AU,BH) 3.4% (KR)", "other": "90%"},
            {"htsno": null, "indent": "2", "description": "Men's or boys':", "units": null},
            {"htsno": "6109.10.00.12", "indent": "3", "units": ["doz.", "kg"], "general": "", "superior": null},
            {"htsno": "2716.00.00.00", "indent": 0, "units": ["MWh"], "general": "Free", "other": "Free"},
            {"htsno": "", "indent": "1", "description": "I. CHEMICAL ELEMENTS"}
        ]"#;
        let rev = HtsRevision::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rev.coverage(),
            Coverage {
                rows: 6,
                ten_digit_codes: 2,
                rated_rows: 2
            }
        );
        let r = rev.rate_row("6109100012").unwrap();
        assert_eq!(
            (r.general, r.special, r.unit, r.rated_code),
            (
                "16.5%",
                "Free (AU,BH) 3.4% (KR)",
                Some("doz."),
                "6109.10.00"
            )
        );
        assert!(rev.contains("2716000000"));
    }

    #[test]
    fn errors_name_the_line_or_array_index() {
        let err = HtsRevision::from_csv(&format!("{HEADER}\"0101\",\"0\",\"x\",\"\",\"\",\"\",\"\",\"\",\"\"\n\"0101.21\",\"x\",\"y\",\"\",\"\",\"\",\"\",\"\",\"\"\n")).unwrap_err();
        assert_eq!(err, "line 3: indent \"x\" is not a whole number");
        let err = HtsRevision::from_csv(&format!(
            "{HEADER}\"01A1\",\"0\",\"x\",\"\",\"\",\"\",\"\",\"\",\"\"\n"
        ))
        .unwrap_err();
        assert!(err.starts_with("line 2: HTS number \"01A1\""), "{err}");
        let err = HtsRevision::from_csv("hts,foo\n1,2\n").unwrap_err();
        assert_eq!(err, "line 1: no \"HTS Number\" column");
        let err = HtsRevision::from_json(
            r#"[{"htsno": "0101", "indent": 0}, {"htsno": "0102", "indent": "zero"}]"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "row 1 (array index): indent \"zero\" is not a whole number"
        );
        let err = HtsRevision::from_json(r#"[{"htsno": "0101"}]"#).unwrap_err();
        assert_eq!(err, "row 0 (array index): no indent");
        assert!(
            HtsRevision::from_json("{}")
                .unwrap_err()
                .starts_with("not a USITC HTS JSON export")
        );
    }

    #[test]
    fn load_sniffs_json_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("rev.json");
        std::fs::write(&json, "\u{feff}  [{\"htsno\": \"3213.10.00.00\", \"indent\": 0, \"units\": [\"kg\"], \"general\": \"Free\"}]").unwrap();
        assert!(HtsRevision::load(&json).unwrap().contains("3213100000"));
        let csv_path = dir.path().join("rev.csv");
        std::fs::write(&csv_path, format!("{HEADER}\"3213.10.00.00\",\"0\",\"x\",\"[\"\"kg\"\"]\",\"Free\",\"\",\"\",\"\",\"\"\n")).unwrap();
        assert!(HtsRevision::load(&csv_path).unwrap().contains("3213100000"));
        assert!(
            HtsRevision::load(&dir.path().join("missing.csv"))
                .unwrap_err()
                .starts_with("cannot read")
        );
    }

    #[test]
    fn the_real_2026_rev4_csv_loads() {
        let started = std::time::Instant::now();
        let rev =
            HtsRevision::load(Path::new(REAL_CSV)).unwrap_or_else(|e| panic!("{REAL_CSV}: {e}"));
        let elapsed = started.elapsed();
        let c = rev.coverage();
        println!("2026 Rev 4: {c:?}, loaded in {elapsed:?} (debug build)");
        assert_eq!(c.rows, 35_733);
        assert_eq!(c.ten_digit_codes, 19_856);
        assert!(c.rated_rows > 10_000, "{c:?}");
        let r = rev.rate_row("0101210010").unwrap();
        assert_eq!(
            (r.general, r.rated_code, r.unit),
            ("Free", "0101.21.00", Some("No."))
        );
        let r = rev.rate_row("6109100012").unwrap();
        assert_eq!(r.general, "16.5%");
        assert_eq!(r.rated_code, "6109.10.00");
        assert_eq!(r.unit, Some("doz."));
        assert_eq!(r.special, "Free (AU,BH,CL,CO,IL,JO,KR,MA,OM,P,PA,PE,S,SG)");
        assert!(rev.contains("2716000000"));
        assert_eq!(rev.rate_row("2716000000").unwrap().unit, Some("MWh"));
        // Every code's stored text agrees with its key.
        assert_eq!(rev.codes().count(), c.ten_digit_codes);
        assert!(rev.codes().all(|code| rev.contains(code)));
    }
}
