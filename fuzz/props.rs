//! The properties every fuzz target checks, shared by the fuzz targets
//! (fuzz/fuzz_targets/, through `#[path]`) and the corpus replay test
//! (tests/fuzz_corpus.rs), so a committed input is held to exactly what the
//! fuzzer held it to.
//!
//! Each `check_*` takes one input as the fuzzer sees it (raw bytes) and panics
//! with a message naming the property when one fails. Inputs a parser never
//! sees (not UTF-8 where the loader refuses that first) return quietly.
//!
//! Manifest inputs start with one selector byte that picks the job (the
//! `[format]` table) from a fixed list for that reader; the rest is the file.

#![allow(dead_code)]

use std::path::Path;

use polars::prelude::*;
use s321d::columns;
use s321d::job::Job;
use s321d::manifest::{self, FileIssues, Input};

/// The message a reader panic turns into (manifest::read catches it as F001).
const READER_PANIC: &str = "the reader failed on this file";

/// Which reader a manifest target drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Csv,
    Ndjson,
    Parquet,
    Cp1252,
}

impl Reader {
    /// The target (and corpus folder) name.
    pub fn target(self) -> &'static str {
        match self {
            Reader::Csv => "manifest_csv",
            Reader::Ndjson => "manifest_ndjson",
            Reader::Parquet => "manifest_parquet",
            Reader::Cp1252 => "manifest_cp1252",
        }
    }

    /// Job files a selector byte chooses from: the shipped jobs' shapes (canonical
    /// names, a mapped layout with constants, other delimiters and date formats).
    fn jobs(self) -> &'static [&'static str] {
        match self {
            Reader::Csv => &[
                "name = \"f\"\n[format]\nkind = \"csv\"\n",
                "name = \"f\"\n[format]\nkind = \"csv\"\ndelimiter = \";\"\ndate_format = \"%m/%d/%Y\"\n[format.columns]\nhouse_bill = \"HAWB\"\nline_no = \"Item\"\ndeclared_value = \"Value\"\ndescription = \"Goods Description\"\n[format.constants]\ncarrier = \"PCLX\"\n",
                "name = \"f\"\n[format]\nkind = \"csv\"\ndelimiter = \"\\\\t\"\n",
                "name = \"f\"\n[format]\nkind = \"csv\"\ndelimiter = \"|\"\n[format.columns]\nhouse_bill = \"hb\"\n",
            ],
            Reader::Ndjson => &[
                "name = \"f\"\n[format]\nkind = \"ndjson\"\n",
                "name = \"f\"\n[format]\nkind = \"ndjson\"\n[format.columns]\nhouse_bill = \"tracking\"\nline_no = \"item\"\ndeclared_value = \"value\"\nquantity = \"qty\"\narrival_date = \"eta\"\n[format.constants]\ncarrier = \"UPSN\"\n",
                "name = \"f\"\n[format]\nkind = \"ndjson\"\nencoding = \"windows-1252\"\n",
            ],
            Reader::Parquet => &[
                "name = \"f\"\n[format]\nkind = \"parquet\"\n",
                "name = \"f\"\n[format]\nkind = \"parquet\"\ndate_format = \"%d.%m.%Y %z\"\n[format.columns]\nhouse_bill = \"hb\"\narrival_date = \"eta\"\n[format.constants]\ncarrier = \"PQ\"\n",
            ],
            Reader::Cp1252 => &[
                "name = \"f\"\n[format]\nkind = \"csv\"\nencoding = \"windows-1252\"\n",
                "name = \"f\"\n[format]\nkind = \"csv\"\ndelimiter = \";\"\ndate_format = \"%m/%d/%Y\"\nencoding = \"windows-1252\"\n[format.columns]\nhouse_bill = \"HAWB\"\nconsignee_name = \"Consignee Name\"\nline_no = \"Item\"\n[format.constants]\ncarrier = \"PCLX\"\n",
            ],
        }
    }
}

/// What one read gave: the chunks' heights, the rows joined, the issues.
pub struct Read {
    pub heights: Vec<usize>,
    pub rows: DataFrame,
    pub issues: FileIssues,
}

