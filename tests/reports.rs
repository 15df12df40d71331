//! Reports end to end, against a real SMTP server (aiosmtpd) on loopback:
//! exception reports after a run (MIME parts, XLSX and CSV attachments,
//! formula injection, masking, what changed since the last run), the daily
//! dashboard (key figures checked against the data fed in, inline charts),
//! previews rendered by headless Chromium, and a report queued while SMTP is
//! down that is delivered exactly once when it comes back.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{Data, Reader, Xlsx};
use mail_parser::{MessageParser, MimeHeaders};

use crate::support::servers::{Smtp, free_port, http};
use crate::support::*;

/// One input line: house bill, consignee name, address, ZIP, HTS, value, port.
struct In {
    hb: &'static str,
    name: &'static str,
    address: &'static str,
    zip: &'static str,
    hts: &'static str,
    value: &'static str,
    port: &'static str,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn manifest(lines: &[In]) -> String {
    let mut text = String::from(CANONICAL_HEADER);
    for l in lines {
        text.push('\n');
        text.push_str(&format!(
            "DHLX,M1,{},1,2025-04-01,{},Acme,VN,{},{},Brooklyn,NY,{},Cotton T-shirt,{},VN,1,{},USD,0.5,S1",
            csv_field(l.hb),
            l.port,
            l.name,
            csv_field(l.address),
            l.zip,
            l.hts,
            l.value
        ));
    }
    text.push('\n');
    text
}

/// The first day's file: clean, daily-limit, bad ZIP, bad HTS, formula-looking house bill.
const DAY1: &[In] = &[
    In {
        hb: "H1",
        name: "Jane Doe",
        address: "12 Main Street",
        zip: "11201",
        hts: "6109.10.0012",
        value: "20.00",
        port: "4701",
    },
    In {
        hb: "H2",
        name: "Ann Lee",
        address: "5 Oak Avenue",
        zip: "10001",
        hts: "6109.10.0012",
        value: "500.00",
        port: "4701",
    },
    In {
        hb: "H3",
        name: "Ann Lee",
        address: "5 Oak Avenue",
        zip: "10001",
        hts: "6110.20.2079",
        value: "400.00",
        port: "4701",
    },
    In {
        hb: "H4",
        name: "Bob Roe",
        address: "7 Elm Street",
        zip: "8020",
        hts: "6109.10.0012",
        value: "30.00",
        port: "4701",
    },
    In {
        hb: "H5",
        name: "Carl Poe",
        address: "9 Pine Road",
        zip: "60611",
        hts: "bad",
        value: "15.00",
        port: "4701",
    },
    In {
        hb: "=1+2",
        name: "Eve Ray",
        address: "1 Bay Drive",
        zip: "94121",
        hts: "",
        value: "10.00",
        port: "4701",
    },
    In {
        hb: "H7",
        name: "Dana Fox",
        address: "3 Lake Drive",
        zip: "30303",
        hts: "6109.10.0012",
        value: "900.00",
        port: "4701",
    },
];

/// The second day's file: H5 sent again unfixed, a new bad port.
const DAY2: &[In] = &[
    In {
        hb: "H5",
        name: "Carl Poe",
        address: "9 Pine Road",
        zip: "60611",
        hts: "bad",
        value: "15.00",
        port: "4701",
    },
    In {
        hb: "H8",
        name: "Fay Orr",
        address: "4 Hill Road",
        zip: "78701",
        hts: "6109.10.0012",
        value: "25.00",
        port: "9999",
    },
];

fn config(s: &Sandbox, smtp_port: u16, daemon: &str) -> PathBuf {
    s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[daemon]\ntimezone = \"UTC\"\nretry_attempts = 2\nretry_initial_ms = 50\n{daemon}\
             [email]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nfrom = \"s321d <s321d@broker.example>\"\n\
             retry_initial_secs = 1\nretry_max_secs = 2\n\
             [email.groups]\ncompliance = [\"compliance@broker.example\"]\ndhl = [\"dhl-ops@broker.example\"]\n\
             [reports.exceptions.carrier_groups]\nDHLX = \"dhl\"\n",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string()
        ),
    )
}

fn intake_job(s: &Sandbox, name: &str, schedule: Option<&str>) {
    s.write(
        &format!("jobs/{name}.toml"),
        format!(
            "name = \"{name}\"\npattern = \"*.csv\"\n{}[source]\nname = \"data\"\ninbox = \"{name}/inbox\"\nprocessed = \"{name}/processed\"\n\
             quarantine = \"{name}/quarantine\"\nsettle_secs = 0\n[output]\npath = \"runs/{name}\"\n[format]\nkind = \"csv\"\n",
            schedule.map(|s| format!("schedule = \"{s}\"\n")).unwrap_or_default()
        ),
    );
}

fn drop_file(s: &Sandbox, job: &str, name: &str, text: &str) {
    let dir = s.path().join("data").join(job).join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!(".{name}.part")), text).unwrap();
    std::fs::rename(dir.join(format!(".{name}.part")), dir.join(name)).unwrap();
}

fn run_with(s: &Sandbox, cfg: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    s.s321d(&all)
}

/// The single run folder of a job created after `before` (by name order).
fn run_dirs(s: &Sandbox, job: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(s.path().join("data/runs").join(job))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("summary.json").exists())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn cents(v: &str) -> i64 {
    let (d, c) = v.split_once('.').unwrap_or((v, "0"));
    d.parse::<i64>().unwrap() * 100 + format!("{c:0<2}")[..2].parse::<i64>().unwrap()
}

fn dollars(c: i64) -> String {
    let d = (c / 100).to_string();
    let mut out = String::new();
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("${out}.{:02}", c % 100)
}

