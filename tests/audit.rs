//! The audit trail end to end: the daemon's real steps append a hash chain
//! that `s321d audit verify` accepts; a row changed behind its back (through
//! SQLite, triggers dropped) is caught and named, and so is a cut-off tail
//! with `--head`; `s321d audit export` writes an evidence pack whose contents
//! are checked against the sample files themselves.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::support::*;

/// A sandbox holding the dhlx-canonical sample job, run once over the samples.
fn seeded() -> Sandbox {
    let s = Sandbox::new();
    s.write(
        "jobs/dhlx-canonical.toml",
        std::fs::read(repo().join("jobs/dhlx-canonical.toml")).unwrap(),
    );
    let samples = repo().join("data-samples");
    let out = s.s321d(&[
        "run-job",
        "dhlx-canonical",
        "--seed",
        samples.to_str().unwrap(),
    ]);
    // One sample is not a manifest at all and is quarantined: the run reports it.
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("processed"),
        "{}",
        show(&out)
    );
    s
}

/// Drops the append-only triggers (every open of the store re-creates them).
fn unlock(conn: &rusqlite::Connection) {
    conn.execute_batch("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;").unwrap();
}

fn events(db: &Path) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, kind FROM audit_events ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_chain_verifies_and_tampering_is_named() {
    let s = seeded();
    let db = s.path().join("var/state.db");
    let ev = events(&db);
    let kinds: Vec<&str> = ev.iter().map(|e| e.1.as_str()).collect();
    for k in ["file.received", "run.started", "run.finished"] {
        assert!(kinds.contains(&k), "{k} recorded: {kinds:?}");
    }
    assert_eq!(
        ev.iter().map(|e| e.0).collect::<Vec<_>>(),
        (1..=ev.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
    let out = s.s321d(&["audit", "verify"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains(&format!("ok: {} event(s)", ev.len())),
        "{stdout}"
    );
    let head = stdout
        .split("head event ")
        .nth(1)
        .unwrap()
        .trim()
        .replace(" hash ", ":");

    // run.finished carries the SHA-256 of every output, which still match.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (run_id, body): (String, String) = conn
        .query_row(
            "SELECT run_id, body FROM audit_events WHERE kind = 'run.finished' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let outputs = v["outputs"].as_array().unwrap();
    assert!(outputs.iter().any(|o| o["name"] == "dispositions.csv"));
    for o in outputs {
        let path = s
            .path()
            .join("var/demo/runs/dhlx-canonical")
            .join(&run_id)
            .join(o["name"].as_str().unwrap());
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(&path).unwrap())),
            o["sha256"].as_str().unwrap(),
            "{}",
            path.display()
        );
    }

    // The triggers refuse edits.
    assert!(
        conn.execute("UPDATE audit_events SET body = '{}' WHERE seq = 2", [])
            .is_err()
    );
    // An operator who drops them and edits an event is caught, at that event.
    unlock(&conn);
    let target = ev.iter().find(|e| e.1 == "run.started").unwrap().0;
    conn.execute(
        "UPDATE audit_events SET body = replace(body, 'dhlx', 'xxxx') WHERE seq = ?1",
        [target],
    )
    .unwrap();
    let out = s.s321d(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains(&format!("BROKEN at event {target} (run.started"))
            && stdout.contains("the row was changed"),
        "{stdout}"
    );

    // Undo the edit: the chain is whole again. Then cut the tail off: the
    // chain alone cannot tell, the head noted earlier can.
    unlock(&conn);
    conn.execute(
        "UPDATE audit_events SET body = replace(body, 'xxxx', 'dhlx') WHERE seq = ?1",
        [target],
    )
    .unwrap();
    assert!(s.s321d(&["audit", "verify"]).status.success());
    let last = ev.last().unwrap().0;
    unlock(&conn);
    conn.execute("DELETE FROM audit_events WHERE seq = ?1", [last])
        .unwrap();
    assert!(
        s.s321d(&["audit", "verify"]).status.success(),
        "a shorter chain is still a chain"
    );
    let out = s.s321d(&["audit", "verify", "--head", &head]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("event {last} (noted with hash")),
        "{}",
        show(&out)
    );
    // A deleted event in the middle is a gap.
    unlock(&conn);
    conn.execute("DELETE FROM audit_events WHERE seq = 2", [])
        .unwrap();
    let out = s.s321d(&["audit", "verify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("events 2 to 2 are missing"),
        "{}",
        show(&out)
    );
}

/// The sample rows of a house bill, read straight from the sample files.
fn sample_rows(hb: &str) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    for name in ["dhlx-20250501.csv", "dhlx-20250502.csv"] {
        let mut r = csv::Reader::from_path(repo().join("data-samples").join(name)).unwrap();
        let headers: Vec<String> = r
            .headers()
            .unwrap()
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        for rec in r.records() {
            let rec = rec.unwrap();
            let row: BTreeMap<String, String> = headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect();
            if row["house_bill"] == hb {
                rows.push(row);
            }
        }
    }
    rows
}