/// Reads `file` with `job` in chunks of `chunk_rows`, checking each chunk's shape.
pub fn read_all(job: &Job, file: &[u8], chunk_rows: usize) -> Read {
    let mut chunks: Vec<DataFrame> = Vec::new();
    let issues = manifest::read(&job.format, Input::Bytes(file), 7, chunk_rows, &mut |df| {
        chunks.push(df);
        Ok(())
    })
    .expect("manifest::read returns Ok for bytes in memory when the sink never fails");
    let heights: Vec<usize> = chunks.iter().map(DataFrame::height).collect();
    let rows = chunks
        .into_iter()
        .reduce(|mut a, b| {
            a.vstack_mut(&b).expect("every chunk has the same columns");
            a
        })
        .unwrap_or_else(DataFrame::empty);
    Read {
        heights,
        rows,
        issues,
    }
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .unwrap_or_else(|e| panic!("chunk has no column {name}: {e}"))
        .str()
        .unwrap_or_else(|e| panic!("column {name} is not text: {e}"))
        .iter()
        .map(|v| {
            v.unwrap_or_else(|| panic!("column {name} holds a null"))
                .to_owned()
        })
        .collect()
}

fn records(df: &DataFrame) -> Vec<u32> {
    df.column(columns::RECORD)
        .expect("record column")
        .u32()
        .expect("record is u32")
        .into_no_null_iter()
        .collect()
}

/// Lines of a text file as a reader can count them: ended by LF, CRLF or a
/// lone CR (the CSV parser's record terminators).
fn lines(file: &[u8]) -> usize {
    let lone_cr = file
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(file.last() == Some(&b'\r'));
    file.iter().filter(|&&b| b == b'\n').count() + lone_cr + 1
}

/// Runs one manifest input (selector byte + file) through `reader`; true when
/// rows came out. Checks:
/// - `read` is `Ok`, and no reader panicked (no "the reader failed" F001);
/// - chunks are never empty, at most `chunk_rows` high, and all but the last full;
/// - every canonical column is there, text, never null;
/// - record numbers rise strictly, from 1, and never pass `issues.records`;
///   F003 rows are not emitted; emitted + F003 = records (nothing lost silently);
/// - for an unreadable file (F001), only that the issues match across chunk sizes;
/// - a text file never has more records than lines, and no value holds a NUL
///   byte unless an NDJSON `\u0000` escape put it there;
/// - reading in chunks of 1 and of 4096 gives the same rows and the same issues.
///
/// The Parquet reader does not look for NUL bytes (fuzz/FINDINGS.md, finding 2)
/// and polars' decoder panics on some files (finding 4, caught as F001), so
/// for Parquet the fuzz target leaves those two out rather than stop on them
/// again and again; [`check_manifest_strict`] holds them.
pub fn check_manifest(reader: Reader, data: &[u8]) -> bool {
    let parquet = reader == Reader::Parquet;
    check_manifest_with(reader, data, !parquet, parquet)
}

/// [`check_manifest`] with the NUL property for every reader.
pub fn check_manifest_strict(reader: Reader, data: &[u8]) -> bool {
    check_manifest_with(reader, data, true, false)
}

/// The strict value checks, with polars' Parquet decoder panic (caught as
/// F001, fuzz/FINDINGS.md finding 4, upstream) tolerated.
pub fn check_manifest_values(reader: Reader, data: &[u8]) -> bool {
    check_manifest_with(reader, data, true, true)
}

