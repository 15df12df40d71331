//! Crash safety: kill s321d at every step of a file's life, start it again, and
//! check that every file ended up processed exactly once, that none was lost,
//! and that no output is half-written where a reader would look.
//!
//! Part one aborts at each named crash point (`S321D_CRASH_AT`, the step
//! boundaries of `intake`) during `run-job`; part two SIGKILLs a running
//! daemon at pseudo-random moments while files keep arriving.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::servers::free_port;
use crate::support::*;

const CRASH_POINTS: [&str; 9] = [
    "taken",
    "archived",
    "evaluating",
    "engine-done",
    "published-one",
    "published",
    "evaluated",
    "moved",
    "duplicate-recorded",
];

fn config(s: &Sandbox, schedule: &str, port: u16) -> std::path::PathBuf {
    s.write(
        "jobs/demo.toml",
        format!(
            "name = \"demo\"\npattern = \"*.csv\"\nschedule = \"{schedule}\"\n[source]\nname = \"data\"\ninbox = \"inbox\"\nsettle_secs = 0\n\
             [output]\nsource = \"data\"\npath = \"runs\"\n[format]\nkind = \"csv\"\n"
        ),
    );
    s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n[daemon]\nlisten = \"127.0.0.1:{port}\"\ngraceful_shutdown_secs = 5\n\
             [limits]\npoison_after_deaths = 100\n",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string()
        ),
    )
}

