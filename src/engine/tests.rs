//! Rule-by-rule tests of the whole engine: each rule with cases that must fire
//! and cases that must not, the money edges, and the routing order. Every test
//! runs real CSV text through `engine::run` with a policy written out here, so
//! the shipped policy's lists can change without breaking them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::job::Job;
use crate::state::sqlite::SqliteStore;

const POLICY: &str = r#"
threshold_usd = "800"
informal_limit_usd = "2500"
[[regime]]
from = "2016-03-10"
de_minimis = true
basis = "TFTEA"
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
JPY = "0.0067"
[lists]
ports = ["4701", "2720"]
vague_terms = ["gift", "Sample", "general merchandise"]
pga_prefixes = ["02", "3304", "9018"]
restricted_prefixes = ["2203", "2204", "24", "93"]
[pga_agency]
"3304" = "FDA"
[risk]
undervalued_usd_per_kg = { "61" = "2.00", "85" = "5.00" }
"#;

pub const HEADER: &str = "carrier,master_bill,house_bill,line_no,arrival_date,port_of_entry,shipper_name,shipper_country,consignee_name,consignee_address,consignee_city,consignee_state,consignee_zip,description,hts_code,country_of_origin,quantity,declared_value,currency,weight_kg,seller_name";

/// A clean line; tests override fields by name.
#[derive(Clone)]
pub struct Row(pub Vec<(&'static str, String)>);

impl Row {
    pub fn new(house_bill: &str) -> Row {
        let base = [
            ("carrier", "DHLX"),
            ("master_bill", "M1"),
            ("house_bill", house_bill),
            ("line_no", "1"),
            ("arrival_date", "2025-04-01"),
            ("port_of_entry", "4701"),
            ("shipper_name", "Acme Ltd"),
            ("shipper_country", "VN"),
            ("consignee_name", "Jane Doe"),
            ("consignee_address", "12 Main Street"),
            ("consignee_city", "Brooklyn"),
            ("consignee_state", "NY"),
            ("consignee_zip", "11201"),
            ("description", "Cotton T-shirt"),
            ("hts_code", "6109.10.0012"),
            ("country_of_origin", "VN"),
            ("quantity", "1"),
            ("declared_value", "20.00"),
            ("currency", "USD"),
            ("weight_kg", "0.5"),
            ("seller_name", "S1"),
        ];
        Row(base.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    pub fn set(mut self, key: &str, value: &str) -> Row {
        let slot = self
            .0
            .iter_mut()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("no column {key}"));
        slot.1 = value.to_owned();
        self
    }

    /// A different consignee, so rows do not share daily groups by accident.
    pub fn person(self, name: &str) -> Row {
        self.set("consignee_name", name)
    }

    pub fn csv(&self) -> String {
        self.0
            .iter()
            .map(|(_, v)| {
                if v.contains(',') || v.contains('"') {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One finding, reduced to what tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct F {
    pub file: String,
    pub record: String,
    pub house_bill: String,
    pub rule: String,
    pub field: String,
    pub message: String,
}

/// One disposition row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct D {
    pub file: String,
    pub house_bill: String,
    pub total: String,
    pub disposition: String,
    pub reasons: String,
    pub consignee_key: String,
    pub lines: String,
    pub entry_ref: String,
}

pub struct Outcome {
    pub findings: Vec<F>,
    pub dispositions: Vec<D>,
    pub summary: RunSummary,
    pub _dir: tempfile::TempDir,
}

impl Outcome {
    /// Findings of one rule as (house_bill, record, field).
    pub fn of(&self, rule: &str) -> Vec<(String, String, String)> {
        self.findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.house_bill.clone(), f.record.clone(), f.field.clone()))
            .collect()
    }

    /// House bills with a finding of `rule`.
    pub fn bills(&self, rule: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.house_bill.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn route(&self, house_bill: &str) -> (String, String) {
        let d = self
            .dispositions
            .iter()
            .find(|d| d.house_bill == house_bill)
            .unwrap_or_else(|| panic!("no disposition for {house_bill}"));
        (d.disposition.clone(), d.reasons.clone())
    }

    pub fn disposition(&self, house_bill: &str) -> &D {
        self.dispositions
            .iter()
            .find(|d| d.house_bill == house_bill)
            .unwrap()
    }
}

pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Runs the engine over files of rows (each inner Vec one canonical CSV file).
pub fn run_files(files: &[Vec<Row>], history: Option<&Path>) -> Outcome {
    let texts: Vec<String> = files
        .iter()
        .map(|rows| {
            let mut t = String::from(HEADER);
            t.push('\n');
            for r in rows {
                t.push_str(&r.csv());
                t.push('\n');
            }
            t
        })
        .collect();
    run_texts(
        &texts.iter().map(String::as_str).collect::<Vec<_>>(),
        history,
    )
}

/// Runs the engine over raw canonical CSV texts.
pub fn run_texts(texts: &[&str], history: Option<&Path>) -> Outcome {
    run_texts_with(texts, history, POLICY)
}

/// [`run_texts`] under another policy (layered over the shipped default).
pub fn run_texts_with(texts: &[&str], history: Option<&Path>, policy: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let job = Arc::new(
        Job::from_toml(
            "name = \"t\"\n[format]\nkind = \"csv\"\n",
            Path::new("t.toml"),
        )
        .unwrap(),
    );
    let files: Vec<RunFile> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let path = dir.path().join(format!("f{i}.csv"));
            std::fs::write(&path, t).unwrap();
            RunFile {
                name: format!("f{i}.csv"),
                path,
                sha256: None,
                job: job.clone(),
            }
        })
        .collect();
    let policy = Arc::new(crate::policy::Policy::from_toml(policy, "test", None).unwrap());
    let out: PathBuf = dir.path().join("out");
    let mut store = history.map(|p| SqliteStore::open(&p.join("state.db")).unwrap());
    let summary = run(RunRequest {
        run_id: format!("run-{}", uuid::Uuid::now_v7()),
        files,
        policy,
        out_dir: out.clone(),
        history: store
            .as_mut()
            .map(|s| s as &mut dyn crate::state::HistoryStore),
        record_history: true,
        chunk_rows: 3, // several chunks per file even in small tests
        limits: crate::config::LimitsConfig::default(),
    })
    .unwrap();
    let findings = read_csv(&out.join("findings.csv"))
        .into_iter()
        .map(|r| F {
            file: r[0].clone(),
            record: r[1].clone(),
            house_bill: r[3].clone(),
            rule: r[5].clone(),
            field: r[7].clone(),
            message: r[8].clone(),
        })
        .collect();
    let dispositions = read_csv(&out.join("dispositions.csv"))
        .into_iter()
        .map(|r| D {
            file: r[0].clone(),
            house_bill: r[2].clone(),
            consignee_key: r[4].clone(),
            lines: r[5].clone(),
            total: r[6].clone(),
            disposition: r[7].clone(),
            reasons: r[8].clone(),
            entry_ref: r[9].clone(),
        })
        .collect();
    Outcome {
        findings,
        dispositions,
        summary,
        _dir: dir,
    }
}

pub fn run_rows(rows: Vec<Row>) -> Outcome {
    run_files(&[rows], None)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn a_clean_line_before_the_suspension_is_section_321() {
    let o = run_rows(vec![Row::new("H1")]);
    assert!(o.findings.is_empty(), "{:?}", o.findings);
    assert_eq!(o.route("H1"), ("86".into(), "".into()));
    assert_eq!(o.disposition("H1").total, "20.00");
    assert_eq!(
        o.disposition("H1").consignee_key,
        "jane doe|12 main st|11201"
    );
}

#[test]
fn v001_fires_once_per_empty_or_blank_required_field() {
    let o = run_rows(vec![
        Row::new("H1")
            .set("consignee_name", "")
            .set("description", "   "),
        Row::new("H2").set("seller_name", "").set("master_bill", ""),
    ]);
    let mut fields: Vec<String> = o.of("V001").into_iter().map(|(_, _, f)| f).collect();
    fields.sort();
    assert_eq!(fields, s(&["consignee_name", "description"]));
    assert_eq!(
        o.route("H1"),
        ("hold".into(), "V001".into()),
        "warnings (V007) are not reasons to hold"
    );
    assert_eq!(o.route("H2").0, "86", "optional fields may be empty");
    let o = run_rows(vec![Row::new("")]);
    assert_eq!(
        o.of("V001"),
        vec![("".into(), "1".into(), "house_bill".into())]
    );
}

#[test]
fn v002_hts_must_be_ten_digits_after_normalisation() {
    let o = run_rows(vec![
        Row::new("OK1").set("hts_code", "6109.10.0012"),
        Row::new("OK2")
            .set("hts_code", " 6109 10 00-12 ")
            .person("B"),
        Row::new("BAD1").set("hts_code", "6109.10.00").person("C"),
        Row::new("BAD2").set("hts_code", "6109.10.001A").person("D"),
        Row::new("BAD3").set("hts_code", "61091000120").person("E"),
    ]);
    assert_eq!(o.bills("V002"), s(&["BAD1", "BAD2", "BAD3"]));
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "V002" && f.message.contains("'6109.10.00'"))
    );
}

#[test]
fn v003_countries_are_trimmed_upper_cased_iso_codes() {
    let o = run_rows(vec![
        Row::new("OK")
            .set("country_of_origin", " vn ")
            .set("shipper_country", "Vn"),
        Row::new("BAD1").set("country_of_origin", "XX").person("B"),
        Row::new("BAD2").set("shipper_country", "UK").person("C"),
        Row::new("BAD3").set("country_of_origin", "VNM").person("D"),
    ]);
    assert_eq!(o.bills("V003"), s(&["BAD1", "BAD2", "BAD3"]));
    assert_eq!(
        o.of("V003").iter().find(|x| x.0 == "BAD2").unwrap().2,
        "shipper_country"
    );
    assert!(o.bills("R002").is_empty(), "R002 needs both codes valid");
}

#[test]
fn v004_values_parse_as_exact_positive_decimals() {
    let o = run_rows(vec![
        Row::new("OK1")
            .set("declared_value", "$1,234.50")
            .set("weight_kg", "1")
            .person("A"),
        Row::new("OK2").set("declared_value", " 12 ").person("B"),
        Row::new("BAD1").set("declared_value", "0").person("C"),
        Row::new("BAD2").set("declared_value", "-5").person("D"),
        Row::new("BAD3").set("declared_value", "abc").person("E"),
        Row::new("BAD4").set("declared_value", "1e3").person("F"),
    ]);
    assert_eq!(o.bills("V004"), s(&["BAD1", "BAD2", "BAD3", "BAD4"]));
    assert_eq!(o.disposition("OK1").total, "1234.50");
    assert_eq!(
        o.disposition("BAD2").total,
        "0.00",
        "an invalid value adds nothing"
    );
}

#[test]
fn money_beyond_twelve_decimals_compares_exactly_with_the_limits() {
    let o = run_rows(vec![
        Row::new("OVER")
            .set("declared_value", "800.0000000000001")
            .set("weight_kg", "1")
            .person("A"),
        Row::new("UNDER")
            .set("declared_value", "799.99999999999999999")
            .set("weight_kg", "1")
            .person("B"),
        Row::new("TINY")
            .set("declared_value", "0.0000000000000001")
            .person("C"),
        Row::new("FX")
            .set("declared_value", "740.740740740741")
            .set("currency", "EUR")
            .set("weight_kg", "1")
            .person("D"),
    ]);
    assert_eq!(
        o.route("OVER"),
        ("11".into(), "L002;L003".into()),
        "the exact value is above 800"
    );
    assert_eq!(o.route("UNDER").0, "86");
    assert!(
        o.bills("V004").is_empty(),
        "a positive value is above zero, however small"
    );
    assert_eq!(
        o.route("FX"),
        ("11".into(), "L002;L003".into()),
        "740.740740740741 EUR is 800.00000000000028 USD"
    );
}

#[test]
fn v004_refuses_values_too_large_to_add_up() {
    let big = "999,999,999,999,999.99";
    let o = run_rows(vec![
        Row::new("BIG")
            .set("declared_value", big)
            .set("weight_kg", "1"),
        Row::new("BIG")
            .set("declared_value", big)
            .set("line_no", "2")
            .set("weight_kg", "1"),
        Row::new("HUGE")
            .set("declared_value", "1000000000000000")
            .person("B"),
    ]);
    assert_eq!(o.bills("V004"), s(&["HUGE"]));
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "V004" && f.message.contains("is too large")),
        "{:?}",
        o.findings
    );
    assert_eq!(o.disposition("BIG").total, "1999999999999999.98");
    assert_eq!(o.route("BIG"), ("01".into(), "L003".into()));
}

#[test]
fn v005_ports_must_be_listed_four_digit_codes() {
    let o = run_rows(vec![
        Row::new("OK").set("port_of_entry", " 2720 "),
        Row::new("BAD1").set("port_of_entry", "9999").person("B"),
        Row::new("BAD2").set("port_of_entry", "470").person("C"),
    ]);
    assert_eq!(o.bills("V005"), s(&["BAD1", "BAD2"]));
    assert!(
        o.findings
            .iter()
            .any(|f| f.house_bill == "BAD2" && f.message.contains("not a 4-digit"))
    );
}

#[test]
fn v006_dates_must_match_the_job_format() {
    let o = run_rows(vec![
        Row::new("OK").set("arrival_date", "2025-04-01"),
        Row::new("BAD1")
            .set("arrival_date", "04/01/2025")
            .person("B"),
        Row::new("BAD2")
            .set("arrival_date", "2025-02-30")
            .person("C"),
    ]);
    assert_eq!(o.bills("V006"), s(&["BAD1", "BAD2"]));
    assert_eq!(o.route("BAD1").0, "hold");
    assert!(
        o.bills("E001").is_empty(),
        "no regime is looked up for an unparseable date"
    );
}

#[test]
fn v007_vague_or_short_descriptions_warn() {
    let o = run_rows(vec![
        Row::new("OK").set("description", "Cotton T-shirt"),
        Row::new("W1").set("description", "GIFT!").person("B"),
        Row::new("W2").set("description", "sample").person("C"),
        Row::new("W3")
            .set("description", "General  Merchandise")
            .person("D"),
        Row::new("W4").set("description", "ab").person("E"),
        Row::new("OK2").set("description", "gifts").person("F"),
    ]);
    assert_eq!(o.bills("V007"), s(&["W1", "W2", "W3", "W4"]));
    assert_eq!(
        o.route("W1").0,
        "86",
        "a warning does not stop the shipment"
    );
}

#[test]
fn v008_currencies_need_a_rate() {
    let o = run_rows(vec![
        Row::new("USD1").set("currency", ""),
        Row::new("EUR1")
            .set("currency", "eur")
            .set("declared_value", "740.75")
            .set("weight_kg", "1")
            .person("B"),
        Row::new("BAD").set("currency", "XYZ").person("C"),
    ]);
    assert_eq!(o.bills("V008"), s(&["BAD"]));
    assert_eq!(o.disposition("EUR1").total, "800.01");
    assert_eq!(o.disposition("BAD").total, "0.00");
}

#[test]
fn v009_zips_are_five_or_nine_digits() {
    let o = run_rows(vec![
        Row::new("OK1").set("consignee_zip", "11201"),
        Row::new("OK2")
            .set("consignee_zip", "11201-1234")
            .person("B"),
        Row::new("OK3")
            .set("consignee_zip", "112011234")
            .person("C"),
        Row::new("W1").set("consignee_zip", "1120").person("D"),
        Row::new("W2").set("consignee_zip", "11201-12").person("E"),
        Row::new("W3").set("consignee_zip", "").person("F"),
    ]);
    assert_eq!(o.bills("V009"), s(&["W1", "W2", "W3"]));
}

#[test]
fn d001_flags_later_exact_copies_which_add_nothing() {
    let line = Row::new("H1").set("declared_value", "100.00");
    let o = run_rows(vec![
        line.clone(),
        line.clone(),
        Row::new("H1")
            .set("line_no", "2")
            .set("declared_value", "5"),
        line,
    ]);
    assert_eq!(
        o.of("D001"),
        vec![
            ("H1".into(), "2".into(), "".into()),
            ("H1".into(), "4".into(), "".into())
        ]
    );
    assert_eq!(o.disposition("H1").total, "105.00");
    assert_eq!(o.disposition("H1").lines, "4");
    assert!(
        o.of("D002").is_empty(),
        "identical copies are not a conflict"
    );
    assert_eq!(o.route("H1").0, "86");
}

#[test]
fn d002_flags_every_copy_of_a_conflicting_line() {
    let o = run_rows(vec![
        Row::new("H1").set("declared_value", "10"),
        Row::new("H1").set("declared_value", "11"),
        Row::new("H1").set("declared_value", "10"),
        Row::new("H2").set("line_no", "1").person("B"),
        Row::new("H2").set("line_no", "2").person("B"),
    ]);
    assert_eq!(
        o.of("D002").iter().map(|x| x.1.clone()).collect::<Vec<_>>(),
        s(&["1", "2", "3"])
    );
    assert_eq!(o.of("D001"), vec![("H1".into(), "3".into(), "".into())]);
    assert_eq!(o.route("H1"), ("hold".into(), "D002".into()));
    assert_eq!(o.route("H2").0, "86");
}

#[test]
fn line_numbers_compare_as_integers_in_d001_and_d002() {
    // 1 and 01 are one line: with different content, a conflict ...
    let o = run_rows(vec![
        Row::new("H1"),
        Row::new("H1")
            .set("line_no", "01")
            .set("description", "Cotton socks"),
    ]);
    assert_eq!(
        o.of("D002").iter().map(|x| x.1.clone()).collect::<Vec<_>>(),
        s(&["1", "2"])
    );
    assert_eq!(o.route("H1"), ("hold".into(), "D002".into()));
    // ... and with the same content, a copy.
    let o = run_rows(vec![Row::new("H1"), Row::new("H1").set("line_no", " 001")]);
    assert!(o.of("D002").is_empty(), "{:?}", o.findings);
    assert_eq!(o.of("D001"), vec![("H1".into(), "2".into(), "".into())]);
    assert_eq!(o.disposition("H1").total, "20.00", "the copy counts once");
    // A line number that is not an integer compares as text.
    let o = run_rows(vec![
        Row::new("H1"),
        Row::new("H1")
            .set("line_no", "1.0")
            .set("description", "Cotton socks"),
    ]);
    assert!(
        o.of("D002").is_empty() && o.of("D001").is_empty(),
        "{:?}",
        o.findings
    );
}

#[test]
fn d003_repeats_across_files_and_history() {
    let o = run_files(
        &[
            vec![Row::new("H1")],
            vec![Row::new("H1"), Row::new("H2").person("B")],
        ],
        None,
    );
    assert_eq!(o.of("D003"), vec![("H1".into(), "1".into(), "".into())]);
    let repeat = o
        .dispositions
        .iter()
        .find(|d| d.file == "f1.csv" && d.house_bill == "H1")
        .unwrap();
    assert_eq!(
        (repeat.disposition.as_str(), repeat.reasons.as_str()),
        ("duplicate", "D003")
    );
    let first = o
        .dispositions
        .iter()
        .find(|d| d.file == "f0.csv" && d.house_bill == "H1")
        .unwrap();
    assert_eq!(first.disposition, "86");
    // The same house bill of another carrier is another shipment.
    let o = run_files(
        &[
            vec![Row::new("H1")],
            vec![Row::new("H1").set("carrier", "UPSN")],
        ],
        None,
    );
    assert!(o.of("D003").is_empty());

    let history = tempfile::tempdir().unwrap();
    run_files(&[vec![Row::new("H1")]], Some(history.path()));
    let o = run_files(
        &[vec![
            Row::new("H1").set("master_bill", "resent"),
            Row::new("H3").person("C"),
        ]],
        Some(history.path()),
    );
    assert_eq!(o.bills("D003"), s(&["H1"]));
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "D003" && f.message.contains("already came in file f0.csv (run "))
    );
    // Re-validating the very same bytes does not find itself in history.
    let again = run_files(&[vec![Row::new("H1")]], Some(history.path()));
    assert!(again.of("D003").is_empty(), "{:?}", again.findings);
}