fn check_manifest_with(reader: Reader, data: &[u8], no_nul: bool, allow_panic: bool) -> bool {
    let Some((&selector, file)) = data.split_first() else {
        return false;
    };
    let jobs = reader.jobs();
    let toml = jobs[usize::from(selector) % jobs.len()];
    let job = Job::from_toml(toml, Path::new("fuzz.toml")).expect("the fuzz jobs are valid");

    let small = read_all(&job, file, 1);
    let big = read_all(&job, file, 4096);
    for (r, chunk_rows) in [(&small, 1), (&big, 4096)] {
        assert!(
            r.heights.iter().all(|&h| h > 0 && h <= chunk_rows),
            "chunk heights {:?} for chunks of {chunk_rows}",
            r.heights
        );
        if let Some((_, full)) = r.heights.split_last() {
            assert!(
                full.iter().all(|&h| h == chunk_rows),
                "a chunk before the last is not full: {:?}",
                r.heights
            );
        }
    }
    let issues = &big.issues;
    if let Some(why) = &issues.unreadable {
        // A panic inside polars' Parquet decoder is caught by manifest::read
        // as F001 (fuzz/FINDINGS.md, finding 4): tolerated for Parquet, not
        // by the strict check, and never in the text readers, which are ours.
        assert!(
            !why.starts_with(READER_PANIC) || allow_panic,
            "a reader panicked: {why}"
        );
    }
    if reader == Reader::Parquet && small.issues.unreadable.is_some() && issues.unreadable.is_some()
    {
        // Unreadable either way (F001, quarantined). Where polars' decoder
        // gives up, and so its message, depends on the slice of rows it was
        // asked for (fuzz/FINDINGS.md, finding 6): only the outcome must agree.
        return false;
    }
    assert_eq!(
        small.issues, big.issues,
        "issues differ with the chunk size"
    );
    if issues.unreadable.is_some() {
        // Chunks sent before the reader met the trouble stay sent and the
        // engine drops an unreadable file's rows, so how many went out depends
        // on the chunk size: nothing more to compare.
        return false;
    }
    let rows = &big.rows;
    if rows.height() == 0 {
        assert_eq!(small.rows.height(), 0, "rows differ with the chunk size");
    } else {
        assert!(
            small.rows.equals_missing(rows),
            "rows differ with the chunk size:\n{:?}\n{:?}",
            small.rows,
            rows
        );
        for name in columns::CANONICAL {
            let values = strings(rows, name);
            for v in &values {
                if no_nul && v.contains('\0') {
                    let escaped = reader == Reader::Ndjson
                        && file.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
                    assert!(escaped, "column {name} holds a NUL byte: {v:?}");
                }
            }
        }
    }
    let emitted = if rows.height() == 0 {
        Vec::new()
    } else {
        records(rows)
    };
    assert!(
        emitted.windows(2).all(|w| w[0] < w[1]),
        "record numbers do not rise: {emitted:?}"
    );
    assert!(
        emitted.iter().all(|&r| r >= 1 && r <= issues.records),
        "record outside 1..={}: {emitted:?}",
        issues.records
    );
    let malformed: Vec<u32> = issues.malformed.iter().map(|m| m.record).collect();
    assert!(
        malformed.windows(2).all(|w| w[0] < w[1]),
        "F003 records not in order or repeated: {malformed:?}"
    );
    assert!(
        malformed.iter().all(|&r| r >= 1 && r <= issues.records),
        "F003 record outside 1..={}: {malformed:?}",
        issues.records
    );
    assert!(
        !malformed.iter().any(|r| emitted.binary_search(r).is_ok()),
        "an F003 record was also emitted"
    );
    assert_eq!(
        emitted.len() + malformed.len(),
        issues.records as usize,
        "records seen {} but {} emitted and {} F003",
        issues.records,
        emitted.len(),
        malformed.len()
    );
    if reader != Reader::Parquet {
        assert!(
            issues.records as usize <= lines(file),
            "{} records from {} lines",
            issues.records,
            lines(file)
        );
    }
    !emitted.is_empty()
}

/// Job TOML (true when accepted): `Job::from_toml` either refuses with problems that name the file,
/// or gives a job whose paths stay inside their source, whose name is one plain
/// component, and whose `[format]` reads small files of its kind without a
/// reader panic.
///
/// Problems may still carry raw control characters from the file
/// (fuzz/FINDINGS.md, finding 3); [`check_job_strict`] holds that too.
pub fn check_job(data: &[u8]) -> bool {
    check_job_with(data, false)
}

/// [`check_job`], and no problem's key or message holds a control character.
pub fn check_job_strict(data: &[u8]) -> bool {
    check_job_with(data, true)
}

/// Whether text shown on a terminal (`check` prints problems) is free of
/// control characters other than line breaks and tabs.
fn printable(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
}

fn check_problems(problems: &s321d::problem::Problems, file: &str, strict: bool) {
    assert!(!problems.0.is_empty(), "refused with no problem");
    for p in &problems.0 {
        assert_eq!(p.file, file, "a problem names another file: {p:?}");
        assert!(
            !p.message.trim().is_empty(),
            "a problem with no message: {p:?}"
        );
        if strict {
            assert!(
                printable(&p.key) && printable(&p.message),
                "a problem holds a raw control character: {p:?}"
            );
        }
    }
}

