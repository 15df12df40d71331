//! Regressions found by the differential review against the oracle
//! (`tests/oracle/oracle.py`): each test runs the real `validate` on the
//! smallest input that showed the bug and checks the outputs the contract
//! fixes.

use polars::prelude::*;

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
    let mut args = vec![
        "validate",
        "--no-history",
        "--job",
        "job.toml",
        "--out",
        "out",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    let out = s.s321d(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    (
        out.status.code(),
        s.read("out/findings.csv"),
        s.read("out/dispositions.csv"),
    )
}

/// Findings rows without the message: `source_file,record,carrier,house_bill,line_no,rule,severity,field`.
fn finding_keys(findings: &str) -> Vec<String> {
    findings
        .lines()
        .skip(1)
        .map(|l| l.splitn(9, ',').take(8).collect::<Vec<_>>().join(","))
        .collect()
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
        manifest(&[
            clean_line("H1"),
            clean_line("H2")
                .replace("6109.10.0012", "0201.10.0000")
                .replace("Jane Doe", "Ann"),
        ]),
    );
    for policy in ["policy.toml", "only-pga.toml"] {
        let (code, findings, dispositions) = validate(&s, &["--policy", policy], &["a.csv"]);
        assert_eq!(code, Some(0), "{policy}");
        assert!(
            finding_keys(&findings).contains(&"a.csv,2,DHLX,H2,1,E002,warning,hts_code".to_owned()),
            "{policy}: {findings}"
        );
        assert_eq!(
            routes(&dispositions),
            [("H1".into(), "86".into()), ("H2".into(), "86".into())]
        );
        let out = s.s321d(&["check", "--policy", policy]);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("pga_agency"),
            "{}",
            show(&out)
        );
    }
}

#[test]
fn a_decimal_parquet_is_read_exactly() {
    let s = Sandbox::new();
    s.write(
        "job.toml",
        "name = \"pq\"\npattern = \"*.parquet\"\n[format]\nkind = \"parquet\"\n[format.columns]\nhouse_bill = \"hawb\"\n[format.constants]\ncarrier = \"PQTX\"\n",
    );
    let text = |v: &str| vec![v.to_owned(); 2];
    let value = Int128Chunked::from_iter_options(
        "declared_value".into(),
        [Some(1050i128), Some(80_001)].into_iter(),
    )
    .into_decimal(10, 2)
    .unwrap()
    .into_series();
    let mut df = DataFrame::new(
        2,
        vec![
            Column::new("hawb".into(), ["Q1", "Q2"]),
            Column::new("line_no".into(), [1i64, 1]),
            Column::new("arrival_date".into(), text("2025-05-01")),
            Column::new("port_of_entry".into(), text("4701")),
            Column::new("shipper_country".into(), text("VN")),
            Column::new("consignee_name".into(), ["A", "B"]),
            Column::new("consignee_address".into(), text("12 Main St")),
            Column::new("consignee_zip".into(), text("10001")),
            Column::new("description".into(), text("Cotton shirt")),
            Column::new("hts_code".into(), text("6109100012")),
            Column::new("country_of_origin".into(), text("VN")),
            Column::new("weight_kg".into(), text("1")),
            value.into_column(),
        ],
    )
    .unwrap();
    let mut file = std::fs::File::create(s.path().join("p.parquet")).unwrap();
    ParquetWriter::new(&mut file).finish(&mut df).unwrap();
    drop(file);
    s.write("p2.parquet", "PAR1 not a parquet file");
    let (code, findings, dispositions) = validate(&s, &[], &["p2.parquet", "p.parquet"]);
    assert_eq!(code, Some(1), "p2.parquet cannot be read");
    assert_eq!(
        finding_keys(&findings)
            .iter()
            .filter(|k| k.contains(",F001,"))
            .count(),
        1,
        "{findings}"
    );
    assert!(
        dispositions.contains("p.parquet,PQTX,Q1,2025-05-01,a|12 main st|10001,1,10.50,86,"),
        "{dispositions}"
    );
    assert!(
        dispositions
            .contains("p.parquet,PQTX,Q2,2025-05-01,b|12 main st|10001,1,800.01,11,L002;L003"),
        "{dispositions}"
    );
}