/// A manifest with `n` clean lines under house bills prefixed `tag`.
fn manifest(tag: &str, n: usize) -> String {
    let mut t = String::from(CANONICAL_HEADER);
    for i in 0..n {
        t.push('\n');
        t.push_str(&clean_line(&format!("{tag}-{i}")));
    }
    t.push('\n');
    t
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Drops a file into the inbox the way careful uploaders do: write, then rename.
fn drop_file(s: &Sandbox, name: &str, bytes: &[u8]) {
    let inbox = s.path().join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let tmp = inbox.join(format!("{name}.part"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, inbox.join(name)).unwrap();
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn visible(p: &Path) -> bool {
    !p.file_name().unwrap().to_string_lossy().starts_with('.')
}

/// Every dropped file (name -> bytes) processed exactly once, none lost.
/// `unreadable` names the files that must end in quarantine. The kills here
/// stand for an operator or the OOM killer at random moments, not a poison
/// file, so the config sets `limits.poison_after_deaths` high: no file may
/// end as a poison file.
fn check_exactly_once(
    s: &Sandbox,
    dropped: &BTreeMap<String, Vec<u8>>,
    unreadable: &BTreeSet<String>,
) {
    let data = s.path().join("data");
    let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
    let rows: Vec<(String, String, String)> = db
        .prepare("SELECT name, sha256, state FROM files")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let poisoned: BTreeSet<String> = db
        .prepare("SELECT sha256 FROM files WHERE state = 'quarantined' AND note LIKE 'poison: %'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        poisoned.is_empty(),
        "{} file(s) quarantined as poison files",
        poisoned.len()
    );
    let distinct: BTreeSet<String> = dropped.values().map(|b| sha(b)).collect();
    for (name, bytes) in dropped {
        let h = sha(bytes);
        let finished: Vec<_> = rows
            .iter()
            .filter(|r| r.1 == h && (r.2 == "done" || r.2 == "quarantined"))
            .collect();
        assert_eq!(
            finished.len(),
            1,
            "{name}: processed {} times: {rows:?}",
            finished.len()
        );
        let expected = if unreadable.contains(name) || poisoned.contains(&h) {
            "quarantined"
        } else {
            "done"
        };
        assert_eq!(finished[0].2, expected, "{name}");
        let duplicates = rows
            .iter()
            .filter(|r| r.1 == h && r.2 == "duplicate")
            .count();
        let copies = dropped.values().filter(|b| sha(b) == h).count();
        assert_eq!(
            duplicates,
            copies - 1,
            "{name}: every further copy is one duplicate"
        );
    }
    assert!(
        rows.iter()
            .all(|r| matches!(r.2.as_str(), "done" | "quarantined" | "duplicate")),
        "a file is left half-way: {rows:?}"
    );
    // The inbox is empty; every dropped file left it exactly once, to
    // processed/ (duplicates too) or quarantine/.
    assert!(
        files_in(&data.join("inbox"))
            .into_iter()
            .filter(|p| visible(p))
            .collect::<Vec<_>>()
            .is_empty()
    );
    let moved: Vec<(String, String)> = files_in(&data.join("processed"))
        .into_iter()
        .chain(files_in(&data.join("quarantine")))
        .filter(|p| visible(p) && !p.to_string_lossy().ends_with(".error.txt"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                sha(&std::fs::read(&p).unwrap()),
            )
        })
        .collect();
    for (name, bytes) in dropped {
        let copies = moved
            .iter()
            .filter(|(n, h)| (n == name || n.starts_with(&format!("{name}."))) && *h == sha(bytes))
            .count();
        assert_eq!(copies, 1, "{name} left the inbox {copies} times: {moved:?}");
    }
    assert_eq!(
        moved.len(),
        dropped.len(),
        "nothing else appeared: {moved:?}"
    );
    for (name, bytes) in dropped {
        if unreadable.contains(name) || poisoned.contains(&sha(bytes)) {
            assert!(
                data.join("quarantine")
                    .join(format!("{name}.error.txt"))
                    .exists(),
                "quarantine note for {name}"
            );
        }
    }
    // The archive holds every distinct file, byte for byte.
    let archived: BTreeSet<String> = files_in(&data.join("archive/raw"))
        .into_iter()
        .filter(|p| visible(p))
        .map(|p| sha(&std::fs::read(p).unwrap()))
        .collect();
    assert_eq!(archived, distinct, "archive");
    // Every run folder is complete, and every file is in exactly one run.
    let mut in_runs: BTreeMap<String, usize> = BTreeMap::new();
    for run in std::fs::read_dir(data.join("runs")).unwrap() {
        let run = run.unwrap().path();
        let names: BTreeSet<String> = files_in(&run)
            .iter()
            .filter(|p| visible(p))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() && files_in(&run).is_empty() {
            continue; // an abandoned run's folder, emptied (see intake::recover)
        }
        // entries.csv and entry_lines.csv come together, exactly when a
        // shipment of the run went on an entry (11, 01, 03).
        let entries: BTreeSet<String> = ["entries.csv", "entry_lines.csv"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let entered = std::fs::read_to_string(run.join("dispositions.csv"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    l.split(',')
                        .nth(7)
                        .is_some_and(|d| matches!(d, "11" | "01" | "03"))
                })
            })
            .unwrap_or(false);
        let mut expected: BTreeSet<String> = [
            "dispositions.csv",
            "findings.csv",
            "findings.parquet",
            "summary.json",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if entered {
            expected.extend(entries);
        }
        assert_eq!(
            names,
            expected,
            "run folder {} is incomplete",
            run.display()
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
        for f in summary["files"].as_array().unwrap() {
            *in_runs
                .entry(f["sha256"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    for h in &distinct {
        let expected = if poisoned.contains(h) { None } else { Some(&1) };
        assert_eq!(
            in_runs.get(h),
            expected,
            "each file is in exactly one run's outputs (a poison file in none): {in_runs:?}"
        );
    }
}

#[test]
fn every_crash_point_recovers_to_exactly_once() {
    for point in CRASH_POINTS {
        let s = Sandbox::new();
        let cfg = config(&s, "0 0 0 1 1 *", free_port()).display().to_string();
        let mut dropped = BTreeMap::new();
        for (name, bytes) in [
            ("a.csv", manifest("A", 3).into_bytes()),
            ("b.csv", manifest("B", 2).into_bytes()),
            ("broken.csv", b"\x1f\x8b\x08\x00 gzip bytes".to_vec()),
        ] {
            drop_file(&s, name, &bytes);
            dropped.insert(name.to_owned(), bytes);
        }
        if point == "duplicate-recorded" {
            // A second copy of a.csv (a duplicate) arrives after the first run.
            let first = Command::new(env!("CARGO_BIN_EXE_s321d"))
                .args(["--config", &cfg, "run-job", "demo"])
                .output()
                .unwrap();
            assert!(first.status.success(), "{}", show(&first));
            let copy = dropped["a.csv"].clone();
            drop_file(&s, "a-again.csv", &copy);
            dropped.insert("a-again.csv".to_owned(), copy);
        }
        let crashed = Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["--config", &cfg, "run-job", "demo"])
            .env("S321D_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(
            !crashed.status.success(),
            "crash point {point} was not reached: {}",
            show(&crashed)
        );
        assert!(
            String::from_utf8_lossy(&crashed.stderr).contains(&format!("crash point {point}")),
            "{}",
            show(&crashed)
        );
        // Start again (twice: recovery must be idempotent).
        for _ in 0..2 {
            let out = Command::new(env!("CARGO_BIN_EXE_s321d"))
                .args(["--config", &cfg, "run-job", "demo"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "after crash at {point}: {}",
                show(&out)
            );
        }
        let unreadable: BTreeSet<String> = ["broken.csv".to_owned()].into();
        eprintln!("checking crash point {point}");
        check_exactly_once(&s, &dropped, &unreadable);
        if point == "duplicate-recorded" {
            let db = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
            let dups: i64 = db
                .query_row(
                    "SELECT count(*) FROM files WHERE state = 'duplicate'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(dups, 1, "the second copy is recorded once as a duplicate");
        }
    }
}

#[test]
fn sigkill_of_a_running_daemon_at_random_moments_loses_nothing() {
    let s = Sandbox::new();
    let port = free_port();
    let cfg = config(&s, "* * * * * *", port).display().to_string();
    let mut dropped = BTreeMap::new();
    let mut unreadable = BTreeSet::new();
    // A small deterministic generator for kill timings.
    let mut seed: u64 = 0x5321_d5eed;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["--config", &cfg, "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    for round in 0..14 {
        // New files keep arriving; some larger ones take longer to evaluate.
        let lines = if round % 3 == 0 { 3000 } else { 5 };
        let name = format!("r{round:02}.csv");
        let bytes = manifest(&format!("R{round}"), lines).into_bytes();
        drop_file(&s, &name, &bytes);
        dropped.insert(name, bytes);
        if round % 5 == 2 {
            // Not UTF-8 (a gzip header): unreadable, so quarantined.
            let name = format!("bad{round:02}.csv");
            let bytes = [
                b"\x1f\x8b\x08\x00".as_slice(),
                format!("broken {round}").as_bytes(),
            ]
            .concat();
            drop_file(&s, &name, &bytes);
            dropped.insert(name.clone(), bytes);
            unreadable.insert(name);
        }
        let mut daemon = start();
        std::thread::sleep(Duration::from_millis(150 + next(1800)));
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
    }
    // Let a final daemon finish everything, then stop it gracefully. Its
    // listener comes up after start-up recovery, which may already have
    // finished the backlog, so wait for it before asking.
    let mut daemon = start();
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the final daemon never opened its listener on port {port}"
        );
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "the final daemon exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        let inbox_empty = files_in(&s.path().join("data/inbox"))
            .into_iter()
            .filter(|p| visible(p))
            .count()
            == 0;
        let db = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
        let open: i64 = db
            .query_row("SELECT count(*) FROM files WHERE state NOT IN ('done', 'quarantined', 'duplicate')", [], |r| r.get(0))
            .unwrap_or(1);
        if inbox_empty && open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not finish the backlog"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, _) = crate::support::servers::http("GET", port, "/healthz", "");
    assert_eq!(status, 200);
    Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    let exit = daemon.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the daemon cleanly: {exit:?}");
    check_exactly_once(&s, &dropped, &unreadable);
}
