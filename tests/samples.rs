//! `validate` end to end over `data-samples/`: the exact expected findings and
//! dispositions (reviewed by hand, line by line, against the contract), the
//! exit status, and history across day-by-day runs.
//!
//! After a deliberate, reviewed change to messages or samples, rewrite the
//! expected files with `S321D_BLESS=1 cargo test --test integration samples`.

use std::path::PathBuf;

use crate::support::*;

/// The sample files in run order (the README's main command uses the same).
const FILES: [&str; 7] = [
    "dhlx-20250501.csv",
    "dhlx-20250502.csv",
    "dhlx-20251105.csv",
    "dhlx-20261201.csv",
    "PCLX_20251103.txt",
    "PCLX_20251104.txt",
    "upsn-20250828.ndjson",
];

/// The v1 samples (before contract v2 added `dhlx-20261201.csv`).
const V1_FILES: [&str; 6] = [
    "dhlx-20250501.csv",
    "dhlx-20250502.csv",
    "dhlx-20251105.csv",
    "PCLX_20251103.txt",
    "PCLX_20251104.txt",
    "upsn-20250828.ndjson",
];

fn validate(s: &Sandbox, files: &[&str], extra: &[&str]) -> std::process::Output {
    let repo = repo();
    let mut args: Vec<String> = vec!["validate".into()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    for job in ["dhlx-canonical", "pclx-intake", "upsn-ndjson"] {
        args.push("--job".into());
        args.push(
            repo.join("jobs")
                .join(format!("{job}.toml"))
                .display()
                .to_string(),
        );
    }
    args.extend(
        files
            .iter()
            .map(|f| repo.join("data-samples").join(f).display().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s.s321d(&args)
}

fn expected(name: &str) -> PathBuf {
    repo().join("tests/data/samples-expected").join(name)
}

fn compare(actual: &str, name: &str) {
    let path = expected(name);
    if std::env::var_os("S321D_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if want == actual {
        return;
    }
    let (w, a): (Vec<&str>, Vec<&str>) = (want.lines().collect(), actual.lines().collect());
    let first = w
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(w.len().min(a.len()));
    panic!(
        "{name} differs from {} at line {}:\n  expected: {}\n  actual:   {}\n({} expected lines, {} actual)",
        path.display(),
        first + 1,
        w.get(first).unwrap_or(&"<end>"),
        a.get(first).unwrap_or(&"<end>"),
        w.len(),
        a.len()
    );
}

#[test]
fn samples_give_the_expected_findings_and_dispositions() {
    let s = Sandbox::new();
    let out = validate(&s, &FILES, &["--no-history", "--out", "out"]);
    // One sample (a gzip archive named .csv) cannot be read: exit 1, the rest still runs.
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let dispositions = s.read("out/dispositions.csv");
    compare(&findings, "findings.csv");
    compare(&dispositions, "dispositions.csv");
    compare(&s.read("out/entries.csv"), "entries.csv");
    compare(&s.read("out/entry_lines.csv"), "entry_lines.csv");

    // Between them the samples exercise every rule code.
    let codes: std::collections::BTreeSet<&str> = findings
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(5))
        .collect();
    for rule in s321d::engine::rules::Rule::ALL {
        assert!(codes.contains(rule.code()), "no sample triggers {rule}");
    }
    // And every disposition.
    for d in s321d::engine::rules::Disposition::ALL {
        assert!(
            dispositions
                .lines()
                .any(|l| l.split(',').nth(7) == Some(d.as_str())),
            "no sample routed {}",
            d.as_str()
        );
    }
}

/// Contract v2: a v1 policy (no `[duty]`, `[fees]`, `[entries]` or
/// `adcvd_prefixes`) still gives the v1 findings and dispositions, apart from
/// V010 warnings, the new `entry_ref` column and the new files. The v1
/// expectations are the ones reviewed before v2, with only the messages of the
/// two sample lines whose HTS codes were corrected (DX1002 line 2, DX1007)
/// changed, and the gzip sample's F001 reason, which names the binary byte
/// since issue 11 (its routing is unchanged).
#[test]
fn a_v1_policy_gives_v1_results_on_the_v1_samples() {
    let s = Sandbox::new();
    let policy = s.write(
        "v1-policy.toml",
        "# a v1 policy: it sets no v2 key, and v2 keys are never inherited\n",
    );
    let policy = policy.display().to_string();
    let out = validate(
        &s,
        &V1_FILES,
        &["--no-history", "--policy", &policy, "--out", "out"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let without_v010: String = findings
        .lines()
        .filter(|l| !l.contains(",V010,"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        findings.lines().count() > without_v010.lines().count(),
        "V010 fires on entered shipments without an IOR"
    );
    for code in [",T001,", ",T002,", ",E004,"] {
        assert!(!findings.contains(code), "a v1 policy fires no {code}");
    }
    let dispositions = s.read("out/dispositions.csv");
    let mut without_ref = String::new();
    for line in dispositions.lines() {
        let (rest, last) = line.rsplit_once(',').unwrap();
        assert!(
            last == "entry_ref" || last.is_empty() || last.starts_with('R'),
            "{line}"
        );
        without_ref.push_str(rest);
        without_ref.push('\n');
    }
    compare(&without_v010, "v1/findings.csv");
    compare(&without_ref, "v1/dispositions.csv");
}

#[test]
fn samples_day_by_day_with_history() {
    let s = Sandbox::new();
    let day1 = validate(
        &s,
        &["dhlx-20250501.csv"],
        &["--data-dir", "state", "--out", "day1"],
    );
    assert_eq!(day1.status.code(), Some(0), "{}", show(&day1));
    let day2 = validate(
        &s,
        &["dhlx-20250502.csv"],
        &["--data-dir", "state", "--out", "day2"],
    );
    assert_eq!(day2.status.code(), Some(0), "{}", show(&day2));
    let d = s.read("day2/dispositions.csv");
    assert!(d.contains("dhlx-20250502.csv,DHLX,DX1005,2025-05-01,aisha khan|77 lake shore dr|60611,1,18.00,duplicate,D003"), "{d}");
    let f = s.read("day2/findings.csv");
    assert!(
        f.contains("DX1005,,D003,warning,,house bill already came in file dhlx-20250501.csv (run "),
        "{f}"
    );
    // Aisha Khan's house bill of day 1 (from history) and DX1015 make two on 2025-05-01.
    assert!(f.contains("dhlx-20250502.csv,2,DHLX,DX1015,,L001,warning,,the consignee has 2 house bills on 2025-05-01"), "{f}");
}