#[test]
fn csv_an_unclosed_quote_in_the_last_column_costs_one_record() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    // The rest of the file would be one field: a record with the header's field count.
    let unclosed = clean_line("Q2").replace(",S1", ",\"S1");
    s.write(
        "b3.csv",
        manifest(&[
            clean_line("Q1"),
            unclosed,
            clean_line("Q3").replace("Jane", "Jo"),
            clean_line("Q4")
                .replace("Jane", "Al")
                .replace(",11201,", ",1120,"),
        ]),
    );
    let (_, findings, dispositions) = validate(&s, &[], &["b3.csv"]);
    let f003: Vec<String> = finding_keys(&findings)
        .into_iter()
        .filter(|k| k.contains(",F003,"))
        .collect();
    assert_eq!(f003, ["b3.csv,2,,,,F003,error,"], "{findings}");
    assert!(
        findings.contains("field \"\"seller_name\"\" opens a quote that is never closed"),
        "{findings}"
    );
    assert_eq!(
        routes(&dispositions)
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>(),
        ["Q1", "Q3", "Q4"]
    );
    assert!(
        findings.lines().all(|l| !l.starts_with("b3.csv,2,DHLX")),
        "{findings}"
    );
    assert!(
        finding_keys(&findings)
            .contains(&"b3.csv,4,DHLX,Q4,1,V009,warning,consignee_zip".to_owned()),
        "Q4 keeps record 4: {findings}"
    );
}

#[test]
fn csv_a_quoted_line_break_in_a_row_with_a_wrong_field_count_is_one_f003() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    let extra = clean_line("Q2").replace("Cotton T-shirt", "\"two\nlines\"") + ",extra";
    s.write(
        "b4.csv",
        manifest(&[
            clean_line("Q1"),
            extra,
            clean_line("Q3").replace("20.00", "x"),
        ]),
    );
    let (_, findings, dispositions) = validate(&s, &[], &["b4.csv"]);
    let keys = finding_keys(&findings);
    assert_eq!(
        keys.iter()
            .filter(|k| k.contains(",F003,"))
            .collect::<Vec<_>>(),
        ["b4.csv,2,,,,F003,error,"],
        "{findings}"
    );
    assert!(
        keys.contains(&"b4.csv,3,DHLX,Q3,1,V004,error,declared_value".to_owned()),
        "Q3 keeps record 3: {findings}"
    );
    assert_eq!(
        routes(&dispositions),
        [("Q1".into(), "86".into()), ("Q3".into(), "hold".into())]
    );

    // Nothing inside the bad record is read again as a row of its own.
    s.write(
        "m4.csv",
        "house_bill,description,declared_value\nA,\"xx\nx\",1,9\nC,ddd,1\nD,eee,2\n",
    );
    let (_, findings, dispositions) = validate(&s, &[], &["m4.csv"]);
    let keys = finding_keys(&findings);
    assert_eq!(
        keys.iter()
            .filter(|k| k.contains(",F003,"))
            .collect::<Vec<_>>(),
        ["m4.csv,1,,,,F003,error,"],
        "{findings}"
    );
    assert_eq!(
        routes(&dispositions)
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>(),
        ["C", "D"],
        "no phantom row"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("m4.csv,2,,C,"))
            && keys.iter().any(|k| k.starts_with("m4.csv,3,,D,"))
    );
}