#[test]
fn history_from_a_file_is_ignored_only_for_that_file() {
    let history = tempfile::tempdir().unwrap();
    let a = vec![Row::new("H1")];
    let b = vec![Row::new("H1").set("declared_value", "11.00")];
    run_files(std::slice::from_ref(&a), Some(history.path()));
    // A new file with H1, then the first file again: the new file's H1 came
    // in an earlier run; the first file's copy follows it in this run.
    let o = run_files(&[b.clone(), a.clone()], Some(history.path()));
    let d003: Vec<(String, String)> = o
        .findings
        .iter()
        .filter(|f| f.rule == "D003")
        .map(|f| (f.file.clone(), f.message.clone()))
        .collect();
    assert_eq!(d003.len(), 2, "{d003:?}");
    assert!(
        d003[0].0 == "f0.csv" && d003[0].1.contains("already came in file f0.csv (run "),
        "{d003:?}"
    );
    assert!(
        d003[1].0 == "f1.csv" && d003[1].1.contains("in file f0.csv earlier in this run"),
        "{d003:?}"
    );
    assert!(
        o.dispositions.iter().all(|d| d.disposition == "duplicate"),
        "{:?}",
        o.dispositions
    );
    // The first file again, then a new file repeating its H1: only the repeat is D003.
    let o = run_files(&[a.clone(), b.clone()], Some(history.path()));
    let routes: Vec<(&str, &str)> = o
        .dispositions
        .iter()
        .map(|d| (d.file.as_str(), d.disposition.as_str()))
        .collect();
    assert_eq!(routes, [("f0.csv", "86"), ("f1.csv", "duplicate")]);
    // The first file alone is as it was the first time.
    let o = run_files(&[a], Some(history.path()));
    assert!(o.findings.is_empty(), "{:?}", o.findings);
    assert_eq!(o.route("H1").0, "86");
}

