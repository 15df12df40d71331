//! Regressions found by the differential review against the oracle
//! (`tests/oracle/oracle.py`): each test runs the real `validate` on the
//! smallest input that showed the bug and checks the outputs the contract
//! fixes.

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

/// `validate --no-history` of `files` (already in the sandbox) with `job.toml`
/// and optional extra arguments; returns (exit code, findings, dispositions).
fn validate(s: &Sandbox, extra: &[&str], files: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["validate", "--no-history", "--job", "job.toml", "--out", "out"];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    let out = s.s321d(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    (out.status.code(), s.read("out/findings.csv"), s.read("out/dispositions.csv"))
}

/// Findings rows without the message: `source_file,record,carrier,house_bill,line_no,rule,severity,field`.
fn finding_keys(findings: &str) -> Vec<String> {
    findings.lines().skip(1).map(|l| l.splitn(9, ',').take(8).collect::<Vec<_>>().join(",")).collect()
}

/// (house_bill, disposition) per dispositions row.
fn routes(dispositions: &str) -> Vec<(String, String)> {
    dispositions
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[7].to_owned())
        })
        .collect()
}

/// Contract section 3's example policy, as an operator copies it.
const CONTRACT_EXAMPLE_POLICY: &str = r#"threshold_usd = "800"
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
fn a_policy_that_replaces_pga_prefixes_is_accepted() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("policy.toml", CONTRACT_EXAMPLE_POLICY);
    s.write("only-pga.toml", "[lists]\npga_prefixes = [\"02\"]\n");
    s.write(
        "a.csv",
        manifest(&[clean_line("H1"), clean_line("H2").replace("6109.10.0012", "0201.10.0000").replace("Jane Doe", "Ann")]),
    );
    for policy in ["policy.toml", "only-pga.toml"] {
        let (code, findings, dispositions) = validate(&s, &["--policy", policy], &["a.csv"]);
        assert_eq!(code, Some(0), "{policy}");
        assert!(finding_keys(&findings).contains(&"a.csv,2,DHLX,H2,1,E002,warning,hts_code".to_owned()), "{policy}: {findings}");
        assert_eq!(routes(&dispositions), [("H1".into(), "86".into()), ("H2".into(), "86".into())]);
        let out = s.s321d(&["check", "--policy", policy]);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("pga_agency"), "{}", show(&out));
    }
}
