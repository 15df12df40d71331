//! The daemon as a process: health, readiness and metrics over HTTP, SIGHUP
//! reloads (a bad config is refused and the old kept), SIGTERM, a missed run
//! caught up at start, no overlapping runs, a failing source visible in
//! /readyz, and the systemd unit files checked by systemd's own tools.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::servers::{free_port, http};
use crate::support::*;

pub(crate) struct Daemon {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(s: &Sandbox, config: &Path, port: u16) -> Daemon {
        let log = s
            .path()
            .join(format!("daemon-{}.log", uuid::Uuid::now_v7().simple()));
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

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn wait_for(&self, mut cond: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn signal(&self, sig: &str) {
        assert!(
            Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(self.child.id().to_string())
                .status()
                .unwrap()
                .success()
        );
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http("GET", self.port, path, "")
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop on SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn write_config(s: &Sandbox, port: u16, extra: &str) -> PathBuf {
    s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"info\"\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n\
             graceful_shutdown_secs = 10\nreadiness_periods = 3\nretry_attempts = 2\nretry_initial_ms = 50\n{extra}",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string()
        ),
    )
}

pub(crate) fn job(name: &str, schedule: &str, source: &str) -> String {
    format!(
        "name = \"{name}\"\npattern = \"*.csv\"\nschedule = \"{schedule}\"\n[source]\nname = \"{source}\"\ninbox = \"{name}/inbox\"\n\
         processed = \"{name}/processed\"\nquarantine = \"{name}/quarantine\"\nsettle_secs = 0\n[output]\npath = \"runs/{name}\"\n[format]\nkind = \"csv\"\n"
    )
}

pub(crate) fn drop_into(s: &Sandbox, job: &str, name: &str, lines: &[String]) {
    let mut text = String::from(CANONICAL_HEADER);
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    let dir = s.path().join("data").join(job).join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!(".{name}.part")), text).unwrap();
    std::fs::rename(dir.join(format!(".{name}.part")), dir.join(name)).unwrap();
}

pub(crate) fn processed(s: &Sandbox, job: &str, name: &str) -> bool {
    s.path()
        .join("data")
        .join(job)
        .join("processed")
        .join(name)
        .exists()
}

#[test]
fn health_metrics_reload_and_stop() {
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    s.write("jobs/demo.toml", job("demo", "* * * * * *", "data"));
    let d = Daemon::start(&s, &config, port);
    assert_eq!(d.get("/healthz"), (200, "ok\n".into()));

    drop_into(
        &s,
        "demo",
        "day1.csv",
        &[
            clean_line("H1"),
            clean_line("H2").replace("6109.10.0012", "bad"),
        ],
    );
    d.wait_for(
        || processed(&s, "demo", "day1.csv"),
        "day1.csv to be processed",
    );
    d.wait_for(|| d.get("/readyz").0 == 200, "readiness");
    let (_, ready) = d.get("/readyz");
    assert!(
        ready.contains("ready") && ready.contains("job demo: last success 20"),
        "{ready}"
    );
    let (status, metrics) = d.get("/metrics");
    assert_eq!(status, 200);
    for expected in [
        "s321d_runs_total{job=\"demo\",status=\"succeeded\"}",
        "s321d_files_total{job=\"demo\",status=\"processed\"} 1",
        "s321d_lines_total{job=\"demo\"} 2",
        "s321d_findings_total{job=\"demo\",rule=\"V002\",severity=\"error\"} 1",
        "s321d_dispositions_total{job=\"demo\",disposition=\"86\"} 1",
        "s321d_dispositions_total{job=\"demo\",disposition=\"hold\"} 1",
        "s321d_last_success_timestamp_seconds{job=\"demo\"}",
        "# TYPE s321d_run_duration_seconds histogram",
        "s321d_run_duration_seconds_count{job=\"demo\"} ",
        "# TYPE s321d_runs_total counter",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in:\n{metrics}"
        );
    }

    // A broken job file: the reload is refused and the old jobs keep running.
    s.write(
        "jobs/broken.toml",
        "name = \"broken\"\n[format]\nkind = \"xlsx\"\n",
    );
    d.signal("HUP");
    d.wait_for(
        || d.log().contains("Reload refused"),
        "the refused reload to be logged",
    );
    assert!(
        d.log().contains("broken.toml"),
        "the log names the bad file:\n{}",
        d.log()
    );
    drop_into(&s, "demo", "day2.csv", &[clean_line("H3")]);
    d.wait_for(
        || processed(&s, "demo", "day2.csv"),
        "day2.csv under the old configuration",
    );

    // Fixed, and a second job added: the reload takes effect.
    std::fs::remove_file(s.path().join("jobs/broken.toml")).unwrap();
    s.write("jobs/second.toml", job("second", "* * * * * *", "data"));
    d.signal("HUP");
    d.wait_for(
        || {
            d.log()
                .contains("Reloaded configuration, policy and 2 job(s)")
        },
        "the reload",
    );
    drop_into(&s, "second", "other.csv", &[clean_line("H9")]);
    d.wait_for(
        || processed(&s, "second", "other.csv"),
        "the new job to run",
    );

    let log = d.log();
    let status = d.stop();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    // Logs never carry consignee names or addresses.
    assert!(
        !log.contains("Jane Doe") && !log.contains("Main Street"),
        "personal data in logs:\n{log}"
    );
}