#[test]
fn a_file_validated_again_counts_once_in_its_daily_group() {
    let history = tempfile::tempdir().unwrap();
    let a = vec![
        Row::new("H1")
            .set("declared_value", "500")
            .set("weight_kg", "1"),
    ];
    run_files(std::slice::from_ref(&a), Some(history.path()));
    // H1 counts once, from the copy of its file in the run: 500 + 300 is not over.
    let o = run_files(
        &[
            a.clone(),
            vec![
                Row::new("H2")
                    .set("declared_value", "300")
                    .set("weight_kg", "1"),
            ],
        ],
        Some(history.path()),
    );
    assert_eq!(o.bills("L001"), s(&["H1", "H2"]));
    assert!(o.bills("L002").is_empty(), "{:?}", o.findings);
    // ... and from history for a file that is not that copy: 500 + 300.01 is over.
    let o = run_files(
        &[vec![
            Row::new("H3")
                .set("declared_value", "300.01")
                .set("weight_kg", "1"),
        ]],
        Some(history.path()),
    );
    assert_eq!(o.bills("L002"), s(&["H3"]), "{:?}", o.findings);
    // A repeat of H1 in another file counts once too, as first seen.
    let history = tempfile::tempdir().unwrap();
    run_files(std::slice::from_ref(&a), Some(history.path()));
    let o = run_files(
        &[
            vec![
                Row::new("H1")
                    .set("declared_value", "900")
                    .set("weight_kg", "1")
                    .set("master_bill", "again"),
            ],
            a,
        ],
        Some(history.path()),
    );
    assert!(
        o.bills("L002").is_empty(),
        "H1 is 500 as first seen: {:?}",
        o.findings
    );
    assert_eq!(
        o.bills("L003"),
        s(&["H1"]),
        "the repeat's own total is its own"
    );
    assert!(
        o.dispositions.iter().all(|d| d.disposition == "duplicate"),
        "{:?}",
        o.dispositions
    );
}

