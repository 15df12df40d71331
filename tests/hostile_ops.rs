//! Hostile operations (issue 11, part C): poison files, temp-file sweeps,
//! audit events after restarts, readiness under a locked store, refused
//! credentials. Each test runs the real binary and checks the named outcome.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, drop_into, job, write_config};
use crate::support::servers::free_port;
use crate::support::*;

/// A config (data in `data/`, jobs in `jobs/`) plus one intake job `demo`
/// on the local source `data` without a schedule.
fn setup(s: &Sandbox, extra: &str) -> PathBuf {
    s.write(
        "jobs/demo.toml",
        "name = \"demo\"\npattern = \"*.csv\"\n[source]\nname = \"data\"\ninbox = \"inbox\"\nsettle_secs = 0\n\
         [output]\nsource = \"data\"\npath = \"runs\"\n[format]\nkind = \"csv\"\n",
    );
    s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[daemon]\ntimezone = \"UTC\"\nretry_attempts = 2\nretry_initial_ms = 10\n{extra}",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string()
        ),
    )
}

fn manifest(tag: &str, n: usize) -> String {
    let mut t = String::from(CANONICAL_HEADER);
    for i in 0..n {
        t.push('\n');
        t.push_str(&clean_line(&format!("{tag}-{i}")));
    }
    t.push('\n');
    t
}

fn drop_file(s: &Sandbox, name: &str, bytes: &[u8]) {
    let inbox = s.path().join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join(".drop.part"), bytes).unwrap();
    std::fs::rename(inbox.join(".drop.part"), inbox.join(name)).unwrap();
}

