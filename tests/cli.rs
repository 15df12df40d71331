//! The command line's contract: exit status 0 ran, 1 a file could not be read,
//! 2 bad arguments, job or policy; `check` lists every problem with its key.

use crate::support::*;

fn manifest(lines: &[String]) -> String {
    let mut t = String::from(CANONICAL_HEADER);
    for l in lines {
        t.push('\n');
        t.push_str(l);
    }
    t.push('\n');
    t
}

#[test]
fn validate_exits_0_when_it_ran_with_findings() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write(
        "a.csv",
        manifest(&[
            clean_line("H1"),
            clean_line("H2").replace("6109.10.0012", "bad"),
        ]),
    );
    let out = s.s321d(&[
        "validate",
        "--no-history",
        "--job",
        "job.toml",
        "--out",
        "out",
        "a.csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 line(s), 2 shipment(s)"), "{stdout}");
    assert!(
        stdout.contains("dispositions: hold 1, duplicate 0, 03 0, 01 0, 86 1, 11 0"),
        "{stdout}"
    );
    let findings = s.read("out/findings.csv");
    assert!(
        findings
            .lines()
            .any(|l| l.starts_with("a.csv,2,DHLX,H2,1,V002,error,hts_code,")),
        "{findings}"
    );
    assert!(s.path().join("out/findings.parquet").exists());
    assert_eq!(s.read("out/dispositions.csv").lines().count(), 3);
}

#[test]
fn validate_exits_1_when_a_file_cannot_be_read_and_still_runs_the_others() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("good.csv", manifest(&[clean_line("H1")]));
    s.write("empty.csv", "");
    let out = s.s321d(&[
        "validate",
        "--no-history",
        "--job",
        "job.toml",
        "--out",
        "out",
        "empty.csv",
        "good.csv",
        "missing.csv",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let f001: Vec<&str> = findings.lines().filter(|l| l.contains(",F001,")).collect();
    assert_eq!(f001.len(), 2, "{findings}");
    assert!(
        f001.iter().any(|l| l.starts_with("empty.csv,"))
            && f001.iter().any(|l| l.starts_with("missing.csv,"))
    );
    assert!(
        s.read("out/dispositions.csv")
            .contains("good.csv,DHLX,H1,2025-04-01")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unreadable: empty.csv"));
}

#[test]
fn validate_exits_2_for_bad_arguments_jobs_and_policies() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("a.csv", manifest(&[clean_line("H1")]));
    s.write("a.txt", "x");
    // A file no job matches.
    let out = s.s321d(&["validate", "--no-history", "--job", "job.toml", "a.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --job pattern matches"));
    // A bad job file names its key.
    s.write(
        "bad-job.toml",
        "name = \"x\"\n[format]\nkind = \"csv\"\ndelimiter = \";;\"\n",
    );
    let out = s.s321d(&["validate", "--no-history", "--job", "bad-job.toml", "a.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("format.delimiter"),
        "{}",
        show(&out)
    );
    // A bad policy names its key.
    s.write("policy.toml", "threshold_usd = \"eight hundred\"\n");
    let out = s.s321d(&[
        "validate",
        "--no-history",
        "--job",
        "job.toml",
        "--policy",
        "policy.toml",
        "a.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("policy.toml: threshold_usd:"),
        "{}",
        show(&out)
    );
    // Missing arguments.
    assert_eq!(s.s321d(&["validate", "a.csv"]).status.code(), Some(2));
    assert_eq!(s.s321d(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn history_lives_in_the_data_dir_and_makes_repeats_duplicates() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("day1.csv", manifest(&[clean_line("H1")]));
    s.write(
        "day2.csv",
        manifest(&[clean_line("H1").replace(",M1,", ",M2,"), clean_line("H2")]),
    );
    let run = |file: &str, out: &str| {
        s.s321d(&[
            "validate",
            "--data-dir",
            "state",
            "--job",
            "job.toml",
            "--out",
            out,
            file,
        ])
    };
    assert_eq!(run("day1.csv", "o1").status.code(), Some(0));
    assert!(s.path().join("state/state.db").exists());
    let out = run("day2.csv", "o2");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let d = s.read("o2/dispositions.csv");
    assert!(
        d.contains("day2.csv,DHLX,H1,2025-04-01,jane doe|12 main st|11201,1,20.00,duplicate,D003"),
        "{d}"
    );
    // The same bytes again are not a repeat of themselves.
    let out = run("day1.csv", "o3");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        s.read("o3/dispositions.csv").contains(",86,"),
        "{}",
        s.read("o3/dispositions.csv")
    );
}

/// Issue 12 item 8: two runs at once for one person's day. Each reads the
/// day's history, then records its own shipment; were the two steps apart,
/// both would see room under the $800 limit and both parcels would go 86.
/// `S321D_PAUSE_AT` holds each run between its read and its record, so the
/// second process reads while the first is inside: only the history lock
/// keeps it out until the first has recorded.
#[test]
fn two_concurrent_runs_never_both_route_86_for_one_persons_day() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    let parcel = |hb: &str| clean_line(hb).replace(",20.00,", ",500.00,");
    s.write("a.csv", manifest(&[parcel("HA")]));
    s.write("b.csv", manifest(&[parcel("HB").replace(",M1,", ",M2,")]));
    let start = |file: &str, out: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args([
                "validate",
                "--data-dir",
                "state",
                "--job",
                "job.toml",
                "--out",
                out,
                file,
            ])
            .current_dir(s.path())
            .env("RUST_LOG", "warn")
            .env("S321D_PAUSE_AT", "history-read:1500")
            .spawn()
            .unwrap()
    };
    let mut a = start("a.csv", "oa");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut b = start("b.csv", "ob");
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let routed: Vec<String> = ["oa", "ob"]
        .iter()
        .map(|o| {
            let d = s.read(&format!("{o}/dispositions.csv"));
            d.lines().nth(1).unwrap_or_default().to_owned()
        })
        .collect();
    let by86 = routed.iter().filter(|l| l.contains(",86,")).count();
    assert_eq!(
        by86, 1,
        "one person's $1,000 day: one parcel may go 86, the other not: {routed:#?}"
    );
}

#[test]
fn check_lists_every_problem_with_its_key_path() {
    let s = Sandbox::new();
    s.write("jobs/good.toml", CANONICAL_JOB);
    s.write(
        "jobs/same-name.toml",
        CANONICAL_JOB.replace("*.csv", "*.txt"),
    );
    s.write("jobs/bad.toml", "name = \"canon\"\npattern = \"[\"\n[format]\nkind = \"csv\"\n[format.columns]\nhts = \"HS\"\n");
    s.write(
        "policy.toml",
        "[lists]\nports = [\"47O1\"]\n[[regime]]\nfrom = \"2025-13-01\"\nde_minimis = true\n",
    );
    let out = s.s321d(&["check", "--policy", "policy.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "lists.ports[0]",
        "regime[0].from",
        "jobs/bad.toml: pattern",
        "jobs/bad.toml: format.columns.hts",
        "jobs/same-name.toml: name: \"canon\" is also the name of",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_passes_on_the_shipped_configuration() {
    let s = Sandbox::new();
    let repo = repo();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_s321d"))
        .arg("check")
        .current_dir(&repo)
        .env_remove("S321D_CONFIG")
        .output()
        .unwrap();
    drop(s);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("s321d check: ok"));
}

#[test]
fn every_command_has_help() {
    let s = Sandbox::new();
    for cmd in [
        vec!["--help"],
        vec!["validate", "--help"],
        vec!["check", "--help"],
    ] {
        let out = s.s321d(&cmd);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
    }
}
