//! The ACE simulator on its own (issue 10): batches built by hand from the
//! published CATAIR positions (../shared/catair.md), never by s321d's writer,
//! dropped into the real `s321d ace-sim` process's inbound folder, and the
//! answers a real ACE would give them, read back at their published
//! positions. The SE90 condition codes (`E..`, `S..`) are the simulator's
//! own: CBP's list was not transcribed (catair.md section 4).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Sandbox;
use crate::support::servers::{free_port, http};

// ------------------------------------------------------------------ records by hand

/// An 80-character record: `id` at position 1, each value at its 1-based
/// position, spaces elsewhere.
fn rec(id: &str, fields: &[(usize, &str)]) -> String {
    let mut b = vec![b' '; 80];
    b[..id.len()].copy_from_slice(id.as_bytes());
    for (pos, value) in fields {
        b[pos - 1..pos - 1 + value.len()].copy_from_slice(value.as_bytes());
    }
    String::from_utf8(b).unwrap()
}

/// The 1-based, inclusive slice `from..=to` of a record.
fn at(line: &str, from: usize, to: usize) -> &str {
    &line[from - 1..to]
}

/// SE10 11-18 for filer `S32` and `serial`: the serial and its check digit
/// (CATAIR Appendix E, computed here independently of the simulator).
fn entry8(serial: u32) -> String {
    let ten = format!("S32{serial:07}");
    let mut sum = 0;
    for (i, c) in ten.bytes().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'I' => u32::from(c - b'A') + 1,
            b'J'..=b'R' => u32::from(c - b'J') + 1,
            _ => u32::from(c - b'S') + 2,
        };
        sum += if i % 2 == 1 {
            if v * 2 > 9 { v * 2 - 9 } else { v * 2 }
        } else {
            v
        };
    }
    format!("{serial:07}{}", (10 - sum % 10) % 10)
}

fn envelope(app: &str, transactions: &[String]) -> String {
    let mut lines = vec![rec(
        "A",
        &[
            (2, "4701"),
            (6, "S32"),
            (9, "PASSWD"),
            (15, "120326"),
            (26, app),
            (60, "BATCH 7"),
        ],
    )];
    lines.push(rec("B", &[(4, "4701"), (8, "S32"), (11, app)]));
    lines.extend(transactions.iter().cloned());
    lines.push(rec("Y", &[(4, "4701"), (8, "S32"), (11, app)]));
    lines.push(rec("Z", &[(2, "4701"), (6, "S32"), (15, "120326")]));
    lines.join("\n") + "\n"
}

/// A conforming type 11 air entry (catair.md sections 3 and 7): IOR, bond
/// 8, MOT 40, contact, master and house bill (no issuer for air, non-AMS
/// `N`), consignee by name with address and city, seller and
/// manufacturer by name and address, one line with its value.
fn type11(serial: u32, house_bill: &str) -> Vec<String> {
    let party = |code: &str, name: &str, street: &str, city: &str, country: &str| {
        vec![
            rec("SE30", &[(5, code), (8, name)]),
            rec("SE35", &[(5, "15"), (7, street)]),
            rec("SE36", &[(5, city), (64, country)]),
        ]
    };
    let mut t = vec![
        rec(
            "SE10",
            &[
                (5, "A"),
                (6, "S32"),
                (11, &entry8(serial)),
                (20, "11"),
                (22, "EI"),
                (25, "12-345678900"),
                (37, "40"),
                (39, "8"),
                (40, "0000000800"),
            ],
        ),
        rec("SE13", &[(5, "JANE DOE"), (45, "3125550100")]),
        rec("SE15", &[(5, "M"), (10, "15712345675"), (73, "N")]),
        rec(
            "SE15",
            &[(5, "H"), (10, house_bill), (60, "00000002"), (73, "N")],
        ),
    ];
    t.extend(party(
        "CN",
        "JOSE MULLER-OSTERGAARD",
        "88 OCEAN AVENUE APT 5",
        "SAN FRANCISCO",
        "US",
    ));
    let last = t.len() - 1;
    t[last] = rec(
        "SE36",
        &[(5, "SAN FRANCISCO"), (40, "CA"), (49, "94121"), (64, "US")],
    );
    t.extend(party("SE", "HANOI SILK CO", "12 HANG GAI", "HANOI", "VN"));
    t.extend(party("MF", "HANOI SILK CO", "12 HANG GAI", "HANOI", "VN"));
    t.push(rec(
        "SE40",
        &[(5, "001"), (8, "VN"), (11, "SILK SCARF, WOVEN, 100% SILK")],
    ));
    t.push(rec("SE60", &[(5, "6214101000"), (15, "0000000800")]));
    t
}

