//! Contract v2 end to end through `engine::run`: entries (section 8), the duty
//! estimate (section 9), E004, V010, T001, T002 and V002 against the HTS
//! revision in force. Every case runs real CSV text under a policy written
//! here, with the real USITC 2026 Rev 4 file the repository ships.

use super::tests::{D, Outcome, Row, read_csv, run_rows, run_texts_with};

/// A v2 policy (layered over the shipped default's v1 keys). Figures are the
/// real FY2026 MPF and HMF; the layers are a small, real subset.
fn policy() -> String {
    let hts = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/hts-2026-rev4.csv");
    format!(
        r#"
[lists]
adcvd_prefixes = ["9403.60.80"]
[entries]
over_limit = "split_by_bill"
[duty]
reviewed_through = "2026-09-30"
column2_origins = ["CU", "KP", "RU", "BY"]
[[duty.hts]]
from = "2026-01-01"
file = "{hts}"
[[duty.layer]]
heading = "9903.88.03"
program = "301"
rate = "25%"
origins = ["CN"]
hts = ["8504"]
from = "2018-09-24"
[[duty.layer]]
heading = "9903.81.91"
program = "232"
rate = "50%"
hts = ["7323.93"]
from = "2025-06-04"
[[duty.layer]]
heading = "9903.03.01"
program = "122"
rate = "10%"
exclude_origins = ["CA", "MX"]
from = "2026-02-24"
to = "2026-07-24"
not_with = ["232"]
[fees]
hmf_rate = "0.125%"
informal_exempt_ports = ["2720"]
[[fees.mpf]]
from = "2025-10-01"
to = "2026-10-01"
informal_usd = "2.69"
formal_rate = "0.3464%"
formal_min_usd = "33.58"
formal_max_usd = "651.50"
"#
    )
}

/// A post-suspension line on flight DHL123 with an EIN importer of record.
fn row(house_bill: &str, person: &str, value: &str) -> Row {
    Row::new(house_bill)
        .person(person)
        .set("arrival_date", "2026-08-03")
        .set("declared_value", value)
        .with("conveyance", "DHL123")
        .with("ior_number", "12-345678900")
        .with("transport_mode", "")
        .with("special_program", "")
        .with("checkout_duty_usd", "")
}

impl Row {
    /// Sets a column, adding it (after the v1 columns) when the row lacks it.
    fn with(mut self, key: &'static str, value: &str) -> Row {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.0.push((key, value.to_owned())),
        }
        self
    }
}

fn texts(files: &[Vec<Row>]) -> Vec<String> {
    files
        .iter()
        .map(|rows| {
            let header: Vec<&str> = rows[0].0.iter().map(|(k, _)| *k).collect();
            let mut t = header.join(",");
            t.push('\n');
            for r in rows {
                t.push_str(&r.csv());
                t.push('\n');
            }
            t
        })
        .collect()
}

fn run_v2(rows: Vec<Row>) -> Outcome {
    let t = texts(&[rows]);
    run_texts_with(&[t[0].as_str()], None, &policy())
}

/// `entries.csv` rows as maps from column to value.
fn entries(o: &Outcome) -> Vec<std::collections::BTreeMap<String, String>> {
    table(o, "entries.csv")
}

fn entry_lines(o: &Outcome) -> Vec<std::collections::BTreeMap<String, String>> {
    table(o, "entry_lines.csv")
}

