//! CAPE refund request files (contract v2 section 10; domain.md 8.5): the
//! entry numbers of filed entries that arrived in a period and have a line
//! under one of the given chapter 99 headings, for upload to CBP's CAPE tool
//! in the ACE Portal.
//!
//! The file is CBP's template: one column, the header `Entry Number`, one
//! entry number per row, at most 9,999 rows per declaration; s321d writes
//! `cape-001.csv`, `cape-002.csv`, ... with CRLF line ends (a "CSV (Comma
//! delimited)" file as the template is saved).
//!
//! Entry numbers are written as 11 characters without hyphens (`S3200010005`:
//! filer code, serial, check digit). CBP's CAPE Quick Reference Guide, as
//! public guides quote it, validates "exactly 11 alphanumeric characters"
//! whose first three are the filer code, and removes hyphens before that
//! check: the 11-character form passes either way, and it is also the CATAIR
//! form of an entry number (SE20 `EN`).
//!
//! Which entries count: those ACE holds, that is whose filing is `accepted`,
//! `released`, `held` or `detained` (a hold is a release decision, not a
//! rejection: the entry exists and owes its duty). `pending` and `submitted`
//! (ACE may not have them), `rejected` and `cancelled` are left out, and
//! counted in the summary.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::entry_number::EntryNumber;
use crate::state::ledger::{FilingState, HeadingMatch};

/// Rows per CAPE declaration file (CBP's limit).
pub const MAX_ROWS: usize = 9_999;

/// The CAPE template's one header.
pub const HEADER: &str = "Entry Number";

/// Filing states whose entries go into a CAPE file.
pub const STATES: [FilingState; 4] = [
    FilingState::Accepted,
    FilingState::Released,
    FilingState::Held,
    FilingState::Detained,
];

/// What to select.
#[derive(Debug, Clone)]
pub struct Query {
    /// Headings as given (`9903.01`, `9903.01.25`); matched as prefixes of
    /// the digits.
    pub headings: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only entries of this importer of record.
    pub ior: Option<String>,
}

impl Query {
    /// The headings' digits, checked: digits and dots only, at least two digits.
    pub fn heading_digits(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for h in &self.headings {
            let h = h.trim();
            let digits: String = h.chars().filter(char::is_ascii_digit).collect();
            if digits.len() < 2 || !h.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return Err(format!(
                    "--heading {h:?} is not a chapter 99 heading such as 9903.01 or 9903.01.25"
                ));
            }
            if !out.contains(&digits) {
                out.push(digits);
            }
        }
        if out.is_empty() {
            return Err("give at least one --heading".into());
        }
        if self.from > self.to {
            return Err(format!("--from {} is after --to {}", self.from, self.to));
        }
        Ok(out)
    }
}

/// The entries chosen and those left out, by state.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// 11-character entry numbers, in entry number order.
    pub numbers: Vec<String>,
    pub left_out: Vec<(FilingState, usize)>,
}

/// Chooses the entries of `matches` a CAPE file carries.
pub fn select(matches: &[HeadingMatch], ior: Option<&str>) -> Selection {
    let mut out = Selection::default();
    for m in matches {
        if ior.is_some_and(|i| i.trim() != m.ior_number.trim()) {
            continue;
        }
        if STATES.contains(&m.state) {
            let number = EntryNumber::parse(&m.entry_number)
                .map(|n| n.compact())
                .unwrap_or_else(|_| m.entry_number.replace('-', ""));
            if !out.numbers.contains(&number) {
                out.numbers.push(number);
            }
        } else {
            match out.left_out.iter_mut().find(|(s, _)| *s == m.state) {
                Some((_, n)) => *n += 1,
                None => out.left_out.push((m.state, 1)),
            }
        }
    }
    out.left_out.sort();
    out
}

/// The files for `numbers`: (`cape-001.csv`, text), at most `limit` rows each.
pub fn files(numbers: &[String], limit: usize) -> Vec<(String, String)> {
    numbers
        .chunks(limit.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let mut text = String::with_capacity(13 * (chunk.len() + 1));
            text.push_str(HEADER);
            text.push_str("\r\n");
            for n in chunk {
                text.push_str(n);
                text.push_str("\r\n");
            }
            (format!("cape-{:03}.csv", i + 1), text)
        })
        .collect()
}