#[test]
fn d004_same_line_on_two_house_bills_of_one_consignee_day() {
    let o = run_rows(vec![
        Row::new("H1")
            .set("declared_value", "$50.00")
            .set("description", "Wireless earbuds")
            .set("hts_code", "8518.30.2000")
            .set("weight_kg", "1"),
        Row::new("H2")
            .set("declared_value", "50")
            .set("description", "WIRELESS  earbuds!")
            .set("hts_code", "8518302000")
            .set("consignee_address", "12 Main St.")
            .set("weight_kg", "1"),
        Row::new("H3")
            .set("declared_value", "50.01")
            .set("description", "Wireless earbuds")
            .set("hts_code", "8518.30.2000")
            .set("weight_kg", "1"),
        Row::new("H4")
            .set("declared_value", "50")
            .set("description", "Wireless earbuds")
            .set("hts_code", "8518.30.2000")
            .set("arrival_date", "2025-04-02")
            .set("weight_kg", "1"),
    ]);
    assert_eq!(o.bills("D004"), s(&["H1", "H2"]));
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "D004" && f.message.contains("H1, H2"))
    );
}

#[test]
fn d004_takes_a_repeated_house_bill_once_as_first_seen() {
    let mug = |hb: &str| {
        Row::new(hb)
            .set("description", "Mug")
            .set("hts_code", "6912.00.4400")
            .set("declared_value", "20")
    };
    // J2 first came with a mug; the shirt of its repeat is not J2's line.
    let o = run_files(
        &[vec![Row::new("J1"), mug("J2")], vec![Row::new("J2")]],
        None,
    );
    assert!(o.of("D004").is_empty(), "{:?}", o.findings);
    assert_eq!(o.of("D003"), vec![("J2".into(), "1".into(), "".into())]);
    // J2 first came for another consignee: the repeat's consignee is not J2's.
    let o = run_files(
        &[
            vec![Row::new("J1"), mug("J2").person("Bob")],
            vec![Row::new("J2")],
        ],
        None,
    );
    assert!(o.of("D004").is_empty(), "{:?}", o.findings);
    // ... nor is the repeat's day.
    let o = run_files(
        &[
            vec![
                Row::new("J1"),
                Row::new("J2").set("arrival_date", "2025-04-02"),
            ],
            vec![Row::new("J2")],
        ],
        None,
    );
    assert!(o.of("D004").is_empty(), "{:?}", o.findings);
    // A match as first seen is flagged, on the repeat too, with the first-seen day.
    let o = run_files(
        &[
            vec![Row::new("J1"), Row::new("J2")],
            vec![
                Row::new("J2")
                    .set("arrival_date", "2025-04-05")
                    .person("Bob"),
            ],
        ],
        None,
    );
    let mut d004: Vec<(String, String)> = o
        .findings
        .iter()
        .filter(|f| f.rule == "D004")
        .map(|f| (f.file.clone(), f.house_bill.clone()))
        .collect();
    d004.sort();
    assert_eq!(
        d004,
        [
            ("f0.csv".into(), "J1".into()),
            ("f0.csv".into(), "J2".into()),
            ("f1.csv".into(), "J2".into())
        ]
    );
    assert!(
        o.findings
            .iter()
            .filter(|f| f.rule == "D004")
            .all(|f| f.message.contains("J1, J2 of one consignee on 2025-04-01"))
    );
    assert_eq!(
        o.dispositions
            .iter()
            .find(|d| d.file == "f1.csv")
            .unwrap()
            .disposition,
        "duplicate"
    );
    // A house bill first seen in an earlier run takes no part: history keeps no lines.
    let history = tempfile::tempdir().unwrap();
    run_files(&[vec![mug("J1")]], Some(history.path()));
    let o = run_files(
        &[vec![Row::new("J1"), Row::new("J2")]],
        Some(history.path()),
    );
    assert_eq!(o.bills("D003"), s(&["J1"]));
    assert!(o.of("D004").is_empty(), "{:?}", o.findings);
}