fn table(o: &Outcome, name: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let path = o._dir.path().join("out").join(name);
    let header: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    read_csv(&path)
        .into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

fn refs(o: &Outcome) -> Vec<(String, String, String)> {
    o.dispositions
        .iter()
        .map(
            |D {
                 house_bill,
                 disposition,
                 entry_ref,
                 ..
             }| (house_bill.clone(), disposition.clone(), entry_ref.clone()),
        )
        .collect()
}

fn t(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn one_entry_per_conveyance_per_consignee_with_its_duty_and_fee() {
    let o = run_v2(vec![
        row("H1", "Ana Silva", "100.00"),
        row("H2", "Bob Ray", "50.00"),
        row("H3", "ANA  SILVA", "200.00"),
        row("H4", "Ana Silva", "10.00").with("conveyance", "DHL999"),
    ]);
    assert_eq!(
        refs(&o),
        t(&[
            ("H1", "11", "R000001"),
            ("H2", "11", "R000002"),
            ("H3", "11", "R000001"),
            ("H4", "11", "R000003")
        ])
    );
    let e = entries(&o);
    assert_eq!(e.len(), 3);
    let first = &e[0];
    assert_eq!(first["house_bills"], "H1;H3");
    assert_eq!(first["basis"], "141.51");
    assert_eq!(first["conveyance"], "DHL123");
    assert_eq!(first["ior_number"], "12-345678900");
    assert_eq!(first["lines"], "2");
    assert_eq!(first["entered_value_usd"], "300.00");
    // 6109.10.00.12 inherits 16.5% from 6109.10.00: 16.50 + 33.00; MPF informal FY2026.
    assert_eq!(
        (
            first["duty_usd"].as_str(),
            first["mpf_usd"].as_str(),
            first["hmf_usd"].as_str()
        ),
        ("49.50", "2.69", "0.00")
    );
    assert_eq!(
        (first["total_usd"].as_str(), first["duty_status"].as_str()),
        ("52.19", "known")
    );
    assert!(
        first["rates_as_of"].contains("hts-2026-rev4.csv")
            && first["rates_as_of"].contains("2026-09-30"),
        "{}",
        first["rates_as_of"]
    );
    let lines = entry_lines(&o);
    assert_eq!(lines.len(), 4);
    let l = &lines[0];
    assert_eq!(
        (
            l["entry_ref"].as_str(),
            l["hts_code"].as_str(),
            l["rate_column"].as_str(),
            l["rate"].as_str(),
            l["hts_duty_usd"].as_str()
        ),
        ("R000001", "6109100012", "general", "16.5%", "16.50")
    );
    assert_eq!(
        (
            l["duty_usd"].as_str(),
            l["duty_status"].as_str(),
            l["ch99"].as_str()
        ),
        ("16.50", "known", "")
    );
    assert!(o.bills("V010").is_empty() && o.bills("T001").is_empty());
    assert_eq!(o.summary.entries.by_type.get("11"), Some(&3));
}

#[test]
fn above_the_informal_limit_separate_bills_make_separate_entries() {
    let o = run_v2(vec![
        row("H1", "Ana", "2000.00"),
        row("H2", "Ana", "1500.00"),
        row("H3", "Ana", "900.00"),
        row("H4", "Ana", "3000.00"),
    ]);
    // First-fit decreasing: H4 alone (01), then [H1], [H2, H3].
    assert_eq!(
        refs(&o),
        t(&[
            ("H1", "11", "R000001"),
            ("H2", "11", "R000002"),
            ("H3", "11", "R000002"),
            ("H4", "01", "R000003")
        ])
    );
    let e = entries(&o);
    assert!(e.iter().all(|e| e["basis"] == "141.52(e)"));
    assert_eq!(e[2]["entry_type"], "01");
    // 3000 x 0.3464% = 10.39, below the FY2026 minimum.
    assert_eq!(e[2]["mpf_usd"], "33.58");
    assert_eq!(e[1]["entered_value_usd"], "2400.00");
}

#[test]
fn formal_over_limit_keeps_the_group_on_one_formal_entry() {
    let t2 = texts(&[vec![
        row("H1", "Ana", "2000.00"),
        row("H2", "Ana", "1500.00"),
    ]]);
    let o = run_texts_with(
        &[t2[0].as_str()],
        None,
        &policy().replace("\"split_by_bill\"", "\"formal\""),
    );
    assert_eq!(
        refs(&o),
        t(&[("H1", "01", "R000001"), ("H2", "01", "R000001")])
    );
    let e = entries(&o);
    assert_eq!(
        (e[0]["basis"].as_str(), e[0]["house_bills"].as_str()),
        ("141.51", "H1;H2")
    );
    // 3500 x 0.3464% = 12.124 -> 12.12, clamped up to 33.58.
    assert_eq!(e[0]["mpf_usd"], "33.58");
}

#[test]
fn e004_routes_to_a_type_03_entry_of_its_own() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00"),
        row("H2", "Ana", "300.00")
            .set("hts_code", "9403.60.8093")
            .set("description", "Wooden cabinet")
            .set("country_of_origin", "CN"),
    ]);
    assert_eq!(
        refs(&o),
        t(&[("H1", "11", "R000001"), ("H2", "03", "R000002")])
    );
    assert_eq!(o.route("H2").1, "E004");
    let e004 = o.findings.iter().find(|f| f.rule == "E004").unwrap();
    assert_eq!(
        (e004.house_bill.as_str(), e004.field.as_str()),
        ("H2", "hts_code")
    );
    assert!(
        e004.message.contains("9403608093") && e004.message.contains("type 03"),
        "{}",
        e004.message
    );
    let e = entries(&o);
    assert_eq!(
        (
            e[1]["entry_type"].as_str(),
            e[1]["basis"].as_str(),
            e[1]["mpf_usd"].as_str()
        ),
        ("03", "141.52(e)", "33.58")
    );
}