#[test]
fn csv_a_short_lf_row_after_a_crlf_row_is_one_f003() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write(
        "m5.csv",
        "house_bill,description,declared_value\nA,xxx,1\r\nB,y\nC,ddd,1\nD,eee,2\n",
    );
    let (_, findings, dispositions) = validate(&s, &[], &["m5.csv"]);
    let keys = finding_keys(&findings);
    assert_eq!(
        keys.iter()
            .filter(|k| k.contains(",F003,"))
            .collect::<Vec<_>>(),
        ["m5.csv,2,,,,F003,error,"],
        "{findings}"
    );
    assert_eq!(
        routes(&dispositions)
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>(),
        ["A", "C", "D"]
    );
    assert!(
        keys.iter().any(|k| k.starts_with("m5.csv,3,,C,"))
            && keys.iter().any(|k| k.starts_with("m5.csv,4,,D,"))
    );
}

#[test]
fn d004_takes_a_repeated_house_bill_as_first_seen() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    let shirt = |hb: &str, who: &str| clean_line(hb).replace("Jane Doe", who);
    let mug = |hb: &str, who: &str| {
        shirt(hb, who)
            .replace("Cotton T-shirt", "Mug")
            .replace("6109.10.0012", "6912.00.4400")
    };
    // J2 first came as a mug (a, b), or for another consignee (c, d): its
    // repeat's shirt for Ann is not a possible duplicate of J1.
    s.write("a.csv", manifest(&[shirt("J1", "Ann"), mug("J2", "Ann")]));
    s.write("b.csv", manifest(&[shirt("J2", "Ann")]));
    s.write("c.csv", manifest(&[shirt("J1", "Ann"), mug("J2", "Bob")]));
    s.write("d.csv", manifest(&[shirt("J2", "Ann")]));
    for pair in [["a.csv", "b.csv"], ["c.csv", "d.csv"]] {
        let (code, findings, dispositions) = validate(&s, &[], &pair);
        assert_eq!(code, Some(0));
        assert!(!findings.contains(",D004,"), "{pair:?}: {findings}");
        assert!(
            dispositions.contains(&format!("{},DHLX,J2,2025-04-01,", pair[1]))
                && dispositions.contains(",duplicate,D003")
        );
    }
}

#[test]
fn an_ndjson_file_with_no_object_is_f001_only() {
    let s = Sandbox::new();
    s.write(
        "job.toml",
        "name = \"nd\"\npattern = \"*.ndjson\"\n[format]\nkind = \"ndjson\"\n",
    );
    s.write("n.ndjson", "[1]\n\"x\"\n");
    let (code, findings, dispositions) = validate(&s, &[], &["n.ndjson"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        finding_keys(&findings),
        ["n.ndjson,,,,,F001,error,"],
        "{findings}"
    );
    assert_eq!(dispositions.lines().count(), 1);
}

#[test]
fn money_beyond_twelve_decimals_is_above_the_threshold() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write(
        "a.csv",
        manifest(&[
            clean_line("M1")
                .replace("20.00", "800.0000000000001")
                .replace(",0.5,", ",1,"),
            clean_line("M2")
                .replace("20.00", "799.9999999999999")
                .replace(",0.5,", ",1,")
                .replace("Jane Doe", "Kim"),
        ]),
    );
    let (_, _, dispositions) = validate(&s, &[], &["a.csv"]);
    assert_eq!(
        routes(&dispositions),
        [("M1".into(), "11".into()), ("M2".into(), "86".into())],
        "{dispositions}"
    );
}

/// `validate` with history on, in the sandbox's `data` folder; returns
/// (findings, dispositions) of the run written to `out`.
fn validate_with_history(s: &Sandbox, out: &str, files: &[&str]) -> (String, String) {
    let mut args = vec![
        "validate",
        "--data-dir",
        "data",
        "--job",
        "job.toml",
        "--out",
        out,
    ];
    args.extend_from_slice(files);
    let o = s.s321d(&args);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    (
        s.read(&format!("{out}/findings.csv")),
        s.read(&format!("{out}/dispositions.csv")),
    )
}