#[test]
fn l001_l002_aggregate_one_person_one_day_across_spellings() {
    // 799.99 + 0.01 is exactly 800.00: not over.
    let o = run_rows(vec![
        Row::new("H1")
            .set("declared_value", "799.99")
            .set("weight_kg", "1"),
        Row::new("H2")
            .set("declared_value", "0.01")
            .set("consignee_name", "JANE  DOE")
            .set("consignee_address", "12 Main St.")
            .set("consignee_zip", "11201-9999")
            .set("weight_kg", "0.001"),
        Row::new("H3").person("Someone Else"),
    ]);
    assert_eq!(o.bills("L001"), s(&["H1", "H2"]));
    assert!(o.bills("L002").is_empty());
    assert_eq!(o.route("H1").0, "86");
    // 800.01 is over: every house bill of the group is flagged and none is 86.
    let o = run_rows(vec![
        Row::new("H1")
            .set("declared_value", "799.99")
            .set("weight_kg", "1"),
        Row::new("H2")
            .set("declared_value", "0.02")
            .set("consignee_name", "ＪＡＮＥ ＤＯＥ")
            .set("weight_kg", "0.001"),
    ]);
    assert_eq!(o.bills("L002"), s(&["H1", "H2"]));
    assert_eq!(o.route("H1"), ("11".into(), "L002".into()));
    assert_eq!(o.route("H2"), ("11".into(), "L002".into()));
}

