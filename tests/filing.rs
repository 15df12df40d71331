//! ACE filing end to end: `s321d run-job` (and the daemon) filing through both
//! transports against the real `s321d ace-sim` process, then reading its
//! answers into the filing ledger. Checks what is filed (86 shipments one
//! house bill each; type 11 entries with all their house bills under one
//! number; 01 listed for a broker; a type 11 without an IOR listed as not
//! filed; hold and duplicate never), every answer recorded, holds surfacing,
//! that faults and crashes never put a house bill on two entries or lose one,
//! and the ledger's `cape` and `show` commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::acesim::AceSim;
use crate::support::servers::free_port;
use crate::support::*;

/// One canonical line; everything a test varies is a parameter.
struct Line<'a> {
    hb: &'a str,
    line_no: u32,
    consignee: &'a str,
    address: &'a str,
    zip: &'a str,
    date: &'a str,
    port: &'a str,
    hts: &'a str,
    origin: &'a str,
    value: &'a str,
    conveyance: &'a str,
    ior: &'a str,
}

/// The seller every test line names (seller_name `Shop`, shipper country
/// VN), with the address CATAIR needs and manifests do not carry.
const PARTIES: &str =
    "name,country,address,city,postal_code,subdivision\nShop,VN,22 Hang Gai Street,Hanoi,100000,\n";

/// An importer of record number (EIN with suffix).
const IOR: &str = "12-345678900";

impl Line<'_> {
    fn clean(hb: &str) -> Line<'_> {
        Line {
            hb,
            line_no: 1,
            consignee: "",
            address: "12 Main Street",
            zip: "11201",
            date: "2025-04-01",
            port: "4701",
            hts: "6109.10.0012",
            origin: "VN",
            value: "45.00",
            conveyance: "",
            ior: "",
        }
    }

    /// A line of a type 11 shipment: after the global suspension of de
    /// minimis, on flight 123, for `consignee` (an IOR number only where the
    /// test gives one).
    fn informal<'a>(hb: &'a str, consignee: &'a str, ior: &'a str) -> Line<'a> {
        Line {
            date: "2025-09-02",
            conveyance: "123",
            consignee,
            ior,
            ..Line::clean(hb)
        }
    }

    fn csv(&self) -> String {
        // A consignee of its own per house bill unless the test names one,
        // so daily totals only add up where a test wants them to.
        let consignee = if self.consignee.is_empty() {
            format!("Person {}", self.hb)
        } else {
            self.consignee.to_owned()
        };
        format!(
            "DHLX,MAWB1,{},{},{},{},Hanoi Textiles,VN,{consignee},{},Brooklyn,NY,{},Cotton T-shirt,{},{},1,{},USD,0.5,Shop,{},{}",
            self.hb,
            self.line_no,
            self.date,
            self.port,
            self.address,
            self.zip,
            self.hts,
            self.origin,
            self.value,
            self.conveyance,
            self.ior
        )
    }
}