/// Whether a file name is one of ours (`cape-` digits `.csv`).
fn is_cape_file(name: &str) -> bool {
    name.strip_prefix("cape-")
        .and_then(|r| r.strip_suffix(".csv"))
        .is_some_and(|d| d.len() >= 3 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes the files into `dir` (created if needed), each atomically, after
/// removing the CAPE files an earlier call left there (so a shorter list
/// never sits beside stale files). Returns the paths written.
pub fn write(dir: &Path, numbers: &[String], limit: usize) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() && is_cape_file(&e.file_name().to_string_lossy()) {
            std::fs::remove_file(e.path())?;
        }
    }
    let mut out = Vec::new();
    for (name, text) in files(numbers, limit) {
        let path = dir.join(&name);
        crate::fsutil::write_atomic(&path, |tmp| std::fs::write(tmp, text.as_bytes()))?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(serial: u64, state: FilingState, ior: &str) -> HeadingMatch {
        HeadingMatch {
            entry_number: EntryNumber::new("S32", serial).unwrap().to_string(),
            state,
            ior_number: ior.into(),
            arrival_date: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        }
    }

    #[test]
    fn entries_ace_holds_are_chosen_in_the_eleven_character_form() {
        let matches = [
            m(1000, FilingState::Released, "12-345678900"),
            m(1001, FilingState::Rejected, "12-345678900"),
            m(1002, FilingState::Held, "12-345678900"),
            m(1003, FilingState::Pending, "12-345678900"),
            m(1004, FilingState::Accepted, "98-765432100"),
            m(1005, FilingState::Cancelled, "12-345678900"),
            m(1006, FilingState::Detained, "12-345678900"),
            m(1007, FilingState::Submitted, "12-345678900"),
        ];
        let s = select(&matches, None);
        let want: Vec<String> = [1000, 1002, 1004, 1006]
            .iter()
            .map(|n| EntryNumber::new("S32", *n).unwrap().compact())
            .collect();
        assert_eq!(s.numbers, want);
        assert!(
            s.numbers
                .iter()
                .all(|n| n.len() == 11 && !n.contains('-') && n.starts_with("S32"))
        );
        assert_eq!(
            s.left_out,
            [
                (FilingState::Pending, 1),
                (FilingState::Submitted, 1),
                (FilingState::Rejected, 1),
                (FilingState::Cancelled, 1)
            ]
        );
        let one = select(&matches, Some("98-765432100"));
        assert_eq!(
            one.numbers,
            [EntryNumber::new("S32", 1004).unwrap().compact()],
            "one importer of record"
        );
    }

    #[test]
    fn files_split_at_the_limit() {
        let numbers: Vec<String> = (0..7).map(|i| format!("S32000{i:04}0")).collect();
        let f = files(&numbers, 3);
        assert_eq!(
            f.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["cape-001.csv", "cape-002.csv", "cape-003.csv"]
        );
        assert_eq!(
            f[0].1,
            format!(
                "Entry Number\r\n{}\r\n{}\r\n{}\r\n",
                numbers[0], numbers[1], numbers[2]
            )
        );
        assert_eq!(f[2].1.lines().count(), 2, "header and the seventh number");
        // Exactly at the limit: one file; one more: two.
        assert_eq!(files(&numbers[..3], 3).len(), 1);
        assert!(files(&[], 3).is_empty());
        let many: Vec<String> = (0..MAX_ROWS + 1).map(|i| format!("S32{i:07}0")).collect();
        let f = files(&many, MAX_ROWS);
        assert_eq!(
            (f.len(), f[0].1.lines().count(), f[1].1.lines().count()),
            (2, MAX_ROWS + 1, 2)
        );
    }

    #[test]
    fn writing_replaces_earlier_files_and_leaves_others_alone() {
        let dir = tempfile::tempdir().unwrap();
        let numbers: Vec<String> = (0..5).map(|i| format!("S32000{i:04}0")).collect();
        assert_eq!(write(dir.path(), &numbers, 2).unwrap().len(), 3);
        std::fs::write(dir.path().join("notes.csv"), "mine").unwrap();
        let written = write(dir.path(), &numbers[..2], 2).unwrap();
        assert_eq!(written, [dir.path().join("cape-001.csv")]);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["cape-001.csv", "notes.csv"]);
    }

    #[test]
    fn headings_are_checked() {
        let q = |h: &[&str]| Query {
            headings: h.iter().map(|s| (*s).to_owned()).collect(),
            from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            ior: None,
        };
        assert_eq!(
            q(&["9903.01", "9903.02", "99030125"])
                .heading_digits()
                .unwrap(),
            ["990301", "990302", "99030125"]
        );
        assert!(q(&["9903.0x"]).heading_digits().is_err());
        assert!(q(&[]).heading_digits().is_err());
        let mut backwards = q(&["9903.01"]);
        backwards.from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert!(backwards.heading_digits().unwrap_err().contains("after"));
    }
}