#[test]
fn l001_l002_see_history_and_count_repeats_once() {
    let history = tempfile::tempdir().unwrap();
    run_files(
        &[vec![
            Row::new("H1")
                .set("declared_value", "500")
                .set("weight_kg", "1"),
        ]],
        Some(history.path()),
    );
    let o = run_files(
        &[vec![
            Row::new("H1")
                .set("declared_value", "500")
                .set("weight_kg", "1")
                .set("master_bill", "again"),
            Row::new("H2")
                .set("declared_value", "300")
                .set("weight_kg", "1"),
        ]],
        Some(history.path()),
    );
    assert_eq!(o.bills("L001"), s(&["H1", "H2"]));
    assert!(
        o.bills("L002").is_empty(),
        "H1 counts once: 500 + 300 is not over 800"
    );
    let o = run_files(
        &[vec![
            Row::new("H9")
                .set("declared_value", "300.01")
                .set("weight_kg", "1"),
        ]],
        Some(history.path()),
    );
    assert_eq!(
        o.bills("L002"),
        s(&["H9"]),
        "500 (history) + 300 (history) + 300.01 is over"
    );
}

#[test]
fn l003_and_the_informal_limit() {
    let o = run_rows(vec![
        Row::new("AT")
            .set("declared_value", "800.00")
            .set("weight_kg", "1"),
        Row::new("OVER")
            .set("declared_value", "800.01")
            .set("weight_kg", "1")
            .person("B"),
        Row::new("FORMAL")
            .set("declared_value", "2500.01")
            .set("weight_kg", "1")
            .person("C"),
        Row::new("EDGE")
            .set("declared_value", "2500.00")
            .set("weight_kg", "1")
            .person("D"),
    ]);
    assert_eq!(o.bills("L003"), s(&["EDGE", "FORMAL", "OVER"]));
    assert_eq!(o.route("AT").0, "86");
    // One house bill over the threshold also puts its consignee-day over it.
    assert_eq!(o.route("OVER"), ("11".into(), "L002;L003".into()));
    assert_eq!(o.route("EDGE"), ("11".into(), "L002;L003".into()));
    assert_eq!(o.route("FORMAL"), ("01".into(), "L003".into()));
}