fn check_job_with(data: &[u8], strict: bool) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let path = Path::new("jobs/fuzz.toml");
    match Job::from_toml(text, path) {
        Err(problems) => {
            check_problems(&problems, "jobs/fuzz.toml", strict);
            false
        }
        Ok(job) => {
            assert!(
                s321d::paths::name_problem(&job.name).is_none(),
                "accepted job name {:?}",
                job.name
            );
            assert!(
                s321d::paths::relative_problem(&job.output.path).is_none(),
                "accepted output.path {:?}",
                job.output.path
            );
            if let Some(intake) = &job.intake {
                for p in [&intake.inbox, &intake.processed, &intake.quarantine] {
                    assert!(
                        s321d::paths::relative_problem(p).is_none(),
                        "accepted source path {p:?}"
                    );
                }
            }
            assert!(
                !matches!(job.format.delimiter, b'"' | b'\n' | b'\r'),
                "accepted delimiter {:?}",
                job.format.delimiter
            );
            let _ = job.matches("dhlx-20250501.csv");
            // A checked format must read files of its kind without a panic.
            let samples: &[&[u8]] = match job.format.kind {
                s321d::job::FormatKind::Csv => &[
                    b"house_bill,arrival_date\nH1,2026-12-03\n",
                    b"a;b\n1;2\n",
                    b"x\n\"y\n",
                ],
                s321d::job::FormatKind::Ndjson => &[
                    b"{\"house_bill\":\"H1\",\"arrival_date\":\"2026-12-03\"}\n",
                    b"[1]\n",
                ],
                s321d::job::FormatKind::Parquet => &[b"PAR1\0\0PAR1"],
            };
            for sample in samples {
                let r = read_all(&job, sample, 2);
                if let Some(why) = &r.issues.unreadable {
                    assert!(
                        !why.starts_with(READER_PANIC),
                        "a reader panicked with an accepted job: {why}"
                    );
                }
            }
            true
        }
    }
}

/// The one file in the policy target's folder: a small HTS revision that the
/// seeds' `[[duty.hts]]` name, so a policy with a `[duty]` loads in
/// microseconds instead of parsing the shipped 4 MB export on every run.
pub const POLICY_HTS_NAME: &str = "hts-small.csv";
const POLICY_HTS_CSV: &str = "HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of Duty\n\
    6109,0,T-shirts,,,,\n\
    6109.10.00,1,Of cotton,,16.5%,\"Free (AU,BH,CL)\",90%\n\
    6109.10.00.12,2,Men's,\"[\"\"doz.\"\",\"\"kg\"\"]\",,,\n\
    6109.10.00.14,2,Boys',\"[\"\"doz.\"\",\"\"kg\"\"]\",,,\n\
    8471.30.01,0,Portable computers,\"[\"\"No.\"\"]\",Free,,35%\n\
    0902.10.10,0,Green tea,,Free,,20%\n\
    0902.10.10.15,1,Matcha,\"[\"\"kg\"\"]\",,,\n\
    9903.88.01,0,Section 301,,25%,,\n";

/// A folder holding only [`POLICY_HTS_NAME`], for [`check_policy`].
pub fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp folder");
    std::fs::write(dir.path().join(POLICY_HTS_NAME), POLICY_HTS_CSV)
        .expect("write the small HTS file");
    dir
}

/// Policy TOML layered over the shipped default (true when accepted): refused with problems that
/// name the file, or a policy whose regimes rise strictly by date and whose
/// lookups agree (`regime_on` is the regime `regime_index` names, and the
/// threshold on a day is that regime's). `dir` is [`policy_dir`]: relative
/// files the policy names resolve there.
/// As for jobs, [`check_policy_strict`] also wants problems free of control characters.
pub fn check_policy(data: &[u8], dir: &Path) -> bool {
    check_policy_with(data, dir, false)
}

/// [`check_policy`], and no problem's key or message holds a control character.
pub fn check_policy_strict(data: &[u8], dir: &Path) -> bool {
    check_policy_with(data, dir, true)
}

fn check_policy_with(data: &[u8], dir: &Path, strict: bool) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match s321d::policy::Policy::from_toml(text, "fuzz-policy.toml", Some(dir)) {
        Err(problems) => {
            check_problems(&problems, "fuzz-policy.toml", strict);
            false
        }
        Ok(policy) => {
            assert!(
                policy.regimes.windows(2).all(|w| w[0].from < w[1].from),
                "regimes do not rise strictly by date"
            );
            let _ = policy.threshold_on(None);
            let days = policy
                .regimes
                .iter()
                .flat_map(|r| [r.from.pred_opt(), Some(r.from), r.from.succ_opt()]);
            let fixed =
                ["1900-01-01", "2025-08-29", "2026-12-03", "2999-12-31"].map(|d| d.parse().ok());
            for day in days.chain(fixed).flatten() {
                let index = policy.regime_index(day);
                assert_eq!(
                    policy.regime_on(day),
                    index.map(|i| &policy.regimes[i]),
                    "regime_on and regime_index disagree on {day}"
                );
                if let Some(i) = index {
                    assert!(
                        policy.regimes[i].from <= day,
                        "regime from {} in force on {day}",
                        policy.regimes[i].from
                    );
                    assert_eq!(
                        policy.threshold_on(Some(day)),
                        policy.regimes[i].threshold_usd,
                        "threshold on {day}"
                    );
                }
                let _ = policy.country_is_valid("US");
            }
            true
        }
    }
}

