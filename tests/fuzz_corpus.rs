//! Fuzz regressions (issue 11): every input the fuzzers kept as interesting
//! (fuzz/corpus/) or that once crashed a parser runs through that parser again.
//!
//! Each test replays one target's committed inputs, fuzz/seeds/<target>/ (hand-made
//! and sample seeds) and fuzz/corpus/<target>/ (the minimised corpus), through
//! the same property checks the fuzz target runs (fuzz/props.rs, shared by
//! `#[path]`), so CI holds them without a fuzzer. Inputs that once broke a
//! property live in fuzz/regressions/<target>/ and run under the strict checks.

#[path = "../fuzz/props.rs"]
mod props;

use std::path::{Path, PathBuf};

use props::Reader;

/// The committed inputs of `target` under `folders` of fuzz/, sorted by path.
fn inputs(target: &str, folders: &[&str]) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for folder in folders {
        let dir = fuzz.join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        out.extend(
            entries
                .map(|e| e.expect("a readable corpus folder").path())
                .filter(|p| p.is_file()),
        );
    }
    out.sort();
    out
}

/// Runs `check` on every input, then fails naming each input whose check
/// panicked. Returns how many inputs ran and how many the parser accepted.
fn replay(target: &str, folders: &[&str], check: &dyn Fn(&[u8]) -> bool) -> (usize, usize) {
    let files = inputs(target, folders);
    let mut failed = Vec::new();
    let mut accepted = 0;
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failed.push(format!("{}: {why}", path.display()));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    (files.len(), accepted)
}

const COMMITTED: &[&str] = &["seeds", "corpus"];

fn replay_committed(target: &str, check: &dyn Fn(&[u8]) -> bool) {
    let (n, accepted) = replay(target, COMMITTED, check);
    // The seeds alone are more than this, and each target has seeds that parse:
    // a replay that ran on nothing, or only on refusals, proves little.
    assert!(
        n >= 5,
        "only {n} committed inputs for {target}: is fuzz/seeds/{target}/ there?"
    );
    assert!(
        accepted >= 2,
        "only {accepted} of {n} {target} inputs were accepted by the parser"
    );
}

#[test]
fn manifest_csv_corpus() {
    replay_committed(Reader::Csv.target(), &|d| {
        props::check_manifest(Reader::Csv, d)
    });
}

#[test]
fn manifest_ndjson_corpus() {
    replay_committed(Reader::Ndjson.target(), &|d| {
        props::check_manifest(Reader::Ndjson, d)
    });
}

#[test]
fn manifest_parquet_corpus() {
    replay_committed(Reader::Parquet.target(), &|d| {
        props::check_manifest(Reader::Parquet, d)
    });
}

#[test]
fn manifest_cp1252_corpus() {
    replay_committed(Reader::Cp1252.target(), &|d| {
        props::check_manifest(Reader::Cp1252, d)
    });
}

#[test]
fn job_toml_corpus() {
    replay_committed("job_toml", &props::check_job);
}

#[test]
fn policy_toml_corpus() {
    let dir = props::policy_dir();
    replay_committed("policy_toml", &|d| props::check_policy(d, dir.path()));
}

#[test]
fn hts_export_corpus() {
    replay_committed("hts_export", &props::check_hts);
}

#[test]
fn catair_responses_corpus() {
    replay_committed("catair_responses", &props::check_catair);
}

/// The checks see what they claim to: chunks, records and F003 rows of a known file.
#[test]
fn read_all_reports_chunks_records_and_f003() {
    assert!(props::check_manifest(
        Reader::Csv,
        b"\x00house_bill,line_no\nH1,1\nbad\nH2,2\n"
    ));
    let job = s321d::job::Job::from_toml(
        "name = \"f\"\n[format]\nkind = \"csv\"\n",
        Path::new("f.toml"),
    )
    .unwrap();
    let read = props::read_all(&job, b"house_bill,line_no\nH1,1\nbad\nH2,2\n", 1);
    assert_eq!(read.heights, [1, 1]);
    assert_eq!(read.issues.records, 3);
    assert_eq!(
        read.issues
            .malformed
            .iter()
            .map(|m| m.record)
            .collect::<Vec<_>>(),
        [2]
    );
    // A NUL byte that an escape explains does not break the NDJSON check
    // (whether the row comes out or is refused is the reader's call).
    props::check_manifest(Reader::Ndjson, b"\x00{\"house_bill\":\"A\\u0000B\"}\n");
}

// Inputs that once broke a property (fuzz/FINDINGS.md), fixed since: held
// to the strict checks so none comes back.

#[test]
fn manifest_csv_regressions() {
    replay("manifest_csv", &["regressions"], &|d| {
        props::check_manifest_strict(Reader::Csv, d)
    });
}

#[test]
fn manifest_parquet_regressions() {
    // Finding 4 (polars-parquet's thrift panic) is upstream; the read turns it
    // into F001 for the file, which this check allows.
    replay("manifest_parquet", &["regressions"], &|d| {
        props::check_manifest_values(Reader::Parquet, d)
    });
}

#[test]
fn job_toml_regressions() {
    replay("job_toml", &["regressions"], &props::check_job_strict);
}

#[test]
fn policy_toml_regressions() {
    let dir = props::policy_dir();
    replay("policy_toml", &["regressions"], &|d| {
        props::check_policy_strict(d, dir.path())
    });
}