#[test]
fn e001_follows_the_regime_timeline() {
    let o = run_rows(vec![
        Row::new("CN_BEFORE")
            .set("country_of_origin", "CN")
            .set("arrival_date", "2025-05-01"),
        Row::new("CN_AFTER")
            .set("country_of_origin", "cn")
            .set("arrival_date", "2025-05-02")
            .person("B"),
        Row::new("HK_AFTER")
            .set("country_of_origin", "HK")
            .set("arrival_date", "2025-06-01")
            .person("C"),
        Row::new("VN_MAY")
            .set("arrival_date", "2025-08-28")
            .person("D"),
        Row::new("VN_SEPT")
            .set("arrival_date", "2025-08-29")
            .person("E"),
        Row::new("ANCIENT")
            .set("arrival_date", "2016-03-09")
            .person("F"),
    ]);
    assert_eq!(
        o.bills("E001"),
        s(&["ANCIENT", "CN_AFTER", "HK_AFTER", "VN_SEPT"])
    );
    assert_eq!(o.route("CN_BEFORE").0, "86");
    assert_eq!(o.route("CN_AFTER"), ("11".into(), "E001".into()));
    assert_eq!(o.route("VN_SEPT"), ("11".into(), "E001".into()));
    let f = o
        .findings
        .iter()
        .find(|f| f.house_bill == "CN_AFTER" && f.rule == "E001")
        .unwrap();
    assert_eq!(f.field, "country_of_origin");
    assert!(f.message.contains("EO 14256"), "{}", f.message);
    let f = o
        .findings
        .iter()
        .find(|f| f.house_bill == "VN_SEPT" && f.rule == "E001")
        .unwrap();
    assert_eq!(f.field, "arrival_date");
}

#[test]
fn e002_e003_prefixes_and_the_formal_route() {
    let o = run_rows(vec![
        Row::new("PGA").set("hts_code", "3304.99.5000"),
        Row::new("WINE").set("hts_code", "2204.21.5000").person("B"),
        Row::new("TOBACCO")
            .set("hts_code", "2402.20.8000")
            .person("C"),
        Row::new("NEAR").set("hts_code", "2209.00.0000").person("D"),
    ]);
    assert_eq!(o.bills("E002"), s(&["PGA"]));
    assert_eq!(o.bills("E003"), s(&["TOBACCO", "WINE"]));
    assert_eq!(o.route("PGA").0, "86");
    assert_eq!(o.route("WINE"), ("01".into(), "E003".into()));
    assert!(
        o.findings
            .iter()
            .any(|f| f.rule == "E002" && f.message.contains("3304 (FDA)"))
    );
}

#[test]
fn r001_value_per_kg_below_the_chapter_floor() {
    let o = run_rows(vec![
        Row::new("LOW")
            .set("declared_value", "1.99")
            .set("weight_kg", "1"),
        Row::new("AT")
            .set("declared_value", "2.00")
            .set("weight_kg", "1")
            .person("B"),
        Row::new("EUR")
            .set("declared_value", "1.85")
            .set("currency", "EUR")
            .set("weight_kg", "1")
            .person("C"),
        Row::new("NOFLOOR")
            .set("hts_code", "9503.00.0073")
            .set("declared_value", "0.01")
            .set("weight_kg", "5")
            .person("D"),
        Row::new("NOWEIGHT")
            .set("declared_value", "0.01")
            .set("weight_kg", "")
            .person("E"),
    ]);
    assert_eq!(
        o.bills("R001"),
        s(&["EUR", "LOW"]),
        "EUR 1.85 * 1.08 = 1.998 < 2.00"
    );
}

#[test]
fn r002_shipper_country_differs_from_origin() {
    let o = run_rows(vec![
        Row::new("SAME"),
        Row::new("DIFF").set("shipper_country", "hk").person("B"),
    ]);
    assert_eq!(o.bills("R002"), s(&["DIFF"]));
    assert_eq!(o.route("DIFF").0, "86");
}