#[test]
fn v010_fires_on_entered_shipments_without_a_valid_ior_only() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00").with("ior_number", ""),
        row("H2", "Bob", "100.00").with("ior_number", "12345"),
        row("H3", "Cy", "100.00").with("ior_number", "123-45-6789"),
        row("H4", "Di", "100.00").with("ior_number", "251203-00042"),
        // Before the suspension and below the threshold: type 86, no entry, no V010.
        row("H5", "Ed", "100.00")
            .with("ior_number", "")
            .set("arrival_date", "2025-04-01"),
    ]);
    assert_eq!(o.bills("V010"), ["H1", "H2"]);
    let msg = |hb: &str| {
        o.findings
            .iter()
            .find(|f| f.rule == "V010" && f.house_bill == hb)
            .unwrap()
            .message
            .clone()
    };
    assert!(msg("H1").contains("no ior_number"), "{}", msg("H1"));
    assert!(msg("H2").contains("'12345'"), "{}", msg("H2"));
    assert_eq!(o.route("H5").0, "86");
    assert_eq!(o.disposition("H5").entry_ref, "");
    let e = entries(&o);
    assert_eq!(
        (e[0]["ior_number"].as_str(), e[2]["ior_number"].as_str()),
        ("", "123-45-6789")
    );
    assert_eq!(o.summary.entries.without_ior, 2);
}

#[test]
fn t001_when_a_specific_rate_lacks_its_quantity_and_the_entry_total_is_empty() {
    let wine = |hb: &str, qty: &str| {
        row(hb, "Ana", "40.00")
            .set("hts_code", "2204.21.5040")
            .set("description", "Red wine")
            .set("country_of_origin", "FR")
            .set("quantity", qty)
    };
    let o = run_v2(vec![wine("H1", "10"), wine("H2", "")]);
    // 6.3 cents per liter x 10 liters.
    let lines = entry_lines(&o);
    assert_eq!(
        (
            lines[0]["rate"].as_str(),
            lines[0]["hts_duty_usd"].as_str(),
            lines[0]["duty_status"].as_str()
        ),
        ("6.3¢/liter", "0.63", "known")
    );
    assert_eq!(lines[1]["duty_usd"], "");
    assert!(
        lines[1]["duty_status"].starts_with("unknown: "),
        "{}",
        lines[1]["duty_status"]
    );
    let t001: Vec<_> = o.findings.iter().filter(|f| f.rule == "T001").collect();
    assert_eq!(t001.len(), 1);
    assert_eq!(
        (t001[0].house_bill.as_str(), t001[0].record.as_str()),
        ("H2", "2")
    );
    assert!(t001[0].message.contains("quantity"), "{}", t001[0].message);
    let e = entries(&o);
    assert_eq!(
        (e[0]["duty_status"].as_str(), e[0]["duty_usd"].as_str()),
        ("known", "0.63")
    );
    assert_eq!(
        (
            e[1]["duty_status"].as_str(),
            e[1]["duty_usd"].as_str(),
            e[1]["total_usd"].as_str()
        ),
        ("unknown", "", "")
    );
    // The fee is still known.
    assert_eq!(e[1]["mpf_usd"], "33.58");
}