#[test]
fn history_is_ignored_only_for_the_file_it_came_from() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("a.csv", manifest(&[clean_line("H1")]));
    s.write(
        "b.csv",
        manifest(&[clean_line("H1").replace("20.00", "21.00")]),
    );
    validate_with_history(&s, "o1", &["a.csv"]);
    // b.csv's H1 came in a.csv in the first run, whatever else this run holds.
    let (findings, dispositions) = validate_with_history(&s, "o2", &["b.csv", "a.csv"]);
    assert_eq!(
        routes(&dispositions),
        [
            ("H1".into(), "duplicate".into()),
            ("H1".into(), "duplicate".into())
        ],
        "{dispositions}"
    );
    assert!(
        findings
            .lines()
            .any(|l| l.starts_with("b.csv,1,DHLX,H1,,D003,")
                && l.contains("already came in file a.csv (run ")),
        "{findings}"
    );
    // a.csv again, first: its own history does not count against it.
    let (_, dispositions) = validate_with_history(&s, "o3", &["a.csv", "b.csv"]);
    assert_eq!(
        routes(&dispositions),
        [
            ("H1".into(), "86".into()),
            ("H1".into(), "duplicate".into())
        ],
        "{dispositions}"
    );
}

#[test]
fn fx_rates_are_exact_past_twelve_decimals() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write("policy.toml", "[fx]\nJPY = \"0.0026666666666666\"\n");
    // 300000 * 0.0026666666666666 = 799.99999999998: not over 800.
    s.write(
        "a.csv",
        manifest(&[clean_line("Y1").replace("20.00,USD", "300000,JPY")]),
    );
    let (code, findings, dispositions) = validate(&s, &["--policy", "policy.toml"], &["a.csv"]);
    assert_eq!(code, Some(0));
    assert!(
        dispositions.contains(",1,799.99999999998,86,"),
        "{dispositions}\n{findings}"
    );
}

/// A one-row Parquet manifest of house bill `hb` with every canonical column
/// as text, `arrival_date` replaced by `date` when given.
fn parquet_line(hb: &str, date: Option<Column>) -> DataFrame {
    let names = CANONICAL_HEADER.split(',');
    let values: Vec<String> = clean_line(hb).split(',').map(str::to_owned).collect();
    let mut columns: Vec<Column> = names
        .zip(values)
        .map(|(n, v)| Column::new(n.into(), [v]))
        .collect();
    if let Some(date) = date {
        let at = columns
            .iter()
            .position(|c| c.name().as_str() == "arrival_date")
            .unwrap();
        columns[at] = date;
    }
    DataFrame::new(1, columns).unwrap()
}

fn write_parquet(s: &Sandbox, name: &str, mut df: DataFrame) {
    let mut file = std::fs::File::create(s.path().join(name)).unwrap();
    ParquetWriter::new(&mut file).finish(&mut df).unwrap();
}

#[test]
fn a_parquet_column_with_no_text_form_is_f001_and_the_run_goes_on() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write(
        "pq.toml",
        "name = \"pq\"\npattern = \"*.parquet\"\n[format]\nkind = \"parquet\"\n",
    );
    s.write("a.csv", manifest(&[clean_line("C1")]));
    let mut list = parquet_line("P1", None);
    list.replace(
        "description",
        Series::new(
            "description".into(),
            &[Series::new("".into(), &["cotton", "shirt"])],
        )
        .into_column(),
    )
    .unwrap();
    write_parquet(&s, "list.parquet", list);
    let mut binary = parquet_line("P2", None);
    let bytes: [&[u8]; 1] = [b"\xff\x00bin"];
    binary
        .replace(
            "seller_name",
            Series::new("seller_name".into(), &bytes).into_column(),
        )
        .unwrap();
    write_parquet(&s, "binary.parquet", binary);

    let (code, findings, dispositions) = validate(
        &s,
        &["--job", "pq.toml"],
        &["a.csv", "list.parquet", "binary.parquet"],
    );
    assert_eq!(code, Some(1), "list.parquet cannot be read");
    let keys = finding_keys(&findings);
    assert!(
        keys.contains(&"list.parquet,,,,,F001,error,".to_owned()),
        "{findings}"
    );
    assert!(
        findings.contains("column \"\"description\"\" holds list"),
        "{findings}"
    );
    assert!(
        keys.contains(&"binary.parquet,1,,,,F003,error,".to_owned()),
        "{findings}"
    );
    assert_eq!(
        routes(&dispositions),
        [("C1".into(), "86".into())],
        "{dispositions}"
    );
    assert!(s.path().join("out/findings.parquet").exists());
}

