//! Hostile manifest files (issue 11, part A): binary and NUL input, over-long
//! records, findings without bound, duplicated header names and keys. Each test
//! runs the real `validate` and checks the outcome the contract names.

use std::time::{Duration, Instant};

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

/// `validate --no-history --job job.toml --out out FILES`; returns the output.
fn validate(s: &Sandbox, files: &[&str]) -> std::process::Output {
    let mut args = vec!["validate", "--no-history", "--job", "job.toml", "--out", "out"];
    args.extend_from_slice(files);
    s.s321d(&args)
}

/// The findings rows of one rule.
fn rows_of<'a>(findings: &'a str, rule: &str) -> Vec<&'a str> {
    let needle = format!(",{rule},");
    findings.lines().filter(|l| l.contains(&needle)).collect()
}

#[test]
fn a_file_of_nul_bytes_is_f001_binary_and_the_good_file_still_runs() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("good.csv", manifest(&[clean_line("H1")]));
    s.write("nuls.csv", vec![0u8; 4096]);
    let out = validate(&s, &["nuls.csv", "good.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let f001 = rows_of(&findings, "F001");
    assert_eq!(f001.len(), 1, "{findings}");
    assert!(f001[0].starts_with("nuls.csv,") && f001[0].contains("the file is binary (NUL byte at offset 0)"), "{findings}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("unreadable: nuls.csv"), "{}", show(&out));
    assert!(s.read("out/dispositions.csv").contains("good.csv,DHLX,H1,2025-04-01"));
}

#[test]
fn a_sparse_file_of_nuls_is_f001_at_once_not_read_whole() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("good.csv", manifest(&[clean_line("H1")]));
    let sparse = s.path().join("sparse.csv");
    std::fs::File::create(&sparse).unwrap().set_len(256 << 20).unwrap();
    let started = Instant::now();
    let out = validate(&s, &["sparse.csv", "good.csv"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let findings = s.read("out/findings.csv");
    let f001 = rows_of(&findings, "F001");
    assert_eq!(f001.len(), 1, "{findings}");
    assert!(f001[0].starts_with("sparse.csv,") && f001[0].contains("NUL byte at offset 0"), "{findings}");
    assert!(s.read("out/dispositions.csv").contains("good.csv,DHLX,H1,2025-04-01"));
}

#[test]
fn a_header_with_control_bytes_is_f001_binary() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    let mut text = manifest(&[clean_line("H1")]).into_bytes();
    text[3] = 0x1B;
    s.write("esc.csv", text);
    let out = validate(&s, &["esc.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let f001 = rows_of(&findings, "F001");
    assert_eq!(f001.len(), 1, "{findings}");
    assert!(f001[0].contains("the file is binary (control byte 0x1B at offset 3)"), "{findings}");
}

#[test]
fn findings_past_10000_of_one_rule_in_one_file_end_in_one_summary_row() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    // 10,005 lines with no description: one V001 each, each its own shipment.
    let lines: Vec<String> = (0..10_005).map(|i| clean_line(&format!("H{i}")).replace(",Cotton T-shirt,", ",,")).collect();
    s.write("many.csv", manifest(&lines));
    s.write("good.csv", manifest(&[clean_line("G1")]));
    let out = validate(&s, &["many.csv", "good.csv"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let v001 = rows_of(&findings, "V001");
    assert_eq!(v001.len(), 10_001, "{}", show(&out));
    // Summary rows end the output, one per (file, rule) past the cap.
    let summary = "many.csv,,,,,V001,error,,and 5 more V001 findings in this file were not listed";
    let tail: Vec<&str> = findings.lines().rev().take_while(|l| l.contains(" findings in this file were not listed")).collect();
    assert!(tail.contains(&summary), "{tail:?}");
    assert_eq!(findings.lines().filter(|l| l.contains(" findings in this file were not listed")).count(), tail.len());
    // Routing follows the error bits, not the rows written: every shipment is routed alike.
    let dispositions = s.read("out/dispositions.csv");
    let many: Vec<&str> = dispositions.lines().filter(|l| l.starts_with("many.csv,")).collect();
    assert_eq!(many.len(), 10_005);
    let route = |l: &str| l.split(',').nth(7).unwrap().to_owned();
    assert!(many.iter().all(|l| route(l) == route(many[0])), "{}", many[10_004]);
    assert_eq!(route(many[10_004]), route(many[0]));
    assert!(dispositions.contains("good.csv,DHLX,G1,2025-04-01"));
    // The counts still count every finding.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("10005"), "{stdout}");
}

#[test]
fn an_ndjson_line_over_1_mib_is_f003_and_the_lines_after_it_run() {
    let s = Sandbox::new();
    s.write("job.toml", "name = \"nd\"\npattern = \"*.ndjson\"\n[format]\nkind = \"ndjson\"\n");
    let line = |hb: &str, description: &str| {
        let header: Vec<&str> = CANONICAL_HEADER.split(',').collect();
        let clean = clean_line(hb);
        let values: Vec<&str> = clean.split(',').collect();
        let fields: Vec<String> = header
            .iter()
            .zip(&values)
            .map(|(k, v)| format!("{k:?}: {:?}", if *k == "description" { description } else { v }))
            .collect();
        format!("{{{}}}", fields.join(", "))
    };
    let long = "x".repeat(2 << 20);
    let text = [line("H1", "Cotton T-shirt"), line("H2", &long), line("H3", "Cotton T-shirt")].join("\n") + "\n";
    s.write("long.ndjson", text);
    let out = validate(&s, &["long.ndjson"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    let findings = s.read("out/findings.csv");
    let f003 = rows_of(&findings, "F003");
    assert_eq!(f003.len(), 1, "{findings}");
    assert!(f003[0].starts_with("long.ndjson,2,") && f003[0].ends_with("record 2 is longer than 1 MiB"), "{findings}");
    let dispositions = s.read("out/dispositions.csv");
    assert!(dispositions.contains("long.ndjson,DHLX,H1,") && dispositions.contains("long.ndjson,DHLX,H3,"), "{dispositions}");
    assert!(!dispositions.contains(",H2,"), "{dispositions}");
}

#[test]
fn a_csv_record_over_1_mib_is_f003_and_the_records_after_it_run() {
    for (job, name) in [
        (CANONICAL_JOB.to_owned(), "utf8.csv"),
        (CANONICAL_JOB.replace("kind = \"csv\"\n", "kind = \"csv\"\nencoding = \"windows-1252\"\n"), "cp1252.csv"),
    ] {
        let s = Sandbox::new();
        s.write("job.toml", &job);
        let long = clean_line("H2").replace(",Cotton T-shirt,", &format!(",\"{}\",", "x\n".repeat(1 << 20)));
        s.write(name, manifest(&[clean_line("H1"), long, clean_line("H3")]));
        let out = validate(&s, &[name]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
        let findings = s.read("out/findings.csv");
        let f003 = rows_of(&findings, "F003");
        assert_eq!(f003.len(), 1, "{name}: {findings}");
        assert!(f003[0].starts_with(&format!("{name},2,")) && f003[0].ends_with("record 2 is longer than 1 MiB"), "{findings}");
        let dispositions = s.read("out/dispositions.csv");
        assert!(dispositions.contains(&format!("{name},DHLX,H1,")) && dispositions.contains(&format!("{name},DHLX,H3,")), "{dispositions}");
        assert!(!dispositions.contains(",H2,"), "{dispositions}");
    }
}

#[test]
fn a_repeated_ndjson_key_keeps_its_first_value_as_a_repeated_csv_header_does() {
    let s = Sandbox::new();
    s.write("job.toml", "name = \"nd\"\npattern = \"*.ndjson\"\n[format]\nkind = \"ndjson\"\n");
    let header: Vec<&str> = CANONICAL_HEADER.split(',').collect();
    let clean = clean_line("H1");
    let mut fields: Vec<String> = header.iter().zip(clean.split(',')).map(|(k, v)| format!("{k:?}: {v:?}")).collect();
    fields.push("\"house_bill\": \"H9\"".into());
    s.write("dup.ndjson", format!("{{{}}}\n", fields.join(", ")));
    s.write("dup.csv", format!("{CANONICAL_HEADER},house_bill\n{},H9\n", clean_line("H1")));
    let out = validate(&s, &["dup.ndjson"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    let dispositions = s.read("out/dispositions.csv");
    assert!(dispositions.contains("dup.ndjson,DHLX,H1,") && !dispositions.contains(",H9,"), "{dispositions}");
    s.write("job.toml", CANONICAL_JOB);
    let out = validate(&s, &["dup.csv"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    let dispositions = s.read("out/dispositions.csv");
    assert!(dispositions.contains("dup.csv,DHLX,H1,") && !dispositions.contains(",H9,"), "{dispositions}");
}