#[test]
fn a_missed_run_runs_once_at_start_and_runs_never_overlap() {
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    // Daily at midnight New York time: the last occurrence is already past.
    s.write("jobs/nightly.toml", job("nightly", "0 0 0 * * *", "data"));
    drop_into(&s, "nightly", "waiting.csv", &[clean_line("H1")]);
    let d = Daemon::start(&s, &config, port);
    d.wait_for(
        || processed(&s, "nightly", "waiting.csv"),
        "the missed run at start",
    );
    assert!(d.log().contains("missed a scheduled run"), "{}", d.log());
    assert!(d.stop().success());
    // Started again: nothing was missed since, so nothing runs.
    drop_into(&s, "nightly", "later.csv", &[clean_line("H2")]);
    let d = Daemon::start(&s, &config, port);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !processed(&s, "nightly", "later.csv"),
        "no catch-up without a missed run:\n{}",
        d.log()
    );
    assert!(d.stop().success());

    // Every second, with a run that takes longer than a second: ticks that find
    // the job running are skipped.
    let s = Sandbox::new();
    let port = free_port();
    let config = write_config(&s, port, "");
    s.write("jobs/busy.toml", job("busy", "* * * * * *", "data"));
    let lines: Vec<String> = (0..60_000).map(|i| clean_line(&format!("B{i}"))).collect();
    drop_into(&s, "busy", "big.csv", &lines);
    let d = Daemon::start(&s, &config, port);
    d.wait_for(|| processed(&s, "busy", "big.csv"), "the big file");
    let log = d.log();
    assert!(
        log.contains("Skipping a run of job busy: the previous run is still going."),
        "{log}"
    );
    // In log order, never two runs in flight: each start comes after the
    // previous run's end (a count of starts and ends cannot see an overlap).
    let mut in_flight = 0;
    let mut starts = 0;
    for line in log.lines() {
        if line.contains("Starting a run of job busy.") {
            in_flight += 1;
            starts += 1;
            assert_eq!(
                in_flight, 1,
                "a run of busy started while another was in flight:\n{log}"
            );
        } else if line.contains("Finished a run of job busy") || line.contains("Run of job busy f")
        {
            in_flight -= 1;
        }
    }
    assert!(starts >= 1, "{log}");
    assert!(d.stop().success());
}