#[test]
fn a_typed_parquet_arrival_date_needs_no_round_trip_through_the_date_format() {
    let s = Sandbox::new();
    s.write(
        "job.toml",
        "name = \"pq\"\npattern = \"*.parquet\"\n[format]\nkind = \"parquet\"\ndate_format = \"%Y-%m-%dT%H:%M:%S\"\n",
    );
    let day = (chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap() - chrono::NaiveDate::default())
        .num_days() as i32;
    let date = Int32Chunked::new("arrival_date".into(), &[day])
        .into_date()
        .into_column();
    write_parquet(&s, "date.parquet", parquet_line("P1", Some(date)));
    // 2025-04-02T01:00:00Z is April 1st in New York.
    let instant = chrono::DateTime::parse_from_rfc3339("2025-04-02T01:00:00Z")
        .unwrap()
        .timestamp_millis();
    let tz = TimeZone::opt_try_new(Some("America/New_York")).unwrap();
    let stamp = Int64Chunked::new("arrival_date".into(), &[instant])
        .into_datetime(TimeUnit::Milliseconds, tz)
        .into_column();
    write_parquet(&s, "stamp.parquet", parquet_line("P2", Some(stamp)));
    let (code, findings, dispositions) = validate(&s, &[], &["date.parquet", "stamp.parquet"]);
    assert_eq!(code, Some(0), "{findings}");
    assert!(
        !findings.contains(",F001,") && !findings.contains(",V006,"),
        "{findings}"
    );
    assert!(
        dispositions.contains("date.parquet,DHLX,P1,2025-04-01,"),
        "{dispositions}"
    );
    assert!(
        dispositions.contains("stamp.parquet,DHLX,P2,2025-04-01,"),
        "{dispositions}"
    );
}

#[test]
fn line_numbers_compare_as_integers() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    let socks = clean_line("L1")
        .replacen(",1,", ",01,", 1)
        .replace("Cotton T-shirt", "Cotton socks");
    assert!(socks.contains(",L1,01,"));
    s.write("a.csv", manifest(&[clean_line("L1"), socks]));
    let (_, findings, dispositions) = validate(&s, &[], &["a.csv"]);
    let d002: Vec<String> = finding_keys(&findings)
        .into_iter()
        .filter(|k| k.contains(",D002,"))
        .collect();
    assert_eq!(
        d002,
        [
            "a.csv,1,DHLX,L1,1,D002,error,",
            "a.csv,2,DHLX,L1,01,D002,error,"
        ],
        "{findings}"
    );
    assert_eq!(routes(&dispositions), [("L1".into(), "hold".into())]);
}

#[test]
fn a_space_after_the_dollar_sign_is_not_a_value() {
    let s = Sandbox::new();
    s.write("job.toml", CANONICAL_JOB);
    s.write(
        "a.csv",
        manifest(&[
            clean_line("S1").replace(",20.00,", ",$ 5,"),
            clean_line("S2").replace(",20.00,", ", $5 ,"),
        ]),
    );
    let (_, findings, dispositions) = validate(&s, &[], &["a.csv"]);
    let v004: Vec<String> = finding_keys(&findings)
        .into_iter()
        .filter(|k| k.contains(",V004,"))
        .collect();
    assert_eq!(
        v004,
        ["a.csv,1,DHLX,S1,1,V004,error,declared_value"],
        "{findings}"
    );
    assert_eq!(
        routes(&dispositions),
        [("S1".into(), "hold".into()), ("S2".into(), "86".into())]
    );
}