#[test]
fn t002_counts_lines_after_the_review_date_and_a_year_without_fees_is_unknown() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00").set("arrival_date", "2026-10-05"),
        row("H2", "Bob", "100.00"),
    ]);
    let t002: Vec<_> = o.findings.iter().filter(|f| f.rule == "T002").collect();
    assert_eq!(t002.len(), 1);
    assert!(
        t002[0]
            .message
            .starts_with("1 line(s) arrive after duty.reviewed_through 2026-09-30"),
        "{}",
        t002[0].message
    );
    assert_eq!(
        (t002[0].record.as_str(), t002[0].house_bill.as_str()),
        ("", "")
    );
    let e = entries(&o);
    // FY2027 has no [[fees.mpf]] row: the fee is unknown, never FY2026's.
    assert_eq!(
        (
            e[0]["duty_usd"].as_str(),
            e[0]["mpf_usd"].as_str(),
            e[0]["duty_status"].as_str()
        ),
        ("16.50", "", "unknown")
    );
    assert_eq!(e[0]["total_usd"], "");
    assert_eq!(e[1]["mpf_usd"], "2.69");
}

#[test]
fn v002_checks_the_revision_in_force_on_the_arrival_date() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00").set("hts_code", "6109.10.0099"),
        // Before the only revision: the 10-digit shape alone decides, and the duty is unknown.
        row("H2", "Bob", "100.00")
            .set("hts_code", "6109.10.0099")
            .set("arrival_date", "2025-12-01"),
        // An 8-digit row with a unit and no 10-digit rows is in the revision with "00".
        row("H3", "Cy", "100.00")
            .set("hts_code", "2716.00.0000")
            .set("description", "Electrical energy"),
    ]);
    assert_eq!(o.bills("V002"), ["H1"]);
    let m = &o
        .findings
        .iter()
        .find(|f| f.rule == "V002")
        .unwrap()
        .message;
    assert!(
        m.contains("is not in the HTS revision in force on 2026-08-03")
            && m.contains("hts-2026-rev4.csv"),
        "{m}"
    );
    assert_eq!(o.route("H1").0, "hold");
    assert_eq!(o.route("H2").0, "11");
    let t001 = o.findings.iter().find(|f| f.rule == "T001").unwrap();
    assert_eq!(t001.house_bill, "H2");
    assert!(t001.message.contains("no HTS revision"), "{}", t001.message);
    assert_eq!(o.route("H3").0, "11");
}

#[test]
fn chapter_99_layers_stack_and_not_with_drops_122_under_232() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00")
            .set("hts_code", "8504.40.9580")
            .set("description", "Phone charger")
            .set("country_of_origin", "CN"),
        row("H2", "Bob", "40.00")
            .set("hts_code", "7323.93.0045")
            .set("description", "Steel pot")
            .set("arrival_date", "2026-03-02"),
        row("H3", "Cy", "100.00").set("arrival_date", "2026-03-02"),
    ]);
    let lines = entry_lines(&o);
    let by_bill = |hb: &str| {
        lines
            .iter()
            .find(|l| l["house_bill"] == hb)
            .unwrap()
            .clone()
    };
    let h1 = by_bill("H1");
    assert_eq!(
        (
            h1["rate"].as_str(),
            h1["ch99"].as_str(),
            h1["duty_usd"].as_str()
        ),
        ("Free", "9903.88.03=25.00", "25.00")
    );
    let h2 = by_bill("H2");
    // 2% of 40 = 0.80, plus 232 at 50%; 122 is not applied with 232.
    assert_eq!(
        (
            h2["hts_duty_usd"].as_str(),
            h2["ch99"].as_str(),
            h2["duty_usd"].as_str()
        ),
        ("0.80", "9903.81.91=20.00", "20.80")
    );
    let h3 = by_bill("H3");
    assert_eq!(
        (h3["ch99"].as_str(), h3["duty_usd"].as_str()),
        ("9903.03.01=10.00", "26.50")
    );
    assert_eq!(
        o.summary
            .entries
            .ch99_usd
            .get("9903.88.03")
            .map(String::as_str),
        Some("25.00")
    );
}