/// Replaces the record of `t` starting with `prefix` (the first one).
fn replace(t: &mut [String], prefix: &str, with: String) {
    let i = t
        .iter()
        .position(|r| r.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}"));
    t[i] = with;
}

// ------------------------------------------------------------------ the simulator process

struct Peer {
    child: Child,
    port: u16,
    inbound: PathBuf,
    outbound: PathBuf,
    _sandbox: Sandbox,
}

impl Peer {
    /// The real `s321d ace-sim` for filer code S32, password `PASSWD`,
    /// releasing at once and holding nothing.
    fn start() -> Peer {
        Peer::start_with("", "")
    }

    /// The same with `top` keys (such as `token_file`) and `tables` (such
    /// as `[faults]`) added to its configuration.
    fn start_with(top: &str, tables: &str) -> Peer {
        let sandbox = Sandbox::new();
        let port = free_port();
        let inbound = sandbox.path().join("in");
        let outbound = sandbox.path().join("out");
        let password = sandbox.write("batch-password", "PASSWD\n");
        let config = sandbox.write(
            "ace-sim.toml",
            format!(
                "filer_codes = [\"S32\"]\nlisten = \"127.0.0.1:{port}\"\n{top}\n[release]\ndelay_ms = 0\nheld_share = 0.0\n\
                 [batch]\ninbound = {:?}\noutbound = {:?}\npoll_ms = 20\npassword_file = {:?}\n{tables}\n",
                inbound.display().to_string(),
                outbound.display().to_string(),
                password.display().to_string(),
            ),
        );
        let log = std::fs::File::create(sandbox.path().join("ace-sim.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["ace-sim", "--config", &config.display().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "ace-sim did not start: {}",
                sandbox.read("ace-sim.log")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Peer {
            child,
            port,
            inbound,
            outbound,
            _sandbox: sandbox,
        }
    }

    /// Drops `text` as batch `name` and waits for its answer.
    fn answer(&self, name: &str, text: &str) -> String {
        std::fs::create_dir_all(&self.inbound).unwrap();
        let tmp = self.inbound.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.inbound.join(format!("{name}.sei"))).unwrap();
        let answer = self.outbound.join(format!("{name}.sei.sx"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&answer) {
                return text;
            }
            assert!(Instant::now() < deadline, "no answer to {name}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the first SO notification batch.
    fn notification(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = std::fs::read_dir(&self.outbound)
                .ok()
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "so"));
            if let Some(p) = found {
                return std::fs::read_to_string(p).unwrap();
            }
            assert!(Instant::now() < deadline, "no SO batch");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ reading answers

fn lines(answer: &str) -> Vec<&str> {
    let lines: Vec<&str> = answer.lines().collect();
    for l in &lines {
        assert_eq!(l.len(), 80, "not 80 characters: {l:?}");
    }
    lines
}

/// The SE90 records of an SX answer: (message type, condition, narrative).
fn se90s(answer: &str) -> Vec<(String, String, String)> {
    lines(answer)
        .into_iter()
        .filter(|l| l.starts_with("SE90"))
        .map(|l| {
            (
                at(l, 5, 6).to_owned(),
                at(l, 7, 9).trim().to_owned(),
                at(l, 10, 49).trim().to_owned(),
            )
        })
        .collect()
}

/// The X1 condition codes of a batch reject.
fn x1s(answer: &str) -> Vec<String> {
    lines(answer)
        .into_iter()
        .filter(|l| l.starts_with("X1"))
        .map(|l| at(l, 5, 7).to_owned())
        .collect()
}

/// The record a record-level SE90 follows.
fn faulted_record<'a>(answer: &'a str, condition: &str) -> &'a str {
    let lines = lines(answer);
    let i = lines
        .iter()
        .position(|l| l.starts_with("SE90") && at(l, 7, 9) == condition)
        .unwrap_or_else(|| panic!("no {condition}:\n{answer}"));
    lines[..i]
        .iter()
        .rev()
        .find(|l| !l.starts_with("SE90"))
        .unwrap()
}

/// One transaction rejected with `condition`: a record-level SE90 11 and
/// the closing message-level SE90 01, both with it.
fn assert_rejected(answer: &str, condition: &str) {
    let found = se90s(answer);
    assert!(
        found.iter().any(|(t, c, _)| t == "11" && c == condition),
        "no record-level {condition}:\n{answer}"
    );
    let last = found.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("01", condition),
        "{answer}"
    );
}

// ------------------------------------------------------------------ tests

#[test]
fn a_conforming_type_11_batch_is_accepted_with_zero_errors_and_warnings() {
    let sim = Peer::start();
    let t = type11(11, "DX2001");
    let batch = envelope("SE", &t);
    let answer = sim.answer("good", &batch);
    let out = lines(&answer);
    // Output A: no password, response id SX, the user data echoed.
    assert_eq!(at(out[0], 1, 8), "A4701S32");
    assert_eq!(at(out[0], 9, 14), "      ");
    assert_eq!(at(out[0], 26, 27), "SX");
    assert_eq!(at(out[0], 60, 80).trim(), "BATCH 7");
    assert_eq!(at(out[1], 1, 12), "B  4701S32SX");
    // SE10 and both SE15 echoed, one closing SE90 02, nothing else.
    let body = &out[2..out.len() - 2];
    assert_eq!(body[0], t[0]);
    assert_eq!(&body[1..3], &t[2..4]);
    assert_eq!(
        se90s(&answer),
        [("02".to_owned(), String::new(), "ENTRY ACCEPTED".to_owned())],
        "{answer}"
    );
    assert_eq!(body.len(), 4);
    // Output Y: the image count of the block; Z mirrors the input Z.
    let y = out[out.len() - 2];
    assert_eq!(at(y, 1, 12), "Y  4701S32SX");
    assert_eq!(at(y, 13, 17), "00004");
    assert_eq!(out[out.len() - 1], batch.lines().last().unwrap());

    // The release comes as an SO batch in the published SO10/SO60 layout.
    let so = sim.notification();
    let so = lines(&so);
    assert_eq!(at(so[0], 26, 27), "SO");
    let so10 = so.iter().find(|l| l.starts_with("SO10")).unwrap();
    assert_eq!(
        (at(so10, 9, 11), at(so10, 14, 21), at(so10, 23, 24)),
        ("S32", entry8(11).as_str(), "11")
    );
    assert_eq!(at(so10, 25, 36), "12-345678900");
    let so60 = so.iter().find(|l| l.starts_with("SO60")).unwrap();
    assert_eq!(at(so60, 15, 16), "98", "{so60}");
    assert_eq!(at(so60, 17, 56).trim(), "RELEASED");
    assert!(
        at(so60, 5, 14).bytes().all(|b| b.is_ascii_digit()),
        "MMDDYYHHMM: {so60}"
    );
    assert_eq!(
        at(so60, 57, 62),
        at(so60, 5, 10),
        "release date with code 98"
    );
    let so40 = so
        .iter()
        .find(|l| l.starts_with("SO40") && at(l, 5, 5) == "H")
        .unwrap();
    assert_eq!(at(so40, 10, 59).trim(), "DX2001");
    let y = so.iter().find(|l| l.starts_with('Y')).unwrap();
    let (b, yi) = (
        so.iter().position(|l| l.starts_with('B')).unwrap(),
        so.iter().position(|l| l.starts_with('Y')).unwrap(),
    );
    assert_eq!(at(y, 13, 17).parse::<usize>().unwrap(), yi - b - 1);

    // The house bill query: on this entry; an unknown bill is 404.
    let (status, body) = http("GET", sim.port, "/v1/bills/-/DX2001", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["entry_number"],
        format!("S32-{}-{}", &entry8(11)[..7], &entry8(11)[7..])
    );
    assert_eq!(
        (v["filer_code"].as_str(), v["entry_type"].as_str()),
        (Some("S32"), Some("11"))
    );
    assert_eq!(http("GET", sim.port, "/v1/bills/-/DX9999", "").0, 404);
}

#[test]
fn issue_10_the_old_envelope_is_a_batch_reject() {
    let sim = Peer::start();
    // s321d's old envelope, with a conforming transaction inside.
    let mut batch = vec![
        format!("{:<80}", "AS32120226199555"),
        format!("{:<80}", "BS32SE"),
    ];
    batch.extend(type11(12, "DX2002"));
    batch.push(format!("{:<80}", "Y000042"));
    batch.push(format!("{:<80}", "ZS32120226199555000001"));
    let answer = sim.answer("old", &(batch.join("\n") + "\n"));
    let out = lines(&answer);
    assert_eq!(
        at(out[0], 26, 27),
        "  ",
        "a rejected batch has no response id"
    );
    assert_eq!(out[1], format!("B{}B", " ".repeat(78)), "ACE's generated B");
    let conditions = x1s(&answer);
    // No application id at A 26-27, a date that is no date, data in the fillers.
    for expected in ["X11", "X10", "X39", "999"] {
        assert!(
            conditions.iter().any(|c| c == expected),
            "{expected} missing:\n{answer}"
        );
    }
    assert_eq!(conditions.last().unwrap(), "999");
    assert!(
        out.iter()
            .any(|l| l.starts_with("X1RF999   BATCH REJECTED")),
        "{answer}"
    );
    assert!(se90s(&answer).is_empty(), "no transaction is processed");
    let y = out[out.len() - 2];
    assert_eq!(
        y,
        format!("Y{}{:05}{}Y", " ".repeat(11), out.len() - 4, " ".repeat(62))
    );
    assert_eq!(out[out.len() - 1], format!("Z{}Z", " ".repeat(78)));
    // Nothing was filed.
    assert_eq!(http("GET", sim.port, "/v1/bills/-/DX2002", "").0, 404);
}

#[test]
fn issue_10_a_blank_non_ams_indicator_is_refused() {
    let sim = Peer::start();
    let mut t = type11(13, "DX2003");
    t[3] = rec("SE15", &[(5, "H"), (10, "DX2003"), (60, "00000002")]);
    let answer = sim.answer("se15", &envelope("SE", &t));
    assert_rejected(&answer, "S01");
    assert!(faulted_record(&answer, "S01").starts_with("SE15H"));
    assert!(
        se90s(&answer)
            .iter()
            .any(|(_, _, n)| n == "SE15 NON AMS REQUIRED"),
        "{answer}"
    );
}

#[test]
fn issue_10_a_blank_flight_number_is_refused() {
    let sim = Peer::start();
    let mut t = type11(14, "DX2004");
    // A non-AMS house bill: its SE16 and the planned port become mandatory.
    t[0] = rec(
        "SE10",
        &[
            (5, "A"),
            (6, "S32"),
            (11, &entry8(14)),
            (20, "11"),
            (22, "EI"),
            (25, "12-345678900"),
            (37, "40"),
            (39, "8"),
            (40, "0000000800"),
            (50, "4701"),
        ],
    );
    t[3] = rec("SE15", &[(5, "H"), (10, "DX2004"), (73, "Y")]);
    t.insert(
        4,
        rec("SE16", &[(5, "DL"), (14, "120326"), (20, "00000002")]),
    );
    let answer = sim.answer("se16", &envelope("SE", &t));
    assert_rejected(&answer, "S01");
    assert!(faulted_record(&answer, "S01").starts_with("SE16DL"));
    assert!(
        se90s(&answer)
            .iter()
            .any(|(_, _, n)| n == "SE16 VOYAGE REQUIRED"),
        "{answer}"
    );
}

#[test]
fn issue_10_a_blank_city_is_refused() {
    let sim = Peer::start();
    let mut t = type11(15, "DX2005");
    replace(
        &mut t,
        "SE36",
        rec("SE36", &[(40, "CA"), (49, "94121"), (64, "US")]),
    );
    let answer = sim.answer("se36", &envelope("SE", &t));
    assert_rejected(&answer, "S01");
    assert!(faulted_record(&answer, "S01").starts_with("SE36 "));
    assert!(
        se90s(&answer)
            .iter()
            .any(|(_, _, n)| n == "SE36 CITY REQUIRED"),
        "{answer}"
    );
}

#[test]
fn issue_10_an_ior_type_with_a_blank_number_is_refused() {
    let sim = Peer::start();
    let mut t = type11(16, "DX2006");
    t[0] = rec(
        "SE10",
        &[
            (5, "A"),
            (6, "S32"),
            (11, &entry8(16)),
            (20, "11"),
            (22, "EI"),
            (37, "40"),
            (39, "8"),
            (40, "0000000800"),
        ],
    );
    let answer = sim.answer("ior", &envelope("SE", &t));
    assert_rejected(&answer, "E14");
    assert!(faulted_record(&answer, "E14").starts_with("SE10A"));
    let narratives: Vec<String> = se90s(&answer).into_iter().map(|(_, _, n)| n).collect();
    assert!(
        narratives
            .iter()
            .any(|n| n == "IOR TYPE EI WITHOUT IOR NUMBER"),
        "{answer}"
    );
}

#[test]
fn issue_10_entity_code_sh_is_refused_outside_the_gbi_test() {
    let sim = Peer::start();
    let mut t = type11(17, "DX2007");
    let i = t.iter().position(|r| r.starts_with("SE30SE ")).unwrap();
    t[i] = rec("SE30", &[(5, "SH"), (8, "HANOI SILK CO")]);
    let answer = sim.answer("sh", &envelope("SE", &t));
    assert_rejected(&answer, "S12");
    assert!(faulted_record(&answer, "S12").starts_with("SE30SH"));
    // Without its SE30 SE the seller is missing too.
    assert!(
        se90s(&answer).iter().any(|(_, c, _)| c == "S16"),
        "{answer}"
    );
}

#[test]
fn issue_10_a_house_bill_with_a_question_mark_is_refused() {
    let sim = Peer::start();
    // `?` is an X character (so no batch reject), but bill numbers take no specials.
    let answer = sim.answer("qmark", &envelope("SE", &type11(18, "DX2?08")));
    assert_rejected(&answer, "S08");
    assert_eq!(at(faulted_record(&answer, "S08"), 10, 59).trim(), "DX2?08");
}

#[test]
fn issue_10_a_house_bill_with_its_hyphen_is_refused() {
    let sim = Peer::start();
    let answer = sim.answer("hyphen", &envelope("SE", &type11(19, "DX-2009")));
    assert_rejected(&answer, "S08");
}

#[test]
fn issue_10_bond_type_0_on_a_type_11_is_refused() {
    let sim = Peer::start();
    let mut t = type11(20, "DX2010");
    t[0] = rec(
        "SE10",
        &[
            (5, "A"),
            (6, "S32"),
            (11, &entry8(20)),
            (20, "11"),
            (22, "EI"),
            (25, "12-345678900"),
            (37, "40"),
            (39, "0"),
            (40, "0000000800"),
        ],
    );
    let answer = sim.answer("bond", &envelope("SE", &t));
    assert_rejected(&answer, "S04");
    assert!(
        se90s(&answer)
            .iter()
            .any(|(_, _, n)| n == "BOND TYPE 0 NOT ALLOWED FOR TYPE 11"),
        "{answer}"
    );
}

#[test]
fn issue_10_a_house_bill_already_on_another_entry_is_refused() {
    let sim = Peer::start();
    let first = sim.answer("first", &envelope("SE", &type11(21, "DX2011")));
    assert_eq!(se90s(&first).last().unwrap().0, "02", "{first}");
    // The same house bill under another number (a second state store).
    let again = sim.answer("again", &envelope("SE", &type11(5021, "DX2011")));
    assert_rejected(&again, "S19");
    let number = format!("S32-{}-{}", &entry8(21)[..7], &entry8(21)[7..]);
    assert!(
        se90s(&again)
            .iter()
            .any(|(_, _, n)| *n == format!("HOUSE BILL ON ENTRY {number}")),
        "{again}"
    );
    assert!(faulted_record(&again, "S19").starts_with("SE15H"));
    let (status, body) = http("GET", sim.port, "/v1/bills/-/DX2011", "");
    assert_eq!(status, 200);
    assert!(body.contains(&number), "{body}");
}

#[test]
fn a_batch_with_another_password_is_rejected_x09() {
    let sim = Peer::start();
    let batch = envelope("SE", &type11(22, "DX2012")).replacen("PASSWD", "WRONG1", 1);
    let answer = sim.answer("password", &batch);
    assert_eq!(x1s(&answer), ["X09", "999"], "{answer}");
    let x0 = lines(&answer)
        .into_iter()
        .find(|l| l.starts_with("X0"))
        .unwrap();
    assert_eq!(
        (at(x0, 4, 9), at(x0, 26, 32), at(x0, 34, 35)),
        ("TRNACT", "0000001", "09"),
        "record 1, position 9"
    );
    assert!(
        !answer.contains("WRONG1") && !answer.contains("PASSWD"),
        "the password is never echoed"
    );
}

#[test]
fn data_in_a_filler_and_a_short_last_record_reject_the_batch() {
    let sim = Peer::start();
    let mut t = type11(23, "DX2013");
    t[0].replace_range(78..80, "ZZ");
    let answer = sim.answer("filler", &envelope("SE", &t));
    assert_eq!(x1s(&answer), ["X39", "999"], "{answer}");
    let mut short = envelope("SE", &type11(24, "DX2014"));
    short.truncate(short.len() - 10);
    let answer = sim.answer("short", &short);
    assert_eq!(x1s(&answer), ["X42", "999"], "{answer}");
}

/// A conforming type 11 entry summary (catair.md section 7): 10, 11, 31,
/// 34 (class 311), 40, 50, 89, 90. Amounts in cents, right-justified.
fn summary(serial: u32, duty_total: &str) -> Vec<String> {
    vec![
        rec(
            "10",
            &[
                (3, "A"),
                (4, "S32"),
                (9, &entry8(serial)),
                (18, "4701"),
                (34, "11"),
                (36, "40"),
                (39, "X"),
                (51, "1"),
            ],
        ),
        rec("11", &[(3, "12-345678900")]),
        rec("31", &[(3, "8"), (4, "1"), (6, "123")]),
        rec("34", &[(3, "311"), (6, "     269")]),
        rec("40", &[(5, "001"), (9, "VN")]),
        rec(
            "50",
            &[
                (3, "6214101000"),
                (14, "      4000"),
                (25, "       800"),
                (36, "         100"),
                (48, "NO"),
            ],
        ),
        rec("89", &[(3, "311"), (6, "        269")]),
        rec("90", &[(3, duty_total), (15, "        269")]),
    ]
}

#[test]
fn a_conforming_entry_summary_is_answered_ax_added() {
    let sim = Peer::start();
    let answer = sim.answer("ae", &envelope("AE", &summary(30, "       4000")));
    let out = lines(&answer);
    assert_eq!(at(out[0], 26, 27), "AX", "{answer}");
    let e1: Vec<&&str> = out.iter().filter(|l| l.starts_with("E1")).collect();
    assert_eq!(e1.len(), 1, "{answer}");
    assert_eq!(at(e1[0], 3, 3), "A");
    assert_eq!(at(e1[0], 11, 50).trim(), "SUMMARY HAS BEEN ADDED");
    assert_eq!(
        (at(e1[0], 51, 53), at(e1[0], 56, 63)),
        ("S32", entry8(30).as_str())
    );
    // One summary per entry: the same entry summarised again is refused.
    let again = sim.answer("ae2", &envelope("AE", &summary(30, "       4000")));
    assert!(
        lines(&again)
            .iter()
            .any(|l| l.starts_with("E1 F") && at(l, 5, 7) == "S21"),
        "{again}"
    );
}

#[test]
fn an_entry_summary_whose_duty_total_is_not_its_lines_is_rejected() {
    let sim = Peer::start();
    let answer = sim.answer("ae-bad", &envelope("AE", &summary(31, "       5000")));
    let out = lines(&answer);
    let cond = out
        .iter()
        .position(|l| l.starts_with("E1 F") && at(l, 5, 7) == "S20")
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(
        out[cond - 1].starts_with("90"),
        "the E1 follows the 90 record"
    );
    assert!(out.iter().any(|l| l.starts_with("E1RF")), "{answer}");
}

/// A type 86 as the JSON gateway's protocol carries it.
fn json_entry(serial: u32, house_bill: &str) -> String {
    let n = entry8(serial);
    format!(
        r#"{{"entry_number":"S32-{}-{}","entry_type":"86","filer_code":"S32","carrier":"DHLX","house_bill":"{house_bill}",
        "master_bill":"","arrival_date":"2025-05-01","port_of_entry":"4701","mode_of_transport":"40","ior_type":"",
        "ior_number":"","bond_type":"0","entry_value_usd":45,"consignee":{{"name":"Chen Wei","country":"US"}},
        "shipper":{{"name":"Hanoi Silk","country":"VN"}},"lines":[{{"line":1,"description":"Silk scarf","hts":"6214101000","origin":"VN","value_usd":45}}]}}"#,
        &n[..7],
        &n[7..]
    )
}