struct Attached {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

fn attachments(m: &mail_parser::Message<'_>) -> Vec<Attached> {
    m.attachments()
        .map(|a| Attached {
            name: a.attachment_name().unwrap_or_default().to_owned(),
            content_type: a
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                .unwrap_or_default(),
            bytes: a.contents().to_vec(),
        })
        .collect()
}

fn sheet(book: &[u8], name: &str) -> Vec<Vec<Data>> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(book.to_vec())).unwrap();
    let range = wb
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    range.rows().map(|r| r.to_vec()).collect()
}

fn text_of(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => format!("{other:?}"),
    }
}

#[test]
fn exception_reports_and_the_daily_dashboard_arrive_complete() {
    let s = Sandbox::new();
    let smtp = Smtp::start(s.path());
    let cfg = config(&s, smtp.port, "");
    intake_job(&s, "dhlx", None);
    s.write(
        "jobs/daily.toml",
        "name = \"daily\"\ntimezone = \"UTC\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\njobs = [\"dhlx\"]\nday = \"today\"\n",
    );
    let check = run_with(&s, &cfg, &["check"]);
    assert!(check.status.success(), "{}", show(&check));

    // Day 1: the run sends DHLX's exception report to the dhl group at once.
    drop_file(&s, "dhlx", "day1.csv", &manifest(DAY1));
    let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = smtp.wait_for(1);
    assert_eq!(messages.len(), 1);
    let run1 = run_dirs(&s, "dhlx").pop().unwrap();
    let findings = read_csv(&run1.join("findings.csv"));
    let count = |sev: &str| findings.iter().filter(|f| f["severity"] == sev).count();
    let m = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(
        m.to().unwrap().first().unwrap().address().unwrap(),
        "dhl-ops@broker.example"
    );
    let subject = m.subject().unwrap().to_owned();
    assert!(
        subject.contains("DHLX") && subject.contains(&format!("{} error(s)", count("error"))),
        "{subject}"
    );
    let html = m.body_html(0).unwrap().into_owned();
    let text = m.body_text(0).unwrap().into_owned();
    assert!(!html.contains("<script"), "no scripts in mail HTML");
    for part in [&html, &text] {
        assert!(
            part.contains("V002") && part.contains("10-digit"),
            "what failed and what to do"
        );
        assert!(part.contains("day1.csv"), "where: the file");
        for secret in ["Jane Doe", "Ann Lee", "Main Street", "8020", "Carl Poe"] {
            assert!(!part.contains(secret), "{secret} must be masked");
        }
    }
    let att = attachments(&m);
    let xlsx = att
        .iter()
        .find(|a| a.name.ends_with(".xlsx"))
        .expect("an XLSX attachment");
    assert!(
        xlsx.content_type.contains("spreadsheetml"),
        "{}",
        xlsx.content_type
    );
    let csv_att = att
        .iter()
        .find(|a| a.name.ends_with(".csv"))
        .expect("a CSV attachment");
    for (sev, n) in [
        ("error", count("error")),
        ("warning", count("warning")),
        ("info", count("info")),
    ] {
        let rows = sheet(&xlsx.bytes, sev);
        assert_eq!(rows.len() - 1, n, "sheet {sev} holds every {sev} finding");
        assert_eq!(text_of(&rows[0][0]), "source_file");
    }
    // Formula injection: the house bill "=1+2" is a text cell, not a formula.
    let errors = sheet(&xlsx.bytes, "error");
    let injected: Vec<&Vec<Data>> = errors.iter().filter(|r| text_of(&r[2]) == "=1+2").collect();
    assert_eq!(injected.len(), 2, "V001 and V002 on the house bill =1+2");
    assert!(matches!(&injected[0][2], Data::String(s) if s == "=1+2"));
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx.bytes.clone())).unwrap();
    let formulas = wb.worksheet_formula("error").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell holds a formula"
    );
    let csv_text = String::from_utf8(csv_att.bytes.clone()).unwrap();
    assert!(
        csv_text.contains("'=1+2"),
        "the CSV neutralises formula-looking text"
    );
    assert!(
        csv_text.contains("consignee_zip '***'") && !csv_text.contains("'8020'"),
        "ZIPs are masked in attachments"
    );
    assert_eq!(
        csv_text.lines().count() - 1,
        findings.len(),
        "the CSV holds every finding"
    );

    // Day 2: H5 unfixed (recurring), =1+2 gone (resolved), H8 new (V005).
    drop_file(&s, "dhlx", "day2.csv", &manifest(DAY2));
    let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = smtp.wait_for(2);
    let m2 = MessageParser::default().parse(&messages[1]).unwrap();
    let att2 = attachments(&m2);
    let changes = sheet(
        &att2
            .iter()
            .find(|a| a.name.ends_with(".xlsx"))
            .unwrap()
            .bytes,
        "changes",
    );
    let change = |rule: &str| -> (String, String, String) {
        let r = changes
            .iter()
            .find(|r| text_of(&r[0]) == rule)
            .unwrap_or_else(|| panic!("no {rule} in {changes:?}"));
        (text_of(&r[2]), text_of(&r[3]), text_of(&r[4]))
    };
    assert_eq!(
        change("V002"),
        ("0".into(), "1".into(), "1".into()),
        "H5 recurs, =1+2 resolved"
    );
    assert_eq!(change("V001"), ("0".into(), "0".into(), "1".into()));
    assert_eq!(change("V005"), ("1".into(), "0".into(), "0".into()));
    assert!(
        m2.body_text(0)
            .unwrap()
            .contains("WHAT CHANGED SINCE THE LAST RUN (run ")
    );

    // The dashboard for today: figures against what was fed in.
    let today = chrono::Utc::now().date_naive().to_string();
    let out = run_with(&s, &cfg, &["report", "--job", "daily", "--date", &today]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = smtp.wait_for(3);
    let d = MessageParser::default().parse(&messages[2]).unwrap();
    assert_eq!(
        d.to().unwrap().first().unwrap().address().unwrap(),
        "compliance@broker.example"
    );
    let all: Vec<&In> = DAY1.iter().chain(DAY2).collect();
    let shipments = all.len(); // one line per house bill per file
    let value: i64 = all.iter().map(|l| cents(l.value)).sum();
    let bad = |l: &In| l.hts.is_empty() || l.hts == "bad" || l.port == "9999";
    let held = all.iter().filter(|l| bad(l)).count();
    let text = d.body_text(0).unwrap().into_owned();
    let html = d.body_html(0).unwrap().into_owned();
    assert!(
        text.contains(&format!("Shipments: {shipments}\n")),
        "{text}"
    );
    assert!(text.contains(&format!("Lines: {shipments}\n")), "{text}");
    assert!(
        text.contains(&format!("Declared value: {}\n", dollars(value))),
        "{text}"
    );
    assert!(
        text.contains(&format!("Held for fixes: {held} (")),
        "{text}"
    );
    assert!(html.contains(&dollars(value)));
    // Data quality: 100 x (shipments - held - 0.5 x warned) / shipments; H4's ZIP warns.
    let quality = 100.0 * (shipments as f64 - held as f64 - 0.5) / shipments as f64;
    assert!(
        text.lines()
            .any(|l| l.starts_with("DHLX ") && l.trim_end().ends_with(&format!(" {quality:.1}"))),
        "quality {quality:.1} in the carriers table: {text}"
    );
    // Findings by rule: the day's counts from the runs' own findings files.
    let all_findings: Vec<BTreeMap<String, String>> = run_dirs(&s, "dhlx")
        .iter()
        .flat_map(|r| read_csv(&r.join("findings.csv")))
        .collect();
    let v002 = all_findings.iter().filter(|f| f["rule"] == "V002").count();
    assert!(
        text.lines()
            .any(|l| l.starts_with("V002") && l.trim_end().ends_with(&format!(" {v002}"))),
        "V002 total {v002}: {text}"
    );
    // Daily limit: Ann Lee's two bills (900) and Dana Fox's one (900) are over 800.
    assert!(text.contains("2 consignee-day(s) over the de minimis threshold (L002); 1 consignee-day(s) with more than one house bill (L001)"), "{text}");
    assert!(text.contains("(a. l., 100xx)"), "masked consignee: {text}");
    for secret in ["ann lee", "Ann Lee", "oak", "Oak", "dana fox"] {
        assert!(
            !text.contains(secret) && !html.contains(secret),
            "{secret} must be masked"
        );
    }
    // Inline charts: every cid: in the HTML is an image part of the message.
    let cids: Vec<String> = html
        .split("src=\"cid:")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_owned())
        .collect();
    assert!(
        cids.len() >= 3,
        "trend, quality and findings charts: {cids:?}"
    );
    for cid in &cids {
        let part = d
            .parts
            .iter()
            .find(|p| p.content_id() == Some(cid.as_str()))
            .unwrap_or_else(|| panic!("no part for cid {cid}"));
        assert_eq!(
            &part.contents()[..8],
            b"\x89PNG\r\n\x1a\n",
            "{cid} is a PNG"
        );
        assert!(part.content_type().is_some_and(|c| c.ctype() == "image"));
    }
    assert!(
        text.contains("Audit trail head: event "),
        "the head of the audit chain travels with the report"
    );

    // Preview: nothing sent, everything written.
    let preview = s.path().join("preview");
    let out = run_with(
        &s,
        &cfg,
        &[
            "report",
            "--job",
            "daily",
            "--date",
            &today,
            "--preview",
            preview.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(smtp.messages().len(), 3, "a preview sends nothing");
    for f in [
        "message.html",
        "preview.html",
        "message.txt",
        "message.eml",
        "headers.txt",
        "images/trend.png",
        "images/quality.png",
        "images/findings.png",
    ] {
        assert!(preview.join(f).is_file(), "{f} in the preview");
    }
    let eml = std::fs::read(preview.join("message.eml")).unwrap();
    assert!(
        MessageParser::default()
            .parse(&eml)
            .unwrap()
            .subject()
            .unwrap()
            .contains(&today)
    );
    let preview_html = std::fs::read_to_string(preview.join("preview.html")).unwrap();
    assert!(preview_html.contains("src=\"images/trend.png\"") && !preview_html.contains("cid:"));
    // Exception preview of the first run.
    let run_id = run1.file_name().unwrap().to_str().unwrap().to_owned();
    let ex = s.path().join("preview-ex");
    let out = run_with(
        &s,
        &cfg,
        &[
            "report",
            "--run",
            &run_id,
            "--preview",
            ex.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        ex.join(format!("attachments/exceptions-DHLX-{run_id}.xlsx"))
            .is_file()
    );

    // The dashboard renders in a real browser engine (headless Chromium).
    let png = chromium_screenshot(&s, &preview.join("preview.html"));
    let decoder = png::Decoder::new(Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut img = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut img).unwrap();
    assert_eq!((info.width, info.height), (1000, 1800));
    let step = info.color_type.samples();
    let inked = img
        .chunks(step)
        .filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200)
        .count();
    assert!(
        inked > 20_000,
        "the page shows text, tables and charts ({inked} non-white pixels)"
    );
}

/// One v2 input line (contract v2: entries and duties): house bill,
/// consignee name, address, ZIP, HTS, origin, value, weight, IOR number.
struct InV2 {
    hb: &'static str,
    name: &'static str,
    address: &'static str,
    zip: &'static str,
    hts: &'static str,
    origin: &'static str,
    value: &'static str,
    weight: &'static str,
    ior: &'static str,
}

fn manifest_v2(lines: &[InV2]) -> String {
    let mut text = format!("{CANONICAL_HEADER},ior_number\n");
    for l in lines {
        text.push_str(&format!(
            "DHLX,M1,{},1,2026-01-15,4701,Acme,{},{},{},Brooklyn,NY,{},Cotton garment,{},{},1,{},USD,{},S1,{}\n",
            l.hb,
            l.origin,
            l.name,
            csv_field(l.address),
            l.zip,
            l.hts,
            l.origin,
            l.value,
            l.weight,
            l.ior
        ));
    }
    text
}

/// A day after de minimis (2026-01-15): every valid shipment goes on an entry.
/// H2 and H3 are one consignee on one conveyance: one type 11 entry (141.51),
/// which saves one informal MPF. H4's per-kg rate has no weight (T001), H5 has
/// no IOR number (V010), H6 is above the informal limit (01), H7 is in AD/CVD
/// scope (E004, 03), H8 has a bad HTS number (V002, held).
const ENTRY_DAY: &[InV2] = &[
    InV2 {
        hb: "H1",
        name: "Jane Doe",
        address: "12 Main Street",
        zip: "11201",
        hts: "6109.10.0012",
        origin: "VN",
        value: "100.00",
        weight: "0.5",
        ior: "12-345678900",
    },
    InV2 {
        hb: "H2",
        name: "Ann Lee",
        address: "5 Oak Avenue",
        zip: "10001",
        hts: "6109.10.0012",
        origin: "CN",
        value: "200.00",
        weight: "0.5",
        ior: "251203-00042",
    },
    InV2 {
        hb: "H3",
        name: "Ann Lee",
        address: "5 Oak Avenue",
        zip: "10001",
        hts: "6109.10.0012",
        origin: "CN",
        value: "300.00",
        weight: "0.5",
        ior: "251203-00042",
    },
    InV2 {
        hb: "H4",
        name: "Bob Roe",
        address: "7 Elm Street",
        zip: "08020",
        hts: "6110.20.2079",
        origin: "VN",
        value: "40.00",
        weight: "",
        ior: "123-45-6789",
    },
    InV2 {
        hb: "H5",
        name: "Carl Poe",
        address: "9 Pine Road",
        zip: "60611",
        hts: "6109.10.0012",
        origin: "VN",
        value: "50.00",
        weight: "0.5",
        ior: "",
    },
    InV2 {
        hb: "H6",
        name: "Dana Fox",
        address: "3 Lake Drive",
        zip: "30303",
        hts: "6109.10.0012",
        origin: "VN",
        value: "3000.00",
        weight: "20",
        ior: "12-3456789AB",
    },
    InV2 {
        hb: "H7",
        name: "Eve Ray",
        address: "1 Bay Drive",
        zip: "94121",
        hts: "9403.60.8081",
        origin: "VN",
        value: "120.00",
        weight: "15",
        ior: "12-345678900",
    },
    InV2 {
        hb: "H8",
        name: "Fay Orr",
        address: "4 Hill Road",
        zip: "78701",
        hts: "bad",
        origin: "VN",
        value: "25.00",
        weight: "0.5",
        ior: "12-345678900",
    },
];

/// A run whose outputs are made to look as s321d wrote them before v2.
const OLD_DAY: &[InV2] = &[
    InV2 {
        hb: "P1",
        name: "Gus Hale",
        address: "2 Rose Lane",
        zip: "02139",
        hts: "6109.10.0012",
        origin: "VN",
        value: "20.00",
        weight: "0.5",
        ior: "12-345678900",
    },
    InV2 {
        hb: "P2",
        name: "Hal Ives",
        address: "6 Ash Court",
        zip: "02140",
        hts: "6109.10.0012",
        origin: "VN",
        value: "30.00",
        weight: "0.5",
        ior: "12-345678900",
    },
];

/// A small USITC-shaped HTS revision: 16.5% T-shirts, a per-kg compound rate,
/// duty-free furniture in AD/CVD scope.
const HTS: &str = "\u{feff}HTS Number,Indent,Description,Unit of Quantity,General Rate of Duty,Special Rate of Duty,Column 2 Rate of Duty,Quota Quantity,Additional Duties
\"6109\",\"0\",\"T-shirts, singlets, tank tops and similar garments, knitted or crocheted:\",\"\",\"\",\"\",\"\",\"\",\"\"
\"6109.10.00\",\"1\",\"Of cotton\",\"\",\"16.5%\",\"Free (AU,KR)\",\"90%\",\"\",\"\"
\"6109.10.00.12\",\"2\",\"Men's (338)\",\"[\"\"doz.\"\",\"\"kg\"\"]\",\"\",\"\",\"\",\"\",\"\"
\"6110\",\"0\",\"Sweaters, pullovers, sweatshirts:\",\"\",\"\",\"\",\"\",\"\",\"\"
\"6110.20.20\",\"1\",\"Of cotton, other\",\"\",\"17.5\u{a2}/kg + 16%\",\"Free (AU,KR)\",\"54.5%\",\"\",\"\"
\"6110.20.20.79\",\"2\",\"Other (345)\",\"[\"\"doz.\"\",\"\"kg\"\"]\",\"\",\"\",\"\",\"\",\"\"
\"9403\",\"0\",\"Other furniture and parts thereof:\",\"\",\"\",\"\",\"\",\"\",\"\"
\"9403.60.80\",\"1\",\"Other wooden furniture\",\"\",\"Free\",\"\",\"40%\",\"\",\"\"
\"9403.60.80.81\",\"2\",\"Other\",\"[\"\"No.\"\"]\",\"\",\"\",\"\",\"\",\"\"
";

/// The v2 policy keys over the shipped default: the HTS revision above, a 301
/// layer on Chinese T-shirts, a 10% layer on every origin but CA and MX, FY2026 fees.
const POLICY_V2: &str = r#"
[lists]
adcvd_prefixes = ["9403.60.80"]
[duty]
reviewed_through = "2026-01-10"
column2_origins = ["CU", "KP", "RU", "BY"]
[[duty.hts]]
from = "2026-01-01"
file = "hts.csv"
[[duty.layer]]
heading = "9903.88.03"
program = "301"
rate = "25%"
origins = ["CN"]
hts = ["6109"]
from = "2018-07-06"
[[duty.layer]]
heading = "9903.01.25"
program = "IEEPA"
rate = "10%"
exclude_origins = ["CA", "MX"]
from = "2025-04-05"
[fees]
hmf_rate = "0.125%"
[[fees.mpf]]
from = "2025-10-01"
to = "2026-10-01"
informal_usd = "2.69"
formal_rate = "0.3464%"
formal_min_usd = "33.58"
formal_max_usd = "651.50"
"#;

/// Sums a money column of an output CSV (empty cells left out), in cents.
fn sum_cents(rows: &[BTreeMap<String, String>], column: &str) -> i64 {
    rows.iter()
        .map(|r| &r[column])
        .filter(|v| !v.is_empty())
        .map(|v| cents(v))
        .sum()
}

/// Makes a run's outputs look as s321d wrote them before v2: no entries files,
/// `dispositions.csv` without `entry_ref`, no `entries` in the summary.
fn make_pre_v2(s: &Sandbox, run: &Path) {
    for f in ["entries.csv", "entry_lines.csv"] {
        let _ = std::fs::remove_file(run.join(f));
    }
    let mut r = csv::Reader::from_path(run.join("dispositions.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    assert_eq!(header.iter().next_back(), Some("entry_ref"));
    let mut w = csv::Writer::from_path(run.join("dispositions.csv.old")).unwrap();
    w.write_record(header.iter().take(9)).unwrap();
    for rec in r.records() {
        w.write_record(rec.unwrap().iter().take(9)).unwrap();
    }
    w.flush().unwrap();
    std::fs::rename(
        run.join("dispositions.csv.old"),
        run.join("dispositions.csv"),
    )
    .unwrap();
    let run_id = run.file_name().unwrap().to_str().unwrap();
    let conn = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
    let n = conn
        .execute(
            "UPDATE runs SET summary = json_remove(summary, '$.entries') WHERE run_id = ?1",
            [run_id],
        )
        .unwrap();
    assert_eq!(n, 1, "the run {run_id} is in the state store");
}

#[test]
fn entries_duty_and_fees_reach_the_dashboard_and_the_exception_report() {
    let s = Sandbox::new();
    let smtp = Smtp::start(s.path());
    let cfg = config(&s, smtp.port, "");
    s.write("hts.csv", HTS);
    let policy = s.write("policy.toml", POLICY_V2);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[paths]\n",
        &format!("[paths]\npolicy = {:?}\n", policy.display().to_string()),
    );
    std::fs::write(&cfg, text).unwrap();
    intake_job(&s, "dhlx", None);
    s.write(
        "jobs/daily.toml",
        "name = \"daily\"\ntimezone = \"UTC\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\njobs = [\"dhlx\"]\nday = \"today\"\n",
    );
    let check = run_with(&s, &cfg, &["check"]);
    assert!(check.status.success(), "{}", show(&check));

    // A run from before v2 (its outputs rewritten as they were then): still reported.
    drop_file(&s, "dhlx", "old.csv", &manifest_v2(OLD_DAY));
    let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
    assert!(out.status.success(), "{}", show(&out));
    let old_run = run_dirs(&s, "dhlx").pop().unwrap();
    make_pre_v2(&s, &old_run);

    // The v2 run: the error on H8 sends DHLX's exception report.
    drop_file(&s, "dhlx", "day.csv", &manifest_v2(ENTRY_DAY));
    let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = smtp.wait_for(1);
    assert_eq!(
        messages.len(),
        1,
        "the pre-v2 run had no errors, so no exception report"
    );
    let run = run_dirs(&s, "dhlx")
        .into_iter()
        .find(|r| *r != old_run)
        .unwrap();
    let findings = read_csv(&run.join("findings.csv"));
    let rule_count = |rule: &str| findings.iter().filter(|f| f["rule"] == rule).count();
    assert_eq!(
        rule_count("T001"),
        1,
        "H4's per-kg rate without a weight: {findings:?}"
    );
    assert_eq!(rule_count("V010"), 1, "H5 has no IOR number: {findings:?}");
    assert_eq!(rule_count("E004"), 1, "H7 is in AD/CVD scope: {findings:?}");
    assert_eq!(
        rule_count("T002"),
        1,
        "the file arrives after duty.reviewed_through: {findings:?}"
    );

    let m = MessageParser::default().parse(&messages[0]).unwrap();
    let html = m.body_html(0).unwrap().into_owned();
    let text = m.body_text(0).unwrap().into_owned();
    for (rule, name, fix) in [
        (
            "T001",
            "DUTY_UNKNOWN",
            "Check the HTS code and add the quantity in the HTS unit (or weight_kg for per-kg rates); or update the policy's [[duty.hts]] revision",
        ),
        (
            "V010",
            "IOR_MISSING",
            "Add the importer of record number (EIN NN-NNNNNNNSS, CBP-assigned YYDDPP-NNNNN or SSN NNN-NN-NNNN) to the manifest and re-send",
        ),
        (
            "E004",
            "ADCVD_SCOPE",
            "Check the AD/CVD order's scope for this origin and producer; file a type 03 entry with the case number and cash deposit",
        ),
    ] {
        assert!(
            text.contains(&format!("{rule} {name} (warning): 1 finding(s)")),
            "{rule} row: {text}"
        );
        let advice = text
            .split(&format!("{rule} {name} (warning)"))
            .nth(1)
            .and_then(|t| t.lines().nth(1))
            .unwrap_or_default();
        assert!(
            advice.contains("What to do:") && advice.contains(fix),
            "{rule} fix: {advice:?}"
        );
        assert!(
            html.contains(&format!(">{rule}</td>")) && html.contains(&html_escape(fix)),
            "{rule} in the HTML table"
        );
    }
    // T002 is about the file (and the policy), not a shipment; it carries the
    // carrier its lines name, so it reaches that carrier's report.
    let run_id = run.file_name().unwrap().to_str().unwrap().to_owned();
    let ex = s.path().join("preview-ex");
    let out = run_with(
        &s,
        &cfg,
        &[
            "report",
            "--run",
            &run_id,
            "--carrier",
            "DHLX",
            "--preview",
            ex.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let file_level = std::fs::read_to_string(ex.join("message.txt")).unwrap();
    assert!(
        file_level.contains("T002 RATES_UNREVIEWED (warning): 1 finding(s) in arrival_date"),
        "{file_level}"
    );
    assert!(
        file_level.contains("Review the rates for dates after duty.reviewed_through and move the date forward in the policy"),
        "{file_level}"
    );
    assert_eq!(smtp.messages().len(), 1, "a preview sends nothing");
    let att = attachments(&m);
    let xlsx = att
        .iter()
        .find(|a| a.name.ends_with(".xlsx"))
        .expect("an XLSX attachment");
    let summary = sheet(&xlsx.bytes, "summary");
    let t001 = summary
        .iter()
        .find(|r| text_of(&r[0]) == "T001")
        .expect("T001 in the summary sheet");
    assert_eq!(text_of(&t001[3]), "1");
    assert!(text_of(&t001[4]).contains("weight_kg for per-kg rates"));

    // What the engine wrote: six entries (11 x4, 01, 03); exact sums of entries.csv.
    let entries = read_csv(&run.join("entries.csv"));
    let types: Vec<&str> = entries.iter().map(|e| e["entry_type"].as_str()).collect();
    assert_eq!(entries.len(), 6, "{entries:?}");
    let of_type = |t: &str| types.iter().filter(|x| **x == t).count();
    assert_eq!(
        (of_type("11"), of_type("01"), of_type("03")),
        (4, 1, 1),
        "{entries:?}"
    );
    let duty = sum_cents(&entries, "duty_usd");
    let mpf = sum_cents(&entries, "mpf_usd");
    let hmf = sum_cents(&entries, "hmf_usd");
    // By hand (contract section 9): H1 26.50, H2+H3 257.50, H5 13.25, H6 795.00, H7 12.00; H4 unknown.
    assert_eq!(duty, 110_425, "duty of the known entries");
    // Four informal entries at 2.69, two formal at the 33.58 minimum.
    assert_eq!(mpf, 7_792);
    assert_eq!(hmf, 0, "air arrivals pay no HMF");
    let lines = read_csv(&run.join("entry_lines.csv"));
    let heading = |h: &str| -> i64 {
        lines
            .iter()
            .flat_map(|l| {
                l["ch99"]
                    .split(';')
                    .filter_map(|p| p.split_once('='))
                    .filter(|(k, _)| *k == h)
                    .map(|(_, v)| cents(v))
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    assert_eq!(
        (heading("9903.88.03"), heading("9903.01.25")),
        (12_500, 38_100)
    );

    // The dashboard: entries by type, duty and fees, headings, MPF saved, unknown lines.
    let today = chrono::Utc::now().date_naive().to_string();
    let out = run_with(&s, &cfg, &["report", "--job", "daily", "--date", &today]);
    assert!(out.status.success(), "{}", show(&out));
    let messages = smtp.wait_for(2);
    let d = MessageParser::default().parse(&messages[1]).unwrap();
    let text = d.body_text(0).unwrap().into_owned();
    let html = d.body_html(0).unwrap().into_owned();
    let shipments = OLD_DAY.len() + ENTRY_DAY.len();
    assert!(
        text.contains(&format!("Shipments: {shipments}\n")),
        "the pre-v2 run's shipments count: {text}"
    );
    assert!(
        text.contains("Entries: 6 (type 03: 1, type 01: 1, type 11: 4)\n"),
        "entries by type, the pre-v2 run adds none: {text}"
    );
    assert!(
        text.contains(&format!(
            "Estimated duty: {} (1 entr(ies) with an unknown duty or fee not included)\n",
            dollars(duty)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "MPF: {}\nHMF: {}\nDuty and fees: {}\n",
            dollars(mpf),
            dollars(hmf),
            dollars(duty + mpf + hmf)
        )),
        "{text}"
    );
    assert!(
        text.contains("MPF saved by grouping: $2.69\n"),
        "H2 and H3 on one entry save one informal MPF: {text}"
    );
    for (code, n) in [("03", 1), ("01", 1), ("11", 4)] {
        assert!(
            text.lines()
                .skip_while(|l| *l != "Entries by type")
                .any(|l| l.starts_with(&format!("{code} ")) && l.contains(&format!(" {n} "))),
            "type {code}: {text}"
        );
    }
    let dhlx = text
        .lines()
        .skip_while(|l| *l != "Estimated duty and fees per carrier")
        .find(|l| l.starts_with("DHLX"))
        .unwrap_or_default();
    assert!(
        dhlx.contains(&dollars(duty))
            && dhlx.contains(&dollars(mpf))
            && dhlx.contains(&dollars(duty + mpf + hmf)),
        "per carrier: {dhlx}"
    );
    let day_row = text
        .lines()
        .skip_while(|l| *l != "Estimated duty and fees per day")
        .nth(3)
        .unwrap_or_default();
    assert!(
        day_row.contains(&dollars(duty + mpf + hmf)) && day_row.contains("$2.69"),
        "per day: {day_row}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("9903.01.25")
            && l.contains("IEEPA")
            && l.ends_with(&dollars(38_100))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("9903.88.03")
            && l.contains("301")
            && l.ends_with(&dollars(12_500))),
        "{text}"
    );
    let top: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Top chapter 99 headings")
        .skip(3)
        .take(2)
        .collect();
    assert!(
        top[0].starts_with("9903.01.25") && top[1].starts_with("9903.88.03"),
        "largest first: {top:?}"
    );
    assert!(
        text.contains("1 line(s) whose duty is unknown (T001):"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("day.csv")
            && l.contains(" H4 ")
            && l.contains("6110202079")
            && l.contains("weight")),
        "the line and its reason: {text}"
    );
    assert!(
        text.contains("1 entr(ies) have no importer of record number"),
        "V010 needs attention: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("03 ") && l.contains("AD/CVD entry (type 03)")),
        "03 among the dispositions: {text}"
    );
    assert!(html.contains(&dollars(duty)) && html.contains("Entries, duty and fees (estimates)"));
    assert!(
        d.parts
            .iter()
            .any(|p| p.content_id().is_some_and(|c| c.starts_with("duty."))),
        "the duty chart is inline"
    );
    for secret in ["ann lee", "Ann Lee", "oak", "Oak", "Gus Hale", "gus hale"] {
        assert!(
            !text.contains(secret) && !html.contains(secret),
            "{secret} must be masked"
        );
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Renders a page with Debian's headless Chromium; returns the PNG.
pub fn chromium_screenshot(s: &Sandbox, page: &Path) -> Vec<u8> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let chromium = chromium.expect("Chromium is not installed (Debian package chromium); the tests need it and never skip: run `bash .ci/run`");
    let out = s.path().join("screenshot.png");
    let profile = tempfile::tempdir().unwrap();
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg("--window-size=1000,1800")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success() && out.is_file(),
        "chromium failed to render {}",
        page.display()
    );
    std::fs::read(out).unwrap()
}

struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    fn start(s: &Sandbox, config: &Path, port: u16) -> Daemon {
        let log = s.path().join("daemon.log");
        let child = Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["--config", &config.display().to_string(), "run"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let d = Daemon { child, port, log };
        d.wait_for(
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "the listener",
        );
        d
    }

    fn wait_for(&self, mut cond: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http("GET", self.port, path, "")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_report_queued_while_smtp_is_down_is_delivered_once_when_it_is_back() {
    let s = Sandbox::new();
    let smtp_port = free_port(); // nothing listens there yet
    let listen = free_port();
    let cfg = config(
        &s,
        smtp_port,
        &format!("listen = \"127.0.0.1:{listen}\"\ngraceful_shutdown_secs = 10\n"),
    );
    intake_job(&s, "demo", Some("* * * * * *"));
    // A daily report job that never ran: the daemon catches it up at start.
    s.write(
        "jobs/daily.toml",
        "name = \"daily\"\nschedule = \"0 0 7 * * *\"\ntimezone = \"UTC\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\n",
    );
    let d = Daemon::start(&s, &cfg, listen);
    drop_file(&s, "demo", "bad.csv", &manifest(&DAY1[4..5]));

    // The run queues an exception report; SMTP refuses the connection.
    d.wait_for(
        || {
            d.get("/readyz")
                .1
                .contains("report(s) queued after failed delivery")
        },
        "/readyz to report the queued email",
    );
    let (status, body) = d.get("/readyz");
    assert_eq!(status, 503, "{body}");
    let outbox = s.path().join("data/outbox");
    let queued = || {
        std::fs::read_dir(&outbox)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    d.wait_for(
        || queued() == 2,
        "the dashboard and the exception report to wait on disk",
    );
    d.wait_for(
        || d.get("/metrics").1.contains("s321d_email_queued 2.0\n"),
        "the queue gauge",
    );
    d.wait_for(
        || {
            d.get("/metrics")
                .1
                .contains("s321d_email_failures_total{kind=\"exceptions\"}")
        },
        "the failure counter",
    );

    // SMTP comes back: both reports go out, each once.
    let smtp = Smtp::start_on(smtp_port, s.path());
    smtp.wait_for(2);
    d.wait_for(|| queued() == 0, "the outbox to empty");
    std::thread::sleep(Duration::from_secs(4)); // several delivery ticks and backoff periods
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "each delivered exactly once");
    let parsed: Vec<mail_parser::Message<'_>> = messages
        .iter()
        .map(|m| MessageParser::default().parse(m).unwrap())
        .collect();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let m = parsed
        .iter()
        .find(|m| m.subject().unwrap().contains("DHLX"))
        .expect("the exception report");
    assert!(
        parsed.iter().any(|m| m
            .subject()
            .unwrap()
            .starts_with(&format!("[s321d] {yesterday}:"))),
        "the caught-up dashboard"
    );
    d.wait_for(
        || {
            d.get("/metrics")
                .1
                .contains("s321d_emails_sent_total{kind=\"exceptions\"} 1")
        },
        "the sent counter",
    );
    assert!(
        d.get("/metrics")
            .1
            .contains("s321d_emails_sent_total{kind=\"dashboard\"} 1")
    );
    assert!(
        d.get("/metrics")
            .1
            .contains("s321d_reports_total{report=\"daily\",status=\"succeeded\"} 1")
    );
    d.wait_for(
        || !d.get("/readyz").1.contains("failed delivery"),
        "/readyz to clear the email problem",
    );
    assert!(d.get("/metrics").1.contains("s321d_email_queued 0.0\n"));
    // A SIGHUP reload is an audit event too.
    assert!(
        Command::new("kill")
            .arg("-HUP")
            .arg(d.child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let db = s.path().join("data/state.db");
    let count = |kind: &str| -> i64 {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT count(*) FROM audit_events WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    d.wait_for(
        || count("config.reloaded") == 1,
        "the reload in the audit trail",
    );
    assert_eq!(count("daemon.started"), 1);
    drop(d);

    // The audit trail names the email (recipients, subject, message id) and verifies.
    let conn = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
    let body: String = conn
        .query_row("SELECT body FROM audit_events WHERE kind = 'email.sent' AND json_extract(body, '$.kind') = 'exceptions'", [], |r| r.get(0))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["recipients"][0], "dhl-ops@broker.example");
    assert_eq!(v["message_id"].as_str(), m.message_id());
    assert!(v["attempts"].as_u64().unwrap() >= 2, "{v}");
    let out = run_with(&s, &cfg, &["audit", "verify"]);
    assert!(out.status.success(), "{}", show(&out));
}

/// A self-signed certificate for 127.0.0.1 (OpenSSL): (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (Debian package openssl)");
    assert!(ok.success(), "openssl could not make a certificate");
    (cert, key)
}

#[test]
fn reports_go_out_over_starttls_and_implicit_tls_and_the_certificate_is_checked() {
    for (security, flags) in [
        ("starttls", ["--tlscert", "--tlskey"]),
        ("tls", ["--smtpscert", "--smtpskey"]),
    ] {
        let s = Sandbox::new();
        let (cert, key) = certificate(s.path());
        let port = free_port();
        let smtp = Smtp::start_with(
            port,
            s.path(),
            &[
                flags[0].into(),
                cert.display().to_string(),
                flags[1].into(),
                key.display().to_string(),
            ],
        );
        let cfg = config(&s, port, "");
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("security = \"none\"", &format!("security = \"{security}\""));
        std::fs::write(&cfg, &text).unwrap();
        intake_job(&s, "dhlx", None);

        // Without the relay's certificate among the trust roots, nothing is sent.
        drop_file(&s, "dhlx", "bad.csv", &manifest(&DAY1[4..5]));
        let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
        assert!(out.status.success(), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("stays queued"),
            "{security}: {}",
            show(&out)
        );
        assert!(
            smtp.messages().is_empty(),
            "{security}: an unverified relay gets nothing"
        );

        // Trusting it (email.tls_ca_file), the queued report goes out encrypted.
        let text = text.replace(
            "[email]\n",
            &format!("[email]\ntls_ca_file = {:?}\n", cert.display().to_string()),
        );
        std::fs::write(&cfg, text).unwrap();
        let out = run_with(&s, &cfg, &["report", "--flush"]);
        assert!(out.status.success(), "{security}: {}", show(&out));
        let messages = smtp.wait_for(1);
        let m = MessageParser::default().parse(&messages[0]).unwrap();
        assert!(m.subject().unwrap().contains("DHLX"), "{security}");
    }
}

/// Issue 12 item 8: a run's exception report goes out exactly once however
/// the process stops around it: killed after the run but before its reports
/// were queued (they are owed and queued by the next run of the job), or
/// killed after queueing but before recording it (the next call finds the
/// entry under the same id and does not queue it again).
#[test]
fn an_exception_report_survives_a_crash_on_either_side_of_queueing_and_goes_out_once() {
    for point in ["exceptions-owed", "exceptions-queued"] {
        let s = Sandbox::new();
        let smtp = Smtp::start(s.path());
        let cfg = config(&s, smtp.port, "");
        intake_job(&s, "dhlx", None);
        drop_file(&s, "dhlx", "day1.csv", &manifest(DAY1));
        let crashed = std::process::Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["--config", cfg.to_str().unwrap(), "run-job", "dhlx"])
            .current_dir(s.path())
            .env("S321D_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&crashed.stderr).contains(&format!("crash point {point}")),
            "{point}: {}",
            show(&crashed)
        );
        assert!(
            smtp.messages().is_empty(),
            "{point}: nothing sent before the crash"
        );
        // The next run of the job (no new file) owes and sends the report.
        let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
        assert!(out.status.success(), "{point}: {}", show(&out));
        smtp.wait_for(1);
        // And a third finds nothing owed.
        let out = run_with(&s, &cfg, &["run-job", "dhlx"]);
        assert!(out.status.success(), "{point}: {}", show(&out));
        std::thread::sleep(Duration::from_millis(500));
        let messages = smtp.messages();
        assert_eq!(
            messages.len(),
            1,
            "{point}: the exception report goes out once"
        );
        let m = MessageParser::default().parse(&messages[0]).unwrap();
        assert!(
            m.subject().unwrap().contains("DHLX"),
            "{point}: {:?}",
            m.subject()
        );
    }
}