#[test]
fn a_source_that_is_down_shows_in_readyz_and_metrics() {
    let s = Sandbox::new();
    let port = free_port();
    let dead = free_port(); // nothing listens here
    let key = s.write("key", "not a key");
    let config = write_config(
        &s,
        port,
        &format!(
            "[sources.partner]\nkind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {dead}\nuser = \"nobody\"\nknown_hosts = {:?}\n\
             private_key_file = {:?}\ntimeout_secs = 2\n",
            key.display().to_string(),
            key.display().to_string()
        ),
    );
    s.write("jobs/remote.toml", job("remote", "* * * * * *", "partner"));
    let d = Daemon::start(&s, &config, port);
    d.wait_for(|| d.get("/readyz").0 == 503, "readiness to fail");
    let (_, body) = d.get("/readyz");
    assert!(
        body.contains("job remote: its latest run failed") && body.contains("source partner"),
        "{body}"
    );
    let log = d.log();
    assert!(
        log.contains("Retrying listing the inbox after a transient failure"),
        "retried with backoff:\n{log}"
    );
    assert!(
        log.contains("source partner") && log.contains(&format!("127.0.0.1:{dead}")),
        "the log names the source:\n{log}"
    );
    d.wait_for(
        || {
            d.get("/metrics")
                .1
                .contains("s321d_source_errors_total{source=\"partner\"}")
        },
        "the error metric",
    );
    assert!(
        d.get("/metrics")
            .1
            .contains("s321d_job_up{job=\"remote\"} 0.0\n")
    );
    assert!(d.stop().success());
}

#[test]
fn check_validates_sources_and_the_jobs_that_name_them() {
    let s = Sandbox::new();
    let config = write_config(
        &s,
        free_port(),
        "[sources.partner]\nkind = \"sftp\"\nhost = \"h\"\nuser = \"u\"\nknown_hosts = \"/k\"\n",
    );
    s.write("jobs/a.toml", job("a", "* * * * *", "nowhere"));
    let out = s.s321d(&["--config", &config.display().to_string(), "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sources.partner: set private_key_file or password_file"),
        "{err}"
    );
    assert!(
        err.contains("source.name: \"nowhere\" is not a configured source"),
        "{err}"
    );
}

#[test]
fn systemd_unit_files_pass_systemds_own_checks() {
    let repo = repo();
    let unit = std::fs::read_to_string(repo.join("systemd/s321d.service")).unwrap();
    for directive in [
        "Type=notify",
        "WatchdogSec=",
        "ExecStartPre=/usr/local/bin/s321d --config /etc/s321d/s321d.toml check",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=",
        "StateDirectory=s321d",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(directive), "the unit lacks {directive}");
    }
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("s321d.service");
    std::fs::write(
        &local,
        unit.replace("/usr/local/bin/s321d", env!("CARGO_BIN_EXE_s321d")),
    )
    .unwrap();
    let analyze = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&local)
        .output()
        .expect("systemd-analyze (Debian package systemd) is required");
    assert!(
        analyze.status.success() && analyze.stderr.is_empty(),
        "{}",
        show(&analyze)
    );

    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let sysusers = Command::new("systemd-sysusers")
        .arg(format!("--root={}", root.display()))
        .arg(repo.join("systemd/s321d.sysusers.conf"))
        .output()
        .unwrap();
    assert!(sysusers.status.success(), "{}", show(&sysusers));
    assert!(
        std::fs::read_to_string(root.join("etc/passwd"))
            .unwrap()
            .contains("s321d:x:")
    );
    let tmpfiles = Command::new("systemd-tmpfiles")
        .arg(format!("--root={}", root.display()))
        .arg("--create")
        .arg(repo.join("systemd/s321d.tmpfiles.conf"))
        .output()
        .unwrap();
    assert!(tmpfiles.status.success(), "{}", show(&tmpfiles));
    assert!(root.join("etc/s321d/credentials").is_dir() && root.join("etc/s321d/jobs").is_dir());
}