#[test]
fn the_json_gateway_still_files_and_a_bill_it_took_is_refused_in_a_batch() {
    let sim = Peer::start();
    let (status, body) = http("POST", sim.port, "/v1/entries", &json_entry(40, "DX4001"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["condition"].as_str()),
        (Some("accepted"), Some("02")),
        "{body}"
    );
    let number = v["entry_number"].as_str().unwrap().to_owned();
    assert_eq!(
        http("GET", sim.port, &format!("/v1/entries/{number}"), "").0,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, notes) = http("GET", sim.port, "/v1/notifications?after=0", "");
        if notes.contains("\"98\"") {
            assert!(notes.contains(&number), "{notes}");
            break;
        }
        assert!(Instant::now() < deadline, "no release: {notes}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = http("GET", sim.port, "/v1/bills/DHLX/DX4001", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&number));
    // The same house bill in a CATAIR batch under another number.
    let answer = sim.answer("cross", &envelope("SE", &type11(41, "DX4001")));
    assert_rejected(&answer, "S19");
}

#[test]
fn faults_and_the_token_still_apply_to_the_gateway() {
    let failing = Peer::start_with("", "[faults]\nerror_rate = 1.0\n");
    let (status, _) = http(
        "POST",
        failing.port,
        "/v1/entries",
        &json_entry(50, "DX5001"),
    );
    assert_eq!(status, 500);
    let token = Sandbox::new();
    let file = token.write("token", "s3cret\n");
    let guarded = Peer::start_with(
        &format!("token_file = {:?}", file.display().to_string()),
        "",
    );
    assert_eq!(
        http("GET", guarded.port, "/v1/bills/-/DX5001", "").0,
        401,
        "the bill query takes the gateway's token"
    );
    assert_eq!(
        http(
            "POST",
            guarded.port,
            "/v1/entries",
            &json_entry(51, "DX5002")
        )
        .0,
        401
    );
}