/// `s321d --config CFG run-job demo` with INFO logs and extra environment.
fn run_job(s: &Sandbox, cfg: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_s321d"));
    c.args(["--config", cfg.to_str().unwrap(), "run-job", "demo"])
        .current_dir(s.path())
        .env("RUST_LOG", "info");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn db(s: &Sandbox) -> rusqlite::Connection {
    rusqlite::Connection::open(s.path().join("data/state.db")).unwrap()
}

fn state_of(s: &Sandbox, name: &str) -> Vec<String> {
    let db = db(s);
    let mut stmt = db
        .prepare("SELECT state FROM files WHERE name = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([name], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every file under `dir` (recursively), as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn issue_11_a_file_that_kills_the_process_twice_is_quarantined_and_the_others_processed() {
    let s = Sandbox::new();
    let cfg = setup(&s, "");
    drop_file(&s, "good.csv", manifest("G", 3).as_bytes());
    drop_file(&s, "poison.csv", manifest("P", 3).as_bytes());
    // The poison file kills the process whenever the engine is handed it
    // (as an input that exhausts memory gets it killed), and it stays set
    // throughout: the last start proves the file is not evaluated again.
    let poison = [("S321D_CRASH_ON_FILE", "poison.csv")];
    for attempt in 1..=2 {
        let out = run_job(&s, &cfg, &poison);
        assert!(
            !out.status.success(),
            "attempt {attempt} was killed: {}",
            show(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("evaluating poison.csv (S321D_CRASH_ON_FILE)"),
            "{}",
            show(&out)
        );
    }
    let out = run_job(&s, &cfg, &poison);
    assert!(
        out.status.success(),
        "the third start quarantines it instead of dying again: {}",
        show(&out)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("taken twice, never finished"), "{log}");
    assert_eq!(state_of(&s, "poison.csv"), ["quarantined"]);
    assert_eq!(state_of(&s, "good.csv"), ["done"]);
    let data = s.path().join("data");
    assert!(
        data.join("quarantine/poison.csv").is_file() && data.join("processed/good.csv").is_file()
    );
    let note = std::fs::read_to_string(data.join("quarantine/poison.csv.error.txt")).unwrap();
    assert!(
        note.contains("taken twice, never finished") && note.contains("file: poison.csv"),
        "{note}"
    );
    // good.csv's outputs are published in a complete run of its own; no
    // run folder is left half-written.
    let runs: Vec<PathBuf> = std::fs::read_dir(data.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let with_good: Vec<&PathBuf> = runs
        .iter()
        .filter(|r| {
            std::fs::read_to_string(r.join("summary.json"))
                .is_ok_and(|t| t.contains("\"good.csv\""))
        })
        .collect();
    assert_eq!(with_good.len(), 1, "{runs:?}");
    for r in &runs {
        let files = files_under(r);
        assert!(
            files.is_empty() || files.contains(&"summary.json".to_owned()),
            "{} is half-written: {files:?}",
            r.display()
        );
    }
    // Nothing is left to do, and the file is never evaluated again.
    let out = run_job(&s, &cfg, &poison);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(state_of(&s, "poison.csv"), ["quarantined"]);
}

#[test]
fn issue_11_stale_scratch_files_are_swept_at_start_and_live_ones_kept() {
    let s = Sandbox::new();
    let cfg = setup(&s, "");
    let staging = s.path().join("data/staging");
    // What a killed process leaves: its folder beside its (now free) lock,
    // with a staging copy and a half-written engine output.
    std::fs::create_dir_all(staging.join("p4242-deadbeef/demo")).unwrap();
    std::fs::create_dir_all(staging.join("p4242-deadbeef/runs/r1/out")).unwrap();
    std::fs::write(staging.join("p4242-deadbeef.lock"), "").unwrap();
    std::fs::write(staging.join("p4242-deadbeef/demo/0192-a.csv"), "copy").unwrap();
    std::fs::write(
        staging.join("p4242-deadbeef/runs/r1/out/.findings.csv.r1.tmp"),
        "half",
    )
    .unwrap();
    // The layout before per-process folders: an hour-old staging copy.
    std::fs::create_dir_all(staging.join("demo")).unwrap();
    std::fs::write(staging.join("demo/0191-old.csv"), "old copy").unwrap();
    assert!(
        Command::new("touch")
            .args(["-d", "1 hour ago"])
            .arg(staging.join("demo"))
            .status()
            .unwrap()
            .success()
    );
    // A live process's folder (its lock held here) and an upload in progress.
    std::fs::create_dir_all(staging.join("p4343-cafecafe")).unwrap();
    std::fs::write(staging.join("p4343-cafecafe/in-use.csv"), "busy").unwrap();
    let held = std::fs::File::create(staging.join("p4343-cafecafe.lock")).unwrap();
    held.lock().unwrap();
    drop_file(&s, "good.csv", manifest("G", 2).as_bytes());
    std::fs::write(s.path().join("data/inbox/arriving.csv.tmp"), "uploading").unwrap();

    let out = run_job(&s, &cfg, &[]);
    assert!(out.status.success(), "{}", show(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Swept 3 scratch file(s)")
            && log.contains("p4242-deadbeef")
            && log.contains("demo"),
        "{log}"
    );
    let left = files_under(&staging);
    assert!(
        !left
            .iter()
            .any(|f| f.contains("p4242") || f.starts_with("demo/")),
        "{left:?}"
    );
    assert!(
        left.contains(&"p4343-cafecafe/in-use.csv".to_owned()),
        "a live process's files stay: {left:?}"
    );
    assert!(
        s.path().join("data/inbox/arriving.csv.tmp").exists(),
        "an upload in progress is not scratch"
    );
    assert_eq!(state_of(&s, "good.csv"), ["done"]);
    // This run left no scratch file behind (only its released lock and empty folders).
    let own: Vec<&String> = left
        .iter()
        .filter(|f| !f.starts_with("p4343") && !f.ends_with(".lock"))
        .collect();
    assert!(own.is_empty(), "{own:?}");
    drop(held);
}

#[test]
fn issue_11_a_failed_run_leaves_no_scratch_files() {
    let s = Sandbox::new();
    let cfg = setup(&s, "");
    drop_file(&s, "good.csv", manifest("G", 2).as_bytes());
    // The output folder cannot be created: publishing fails after the engine wrote its outputs.
    s.write("data/runs", "a file where the output folder should be");
    let out = run_job(&s, &cfg, &[]);
    assert!(!out.status.success(), "{}", show(&out));
    let left: Vec<String> = files_under(&s.path().join("data/staging"))
        .into_iter()
        .filter(|f| !f.ends_with(".lock"))
        .collect();
    assert!(
        left.is_empty(),
        "scratch left behind by a failed run: {left:?}\n{}",
        show(&out)
    );
}

#[test]
fn issue_11_a_file_taken_again_after_a_crash_is_received_once_then_received_again() {
    let s = Sandbox::new();
    let cfg = setup(&s, "");
    let bytes = manifest("A", 2);
    drop_file(&s, "a.csv", bytes.as_bytes());
    let out = run_job(&s, &cfg, &[("S321D_CRASH_AT", "taken")]);
    assert!(!out.status.success(), "{}", show(&out));
    let out = run_job(&s, &cfg, &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(state_of(&s, "a.csv"), ["done"]);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes.as_bytes()));
    let kinds: Vec<String> = {
        let db = db(&s);
        let mut stmt = db.prepare("SELECT kind FROM audit_events WHERE json_extract(body, '$.sha256') = ?1 ORDER BY seq").unwrap();
        stmt.query_map([&sha], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        kinds,
        ["file.received", "file.received_again"],
        "one receipt, then the retake named as such"
    );
    let again: String = db(&s)
        .query_row(
            "SELECT body FROM audit_events WHERE kind = 'file.received_again'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        again.contains("received again after restart") && again.contains("first_file_id"),
        "{again}"
    );
    let out = s.s321d(&["--config", cfg.to_str().unwrap(), "audit", "verify"]);
    assert!(
        out.status.success(),
        "the chain still verifies: {}",
        show(&out)
    );
}

#[test]
fn issue_11_readyz_answers_fast_and_names_a_locked_store() {
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    s.write("jobs/demo.toml", job("demo", "0 0 0 1 1 *", "data"));
    let d = Daemon::start(&s, &config, port);
    d.wait_for(|| d.get("/readyz").0 == 200, "readiness");
    // Another process holds the write lock for 30 s.
    let holder = std::thread::spawn({
        let path = s.path().join("data/state.db");
        move || {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch("BEGIN EXCLUSIVE").unwrap();
            std::thread::sleep(Duration::from_secs(30));
            c.execute_batch("ROLLBACK").unwrap();
        }
    });
    let locked_at = Instant::now();
    let mut slowest = Duration::ZERO;
    let body = loop {
        let t = Instant::now();
        let (status, body) = d.get("/readyz");
        slowest = slowest.max(t.elapsed());
        if status == 503 && body.contains("the state store is locked") {
            break body;
        }
        assert!(
            locked_at.elapsed() < Duration::from_secs(20),
            "never named the lock; last answer {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "slowest /readyz answer while the store was locked: {slowest:?}; lock named after {:?}",
        locked_at.elapsed()
    );
    assert!(
        slowest < Duration::from_millis(100),
        "/readyz took {slowest:?} while the store was locked"
    );
    assert!(body.contains("state.db"), "{body}");
    d.wait_for(
        || d.log().contains("WARN") && d.log().contains("s321d is not ready"),
        "a WARN at the transition",
    );
    assert_eq!(
        d.log().matches("s321d is not ready").count(),
        1,
        "logged once per transition:\n{}",
        d.log()
    );
    holder.join().unwrap();
    d.wait_for(
        || d.get("/readyz").0 == 200,
        "readiness once the lock is gone",
    );
    assert!(d.stop().success());
}

#[test]
fn issue_11_readyz_keeps_a_failing_jobs_error_when_it_is_also_overdue() {
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    s.write("jobs/demo.toml", job("demo", "*/2 * * * * *", "data"));
    // Every run fails: the output folder cannot be created.
    s.write("data/runs", "a file where the output folder should be");
    drop_into(&s, "demo", "a.csv", &[clean_line("H1")]);
    let d = Daemon::start(&s, &config, port);
    // readiness_periods = 3 of 2 s: overdue after 6 s without a success.
    d.wait_for(
        || d.get("/readyz").1.contains("more than 3 periods"),
        "the job to be overdue",
    );
    let (status, body) = d.get("/readyz");
    assert_eq!(status, 503);
    assert!(
        body.contains("job demo: its latest run failed") && body.contains("runs"),
        "the error is kept: {body}"
    );
    assert!(d.stop().success());
}

#[test]
fn issue_11_s3_refusing_the_key_fails_at_once_and_shows_in_readyz() {
    let s3 = crate::support::servers::s3_refusing_keys();
    let s = Sandbox::new();
    let port = free_port();
    s.write("keys/id", "AKIANOTAREALKEY00000\n");
    s.write("keys/secret", "wrong-secret\n");
    let source = format!(
        "[sources.drop]\nkind = \"s3\"\nbucket = \"drop\"\nendpoint = {:?}\npath_style = true\nallow_http = true\n\
         access_key_id_file = {:?}\nsecret_access_key_file = {:?}\n",
        s3.endpoint,
        s.path().join("keys/id").display().to_string(),
        s.path().join("keys/secret").display().to_string()
    );
    // Retries would take minutes: 8 attempts from 2 s, doubling.
    let config = write_config(&s, port, &source).display().to_string();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "retry_attempts = 2\nretry_initial_ms = 50",
        "retry_attempts = 8\nretry_initial_ms = 2000",
    );
    std::fs::write(&config, text).unwrap();
    s.write("jobs/remote.toml", job("remote", "* * * * * *", "drop"));
    let started = Instant::now();
    let out = s.s321d(&["--config", &config, "run-job", "remote"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        took < Duration::from_secs(10),
        "a refused key is not retried ({took:?}): {text}"
    );
    assert!(!text.contains("Retrying"), "{text}");
    assert!(
        text.contains("InvalidAccessKeyId") || text.contains("403"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"), "{text}");
    // The daemon names the source in /readyz.
    let d = Daemon::start(&s, Path::new(&config), port);
    d.wait_for(
        || d.get("/readyz").1.contains("source drop refused access"),
        "readiness to name the source",
    );
    assert!(d.get("/readyz").0 == 503);
    assert!(d.stop().success());
}

#[test]
fn issue_11_check_refuses_an_s3_source_without_credentials_unless_told() {
    let s = Sandbox::new();
    let base = "[sources.drop]\nkind = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:9\"\nallow_http = true\n";
    let run = |extra: &str| {
        let cfg = setup(&s, &format!("{base}{extra}"));
        Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["--config", cfg.to_str().unwrap(), "check"])
            .current_dir(s.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .output()
            .unwrap()
    };
    let out = run("");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sources.drop")
            && err.contains("no credentials")
            && err.contains("credentials = \"instance\""),
        "{err}"
    );
    for choice in ["anonymous", "instance"] {
        let out = run(&format!("credentials = \"{choice}\"\n"));
        assert!(out.status.success(), "{choice}: {}", show(&out));
    }
}

#[test]
fn issue_11_a_255_byte_unreadable_file_gets_a_quarantine_note_that_fits() {
    let s = Sandbox::new();
    let cfg = setup(&s, "");
    for len in [246usize, 255] {
        let name = format!("{}.csv", "Q".repeat(len - 4));
        assert_eq!(name.len(), len);
        drop_file(
            &s,
            &name,
            &[
                b"\x1f\x8b\x08\x00 gzip bytes ".as_slice(),
                len.to_string().as_bytes(),
            ]
            .concat(),
        );
    }
    let out = run_job(&s, &cfg, &[]);
    assert!(out.status.success(), "{}", show(&out));
    let q = s.path().join("data/quarantine");
    let names: Vec<String> = std::fs::read_dir(&q)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    for len in [246usize, 255] {
        let name = format!("{}.csv", "Q".repeat(len - 4));
        assert!(names.contains(&name), "{name} quarantined: {names:?}");
        let notes: Vec<&String> = names
            .iter()
            .filter(|n| n.ends_with(".error.txt") && n.starts_with(&name[..200]))
            .collect();
        let body: Vec<String> = notes
            .iter()
            .map(|n| std::fs::read_to_string(q.join(n)).unwrap())
            .filter(|b| b.contains(&format!("file: {name}\n")))
            .collect();
        assert_eq!(
            body.len(),
            1,
            "one note names {len}-byte file in full: {names:?}"
        );
    }
    assert!(names.iter().all(|n| n.len() <= 255));
    assert_eq!(
        state_of(&s, &format!("{}.csv", "Q".repeat(251))),
        ["quarantined"]
    );
}

#[test]
fn issue_11_special_files_in_the_inbox_are_logged_once_per_process() {
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    s.write("jobs/demo.toml", job("demo", "* * * * * *", "data"));
    let inbox = s.path().join("data/demo/inbox");
    std::fs::create_dir_all(inbox.join("folder.csv")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(inbox.join("pipe.csv"))
            .status()
            .unwrap()
            .success()
    );
    let d = Daemon::start(&s, &config, port);
    d.wait_for(
        || d.log().matches("Finished a run of job demo").count() >= 3,
        "three runs",
    );
    let log = d.log();
    assert_eq!(log.matches("it is a folder").count(), 1, "{log}");
    assert_eq!(log.matches("it is a FIFO").count(), 1, "{log}");
    assert!(d.stop().success());
}

#[test]
fn issue_11_special_files_in_an_sftp_inbox_are_logged_once_per_process() {
    let server = crate::support::servers::sftp();
    let root = server
        .dir
        .join("roots")
        .join(format!("special-{}", uuid::Uuid::now_v7().simple()));
    let inbox = root.join("demo/inbox");
    std::fs::create_dir_all(inbox.join("folder.csv")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", inbox.join("link.csv")).unwrap();
    let s = Sandbox::new();
    let port = free_port();
    let source = format!(
        "[sources.partner]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\nuser = {:?}\nroot = {:?}\nknown_hosts = {:?}\n\
         private_key_file = {:?}\ntimeout_secs = 10\n",
        server.port,
        server.user,
        root.display().to_string(),
        server.known_hosts.display().to_string(),
        server.client_key.display().to_string()
    );
    let config = write_config(&s, port, &source);
    s.write("jobs/demo.toml", job("demo", "* * * * * *", "partner"));
    let d = Daemon::start(&s, &config, port);
    d.wait_for(
        || d.log().matches("Finished a run of job demo").count() >= 3,
        "three runs",
    );
    let log = d.log();
    assert_eq!(log.matches("it is a folder").count(), 1, "{log}");
    assert_eq!(log.matches("it is a symbolic link").count(), 1, "{log}");
    assert!(log.contains("source partner"), "{log}");
    assert!(d.stop().success());
}