#[test]
fn an_evidence_pack_tells_a_house_bills_story() {
    let s = seeded();
    let hb = "DX1002";
    let expected = sample_rows(hb);
    assert_eq!(expected.len(), 2, "two lines in the sample");
    let out = s.s321d(&["audit", "export", "--house-bill", hb, "--out", "pack"]);
    assert!(out.status.success(), "{}", show(&out));
    let pack = s.path().join("pack");
    let index = std::fs::read_to_string(pack.join("index.md")).unwrap();
    assert!(
        index.contains(&format!("## House bill {hb}")) && index.contains("verified: "),
        "{index}"
    );
    assert!(
        index.contains("its hash matches"),
        "the archived file is checked: {index}"
    );
    assert!(
        index.contains("dispositions.csv: unchanged"),
        "outputs are checked against the trail: {index}"
    );

    // The source records are the sample's rows.
    let src = std::fs::read_dir(&pack)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("source-")
        })
        .unwrap();
    let mut r = csv::Reader::from_path(&src).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let got: Vec<BTreeMap<String, String>> = r
        .records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        for k in [
            "house_bill",
            "line_no",
            "consignee_name",
            "description",
            "hts_code",
            "declared_value",
        ] {
            assert_eq!(g[k], e[k], "{k}");
        }
        let sample = std::fs::read(repo().join("data-samples/dhlx-20250501.csv")).unwrap();
        assert_eq!(g["file_sha256"], hex::encode(Sha256::digest(&sample)));
    }
    // The mapping in force is the job file, byte for byte.
    let job = std::fs::read(repo().join("jobs/dhlx-canonical.toml")).unwrap();
    let mapping = std::fs::read_dir(&pack)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mapping-")
        })
        .unwrap();
    assert_eq!(std::fs::read(&mapping).unwrap(), job);
    assert!(
        std::fs::read_dir(&pack)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("policy-"))
    );
    // Dispositions with reasons, findings on it.
    let disp = std::fs::read_to_string(pack.join("dispositions.csv")).unwrap();
    assert!(
        disp.lines().skip(1).all(|l| l.contains(hb)) && disp.lines().count() >= 2,
        "{disp}"
    );
    assert!(disp.starts_with("run_id,source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons"), "{disp}");
    let findings = std::fs::read_to_string(pack.join("findings.csv")).unwrap();
    assert!(findings.contains(hb), "{findings}");
    let audit = std::fs::read_to_string(pack.join("audit-events.jsonl")).unwrap();
    assert!(
        audit.contains("\"kind\":\"file.received\"") && audit.contains("\"kind\":\"run.finished\""),
        "{audit}"
    );
    // Every file is in the manifest with its hash.
    let manifest = std::fs::read_to_string(pack.join("MANIFEST.sha256")).unwrap();
    for line in manifest.lines() {
        let (hash, name) = line.split_once("  ").unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(pack.join(name)).unwrap())),
            hash,
            "{name}"
        );
    }
    assert!(manifest.contains("  index.md"));

    // The same as a zip.
    let out = s.s321d(&[
        "audit",
        "export",
        "--house-bill",
        hb,
        "--carrier",
        "DHLX",
        "--zip",
        "--out",
        "pack2",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let mut z =
        zip::ZipArchive::new(std::fs::File::open(s.path().join("pack2.zip")).unwrap()).unwrap();
    let mut index = String::new();
    z.by_name("pack2/index.md")
        .unwrap()
        .read_to_string(&mut index)
        .unwrap();
    assert!(index.contains(hb));

    // A period: every event of today.
    let today = chrono::Utc::now().date_naive().to_string();
    let out = s.s321d(&[
        "audit", "export", "--from", &today, "--to", &today, "--out", "period",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let events = std::fs::read_to_string(s.path().join("period/audit-events.jsonl")).unwrap();
    assert!(events.lines().count() >= 4, "{events}");
    // An unknown house bill is said so, not an error.
    let out = s.s321d(&["audit", "export", "--house-bill", "NOPE", "--out", "none"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        std::fs::read_to_string(s.path().join("none/index.md"))
            .unwrap()
            .contains("no record of this house bill")
    );
}