fn manifest(lines: &[Line<'_>]) -> String {
    let mut t = format!("{CANONICAL_HEADER},conveyance,ior_number\n");
    for l in lines {
        t.push_str(&l.csv());
        t.push('\n');
    }
    t
}

struct Filer {
    s: Sandbox,
    config: PathBuf,
}

impl Filer {
    /// A data folder, one job (`intake`, filing over `transport`) and a
    /// configuration pointing at the simulator's gateway; `paths_extra` goes
    /// into its `[paths]` table.
    ///
    /// A CATAIR filer gets no gateway (`url = ""`): with one, it would ask
    /// it about house bills before numbering (see
    /// `catair_a_second_state_store_adopts_over_the_gateway`).
    fn new(transport: &str, sim_url: &str, paths_extra: &str) -> Filer {
        let sim_url = if transport == "catair" { "" } else { sim_url };
        let s = Sandbox::new();
        s.write(
            "jobs/intake.toml",
            format!(
                "name = \"intake\"\npattern = \"*.csv\"\nschedule = \"* * * * * *\"\n[source]\nname = \"data\"\ninbox = \"inbox\"\nsettle_secs = 0\n\
                 [output]\npath = \"runs\"\n[filing]\ntransport = \"{transport}\"\n[format]\nkind = \"csv\"\n"
            ),
        );
        let config = s.write(
            "s321d.toml",
            format!(
                "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n{paths_extra}\n[log]\nlevel = \"info\"\n[daemon]\nlisten = \"127.0.0.1:{}\"\ngraceful_shutdown_secs = 5\n\
                 [filing]\nfiler_code = \"S32\"\nfirst_serial = 1000\nbond_type = \"8\"\nsurety_code = \"457\"\n\
                 contact_name = \"Filing Desk\"\ncontact_phone = \"5550100199\"\nparties_file = {:?}\n\
                 [filing.http]\nurl = \"{sim_url}\"\ntimeout_secs = 2\nretry_attempts = 6\nretry_initial_ms = 20\nconcurrency = 8\n\
                 [filing.catair]\nsite = \"4701\"\nid_code = \"S32\"\npassword_file = {:?}\n\
                 [limits]\npoison_after_deaths = 100\n",
                s.path().join("data").display().to_string(),
                s.path().join("jobs").display().to_string(),
                free_port(),
                s.write("parties.csv", PARTIES).display().to_string(),
                s.write("envelope-password.txt", "TEST01\n").display().to_string(),
            ),
        );
        Filer { s, config }
    }

    fn data(&self) -> PathBuf {
        self.s.path().join("data")
    }

    fn drop_file(&self, name: &str, text: &str) {
        let inbox = self.data().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join(format!("{name}.part")), text).unwrap();
        std::fs::rename(inbox.join(format!("{name}.part")), inbox.join(name)).unwrap();
    }

    fn s321d(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    }

    fn run_job(&self) -> Output {
        let out = self.s321d(&["run-job", "intake"]);
        assert!(out.status.success(), "{}", show(&out));
        out
    }

    /// `s321d file --poll` until no filing waits for an answer.
    fn poll_until_settled(&self, sim: &AceSim) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.s321d(&["file", "--poll"]);
            assert!(out.status.success(), "{}\nsim:\n{}", show(&out), sim.log());
            let open = self
                .filings()
                .into_iter()
                .filter(|f| matches!(f.state.as_str(), "pending" | "submitted" | "accepted"))
                .count();
            if open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{open} filing(s) never settled: {:#?}\nsim:\n{}",
                self.filings(),
                sim.log()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data().join("state.db")).unwrap()
    }

    fn filings(&self) -> Vec<FilingRow> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT carrier, house_bill, entry_number, entry_type, state, COALESCE(code, ''), id FROM filings ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| {
            let id: i64 = r.get(6)?;
            Ok(FilingRow {
                carrier: r.get(0)?,
                house_bill: r.get(1)?,
                entry_number: r.get(2)?,
                entry_type: r.get(3)?,
                state: r.get(4)?,
                code: r.get(5)?,
                id,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Every house bill on a filed entry -> that entry's filing.
    fn by_bill(&self) -> BTreeMap<String, FilingRow> {
        let filings: BTreeMap<String, FilingRow> = self
            .filings()
            .into_iter()
            .map(|f| (f.entry_number.clone(), f))
            .collect();
        self.bills()
            .into_iter()
            .map(|(_, hb, number)| (hb, filings[&number].clone()))
            .collect()
    }

    /// The ledger's house bills: (carrier, house bill, entry number).
    fn bills(&self) -> Vec<(String, String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT b.carrier, b.house_bill, f.entry_number FROM filing_bills b JOIN filings f ON f.id = b.filing_id ORDER BY f.id, b.house_bill")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Rows of a broker list (`formal_entries.csv`, `not_filed.csv`) over every run, by column name.
    fn listed(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let mut out = Vec::new();
        for d in self.run_dirs() {
            let Ok(mut r) = csv::Reader::from_path(d.join(name)) else {
                continue;
            };
            let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
            for rec in r.records() {
                out.push(
                    headers
                        .iter()
                        .cloned()
                        .zip(rec.unwrap().iter().map(str::to_owned))
                        .collect(),
                );
            }
        }
        out
    }

    /// The messages recorded for a filing, oldest first.
    fn events(&self, id: i64) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT to_state, message FROM filing_events WHERE filing_id = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// The run folders under `data/runs`.
    fn run_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.data().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    }
}

#[derive(Debug, Clone)]
struct FilingRow {
    carrier: String,
    house_bill: String,
    entry_number: String,
    entry_type: String,
    state: String,
    code: String,
    id: i64,
}

/// Every filed house bill reached the simulator under exactly one entry
/// number, the one the ledger holds; no house bill is on two entries; every
/// filing has its bills and no number is used twice.
fn assert_filed_once(filer: &Filer, sim: &AceSim) {
    let filings = filer.filings();
    let numbers: BTreeSet<&str> = filings.iter().map(|f| f.entry_number.as_str()).collect();
    assert_eq!(
        numbers.len(),
        filings.len(),
        "an entry number was used twice"
    );
    let bills = filer.bills();
    let keys: BTreeSet<(&str, &str)> = bills
        .iter()
        .map(|(c, h, _)| (c.as_str(), h.as_str()))
        .collect();
    assert_eq!(
        keys.len(),
        bills.len(),
        "a house bill is on two entries: {bills:#?}"
    );
    for f in &filings {
        assert!(
            bills
                .iter()
                .any(|(c, h, n)| n == &f.entry_number && c == &f.carrier && h == &f.house_bill),
            "filing {} lacks its first house bill {}",
            f.entry_number,
            f.house_bill
        );
    }
    // CATAIR bill numbers carry letters and digits only (SE15): ACE knows
    // `R0-01` as `R001`.
    let ace = |hb: &str| -> String {
        hb.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let received = sim.received();
    for (carrier, hb, entry_numbers) in &received {
        assert_eq!(
            entry_numbers.len(),
            1,
            "{carrier} {hb} reached ACE under several entry numbers: {entry_numbers:?}"
        );
        // Air bills carry no issuer code (SE15 6-9 is spaces for MOT 40/41),
        // so ACE knows them by number alone.
        let b = bills
            .iter()
            .find(|(c, h, _)| (carrier.is_empty() || c == carrier) && ace(h) == ace(hb));
        let b = b.unwrap_or_else(|| panic!("ACE has {carrier} {hb}, the ledger does not"));
        assert_eq!(b.2, entry_numbers[0], "{carrier} {hb}");
    }
    for (carrier, hb, number) in &bills {
        assert!(
            received
                .iter()
                .any(|(c, h, _)| (c.is_empty() || c == carrier) && ace(h) == ace(hb)),
            "the ledger says {carrier} {hb} was filed on {number}, ACE never received it"
        );
    }
}

/// Entry numbers are S32-NNNNNNN-C with a valid check digit.
fn assert_entry_number(n: &str) {
    let digits: String = n.chars().filter(|c| *c != '-').collect();
    assert_eq!(n.len(), 13, "{n}");
    assert!(n.starts_with("S32-"), "{n}");
    // Luhn over S,3,2 (S = 2) and the serial, doubling positions 2, 4, ..., 10.
    let mut sum = 0;
    for (i, c) in digits[..10].chars().enumerate() {
        let v = if c == 'S' { 2 } else { c.to_digit(10).unwrap() };
        sum += if i % 2 == 1 {
            let d = v * 2;
            if d > 9 { d - 9 } else { d }
        } else {
            v
        };
    }
    assert_eq!(
        digits[10..].parse::<u32>().unwrap(),
        (10 - sum % 10) % 10,
        "{n}"
    );
}

/// The simulator uses its own reference data: a Schedule D list without port
/// 2720, so ACE refuses what s321d's fuller list let through.
fn sim_policy(dir: &Path) -> String {
    let p = dir.join("sim-policy.toml");
    std::fs::write(&p, "[lists]\nports = [\"4701\", \"3901\", \"1001\"]\n").unwrap();
    format!("policy = {:?}\n", p.display().to_string())
}

/// The shipments of the main scenario and what must become of each.
fn scenario() -> (String, String) {
    let lines = [
        Line::clean("A1"), // 86, released
        Line {
            port: "2720",
            ..Line::clean("A2")
        }, // 86 here; ACE rejects the port
        Line {
            value: "900.00",
            ior: IOR,
            ..Line::clean("A3")
        }, // over $800: a type 11 entry
        Line {
            value: "900.00",
            ..Line::clean("A8")
        }, // type 11 without an IOR: V010, not filed
        Line {
            value: "3000.00",
            ..Line::clean("A4")
        }, // over $2,500: 01, listed only
        Line {
            hts: "6109",
            ..Line::clean("A5")
        }, // V002: hold
        // One person to ACE (name and ZIP), two to s321d (other addresses):
        // $500 + $500 on one day; ACE withholds the one that crosses $800.
        Line {
            consignee: "Sam Lee",
            address: "1 First Avenue",
            value: "500.00",
            ..Line::clean("A6")
        },
        Line {
            consignee: "Sam Lee",
            address: "99 Other Road",
            value: "500.00",
            ..Line::clean("A7")
        },
    ];
    let first = manifest(&lines);
    // The next file sends A1 again (D003: duplicate, never filed twice).
    let second = manifest(&[Line::clean("A1"), Line::clean("B1")]);
    (first, second)
}

fn check_scenario(filer: &Filer, sim: &AceSim, via: &str) {
    let f = filer.by_bill();
    let filed: BTreeSet<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(
        filed,
        ["A1", "A2", "A3", "A6", "A7", "B1"].into(),
        "86 and 11 are filed; 01, V010, hold and duplicate are not"
    );
    for row in f.values() {
        assert_entry_number(&row.entry_number);
    }
    assert_eq!(f["A3"].entry_type, "11");
    for hb in ["A1", "A2", "A6", "A7", "B1"] {
        assert_eq!(f[hb].entry_type, "86", "{hb}");
    }
    assert_eq!(
        (f["A1"].state.as_str(), f["A1"].code.as_str()),
        ("released", "98"),
        "{via}"
    );
    assert_eq!(
        (f["B1"].state.as_str(), f["B1"].code.as_str()),
        ("released", "98")
    );
    assert_eq!(
        (f["A3"].state.as_str(), f["A3"].code.as_str()),
        ("released", "98"),
        "type 11 is released"
    );
    assert_eq!(
        (f["A2"].state.as_str(), f["A2"].code.as_str()),
        ("rejected", "E09"),
        "ACE's Schedule D refuses port 2720"
    );
    let mut sam: Vec<(&str, &str)> = ["A6", "A7"]
        .iter()
        .map(|hb| (f[*hb].state.as_str(), f[*hb].code.as_str()))
        .collect();
    sam.sort();
    assert_eq!(
        sam,
        [("held", "34"), ("released", "98")],
        "ACE withholds the entry that passes $800 for one person"
    );
    // Every answer is recorded, with the message that caused it.
    let events = filer.events(f["A2"].id);
    let states: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(states.first(), Some(&"pending"));
    assert_eq!(states.last(), Some(&"rejected"));
    assert!(events.last().unwrap().1.contains("PORT 2720"), "{events:?}");
    let events = filer.events(f["A1"].id);
    assert!(
        events
            .iter()
            .any(|(s, m)| s == "released" && m.contains("98")),
        "{events:?}"
    );
    // The formal-entry list names A4's entry, beside the run's other outputs.
    let formal = filer.listed("formal_entries.csv");
    assert_eq!(formal.len(), 1, "{formal:?}");
    assert_eq!(
        (
            formal[0]["house_bills"].as_str(),
            formal[0]["entry_type"].as_str()
        ),
        ("A4", "01"),
        "{formal:?}"
    );
    assert!(
        formal[0]["reasons"].contains("L003") && formal[0]["why"].contains("broker"),
        "{formal:?}"
    );
    // A8's type 11 has no importer of record: listed, not filed, and why.
    let not_filed = filer.listed("not_filed.csv");
    assert_eq!(not_filed.len(), 1, "{not_filed:?}");
    assert_eq!(
        (
            not_filed[0]["house_bills"].as_str(),
            not_filed[0]["entry_type"].as_str()
        ),
        ("A8", "11")
    );
    assert!(
        not_filed[0]["why"].starts_with("V010") && not_filed[0]["why"].contains("ior_number"),
        "{not_filed:?}"
    );
    assert!(
        sim.received().iter().all(|(_, hb, _)| hb != "A8"),
        "ACE never saw A8"
    );
    assert_filed_once(filer, sim);
}

#[test]
fn http_filing_is_answered_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sim-token"), "s3cret-gateway-token\n").unwrap();
    let sim = AceSim::start(
        dir.path(),
        &dir.path().join("unused"),
        &format!(
            "token_file = {:?}\n{}[release]\ndelay_ms = 100\nheld_share = 0.0\n",
            dir.path().join("sim-token").display().to_string(),
            sim_policy(dir.path())
        ),
    );
    let filer = Filer::new("http", &sim.url(), "");
    // A wrong token first: the run fails, the entries stay pending, nothing is lost.
    let token = filer.s.write("token", "not-the-token\n");
    let text = std::fs::read_to_string(&filer.config).unwrap().replace(
        "[filing.http]\n",
        &format!(
            "[filing.http]\ntoken_file = {:?}\n",
            token.display().to_string()
        ),
    );
    std::fs::write(&filer.config, text).unwrap();
    let (first, second) = scenario();
    filer.drop_file("day1.csv", &first);
    let out = filer.s321d(&["run-job", "intake"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the token"),
        "{}",
        show(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not-the-token"),
        "the token is never logged"
    );
    assert!(
        filer.filings().iter().all(|f| f.state == "pending"),
        "{:#?}",
        filer.filings()
    );
    assert!(sim.received().is_empty());
    // The right token: the next run files what the failed one left pending.
    std::fs::write(&token, "s3cret-gateway-token\n").unwrap();
    let out = filer.run_job();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("filed run"),
        "{}",
        show(&out)
    );
    filer.drop_file("day2.csv", &second);
    let out = filer.run_job();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("duplicate 1"),
        "{}",
        show(&out)
    );
    filer.poll_until_settled(&sim);
    check_scenario(&filer, &sim, "http");
    // The audit trail holds every filing message, chained; the evidence
    // pack for A2's entry carries its source record, its rejection and the
    // ledger's events.
    let out = filer.s321d(&["audit", "verify"]);
    assert!(out.status.success(), "{}", show(&out));
    let a2 = filer.by_bill()["A2"].entry_number.clone();
    let pack = filer.s.path().join("pack-a2");
    let out = filer.s321d(&[
        "audit",
        "export",
        "--entry",
        &a2,
        "--out",
        &pack.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let index = std::fs::read_to_string(pack.join("index.md")).unwrap();
    assert!(
        index.contains(&format!(
            "Entry {a2} was filed for 1 house bill(s): DHLX A2."
        )),
        "{index}"
    );
    let events = std::fs::read_to_string(pack.join(format!("filing-{a2}.json"))).unwrap();
    assert!(
        events.contains("PORT 2720 NOT IN SCHEDULE D") && events.contains("rejected"),
        "{events}"
    );
    let audit = std::fs::read_to_string(pack.join("audit-events.jsonl")).unwrap();
    for kind in ["filing.intent", "filing.sent", "filing.response"] {
        assert!(
            audit.contains(&format!("\"kind\":\"{kind}\"")),
            "{kind} in {audit}"
        );
    }
    // Filing the same run again by hand files nothing new.
    let run = filer.run_dirs()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = filer.s321d(&["file", "--run", &run]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 entr(ies) filed"),
        "{}",
        show(&out)
    );
    assert_filed_once(&filer, &sim);
}

/// Issue 10 item 3: an entry with a mandatory field nothing fills is not
/// filed and says which field; text cut to its CATAIR field is noted in the
/// entry's ledger events.
#[test]
fn catair_refuses_blank_mandatory_fields_and_notes_cut_text() {
    let sim_dir = tempfile::tempdir().unwrap();
    let filer = Filer::new("catair", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        sim_dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 100\nheld_share = 0.0\n",
    );
    // The seller's address is unknown: nothing is filed, and the list says why.
    let parties = filer.s.path().join("parties.csv");
    std::fs::write(
        &parties,
        "name,country,address,city\nSomeone Else,VN,1 Road,Hanoi\n",
    )
    .unwrap();
    filer.drop_file("a.csv", &manifest(&[Line::clean("NF1")]));
    filer.run_job();
    assert!(filer.filings().is_empty(), "{:#?}", filer.filings());
    let listed = filer.listed("not_filed.csv");
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(
        (
            listed[0]["entry_type"].as_str(),
            listed[0]["house_bills"].as_str()
        ),
        ("86", "NF1")
    );
    assert!(
        listed[0]["why"].starts_with("not filed: SE36 city of the seller of line 1: "),
        "{}",
        listed[0]["why"]
    );
    // With the address known, a consignee name longer than SE30's 35
    // characters is cut at a word boundary, and the cut is in the ledger.
    std::fs::write(&parties, PARTIES).unwrap();
    let long = "Internationale Handelsgesellschaft fur Feinkost";
    filer.drop_file(
        "b.csv",
        &manifest(&[Line {
            consignee: long,
            ..Line::clean("NF2")
        }]),
    );
    filer.run_job();
    filer.poll_until_settled(&sim);
    let f = filer.by_bill();
    assert_eq!(f["NF2"].state, "released", "{f:#?}");
    let events = filer.events(f["NF2"].id);
    assert!(
        events
            .iter()
            .any(|(_, m)| m == "warning: CATAIR text cut: SE30 CN name cut to 35 characters"),
        "{events:#?}"
    );
    let batch = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(batch).unwrap();
    let cn = text.lines().find(|l| l.starts_with("SE30CN ")).unwrap();
    assert_eq!(cn[7..42].trim_end(), "INTERNATIONALE HANDELSGESELLSCHAFT");
    assert_filed_once(&filer, &sim);
}

/// Issue 10 item 7: the same manifest filed from a second (or a lost and
/// empty) state store is not filed again: ACE already holds its house
/// bills, so the second store adopts ACE's entry numbers, applies ACE's
/// later notifications to them, says so in adopted.csv, and numbers its
/// next new entry past them.
#[test]
fn http_a_second_state_store_adopts_aces_numbers_instead_of_filing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let first = Filer::new("http", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        dir.path(),
        &first.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    let second = Filer::new("http", "http://127.0.0.1:9", "");
    for f in [&first, &second] {
        let text = std::fs::read_to_string(&f.config)
            .unwrap()
            .replace("http://127.0.0.1:9", &sim.url());
        std::fs::write(&f.config, text).unwrap();
    }
    let text = manifest(&[Line::clean("SS1"), Line::clean("SS2")]);
    first.drop_file("a.csv", &text);
    first.run_job();
    first.poll_until_settled(&sim);
    assert_eq!(first.filings().len(), 2);
    second.drop_file("a.csv", &text);
    second.run_job();
    second.poll_until_settled(&sim);
    let (a, b) = (first.by_bill(), second.by_bill());
    assert_eq!(b.keys().collect::<Vec<_>>(), ["SS1", "SS2"], "{b:#?}");
    for hb in ["SS1", "SS2"] {
        assert_eq!(
            b[hb].entry_number, a[hb].entry_number,
            "{hb} adopted under ACE's number"
        );
        // ACE's release notification for the adopted number applied here.
        assert_eq!(
            b[hb].state,
            "released",
            "{hb}: {:#?}",
            second.events(b[hb].id)
        );
        assert!(
            second
                .events(b[hb].id)
                .iter()
                .any(|(_, m)| m.contains("adopted from ACE")),
            "{:#?}",
            second.events(b[hb].id)
        );
    }
    assert!(
        second.listed("not_filed.csv").is_empty(),
        "{:#?}",
        second.listed("not_filed.csv")
    );
    let adopted = second.listed("adopted.csv");
    assert_eq!(adopted.len(), 2, "{adopted:#?}");
    for r in &adopted {
        let number = &a[&r["house_bills"]].entry_number;
        assert!(
            r["why"].starts_with(&format!("adopted from ACE: entry {number} ")),
            "{}",
            r["why"]
        );
    }
    assert_filed_once(&first, &sim);
    assert_filed_once(&second, &sim);
    // The next new entry of the second store is numbered past the adopted ones.
    second.drop_file("b.csv", &manifest(&[Line::clean("SS3")]));
    second.run_job();
    second.poll_until_settled(&sim);
    let ss3 = &second.by_bill()["SS3"];
    assert_eq!(ss3.state, "released", "{ss3:#?}");
    let serial = |n: &str| n[4..11].parse::<u64>().unwrap();
    assert!(
        serial(&ss3.entry_number) > a.values().map(|f| serial(&f.entry_number)).max().unwrap(),
        "{ss3:#?}"
    );
    assert_filed_once(&second, &sim);
}

#[test]
fn catair_filing_is_answered_and_recorded() {
    let filer_dir = tempfile::tempdir().unwrap();
    // The simulator's folders must be the filer's: build the filer first.
    let filer = Filer::new("catair", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        filer_dir.path(),
        &filer.data(),
        &format!(
            "{}[release]\ndelay_ms = 100\nheld_share = 0.0\n",
            sim_policy(filer_dir.path())
        ),
    );
    let (first, second) = scenario();
    filer.drop_file("day1.csv", &first);
    filer.run_job();
    filer.drop_file("day2.csv", &second);
    filer.run_job();
    filer.poll_until_settled(&sim);
    check_scenario(&filer, &sim, "catair");
    // The batches went out as 80-column records in an envelope, and were consumed.
    let consumed: Vec<PathBuf> = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(consumed.len(), 2, "one batch per run: {consumed:?}");
    for b in &consumed {
        let text = std::fs::read_to_string(b).unwrap();
        assert!(text.lines().all(|l| l.len() == 80), "{}", b.display());
        // The ABI envelope (catair.md section 2): site 4701, id S32 and the
        // password in the A, application SE at 26-27; the Z echoes site and
        // id without the password.
        let first = text.lines().next().unwrap();
        assert_eq!(
            (&first[..14], &first[25..27]),
            ("A4701S32TEST01", "SE"),
            "batch header"
        );
        let last = text.lines().last().unwrap();
        assert_eq!(
            (&last[..8], &last[8..14]),
            ("Z4701S32", "      "),
            "batch trailer"
        );
        for b in text.lines().filter(|l| l.starts_with('B')) {
            assert!(
                b[3..7].bytes().all(|c| c.is_ascii_digit()) && &b[7..12] == "S32SE",
                "block header: port, filer, SE: {b:?}"
            );
        }
    }
    // Acknowledgements and notifications were read and filed away.
    let read: Vec<String> = std::fs::read_dir(filer.data().join("ace/inbound/processed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        read.iter().filter(|n| n.ends_with(".sx")).count(),
        2,
        "{read:?}"
    );
    assert!(read.iter().any(|n| n.ends_with(".so")), "{read:?}");
}

/// A policy that computes duty: the HTS revision shipped in reference/, the
/// IEEPA reciprocal 10% (9903.01.25) for every origin but CA and MX, and
/// Section 301 25% (9903.88.03) on CN earbuds; 2024-25 and 2025-26 fees.
/// (301 first: a line lists its headings in the policy's order.)
fn duty_policy(dir: &Path) -> String {
    let p = dir.join("duty-policy.toml");
    let hts = repo().join("reference/hts-2026-rev4.csv");
    std::fs::write(
        &p,
        format!(
            "[duty]\nreviewed_through = \"2026-12-01\"\n[[duty.hts]]\nfrom = \"2025-01-01\"\nfile = {:?}\n\
             [[duty.layer]]\nheading = \"9903.88.03\"\nprogram = \"301\"\nrate = \"25%\"\norigins = [\"CN\"]\nhts = [\"8518\"]\nfrom = \"2018-09-24\"\n\
             [[duty.layer]]\nheading = \"9903.01.25\"\nprogram = \"ieepa\"\nrate = \"10%\"\nexclude_origins = [\"CA\", \"MX\"]\nfrom = \"2025-04-05\"\nto = \"2026-02-24\"\n\
             [fees]\nhmf_rate = \"0.125%\"\n\
             [[fees.mpf]]\nfrom = \"2024-10-01\"\ninformal_usd = \"2.62\"\nformal_rate = \"0.3464%\"\nformal_min_usd = \"32.71\"\nformal_max_usd = \"634.62\"\n\
             [[fees.mpf]]\nfrom = \"2025-10-01\"\ninformal_usd = \"2.69\"\nformal_rate = \"0.3464%\"\nformal_min_usd = \"33.58\"\nformal_max_usd = \"651.50\"\n",
            hts.display().to_string()
        ),
    )
    .unwrap();
    format!("policy = {:?}", p.display().to_string())
}

/// After the suspension of de minimis: Maria Garcia's three house bills on
/// flight 123 (four lines, an IOR on the first), Bob's one bill under his own
/// IOR, Carl's bill without an IOR (V010), Dana's bill on a later flight, and
/// Eve's Mexican goods (no chapter 99 line under the IEEPA heading).
fn flight_manifest() -> String {
    manifest(&[
        Line {
            hts: "8518.30.2000",
            origin: "CN",
            value: "250.00",
            ..Line::informal("M1", "Maria Garcia", IOR)
        },
        Line {
            line_no: 2,
            ..Line::informal("M1", "Maria Garcia", "")
        },
        Line {
            value: "100.00",
            ..Line::informal("M2", "Maria Garcia", "")
        },
        Line {
            hts: "8518.30.2000",
            origin: "CN",
            value: "150.00",
            ..Line::informal("M3", "Maria Garcia", "")
        },
        Line::informal("B1", "Bob Smith", "98-765432100"),
        Line::informal("C1", "Carl Jones", ""),
        Line {
            date: "2025-10-15",
            conveyance: "456",
            ..Line::informal("D1", "Dana White", IOR)
        },
        Line {
            origin: "MX",
            ..Line::informal("E1", "Eve Black", IOR)
        },
    ])
}

/// A CSV file's rows as maps from column to value.
fn read_table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The CAPE files `s321d ledger cape ARGS --out DIR` wrote: file name -> rows.
fn cape(filer: &Filer, args: &[&str]) -> (String, BTreeMap<String, Vec<String>>) {
    let dir = filer.s.path().join("cape");
    let mut all = vec!["ledger", "cape"];
    all.extend_from_slice(args);
    let dir_text = dir.display().to_string();
    all.extend_from_slice(&["--out", &dir_text]);
    let out = filer.s321d(&all);
    assert!(out.status.success(), "{}", show(&out));
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("Entry Number\r\n"), "{text:?}");
        files.insert(
            p.file_name().unwrap().to_string_lossy().into_owned(),
            text.lines().skip(1).map(str::to_owned).collect(),
        );
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), files)
}

/// One consignee's house bills on one flight are filed as ONE type 11 entry,
/// under one number, over `transport`; filing again files nothing; an entry
/// without an IOR is listed with its reason; the ledger keeps the lines and
/// their chapter 99 amounts, `ledger show` tells the story and `ledger cape`
/// lists the entries under a heading in a period.
fn one_entry_per_consignee_and_flight(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let filer = Filer::new(transport, "http://127.0.0.1:9", &duty_policy(dir.path()));
    let sim = AceSim::start(
        dir.path(),
        &filer.data(),
        &format!(
            "{}[release]\ndelay_ms = 50\nheld_share = 0.0\n",
            sim_policy(dir.path())
        ),
    );
    let text = std::fs::read_to_string(&filer.config)
        .unwrap()
        .replace("http://127.0.0.1:9", &sim.url());
    std::fs::write(&filer.config, text).unwrap();
    filer.drop_file("flight.csv", &flight_manifest());
    filer.run_job();
    filer.poll_until_settled(&sim);

    // From the dropped file to the run's entries: Maria's three bills are one
    // type 11 entry whose duty is the sum of its lines' in entry_lines.csv.
    let run_dir = filer.run_dirs()[0].clone();
    let entries = read_table(&run_dir.join("entries.csv"));
    let lines = read_table(&run_dir.join("entry_lines.csv"));
    let e = entries
        .iter()
        .find(|e| e["house_bills"] == "M1;M2;M3")
        .expect("Maria's entry");
    assert_eq!(
        (
            e["entry_type"].as_str(),
            e["basis"].as_str(),
            e["lines"].as_str()
        ),
        ("11", "141.51", "4"),
        "{e:?}"
    );
    assert_eq!(
        (
            e["mpf_usd"].as_str(),
            e["duty_status"].as_str(),
            e["ior_number"].as_str()
        ),
        ("2.62", "known", IOR),
        "{e:?}"
    );
    let on_it: Vec<_> = lines
        .iter()
        .filter(|l| l["entry_ref"] == e["entry_ref"])
        .collect();
    assert_eq!(on_it.len(), 4);
    let cents = |v: &str| -> i64 { v.replace('.', "").parse().unwrap() };
    assert_eq!(
        on_it.iter().map(|l| cents(&l["duty_usd"])).sum::<i64>(),
        cents(&e["duty_usd"]),
        "{on_it:?}"
    );
    assert_eq!(on_it[0]["ch99"], "9903.88.03=62.50;9903.01.25=25.00");

    // ... and to the report: the run's exception report names Carl's V010
    // with the fix to make.
    let mut cfg = std::fs::read_to_string(&filer.config).unwrap();
    cfg.push_str(
        "[email]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\nfrom = \"s321d <s321d@broker.example>\"\n\
         [email.groups]\ncompliance = [\"compliance@broker.example\"]\ndhl = [\"dhl-ops@broker.example\"]\n[reports.exceptions.carrier_groups]\nDHLX = \"dhl\"\n",
    );
    std::fs::write(&filer.config, cfg).unwrap();
    let preview = filer.s.path().join("preview");
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    let out = filer.s321d(&[
        "report",
        "--run",
        &run_id,
        "--carrier",
        "DHLX",
        "--preview",
        preview.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let message = std::fs::read_to_string(preview.join("message.txt")).unwrap();
    assert!(
        message.contains("V010 IOR_MISSING")
            && message.contains("Add the importer of record number"),
        "{message}"
    );
    let csv =
        std::fs::read_to_string(preview.join(format!("attachments/exceptions-DHLX-{run_id}.csv")))
            .unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains(",C1,") && l.contains("V010")),
        "{csv}"
    );

    let f = filer.by_bill();
    assert_eq!(
        f.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        ["B1", "D1", "E1", "M1", "M2", "M3"].into(),
        "{transport}"
    );
    let maria = f["M1"].entry_number.clone();
    assert_eq!(
        (f["M2"].entry_number.as_str(), f["M3"].entry_number.as_str()),
        (maria.as_str(), maria.as_str()),
        "{transport}: one entry"
    );
    assert_eq!(
        filer.filings().len(),
        4,
        "{transport}: Maria, Bob, Dana, Eve"
    );
    assert!(
        filer
            .filings()
            .iter()
            .all(|r| r.entry_type == "11" && r.state == "released"),
        "{transport}: {:#?}",
        filer.filings()
    );
    assert_entry_number(&maria);
    // ACE received the three bills under that one number (and nothing else).
    let received: BTreeMap<String, Vec<String>> = sim
        .received()
        .into_iter()
        .map(|(_, hb, n)| (hb, n))
        .collect();
    for hb in ["M1", "M2", "M3"] {
        assert_eq!(
            received[hb],
            std::slice::from_ref(&maria),
            "{transport} {hb}"
        );
    }
    assert!(!received.contains_key("C1"));
    assert_filed_once(&filer, &sim);
    // Carl's entry has no importer of record: not filed, and why.
    let not_filed = filer.listed("not_filed.csv");
    assert_eq!(not_filed.len(), 1, "{not_filed:?}");
    assert_eq!(not_filed[0]["house_bills"], "C1");
    assert!(not_filed[0]["why"].starts_with("V010"), "{not_filed:?}");
    if transport == "catair" {
        // One transaction with a bill of lading grouping per house bill, and
        // the chapter 99 numbers before each line's HTS number.
        // The SE batch (the entry summaries went in an AE batch beside it).
        let batch = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.to_string_lossy().ends_with("-ae.sei"))
            .unwrap();
        let text = std::fs::read_to_string(batch).unwrap();
        let serial = maria.replace('-', "");
        let txn: Vec<&str> = text
            .lines()
            .skip_while(|l| !(l.starts_with("SE10") && l[10..18] == serial[3..]))
            .enumerate()
            .take_while(|(i, l)| *i == 0 || !(l.starts_with("SE10") || l.starts_with('Y')))
            .map(|(_, l)| l)
            .collect();
        let houses: Vec<&str> = txn
            .iter()
            .filter(|l| l.starts_with("SE15H"))
            .map(|l| l[9..59].trim())
            .collect();
        assert_eq!(houses, ["M1", "M2", "M3"], "{txn:#?}");
        let se60: Vec<&str> = txn
            .iter()
            .filter(|l| l.starts_with("SE60"))
            .map(|l| l[4..14].trim())
            .collect();
        assert_eq!(
            se60,
            [
                "99038803",
                "99030125",
                "8518302000",
                "99030125",
                "6109100012",
                "99030125",
                "6109100012",
                "99038803",
                "99030125",
                "8518302000"
            ]
        );
    }

    // Filing the run again files nothing and says so.
    let run = filer.run_dirs()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = filer.s321d(&["file", "--run", &run]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 entr(ies) filed")
            && stdout.contains("4 already filed")
            && stdout.contains("1 not filed"),
        "{}",
        show(&out)
    );
    assert_eq!(filer.filings().len(), 4);
    assert_filed_once(&filer, &sim);

    // The story of Maria's entry.
    let out = filer.s321d(&["ledger", "show", &maria]);
    assert!(out.status.success(), "{}", show(&out));
    let story = String::from_utf8_lossy(&out.stdout);
    for want in [
        format!("Entry {maria} (type 11): released (98"),
        format!("importer of record: {IOR}"),
        "arrival (entry) date 2025-09-02; estimated liquidation 2026-07-13 (entry date + 314 days); protest deadline 2027-01-09".into(),
        "house bills (3): DHLX M1, DHLX M2, DHLX M3".into(),
        "9903.88.03 62.50, 9903.01.25 25.00".into(),
        "87.50".into(),
        "MPF 2.62".into(),
        format!("pending: entry number {maria} allocated for DHLX M1, DHLX M2, DHLX M3"),
        "-> released".into(),
    ] {
        assert!(story.contains(&want), "{want:?} in\n{story}");
    }
    assert_eq!(
        story
            .lines()
            .filter(|l| l.contains("  M1 ") || l.contains("  M2 ") || l.contains("  M3 "))
            .count(),
        4,
        "four lines:\n{story}"
    );
    let events: Vec<&str> = story
        .lines()
        .skip_while(|l| !l.contains("events:"))
        .skip(1)
        .collect();
    assert!(
        events.len() >= 3
            && events[0].contains("pending")
            && events.last().unwrap().contains("released"),
        "{story}"
    );
    let compact = maria.replace('-', "");
    let out = filer.s321d(&["ledger", "show", &compact]);
    assert!(
        out.status.success(),
        "the 11-character form works too: {}",
        show(&out)
    );
    let out = filer.s321d(&["ledger", "show", "S32-0000001-8"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    // CAPE: by heading prefix and arrival date, in the 11-character form.
    let number = |hb: &str| f[hb].entry_number.replace('-', "");
    let (stdout, files) = cape(
        &filer,
        &[
            "--heading",
            "9903.01",
            "--from",
            "2025-09-01",
            "--to",
            "2025-09-30",
        ],
    );
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["cape-001.csv"],
        "{stdout}"
    );
    let mut want = vec![number("M1"), number("B1")];
    want.sort();
    assert_eq!(
        files["cape-001.csv"], want,
        "Dana arrived later, Eve's goods have no 9903.01 line"
    );
    assert!(stdout.contains("2 entr(ies) in 1 file(s)"), "{stdout}");
    let (_, files) = cape(
        &filer,
        &[
            "--heading",
            "9903.88",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
        ],
    );
    assert_eq!(files["cape-001.csv"], [number("M1")]);
    let (_, files) = cape(
        &filer,
        &[
            "--heading",
            "9903.01",
            "--heading",
            "9903.88.03",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
        ],
    );
    assert_eq!(
        files["cape-001.csv"].len(),
        3,
        "Maria, Bob, Dana, each once"
    );
    let (_, files) = cape(
        &filer,
        &[
            "--heading",
            "9903.01",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--ior",
            "98-765432100",
        ],
    );
    assert_eq!(files["cape-001.csv"], [number("B1")]);
    let (stdout, files) = cape(
        &filer,
        &[
            "--heading",
            "9903.02",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
        ],
    );
    assert!(
        files.is_empty() && stdout.contains("0 entr(ies) in 0 file(s)"),
        "{stdout} {files:?}"
    );
    let out = filer.s321d(&[
        "ledger",
        "cape",
        "--heading",
        "nine",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--out",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn http_files_a_consignees_house_bills_on_one_flight_as_one_entry() {
    one_entry_per_consignee_and_flight("http");
}

#[test]
fn catair_files_a_consignees_house_bills_on_one_flight_as_one_entry() {
    one_entry_per_consignee_and_flight("catair");
}

/// An outdated policy (no suspensions) lets s321d route shipments to type 86
/// that ACE must refuse: CN origin after 2025-05-02 (SO60 33) and any type 86
/// from 2025-08-29 (rejected).
#[test]
fn ace_enforces_the_date_switches_an_outdated_policy_missed() {
    let filer_dir = tempfile::tempdir().unwrap();
    let policy = filer_dir.path().join("old-policy.toml");
    std::fs::write(
        &policy,
        "[[regime]]\nfrom = \"2016-03-10\"\nde_minimis = true\nsuspended_origins = []\n",
    )
    .unwrap();
    let filer = Filer::new(
        "catair",
        "http://127.0.0.1:9",
        &format!("policy = {:?}", policy.display().to_string()),
    );
    let sim = AceSim::start(
        filer_dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    filer.drop_file(
        "late.csv",
        &manifest(&[
            Line {
                origin: "CN",
                date: "2025-06-02",
                ..Line::clean("C1")
            },
            Line {
                date: "2025-09-10",
                ..Line::clean("C2")
            },
            Line {
                date: "2025-04-01",
                ..Line::clean("C3")
            },
        ]),
    );
    filer.run_job();
    filer.poll_until_settled(&sim);
    let f = filer.by_bill();
    assert_eq!(
        (f["C1"].state.as_str(), f["C1"].code.as_str()),
        ("held", "33"),
        "ET86 INELIGIBLE COUNTRY"
    );
    assert_eq!(
        (f["C2"].state.as_str(), f["C2"].code.as_str()),
        ("rejected", "E11"),
        "type 86 is refused from 2025-08-29"
    );
    assert_eq!(
        (f["C3"].state.as_str(), f["C3"].code.as_str()),
        ("released", "98")
    );
    assert_filed_once(&filer, &sim);
}

/// Every fault the simulator can inject, at once: 5xx, answers slower than
/// the client waits, dropped connections, slow answers, duplicate and
/// out-of-order notifications; a share of entries held. Nothing is filed
/// twice and nothing is lost.
#[test]
fn http_faults_never_file_twice_or_lose_a_shipment() {
    let dir = tempfile::tempdir().unwrap();
    let sim = AceSim::start(
        dir.path(),
        &dir.path().join("unused"),
        "[release]\ndelay_ms = 50\nheld_share = 0.3\nseed = 11\n\
         [faults]\nerror_rate = 0.2\ntimeout_rate = 0.1\ntimeout_ms = 2500\ndrop_rate = 0.1\nslow_ms = 5\nduplicate_notifications = 0.3\nreorder_notifications = true\n",
    );
    let filer = Filer::new("http", &sim.url(), "");
    let lines: Vec<String> = (0..60).map(|i| format!("F{i:02}")).collect();
    filer.drop_file(
        "faulty.csv",
        &manifest(&lines.iter().map(|hb| Line::clean(hb)).collect::<Vec<_>>()),
    );
    let out = filer.s321d(&["run-job", "intake"]);
    // A run may end with some entries unanswered (they stay pending); later
    // polls reconcile them.
    assert!(out.status.code().is_some(), "{}", show(&out));
    filer.poll_until_settled(&sim);
    let f = filer.by_bill();
    assert_eq!(f.len(), 60, "every shipment filed: {f:#?}");
    let held: Vec<&FilingRow> = f
        .values()
        .filter(|r| r.state == "held" || r.state == "detained")
        .collect();
    assert!(
        !held.is_empty() && held.len() < 40,
        "about 30% held: {}",
        held.len()
    );
    for r in &held {
        assert!(["90", "99", "04"].contains(&r.code.as_str()), "{r:?}");
    }
    assert!(
        f.values()
            .all(|r| matches!(r.state.as_str(), "released" | "held" | "detained")),
        "{f:#?}"
    );
    // Duplicate notifications are recorded but change nothing.
    let db = filer.db();
    let ignored: i64 = db
        .query_row(
            "SELECT count(*) FROM filing_events WHERE applied = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ignored > 0, "some notifications came twice");
    assert_filed_once(&filer, &sim);
}

/// CATAIR under the faults a batch channel has: status notifications sent
/// twice and out of order, a share of entries held. Nothing filed twice,
/// nothing lost, repeats recorded as ignored.
#[test]
fn catair_notifications_twice_and_out_of_order_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let filer = Filer::new("catair", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.3\nseed = 5\n[faults]\nduplicate_notifications = 0.5\nreorder_notifications = true\n",
    );
    let lines: Vec<String> = (0..40).map(|i| format!("N{i:02}")).collect();
    filer.drop_file(
        "n.csv",
        &manifest(&lines.iter().map(|hb| Line::clean(hb)).collect::<Vec<_>>()),
    );
    filer.run_job();
    filer.poll_until_settled(&sim);
    let f = filer.by_bill();
    assert_eq!(f.len(), 40);
    assert!(
        f.values()
            .all(|r| matches!(r.state.as_str(), "released" | "held" | "detained")),
        "{f:#?}"
    );
    assert!(f.values().any(|r| r.state != "released"), "some are held");
    let ignored: i64 = filer
        .db()
        .query_row(
            "SELECT count(*) FROM filing_events WHERE applied = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        ignored > 0,
        "the repeated notifications are recorded, not applied"
    );
    assert_filed_once(&filer, &sim);
}

/// A manifest of `singles` type 86 shipments and `groups` consignees with
/// three house bills each on one flight (type 11 entries; the first bill
/// names the importer of record). Returns it with its house bills and entries.
/// Consignees are the manifest's own: a daemon run that takes two manifests
/// at once still makes one entry per group.
fn mixed(tag: &str, singles: usize, groups: usize) -> (String, usize, usize) {
    let singles: Vec<String> = (0..singles).map(|i| format!("{tag}{i:02}")).collect();
    let grouped: Vec<(String, String)> = (0..groups)
        .flat_map(|g| (0..3).map(move |b| (format!("{tag}G{g}-{b}"), format!("Group {tag} {g}"))))
        .collect();
    let mut lines: Vec<Line<'_>> = singles.iter().map(|hb| Line::clean(hb)).collect();
    for (i, (hb, consignee)) in grouped.iter().enumerate() {
        lines.push(Line::informal(
            hb,
            consignee,
            if i % 3 == 0 { IOR } else { "" },
        ));
    }
    (
        manifest(&lines),
        singles.len() + grouped.len(),
        singles.len() + groups,
    )
}

/// SIGKILL in the middle of filing, at the recorded steps (`S321D_CRASH_AT`)
/// and at random moments of a live daemon filing through a slow gateway:
/// after restarts every entry is filed exactly once, every house bill on
/// exactly one entry (type 86 and type 11 entries of three bills alike).
#[test]
fn a_killed_filer_files_every_shipment_exactly_once() {
    // Recorded the intent, not sent; sent a batch, not marked submitted; got
    // a gateway answer, not recorded it.
    for (transport, point) in [
        ("catair", "filing-intent"),
        ("catair", "batch-written"),
        ("http", "filing-intent"),
        ("http", "filing-answered"),
    ] {
        {
            let dir = tempfile::tempdir().unwrap();
            let filer = Filer::new(transport, "http://127.0.0.1:9", "");
            let sim = AceSim::start(
                dir.path(),
                &filer.data(),
                "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
            );
            // Point the filer at the simulator now that its port is known.
            let text = std::fs::read_to_string(&filer.config)
                .unwrap()
                .replace("http://127.0.0.1:9", &sim.url());
            std::fs::write(&filer.config, text).unwrap();
            let (text, bills, entries) = mixed("K", 30, 4);
            filer.drop_file("k.csv", &text);
            let crashed = Command::new(env!("CARGO_BIN_EXE_s321d"))
                .arg("--config")
                .arg(&filer.config)
                .args(["run-job", "intake"])
                .env("S321D_CRASH_AT", point)
                .output()
                .unwrap();
            assert!(
                !crashed.status.success(),
                "{transport} {point} not reached: {}",
                show(&crashed)
            );
            assert!(
                String::from_utf8_lossy(&crashed.stderr).contains(&format!("crash point {point}")),
                "{}",
                show(&crashed)
            );
            filer.run_job();
            filer.run_job();
            filer.poll_until_settled(&sim);
            let f = filer.by_bill();
            assert_eq!(
                (f.len(), filer.filings().len()),
                (bills, entries),
                "{transport} {point}: {f:#?}"
            );
            assert!(
                f.values().all(|r| r.state == "released"),
                "{transport} {point}: {f:#?}"
            );
            assert_eq!(
                filer
                    .filings()
                    .iter()
                    .filter(|r| r.entry_type == "11")
                    .count(),
                4,
                "{transport} {point}"
            );
            assert_filed_once(&filer, &sim);
        }
    }

    // A live daemon, killed at random moments while it files through a slow
    // gateway or writes batches.
    for transport in ["http", "catair"] {
        let dir = tempfile::tempdir().unwrap();
        let filer = Filer::new(transport, "http://127.0.0.1:9", "");
        let sim = AceSim::start(
            dir.path(),
            &filer.data(),
            "[release]\ndelay_ms = 50\nheld_share = 0.0\n[faults]\nslow_ms = 20\n",
        );
        let text = std::fs::read_to_string(&filer.config)
            .unwrap()
            .replace("http://127.0.0.1:9", &sim.url());
        std::fs::write(&filer.config, text).unwrap();
        let (mut expected, mut expected_entries) = (0, 0);
        let mut seed: u64 = 0x0ace_5eed;
        for round in 0..5 {
            let (text, bills, entries) = mixed(&format!("R{round}-"), 19, 2);
            expected += bills;
            expected_entries += entries;
            filer.drop_file(&format!("r{round}.csv"), &text);
            let mut daemon = KillOnDrop(
                Command::new(env!("CARGO_BIN_EXE_s321d"))
                    .arg("--config")
                    .arg(&filer.config)
                    .arg("run")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_millis(300 + seed % 1500));
            daemon.0.kill().unwrap(); // SIGKILL
            daemon.0.wait().unwrap();
        }
        filer.run_job();
        filer.poll_until_settled(&sim);
        let f = filer.by_bill();
        // A file whose evaluation two kills interrupted is quarantined as a
        // poison file (issue 11): name what the quarantine holds if any is lost.
        let quarantined: Vec<String> = std::fs::read_dir(filer.data().join("quarantine"))
            .map(|d| {
                d.map(|e| {
                    let p = e.unwrap().path();
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    if name.ends_with(".error.txt") {
                        format!(
                            "{name}: {}",
                            std::fs::read_to_string(&p).unwrap_or_default().trim()
                        )
                    } else {
                        name
                    }
                })
                .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            f.len(),
            expected,
            "{transport}: every shipment filed after the kills; quarantined: {quarantined:?}"
        );
        assert_eq!(
            filer.filings().len(),
            expected_entries,
            "{transport}: as one entry per 86 shipment and per consignee's flight"
        );
        assert!(
            f.values().all(|r| r.state == "released"),
            "{transport}: {f:#?}"
        );
        assert_filed_once(&filer, &sim);
    }
}

/// The README's filing demo: config/ace-demo.toml and jobs/ace-demo/ file the
/// samples through both transports to config/ace-sim.toml's simulator.
#[test]
fn the_ace_demo_files_the_samples() {
    let s = Sandbox::new();
    for file in [
        "dhlx-filed.toml",
        "pclx-filed.toml",
        "parties.csv",
        "envelope-password.txt",
    ] {
        s.write(
            &format!("jobs/ace-demo/{file}"),
            std::fs::read(repo().join("jobs/ace-demo").join(file)).unwrap(),
        );
    }
    let port = free_port();
    let sim_config = std::fs::read_to_string(repo().join("config/ace-sim.toml"))
        .unwrap()
        .replace("127.0.0.1:9400", &format!("127.0.0.1:{port}"))
        .replace("delay_ms = 2000", "delay_ms = 100");
    let sim_config = s.write("ace-sim.toml", sim_config);
    // The consolidator's job names itself importer of record (a constant),
    // so its type 11 entries are filed over CATAIR. The DHL samples keep
    // theirs as they are (entries without one are listed in not_filed.csv).
    let _sim = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["ace-sim", "--config", &sim_config.display().to_string()])
            .current_dir(s.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ace-sim did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let demo = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .arg("--config")
            .arg(repo().join("config/ace-demo.toml"))
            .args(args)
            .current_dir(s.path())
            .env(
                "S321D__FILING__HTTP__URL",
                format!("http://127.0.0.1:{port}"),
            )
            .output()
            .unwrap()
    };
    let out = demo(&["check"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = demo(&[
        "run-job",
        "dhlx-filed",
        "pclx-filed",
        "--seed",
        &repo().join("data-samples").display().to_string(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // What each job must file, from its run's own outputs: every 86 shipment,
    // and every type 11 entry that names an importer of record, less those
    // refused for a mandatory CATAIR field (listed, with the field).
    let expected = |job: &str| -> (usize, usize) {
        let runs = s.path().join("var/ace-demo/runs").join(job);
        let run = std::fs::read_dir(&runs)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let rows = |name: &str| -> Vec<BTreeMap<String, String>> {
            let Ok(mut r) = csv::Reader::from_path(run.join(name)) else {
                return Vec::new();
            };
            let headers: Vec<String> = r.headers().unwrap().iter().map(|h| h.to_owned()).collect();
            r.records()
                .map(|rec| {
                    headers
                        .iter()
                        .cloned()
                        .zip(rec.unwrap().iter().map(str::to_owned))
                        .collect()
                })
                .collect()
        };
        let type86 = rows("dispositions.csv")
            .iter()
            .filter(|r| r["disposition"] == "86")
            .count();
        let entries = rows("entries.csv");
        let type11 = entries
            .iter()
            .filter(|r| r["entry_type"] == "11" && !r["ior_number"].is_empty())
            .count();
        let without: BTreeSet<String> = entries
            .iter()
            .filter(|r| r["entry_type"] == "11" && r["ior_number"].is_empty())
            .map(|r| r["entry_ref"].clone())
            .collect();
        let not_filed = rows("not_filed.csv");
        let refused = |t: &str| {
            not_filed
                .iter()
                .filter(|r| r["entry_type"] == t && r["why"].starts_with("not filed: "))
                .count()
        };
        for r in not_filed
            .iter()
            .filter(|r| r["why"].starts_with("not filed: "))
        {
            eprintln!(
                "{job}: {} {} refused: {}",
                r["entry_type"], r["house_bills"], r["why"]
            );
        }
        let listed: BTreeSet<String> = not_filed
            .iter()
            .filter(|r| r["entry_type"] == "11" && !r["why"].starts_with("not filed: "))
            .map(|r| r["entry_ref"].clone())
            .collect();
        assert_eq!(
            without, listed,
            "{job}: every type 11 without an IOR is listed as not filed"
        );
        (type86 - refused("86"), type11 - refused("11"))
    };
    let (dhlx86, dhlx11) = expected("dhlx-filed");
    let (pclx86, pclx11) = expected("pclx-filed");
    assert!(pclx11 > 0, "the consolidator's type 11 entries are filed");
    assert!(
        stdout.contains(&format!("{} entr(ies) sent", dhlx86 + dhlx11))
            && stdout.contains(&format!("{} entr(ies) sent", pclx86 + pclx11)),
        "{}",
        show(&out)
    );
    let db = rusqlite::Connection::open(s.path().join("var/ace-demo/state.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    while count("SELECT count(*) FROM filings WHERE state IN ('pending', 'submitted', 'accepted')")
        > 0
    {
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "the demo's filings never settled"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert!(demo(&["file", "--poll"]).status.success());
    }
    assert_eq!(
        count("SELECT count(*) FROM filings") as usize,
        dhlx86 + dhlx11 + pclx86 + pclx11,
        "DHLX entries over HTTP, PCLX entries over CATAIR"
    );
    assert_eq!(
        count("SELECT count(*) FROM filings WHERE transport = 'catair' AND entry_type = '11'")
            as usize,
        pclx11
    );
    assert_eq!(
        count("SELECT count(*) FROM filings WHERE state = 'pending'"),
        0
    );
    // Issue 10's bar: every batch the demo wrote passed the simulator's
    // validator with zero errors and zero warnings. An error is an X1 batch
    // reject or an SE90 11; a warning an SE90 13; a clean transaction gets
    // only its closing SE90 02 (an AX answers a summary the same way).
    let processed = s.path().join("var/ace-demo/ace/inbound/processed");
    let answers: Vec<_> = std::fs::read_dir(&processed)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sx"))
        .collect();
    assert!(
        !answers.is_empty(),
        "no SX answer in {}",
        processed.display()
    );
    let mut closings = 0;
    for answer in &answers {
        let text = std::fs::read_to_string(answer).unwrap();
        for line in text.lines() {
            assert!(
                !line.starts_with("X1"),
                "{}: a batch reject: {line}",
                answer.display()
            );
            if line.starts_with("SE90") {
                assert_eq!(
                    &line[4..6],
                    "02",
                    "{}: not a clean acceptance: {line}",
                    answer.display()
                );
                closings += 1;
            }
        }
    }
    assert_eq!(
        closings as usize,
        pclx86 + pclx11,
        "one closing SE90 02 per CATAIR entry"
    );
}

/// A child process killed when the test ends, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on: connections to it are refused.
fn closed_gateway() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// Issue 10 item 6: with the gateway down, filing fails loudly, naming how
/// many entries wait and why; once the gateway is back, `s321d file` files
/// the same run (nothing was numbered meanwhile, nothing is lost).
#[test]
fn http_a_gateway_that_is_down_fails_the_filing_naming_count_and_cause() {
    let down = closed_gateway();
    let filer = Filer::new("http", &down, "");
    filer.drop_file(
        "a.csv",
        &manifest(&[Line::clean("GD1"), Line::clean("GD2"), Line::clean("GD3")]),
    );
    let out = filer.s321d(&["run-job", "intake"]);
    let text = show(&out);
    assert!(
        !out.status.success(),
        "a run that filed nothing succeeded:\n{text}"
    );
    assert!(
        text.contains("3 entr(ies) still pending after the retries"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the ACE gateway {down} is unreachable")),
        "{text}"
    );
    assert!(
        text.to_lowercase().contains("connection refused"),
        "the transport error is not named:\n{text}"
    );
    assert_eq!(
        text.matches("cannot be reached").count(),
        1,
        "the outage is alerted once, not per retry:\n{text}"
    );

    let run = filer
        .run_dirs()
        .pop()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = filer.s321d(&["file", "--run", &run]);
    let text = show(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("run {run}: 3 entr(ies) still pending after the retries: the ACE gateway {down} is unreachable")), "{text}");
    assert!(
        filer.filings().is_empty(),
        "nothing may be numbered while ACE cannot be asked about the bills"
    );

    let dir = tempfile::tempdir().unwrap();
    let sim = AceSim::start(
        dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    let cfg = std::fs::read_to_string(&filer.config)
        .unwrap()
        .replace(&down, &sim.url());
    std::fs::write(&filer.config, cfg).unwrap();
    let out = filer.s321d(&["file", "--run", &run]);
    assert!(out.status.success(), "{}", show(&out));
    filer.poll_until_settled(&sim);
    assert_eq!(
        filer.by_bill().keys().cloned().collect::<Vec<_>>(),
        ["GD1", "GD2", "GD3"]
    );
    assert_filed_once(&filer, &sim);
}

/// Issue 10 item 6: the daemon reports filing as degraded in /readyz and
/// the metric while the gateway is down, alerts once however many runs meet
/// the outage, and logs the recovery once.
#[test]
fn daemon_readyz_names_filing_degraded_while_the_gateway_is_down() {
    let down = closed_gateway();
    let filer = Filer::new("http", &down, "");
    let cfg = std::fs::read_to_string(&filer.config).unwrap();
    let port: u16 = cfg
        .split("listen = \"127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let d = crate::daemon::Daemon::start(&filer.s, &filer.config, port);
    filer.drop_file("a.csv", &manifest(&[Line::clean("DD1")]));
    d.wait_for(
        || d.get("/readyz").1.contains("filing is degraded"),
        "readiness to name filing",
    );
    let (status, body) = d.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&format!(
            "filing is degraded: the ACE gateway {down} is unreachable since"
        )),
        "{body}"
    );
    assert!(body.to_lowercase().contains("connection refused"), "{body}");
    assert!(
        d.get("/metrics")
            .1
            .contains("s321d_filing_gateway_up 0.0\n"),
        "{}",
        d.get("/metrics").1
    );
    // The job runs every second: let several runs meet the same outage.
    d.wait_for(
        || d.log().matches("still pending after the retries").count() >= 3,
        "three runs to meet the outage",
    );
    assert_eq!(
        d.log().matches("cannot be reached").count(),
        1,
        "alerted more than once:\n{}",
        d.log()
    );

    let dir = tempfile::tempdir().unwrap();
    let sim = AceSim::start(
        dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    std::fs::write(
        &filer.config,
        std::fs::read_to_string(&filer.config)
            .unwrap()
            .replace(&down, &sim.url()),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for(|| d.log().contains("answers again"), "the recovery");
    d.wait_for(
        || !d.get("/readyz").1.contains("filing is degraded"),
        "readiness to clear filing",
    );
    assert!(
        d.get("/metrics")
            .1
            .contains("s321d_filing_gateway_up 1.0\n"),
        "{}",
        d.get("/metrics").1
    );
    d.wait_for(|| filer.by_bill().contains_key("DD1"), "DD1 to be filed");
    assert_eq!(d.log().matches("answers again").count(), 1, "{}", d.log());
    assert_eq!(
        d.log().matches("cannot be reached").count(),
        1,
        "{}",
        d.log()
    );
    d.stop();
}

/// Issue 10 item 3: an entry refused before numbering is in the ledger as
/// `not filed: <reason>` (`s321d ledger show HOUSE_BILL`, `s321d file`'s
/// ledger line) and in the run's exception report beside ACE's rejections;
/// filing the run again once the data is fixed clears it.
#[test]
fn an_entry_not_filed_is_in_the_ledger_and_the_exception_report() {
    let sim_dir = tempfile::tempdir().unwrap();
    let filer = Filer::new("http", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        sim_dir.path(),
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    std::fs::write(
        &filer.config,
        std::fs::read_to_string(&filer.config)
            .unwrap()
            .replace("http://127.0.0.1:9", &sim.url()),
    )
    .unwrap();
    // The seller's city is unknown: SE36 cannot be filled, nothing is sent.
    let parties = filer.s.path().join("parties.csv");
    std::fs::write(
        &parties,
        "name,country,address,city\nSomeone Else,VN,1 Road,Hanoi\n",
    )
    .unwrap();
    filer.drop_file("a.csv", &manifest(&[Line::clean("NL1")]));
    filer.run_job();
    assert!(filer.filings().is_empty(), "{:#?}", filer.filings());
    assert!(
        sim.received().is_empty(),
        "sent with a blank mandatory field"
    );

    let out = filer.s321d(&["ledger", "show", "NL1"]);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("House bill NL1 (carrier DHLX)"), "{text}");
    assert!(
        text.contains("state: not filed: SE36 city of the seller of line 1: "),
        "{text}"
    );
    let run = filer
        .run_dirs()
        .pop()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        text.contains(&format!("run {run}, type 86, house bills NL1")),
        "{text}"
    );
    let out = filer.s321d(&["ledger", "show", "NOPE1"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        show(&out).contains("no house bill NOPE1 in the ledger"),
        "{}",
        show(&out)
    );

    // Previewing needs recipients; nothing is sent.
    let mut cfg = std::fs::read_to_string(&filer.config).unwrap();
    cfg.push_str("[email]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\nfrom = \"s321d <s321d@broker.example>\"\n\
                  [email.groups]\ncompliance = [\"compliance@broker.example\"]\n");
    std::fs::write(&filer.config, cfg).unwrap();
    let preview = filer.s.path().join("preview");
    let out = filer.s321d(&[
        "report",
        "--run",
        &run,
        "--preview",
        preview.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let mail = std::fs::read_to_string(preview.join("message.txt")).unwrap();
    assert!(mail.contains("Filing rejections: 1"), "{mail}");
    let section = mail
        .split("FILING REJECTIONS (ACE) AND ENTRIES NOT FILED")
        .nth(1)
        .unwrap_or_else(|| panic!("no filing section:\n{mail}"));
    assert!(
        section.contains("(not filed)")
            && section.contains("NL1")
            && section.contains("SE36 city of the seller"),
        "{section}"
    );

    // The address fixed, filing the run again files it and the record goes.
    std::fs::write(&parties, PARTIES).unwrap();
    let out = filer.s321d(&["file", "--run", &run]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(!show(&out).contains("not filed 1"), "{}", show(&out));
    filer.poll_until_settled(&sim);
    let out = filer.s321d(&["ledger", "show", "NL1"]);
    assert!(
        out.status.success() && !show(&out).contains("not filed"),
        "{}",
        show(&out)
    );
    assert_eq!(filer.by_bill()["NL1"].state, "released");
    assert_filed_once(&filer, &sim);
}

/// Issue 10 item 7 over CATAIR: with `filing.http.url` set, a CATAIR filer
/// asks the gateway about house bills before numbering (CATAIR has no query
/// transaction) and adopts ACE's number instead of writing a second batch.
#[test]
fn catair_a_second_state_store_adopts_over_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let first = Filer::new("http", "http://127.0.0.1:9", "");
    let sim = AceSim::start(
        dir.path(),
        &first.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    std::fs::write(
        &first.config,
        std::fs::read_to_string(&first.config)
            .unwrap()
            .replace("http://127.0.0.1:9", &sim.url()),
    )
    .unwrap();
    let text = manifest(&[Line::clean("CA1"), Line::clean("CA2")]);
    first.drop_file("a.csv", &text);
    first.run_job();
    first.poll_until_settled(&sim);

    let second = Filer::new("catair", "", "");
    let cfg = std::fs::read_to_string(&second.config)
        .unwrap()
        .replace("url = \"\"", &format!("url = \"{}\"", sim.url()));
    std::fs::write(&second.config, cfg).unwrap();
    second.drop_file("a.csv", &text);
    let out = second.run_job();
    let (a, b) = (first.by_bill(), second.by_bill());
    assert_eq!(
        b.keys().collect::<Vec<_>>(),
        ["CA1", "CA2"],
        "{b:#?}\n{}",
        show(&out)
    );
    for hb in ["CA1", "CA2"] {
        assert_eq!(
            (b[hb].entry_number.as_str(), b[hb].state.as_str()),
            (a[hb].entry_number.as_str(), "accepted"),
            "{hb}"
        );
    }
    assert_eq!(second.listed("adopted.csv").len(), 2);
    let written = std::fs::read_dir(second.data().join("ace/outbound"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "a CATAIR batch was written for bills ACE holds");
    assert_filed_once(&first, &sim);
}

/// Issue 10 item 6: the exception email of a run that met a gateway outage
/// says filing is degraded (with the entries not filed it lists anyway).
#[test]
fn the_exception_email_says_filing_is_degraded_while_the_gateway_is_down() {
    let down = closed_gateway();
    let filer = Filer::new("http", &down, "");
    let smtp = crate::support::servers::Smtp::start(filer.s.path());
    let mut cfg = std::fs::read_to_string(&filer.config).unwrap();
    cfg.push_str(&format!(
        "[email]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"s321d <s321d@broker.example>\"\n\
         [email.groups]\ncompliance = [\"compliance@broker.example\"]\n",
        smtp.port
    ));
    std::fs::write(&filer.config, cfg).unwrap();
    // One bill cannot be filed (its seller is not in the party book: no
    // city), the other waits for the gateway.
    let text = manifest(&[Line::clean("EM1"), Line::clean("EM2")]).replacen(
        ",0.5,Shop,",
        ",0.5,Nowhere Ltd,",
        1,
    );
    filer.drop_file("a.csv", &text);
    let out = filer.s321d(&["run-job", "intake"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        show(&out).contains("1 entr(ies) still pending after the retries"),
        "{}",
        show(&out)
    );
    let messages = smtp.wait_for(1);
    let m = mail_parser::MessageParser::default()
        .parse(&messages[0])
        .unwrap();
    let body = m.body_text(0).unwrap().into_owned();
    assert!(
        body.contains("(not filed)") && body.contains("EM1"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "FILING\nFiling is degraded: the ACE gateway {down} is unreachable since "
        )),
        "{body}"
    );
}

/// One `entry_summaries` row: (state, code, narrative, duty, fees,
/// certified, batch, payload).
type SummaryRow = (String, String, String, String, String, bool, String, String);

/// The ledger's entry summaries: entry number -> (state, code, narrative,
/// duty, fees, certified, batch, payload).
fn summaries(filer: &Filer) -> BTreeMap<String, SummaryRow> {
    let db = filer.db();
    let mut stmt = db
        .prepare(
            "SELECT entry_number, state, COALESCE(code, ''), COALESCE(narrative, ''), duty_usd, fees_usd, certified, COALESCE(batch, ''), payload \
             FROM entry_summaries ORDER BY filing_id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// `s321d file --poll` until every entry summary has ACE's answer.
fn poll_until_summarised(filer: &Filer, sim: &AceSim, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = filer.s321d(&["file", "--poll"]);
        assert!(out.status.success(), "{}\nsim:\n{}", show(&out), sim.log());
        let s = summaries(filer);
        if s.len() >= want
            && s.values()
                .all(|v| matches!(v.0.as_str(), "accepted" | "rejected" | "not_filed"))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "summaries never answered: {s:#?}\nsim:\n{}",
            sim.log()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Cents of a decimal text.
fn cents_of(v: &str) -> i64 {
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    whole.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<i64>().unwrap()
}

/// A type 11 (two lines, chapter 99 duty) and a type 01 (over $2,500, an
/// IOR, `formal_entries = "file"`) after the suspension of de minimis.
fn summary_manifest(tag: &str) -> String {
    let (s1, f1) = (format!("{tag}S1"), format!("{tag}F1"));
    manifest(&[
        Line {
            hts: "8518.30.2000",
            origin: "CN",
            value: "250.00",
            ..Line::informal(&s1, "Maria Garcia", IOR)
        },
        Line {
            line_no: 2,
            ..Line::informal(&s1, "Maria Garcia", "")
        },
        Line {
            value: "3000.00",
            ..Line::informal(&f1, "Frank Formal", IOR)
        },
    ])
}

/// A filer over `transport` with the duty policy, the simulator's gateway,
/// type 01 filed, and `extra` added to `[filing]`.
fn summary_filer(transport: &str, dir: &Path, extra: &str) -> (Filer, AceSim) {
    let filer = Filer::new(transport, "http://127.0.0.1:9", &duty_policy(dir));
    let sim = AceSim::start(
        dir,
        &filer.data(),
        "[release]\ndelay_ms = 50\nheld_share = 0.0\n",
    );
    let text = std::fs::read_to_string(&filer.config)
        .unwrap()
        .replace("http://127.0.0.1:9", &sim.url())
        .replace(
            "[filing]\n",
            &format!("[filing]\nformal_entries = \"file\"\n{extra}"),
        );
    std::fs::write(&filer.config, text).unwrap();
    (filer, sim)
}

/// Issue 10 item 9: after the cargo release, a type 11 and a type 01 entry
/// each get one entry summary (AE) that the simulator accepts (AX), and the
/// ledger records the acceptance apart from the release, with the duty and
/// fees of the run's own estimate (entries.csv).
fn entry_summaries_after_release(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (filer, sim) = summary_filer(transport, dir.path(), "");
    filer.drop_file("s.csv", &summary_manifest(""));
    filer.run_job();
    filer.poll_until_settled(&sim);
    poll_until_summarised(&filer, &sim, 2);
    let f = filer.by_bill();
    assert_eq!(
        (f["S1"].entry_type.as_str(), f["F1"].entry_type.as_str()),
        ("11", "01"),
        "{f:#?}"
    );
    assert!(
        f.values().all(|r| r.state == "released"),
        "{transport}: the releases stand apart: {f:#?}"
    );
    let run_dir = filer.run_dirs()[0].clone();
    let entries = read_table(&run_dir.join("entries.csv"));
    let s = summaries(&filer);
    for hb in ["S1", "F1"] {
        let e = entries.iter().find(|e| e["house_bills"] == hb).unwrap();
        let (state, code, narrative, duty, fees, certified, batch, payload) =
            &s[&f[hb].entry_number];
        assert_eq!(
            (state.as_str(), code.as_str(), narrative.as_str()),
            ("accepted", "995", "SUMMARY HAS BEEN ADDED"),
            "{transport} {hb}: {s:#?}"
        );
        assert!(!certified);
        assert_eq!(
            cents_of(duty),
            cents_of(&e["duty_usd"]),
            "{transport} {hb}: the summary carries the run's duty estimate"
        );
        assert_eq!(
            cents_of(fees),
            cents_of(&e["mpf_usd"]) + cents_of(&e["hmf_usd"]),
            "{transport} {hb}: and its fees"
        );
        assert_eq!(e["duty_status"], "known", "{e:?}");
        assert_eq!(batch.ends_with("-ae.sei"), transport == "catair", "{batch}");
        assert!(
            payload.lines().all(|l| l.len() == 80) && payload.starts_with("10A"),
            "{payload}"
        );
    }
    // The fee classes: the informal fee at the header of the type 11, the
    // formal MPF per line of the type 01 (at its minimum: 0.3464% of 3,000
    // is 10.39), settled in 89.
    let (s11, s01) = (&s[&f["S1"].entry_number].7, &s[&f["F1"].entry_number].7);
    assert!(s11.lines().any(|l| l.starts_with("34311     262")), "{s11}");
    assert!(
        s11.lines().any(|l| l.starts_with("89311        262")),
        "{s11}"
    );
    assert!(!s11.lines().any(|l| l.starts_with("62")), "{s11}");
    assert!(s01.lines().any(|l| l.starts_with("62499    3271")), "{s01}");
    assert!(
        s01.lines().any(|l| l.starts_with("89499       3271")),
        "{s01}"
    );
    // Chapter 99 numbers first on the earbuds line, each with its duty.
    let fifty: Vec<&str> = s11
        .lines()
        .filter(|l| l.starts_with("50"))
        .map(|l| &l[2..12])
        .collect();
    assert_eq!(
        fifty,
        [
            "9903880300",
            "9903012500",
            "8518302000",
            "9903012500",
            "6109100012"
        ],
        "{s11}"
    );
    if transport == "catair" {
        let ae: Vec<PathBuf> = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("-ae.sei"))
            .collect();
        assert_eq!(ae.len(), 1, "one AE batch: {ae:?}");
        let text = std::fs::read_to_string(&ae[0]).unwrap();
        assert!(text.lines().all(|l| l.len() == 80));
        let a = text.lines().next().unwrap();
        assert_eq!((&a[..14], &a[25..27]), ("A4701S32TEST01", "AE"));
        assert_eq!(
            text.lines().filter(|l| l.starts_with("10A")).count(),
            2,
            "one summary per entry, never consolidated"
        );
        let ax = filer.data().join("ace/inbound/processed").join(format!(
            "{}.sx",
            ae[0].file_name().unwrap().to_string_lossy()
        ));
        assert!(
            std::fs::read_to_string(&ax)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("E1A"))
                .count()
                == 2,
            "AX read and filed away"
        );
    }
    // The story shows the summary apart from the release.
    let out = filer.s321d(&["ledger", "show", "F1"]);
    assert!(out.status.success(), "{}", show(&out));
    let story = String::from_utf8_lossy(&out.stdout);
    assert!(
        story.contains(&format!(
            "Entry {} (type 01): released (98",
            f["F1"].entry_number
        )),
        "{story}"
    );
    assert!(
        story.contains("entry summary (AE): accepted (995 SUMMARY HAS BEEN ADDED)"),
        "{story}"
    );
    assert!(
        story.contains("duty ") && story.contains("fees 32.71 USD"),
        "{story}"
    );
    // Polling again sends nothing twice.
    let before = summaries(&filer);
    assert!(filer.s321d(&["file", "--poll"]).status.success());
    assert_eq!(summaries(&filer), before);
    assert_filed_once(&filer, &sim);
}

#[test]
fn http_entry_summaries_follow_the_release_with_the_estimated_duty_and_fees() {
    entry_summaries_after_release("http");
}

#[test]
fn catair_entry_summaries_follow_the_release_with_the_estimated_duty_and_fees() {
    entry_summaries_after_release("catair");
}

/// Issue 10 item 9: a summary recorded and then killed before it was sent
/// goes out once after the restart; a defect in it (its IOR record gone)
/// draws the simulator's AX reject, recorded as the summary's, not the
/// release's.
fn a_defective_summary_is_rejected_and_recorded(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (filer, sim) = summary_filer(transport, dir.path(), "");
    filer.drop_file("s.csv", &summary_manifest("D"));
    let crashed = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .arg("--config")
            .arg(&filer.config)
            .args(args)
            .env("S321D_CRASH_AT", "summary-intent")
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = crashed(&["run-job", "intake"]);
    while out.status.success() {
        assert!(
            Instant::now() < deadline,
            "never reached the summary: {}",
            show(&out)
        );
        std::thread::sleep(Duration::from_millis(150));
        out = crashed(&["file", "--poll"]);
    }
    assert!(
        show(&out).contains("crash point summary-intent"),
        "{}",
        show(&out)
    );
    let s = summaries(&filer);
    assert!(
        !s.is_empty() && s.values().all(|v| v.0 == "pending"),
        "recorded before sending: {s:#?}"
    );
    // The defect: the type 11's summary loses its 11 record (the IOR).
    let number = filer.by_bill()["DS1"].entry_number.clone();
    let payload = &s[&number].7;
    let broken: String = payload
        .lines()
        .filter(|l| !l.starts_with("11"))
        .map(|l| format!("{l}\n"))
        .collect();
    filer
        .db()
        .execute(
            "UPDATE entry_summaries SET payload = ?1 WHERE entry_number = ?2",
            [&broken, &number],
        )
        .unwrap();
    poll_until_summarised(&filer, &sim, 2);
    let s = summaries(&filer);
    let (state, code, narrative, ..) = &s[&number];
    assert_eq!(
        (state.as_str(), code.as_str(), narrative.as_str()),
        ("rejected", "E14", "11 RECORD (IOR) REQUIRED"),
        "{transport}: {s:#?}"
    );
    let formal = &s[&filer.by_bill()["DF1"].entry_number];
    assert_eq!(
        formal.0, "accepted",
        "the other summary is not held back: {s:#?}"
    );
    let f = filer.by_bill();
    assert_ne!(
        f["DS1"].state, "rejected",
        "the release's state is its own: {f:#?}"
    );
    if transport == "catair" {
        let ae = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with("-ae.sei")
            })
            .count();
        assert_eq!(
            ae, 1,
            "the batch that never left is written once, after the restart"
        );
    }
    let out = filer.s321d(&["ledger", "show", "DS1"]);
    let story = String::from_utf8_lossy(&out.stdout);
    assert!(
        story.contains("entry summary (AE): rejected (E14 11 RECORD (IOR) REQUIRED)"),
        "{story}"
    );
    // The run's exception report lists it with the release rejections.
    let mut cfg = std::fs::read_to_string(&filer.config).unwrap();
    cfg.push_str("[email]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\nfrom = \"s321d <s321d@broker.example>\"\n[email.groups]\ncompliance = [\"compliance@broker.example\"]\n");
    std::fs::write(&filer.config, cfg).unwrap();
    let preview = filer.s.path().join("preview");
    let run_id = filer.run_dirs()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = filer.s321d(&[
        "report",
        "--run",
        &run_id,
        "--carrier",
        "DHLX",
        "--preview",
        preview.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let message = std::fs::read_to_string(preview.join("message.txt")).unwrap();
    assert!(
        message.contains(&number)
            && message.contains("entry summary (AE): 11 RECORD (IOR) REQUIRED"),
        "{message}"
    );
}

#[test]
fn http_a_defective_entry_summary_is_rejected_and_recorded() {
    a_defective_summary_is_rejected_and_recorded("http");
}

#[test]
fn catair_a_defective_entry_summary_is_rejected_and_recorded() {
    a_defective_summary_is_rejected_and_recorded("catair");
}

/// Issue 10 item 9, one step: `entry_summary = "certified"` files a type 11
/// by its summary alone, certified for cargo release (10 pos 40 `A`): no SE
/// reaches ACE, the AX acceptance accepts the entry, and the release
/// notification follows.
fn certified_summaries(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (filer, sim) = summary_filer(transport, dir.path(), "entry_summary = \"certified\"\n");
    filer.drop_file("s.csv", &summary_manifest("C"));
    filer.run_job();
    filer.poll_until_settled(&sim);
    poll_until_summarised(&filer, &sim, 2);
    let f = filer.by_bill();
    let s = summaries(&filer);
    for hb in ["CS1", "CF1"] {
        assert_eq!(f[hb].state, "released", "{transport} {hb}: {f:#?}");
        let v = &s[&f[hb].entry_number];
        assert_eq!((v.0.as_str(), v.5), ("accepted", true), "{v:?}");
        assert_eq!(&v.7[39..40], "A", "certified for cargo release");
    }
    assert!(
        sim.received().is_empty(),
        "no SE reached ACE: {:?}",
        sim.received()
    );
    if transport == "catair" {
        let se = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with("-ae.sei")
            })
            .count();
        assert_eq!(se, 0, "no SE batch");
    }
}

#[test]
fn http_certified_entry_summaries_file_without_a_cargo_release() {
    certified_summaries("http");
}

#[test]
fn catair_certified_entry_summaries_file_without_a_cargo_release() {
    certified_summaries("catair");
}

/// Issue 10 item 9, exactly once: killed after the summary left (the AE
/// batch written, or the gateway's answer received) and before the ledger
/// recorded it, the restarted filer finds it sent — the batch is in the
/// outbound folder or taken, the gateway has the answer — and never sends it
/// again.
fn a_summary_killed_after_it_left_is_never_sent_twice(transport: &str, point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (filer, sim) = summary_filer(transport, dir.path(), "");
    filer.drop_file("s.csv", &summary_manifest("K"));
    let crashed = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .arg("--config")
            .arg(&filer.config)
            .args(args)
            .env("S321D_CRASH_AT", point)
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = crashed(&["run-job", "intake"]);
    while out.status.success() {
        assert!(
            Instant::now() < deadline,
            "never reached {point}: {}",
            show(&out)
        );
        std::thread::sleep(Duration::from_millis(150));
        out = crashed(&["file", "--poll"]);
    }
    assert!(
        show(&out).contains(&format!("crash point {point}")),
        "{}",
        show(&out)
    );
    assert!(
        summaries(&filer).values().any(|v| v.0 == "pending"),
        "{:#?}",
        summaries(&filer)
    );
    poll_until_summarised(&filer, &sim, 2);
    let s = summaries(&filer);
    assert!(
        s.values().all(|v| v.0 == "accepted"),
        "{transport} {point}: {s:#?}"
    );
    if transport == "catair" {
        let ae = std::fs::read_dir(filer.data().join("ace/outbound/processed"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with("-ae.sei")
            })
            .count();
        assert_eq!(ae, 1, "{point}: the AE batch went out once");
    }
    if transport == "http" {
        // Asked, not sent again: the answer came from the gateway's record.
        let messages: Vec<String> = filer
            .db()
            .prepare("SELECT message FROM entry_summaries")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("reconciled: entry summary accepted")),
            "{messages:?}"
        );
    }
}

#[test]
fn catair_a_summary_killed_after_its_batch_was_written_is_never_sent_twice() {
    a_summary_killed_after_it_left_is_never_sent_twice("catair", "summary-batch-written");
}

#[test]
fn http_a_summary_killed_after_the_gateway_answered_is_never_sent_twice() {
    a_summary_killed_after_it_left_is_never_sent_twice("http", "summary-answered");
}