/// HTS export (true when loaded), dispatched as `HtsRevision::load` does (JSON
/// when it starts with `[`, else CSV): refused with a message, or a revision whose codes are ten
/// ASCII digits in strictly ascending order, each found by `contains` and
/// `rate_row`, and whose coverage counts agree with the codes and the input.
pub fn check_hts(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let body = text.trim_start_matches('\u{feff}');
    let json = body.trim_start().starts_with('[');
    let loaded = if json {
        s321d::duty::HtsRevision::from_json(body)
    } else {
        s321d::duty::HtsRevision::from_csv(body)
    };
    match loaded {
        Err(why) => {
            assert!(!why.trim().is_empty(), "refused with an empty message");
            false
        }
        Ok(rev) => {
            let codes: Vec<&str> = rev.codes().collect();
            assert!(
                codes.windows(2).all(|w| w[0] < w[1]),
                "codes not strictly ascending"
            );
            for code in &codes {
                assert!(
                    code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit()),
                    "code {code:?} is not ten digits"
                );
                assert!(
                    rev.contains(code),
                    "codes() lists {code} but contains() does not"
                );
                let row = rev
                    .rate_row(code)
                    .unwrap_or_else(|| panic!("no rate row for {code}"));
                if let Some(unit) = row.unit {
                    assert!(!unit.trim().is_empty(), "empty unit for {code}");
                }
            }
            let coverage = rev.coverage();
            assert_eq!(
                coverage.ten_digit_codes,
                codes.len(),
                "coverage counts other codes"
            );
            assert!(
                coverage.rated_rows <= coverage.rows,
                "more rated rows than rows: {coverage:?}"
            );
            if !json {
                assert!(
                    coverage.rows <= lines(body.as_bytes()),
                    "{} rows from {} lines",
                    coverage.rows,
                    lines(body.as_bytes())
                );
            }
            assert!(
                !rev.contains("") && !rev.contains("123456789X"),
                "contains() accepts a code that is not ten digits"
            );
            true
        }
    }
}

/// The batch an SX answers, and the entries the ledger holds for it.
const SX_BATCH: &str = "S32-0196f1c2.sei";
const SX_ENTRIES: [&str; 2] = ["S32-0001000-7", "S32-0001001-5"];

/// Whether `n` has the shape `read_sx`/`read_so` build: `FFF-NNNNNNN-C`.
fn entry_number_shape(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() == 13 && b[3] == b'-' && b[11] == b'-'
}

/// CATAIR responses (true when at least one response came out), read as
/// `read_responses` does (bytes made UTF-8 lossily): a selector byte picks an
/// SX acknowledgement (even) or an SO status batch (odd). Either a refusal that
/// names a line of the file, or responses that each name an entry of the
/// batch or one read from the file in `FFF-NNNNNNN-C` form, never more than
/// the file's lines (or the batch's entries, for a batch reject), each message
/// naming the file.
pub fn check_catair(data: &[u8]) -> bool {
    let Some((&selector, file)) = data.split_first() else {
        return false;
    };
    let text = String::from_utf8_lossy(file);
    let n_lines = text.lines().count();
    let entries: Vec<String> = SX_ENTRIES.iter().map(|s| (*s).to_owned()).collect();
    let sx = selector % 2 == 0;
    let read = if sx {
        s321d::filing::batch::read_sx(&text, SX_BATCH, &entries)
    } else {
        s321d::filing::batch::read_so(&text, "fuzz.so")
    };
    match read {
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= n_lines,
                "refusal names line {} of {n_lines}",
                e.line
            );
            assert!(!e.message.trim().is_empty(), "refusal with no message");
            false
        }
        Ok(responses) => {
            assert!(
                responses.len() <= n_lines.max(entries.len()),
                "{} responses from {n_lines} lines",
                responses.len()
            );
            let prefix = if sx {
                format!("SX {SX_BATCH}:")
            } else {
                "SO fuzz.so:".to_owned()
            };
            for r in &responses {
                assert!(
                    entries.contains(&r.entry_number) || entry_number_shape(&r.entry_number),
                    "response for entry {:?}",
                    r.entry_number
                );
                assert!(
                    r.message.starts_with(&prefix),
                    "message {:?} does not name the file",
                    r.message
                );
            }
            !responses.is_empty()
        }
    }
}