#[test]
fn routing_takes_the_first_that_applies() {
    let o = run_files(
        &[
            vec![Row::new("DUP").person("Z")],
            vec![
                // error beats everything
                Row::new("HOLD")
                    .set("hts_code", "2204.21.5000")
                    .set("declared_value", "9000")
                    .set("hts_code", "bad")
                    .person("A"),
                // duplicate beats 01
                Row::new("DUP").set("hts_code", "2204.21.5000").person("Z"),
                // 01: restricted and over the informal limit
                Row::new("FORMAL")
                    .set("hts_code", "2204.21.5000")
                    .set("declared_value", "3000")
                    .person("B"),
                // 11: de minimis unavailable and over the threshold
                Row::new("INFORMAL")
                    .set("country_of_origin", "CN")
                    .set("shipper_country", "CN")
                    .set("arrival_date", "2025-06-01")
                    .set("declared_value", "900")
                    .person("C"),
            ],
        ],
        None,
    );
    assert_eq!(o.route("HOLD"), ("hold".into(), "V002".into()));
    let dup = o
        .dispositions
        .iter()
        .find(|d| d.file == "f1.csv" && d.house_bill == "DUP")
        .unwrap();
    assert_eq!(
        (dup.disposition.as_str(), dup.reasons.as_str()),
        ("duplicate", "D003")
    );
    assert_eq!(
        o.route("FORMAL"),
        ("01".into(), "L003;E003".into()),
        "reasons in contract table order"
    );
    assert_eq!(o.route("INFORMAL"), ("11".into(), "L002;L003;E001".into()));
}

#[test]
fn file_level_errors_hold_every_shipment_and_malformed_rows_do_not_stop_the_rest() {
    let text = format!(
        "{HEADER}\n{}\nDHLX,broken\n{}\n",
        Row::new("H1").csv(),
        Row::new("H2").person("B").csv()
    );
    let o = run_texts(&[&text, ""], None);
    assert_eq!(o.of("F003"), vec![("".into(), "2".into(), "".into())]);
    assert_eq!(o.route("H1").0, "86");
    assert_eq!(o.route("H2").0, "86");
    assert_eq!(
        o.findings
            .iter()
            .filter(|f| f.rule == "F001")
            .map(|f| f.file.clone())
            .collect::<Vec<_>>(),
        s(&["f1.csv"])
    );
    assert_eq!(o.summary.unreadable_files().count(), 1);

    let missing = "carrier,house_bill,line_no\nDHLX,H1,1\n";
    let dir = tempfile::tempdir().unwrap();
    let job = Arc::new(
        Job::from_toml(
            "name = \"t\"\n[format]\nkind = \"csv\"\n[format.columns]\nhts_code = \"HS\"\n",
            Path::new("t.toml"),
        )
        .unwrap(),
    );
    let path = dir.path().join("m.csv");
    std::fs::write(&path, missing).unwrap();
    let summary = run(RunRequest {
        run_id: "r".into(),
        files: vec![RunFile {
            name: "m.csv".into(),
            path,
            sha256: None,
            job,
        }],
        policy: Arc::new(crate::policy::Policy::from_toml(POLICY, "test", None).unwrap()),
        out_dir: dir.path().join("out"),
        history: None,
        record_history: true,
        chunk_rows: 10,
        limits: crate::config::LimitsConfig::default(),
    })
    .unwrap();
    assert_eq!(summary.findings_by_rule.get(&Rule::F002), Some(&1));
    let d = read_csv(&dir.path().join("out/dispositions.csv"));
    assert_eq!(d[0][7], "hold");
    assert!(d[0][8].starts_with("F002;V001"), "{:?}", d[0]);
}

#[test]
fn outputs_have_the_contract_columns() {
    let o = run_rows(vec![Row::new("H1").set("hts_code", "x")]);
    let out = o._dir.path().join("out");
    let header = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        header("findings.csv"),
        "source_file,record,carrier,house_bill,line_no,rule,severity,field,message"
    );
    assert_eq!(
        header("dispositions.csv"),
        "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons,entry_ref"
    );
    let parquet = polars::prelude::ParquetReader::new(
        std::fs::File::open(out.join("findings.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    assert_eq!(parquet.height(), o.findings.len());
    assert_eq!(
        parquet
            .get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        [
            "source_file",
            "record",
            "carrier",
            "house_bill",
            "line_no",
            "rule",
            "severity",
            "field",
            "message"
        ]
    );
    assert!(
        !out.read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );
}

#[test]
fn d004_names_at_most_ten_bills_however_large_the_group() {
    let rows: Vec<Row> = (0..12).map(|i| Row::new(&format!("H{i:02}"))).collect();
    let o = run_rows(rows);
    assert_eq!(o.bills("D004").len(), 12);
    let m = &o
        .findings
        .iter()
        .find(|f| f.rule == "D004")
        .unwrap()
        .message;
    assert!(m.starts_with("house bills H00, H01, H02, H03, H04, H05, H06, H07, H08, H09 and 2 more of one consignee"), "{m}");
}