#[test]
fn hmf_for_ocean_arrivals_exempt_ports_and_the_checkout_gap() {
    let o = run_v2(vec![
        row("H1", "Ana", "1000.00")
            .with("transport_mode", "Ocean")
            .with("conveyance", "V0042")
            .with("checkout_duty_usd", "$200.00"),
        row("H1", "Ana", "10.00")
            .set("line_no", "2")
            .with("transport_mode", "Ocean")
            .with("conveyance", "V0042"),
        row("H2", "Bob", "100.00")
            .set("port_of_entry", "2720")
            .with("checkout_duty_usd", "20"),
        row("H2", "Bob", "100.00")
            .set("line_no", "2")
            .set("port_of_entry", "2720")
            .with("checkout_duty_usd", "20"),
    ]);
    let e = entries(&o);
    // 1010 x 0.125% = 1.2625 -> 1.26; duty 16.5% of 1010 = 166.65.
    assert_eq!(
        (
            e[0]["hmf_usd"].as_str(),
            e[0]["duty_usd"].as_str(),
            e[0]["mpf_usd"].as_str()
        ),
        ("1.26", "166.65", "2.69")
    );
    assert_eq!(
        (
            e[0]["checkout_duty_usd"].as_str(),
            e[0]["checkout_gap_usd"].as_str()
        ),
        ("200.00", "29.40")
    );
    // An exempt port: no informal fee. The checkout repeated on each line counts once.
    assert_eq!(
        (e[1]["mpf_usd"].as_str(), e[1]["total_usd"].as_str()),
        ("0.00", "33.00")
    );
    assert_eq!(
        (
            e[1]["checkout_duty_usd"].as_str(),
            e[1]["checkout_gap_usd"].as_str()
        ),
        ("20.00", "-13.00")
    );
}

#[test]
fn special_programs_and_column_2() {
    let o = run_v2(vec![
        row("H1", "Ana", "100.00")
            .set("country_of_origin", "KR")
            .set("shipper_country", "KR")
            .with("special_program", "KR"),
        row("H2", "Bob", "100.00")
            .set("country_of_origin", "RU")
            .set("shipper_country", "RU"),
        // A program the code's special column does not list: general.
        row("H3", "Cy", "100.00").with("special_program", "A"),
    ]);
    let lines = entry_lines(&o);
    let col = |i: usize| {
        (
            lines[i]["rate_column"].clone(),
            lines[i]["rate"].clone(),
            lines[i]["duty_usd"].clone(),
        )
    };
    assert_eq!(col(0), ("special:KR".into(), "Free".into(), "0.00".into()));
    assert_eq!(col(1), ("column2".into(), "90%".into(), "90.00".into()));
    assert_eq!(col(2), ("general".into(), "16.5%".into(), "16.50".into()));
}

#[test]
fn a_v1_policy_builds_entries_without_duty_and_fires_no_v2_duty_rule() {
    let o = run_rows(vec![
        Row::new("H1").set("arrival_date", "2025-09-01"),
        Row::new("H2")
            .set("arrival_date", "2025-09-01")
            .person("Bo"),
    ]);
    assert_eq!(o.route("H1"), ("11".into(), "E001".into()));
    assert_eq!(o.disposition("H1").entry_ref, "R000001");
    for rule in ["T001", "T002", "E004"] {
        assert!(o.bills(rule).is_empty(), "{rule}");
    }
    let e = entries(&o);
    assert_eq!(
        (
            e[0]["duty_usd"].as_str(),
            e[0]["mpf_usd"].as_str(),
            e[0]["duty_status"].as_str()
        ),
        ("", "", "unknown")
    );
}

#[test]
fn a_zero_width_space_does_not_split_one_consignee() {
    let o = run_rows(vec![
        Row::new("H1").set("declared_value", "500"),
        Row::new("H2")
            .set("consignee_name", "Ja\u{200B}ne Doe")
            .set("declared_value", "500")
            .set("description", "Wool socks"),
    ]);
    assert_eq!(o.bills("L002"), ["H1", "H2"]);
    assert_eq!(
        o.disposition("H1").consignee_key,
        o.disposition("H2").consignee_key
    );
}