#[test]
fn replay_reevaluates_archived_files_beside_the_old_outputs() {
    let s = Sandbox::new();
    let config = write_config(&s, free_port(), "").display().to_string();
    s.write("jobs/demo.toml", job("demo", "0 0 0 * * *", "data"));
    drop_into(
        &s,
        "demo",
        "may.csv",
        &[
            clean_line("H1"),
            clean_line("H2").replace("2025-04-01", "2025-09-01"),
        ],
    );
    let out = s.s321d(&["--config", &config, "run-job", "demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let history = |s: &Sandbox| -> i64 {
        rusqlite::Connection::open(s.path().join("data/state.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM shipments", [], |r| r.get(0))
            .unwrap()
    };
    let before = history(&s);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let out = s.s321d(&[
        "--config", &config, "replay", "--job", "demo", "--from", &today, "--to", &today,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 file(s), 2 line(s)"),
        "{}",
        show(&out)
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(s.path().join("data/runs/demo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 2, "the replay sits beside the original run");
    let replay = runs
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("replay-")
        })
        .expect("a replay-... run");
    let original = runs.iter().find(|p| *p != replay).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(replay.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["kind"], "replay");
    // Same rules on the same bytes: the same dispositions (one 86 before the
    // suspension, one 11 after it), found as history, not as repeats.
    assert_eq!(
        std::fs::read_to_string(replay.join("dispositions.csv")).unwrap(),
        std::fs::read_to_string(original.join("dispositions.csv")).unwrap()
    );
    assert_eq!(history(&s), before, "a replay adds nothing to history");
    assert!(
        s.path().join("data/demo/processed/may.csv").exists(),
        "a replay moves nothing"
    );
    // Nothing taken in that window: nothing to do.
    let out = s.s321d(&[
        "--config",
        &config,
        "replay",
        "--job",
        "demo",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-02",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no archived files"));
}

/// A full disk where the archive lives: the copy fails with "no space left",
/// is retried with backoff, and the run fails visibly (exit status, log,
/// /readyz) naming the source and the file; the file stays in the inbox,
/// and once there is room the next run takes it exactly once.
#[test]
fn a_full_disk_fails_the_run_visibly_and_loses_nothing() {
    struct Mounted(PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let s = Sandbox::new();
    let vault = s.path().join("vault");
    std::fs::create_dir_all(&vault).unwrap();
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&vault)
        .output()
        .unwrap();
    assert!(
        mount.status.success(),
        "a small tmpfs stands in for a full disk (needs root): {}",
        show(&mount)
    );
    let mounted = Mounted(vault.clone());
    let port = free_port();
    let config = write_config(
        &s,
        port,
        &format!(
            "[archive]\nsource = \"vault\"\npath = \"archive\"\n[sources.vault]\nkind = \"local\"\nroot = {:?}\n",
            vault.display().to_string()
        ),
    );
    s.write("jobs/demo.toml", job("demo", "* * * * * *", "data"));
    let lines: Vec<String> = (0..2000)
        .map(|i| clean_line(&format!("FD{i:05}")))
        .collect();
    drop_into(&s, "demo", "big.csv", &lines);
    let run = || s.s321d(&["--config", &config.display().to_string(), "run-job", "demo"]);

    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("source vault") && text.contains("big.csv"),
        "names the source and the file: {text}"
    );
    assert!(text.to_lowercase().contains("no space left"), "{text}");
    assert!(
        text.contains("Retrying archiving a file after a transient failure"),
        "retried with backoff: {text}"
    );
    assert!(
        s.path().join("data/demo/inbox/big.csv").exists(),
        "the file stays in the inbox"
    );
    // The daemon shows it: the latest run failed.
    let d = Daemon::start(&s, &config, port);
    d.wait_for(|| d.get("/readyz").0 == 503, "readiness to fail");
    assert!(
        d.get("/readyz")
            .1
            .contains("job demo: its latest run failed"),
        "{}",
        d.get("/readyz").1
    );
    d.wait_for(
        || {
            d.log()
                .contains("Retrying archiving a file after a transient failure")
        },
        "the daemon's own run to retry",
    );
    assert!(d.stop().success());

    // Room again (the small disk goes away): taken, archived, processed once.
    drop(mounted);
    let out = run();
    assert!(out.status.success(), "{}", show(&out));
    assert!(processed(&s, "demo", "big.csv"));
    assert!(!s.path().join("data/demo/inbox/big.csv").exists());
    let db = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
    let done: i64 = db
        .query_row(
            "SELECT count(*) FROM files WHERE name = 'big.csv' AND state = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(done, 1);
}
