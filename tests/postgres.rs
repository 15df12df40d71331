//! The real binary on PostgreSQL: the README's main job run on a PostgreSQL
//! store gives the same outputs as on SQLite and takes each file once; a
//! SQLite store moved with `s321d state migrate` verifies on the other side;
//! two daemons' worth of `run-job` on one store never run one job at once.

use std::collections::BTreeMap;
use std::path::Path;

use s321d::state::pg::testing::ScratchDb;

use crate::support::*;

const JOBS: [&str; 3] = ["dhlx-canonical", "pclx-intake", "upsn-ndjson"];

/// A sandbox with the three sample jobs.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    for job in JOBS {
        let name = format!("jobs/{job}.toml");
        s.write(&name, std::fs::read(repo().join(&name)).unwrap());
    }
    s
}

/// The README's first command, with `env`.
fn main_job(s: &Sandbox, env: &[(&str, &str)]) -> String {
    let samples = repo().join("data-samples");
    let mut args = vec!["run-job"];
    args.extend(JOBS);
    args.extend(["--seed", samples.to_str().unwrap()]);
    let out = s.s321d_with(&args, env);
    // One sample is not a manifest and is quarantined: exit 1 reports it.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every run output of the sandbox (`var/demo/runs/<job>/<run>/<file>`) by
/// job and file name, run ids left out (they differ between two runs).
fn outputs(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let runs = root.join("var/demo/runs");
    for job in std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()) {
        for run in std::fs::read_dir(&job).unwrap().map(|e| e.unwrap().path()) {
            for file in [
                "dispositions.csv",
                "findings.csv",
                "entries.csv",
                "entry_lines.csv",
            ] {
                if let Ok(text) = std::fs::read_to_string(run.join(file)) {
                    let key = format!("{}/{file}", job.file_name().unwrap().to_string_lossy());
                    out.entry(key).or_insert_with(String::new).push_str(&text);
                }
            }
        }
    }
    out
}

fn pg_env(db: &ScratchDb) -> Vec<(&'static str, String)> {
    vec![("S321D__STATE__URL", db.url.clone())]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn the_main_job_on_postgres_matches_sqlite_and_takes_each_file_once() {
    let db = ScratchDb::new();
    let env = pg_env(&db);
    let on_pg = sandbox();
    let first = main_job(&on_pg, &as_refs(&env));
    assert!(first.contains("3 file(s) processed"), "{first}");
    assert!(
        !on_pg.path().join("var/state.db").exists(),
        "no SQLite store beside PostgreSQL"
    );
    let on_sqlite = sandbox();
    main_job(&on_sqlite, &[]);
    let (a, b) = (outputs(on_pg.path()), outputs(on_sqlite.path()));
    assert_eq!(a.len(), 12, "four outputs of three jobs: {:?}", a.keys());
    assert_eq!(
        a, b,
        "the same samples give the same outputs on both stores"
    );

    // The same files dropped again: recognised by their bytes, never run twice.
    let again = main_job(&on_pg, &as_refs(&env));
    assert!(again.contains("0 file(s) processed"), "{again}");
    assert!(!again.contains(" 0 duplicate"), "{again}");
    let count = |sql: &str| -> (i64, i64) {
        let pg: i64 = db.admin(|c| c.query_one(sql, &[])).get(0);
        let lite = rusqlite::Connection::open(on_sqlite.path().join("var/state.db"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap();
        (pg, lite)
    };
    let (files, files_once) = count("SELECT COUNT(DISTINCT sha256) FROM files");
    assert_eq!(files, files_once, "the second drop brought no new bytes");
    let (runs, runs_once) = count("SELECT COUNT(*) FROM runs");
    assert_eq!(
        (runs, runs_once),
        (3, 3),
        "one run per job: the second drop made none"
    );

    let out = on_pg.s321d_with(&["audit", "verify"], &as_refs(&env));
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn state_migrate_moves_a_sqlite_store_and_verifies_it() {
    let s = sandbox();
    main_job(&s, &[]);
    let out = s.s321d(&["audit", "verify"]);
    assert!(out.status.success(), "{}", show(&out));
    let sqlite_head = String::from_utf8_lossy(&out.stdout).into_owned();

    let db = ScratchDb::new();
    let out = s.s321d(&[
        "state",
        "migrate",
        "--from",
        "sqlite:var/state.db",
        "--to",
        &db.url,
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("verified"), "{report}");
    for table in ["shipments", "files", "runs", "audit_events"] {
        assert!(
            report.lines().any(|l| l.starts_with(table)),
            "{table} counted: {report}"
        );
    }

    // The PostgreSQL store answers as the SQLite one did.
    let env = pg_env(&db);
    let out = s.s321d_with(&["audit", "verify"], &as_refs(&env));
    assert!(out.status.success(), "{}", show(&out));
    // The same count and head; the time it took is left out.
    let verdict = |text: &str| -> (String, String) {
        let count = text
            .split(" event(s)")
            .next()
            .unwrap_or_default()
            .to_owned();
        let head = text
            .split("; ")
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned();
        (count, head)
    };
    let (count, head) = verdict(&String::from_utf8_lossy(&out.stdout));
    assert!(head.starts_with("head event "), "{head}");
    assert_eq!((count, head), verdict(&sqlite_head));
    // New work continues the chain there, and the samples are known.
    let again = main_job(&s, &as_refs(&env));
    assert!(again.contains("0 file(s) processed"), "{again}");
    let out = s.s321d_with(&["audit", "verify"], &as_refs(&env));
    assert!(out.status.success(), "{}", show(&out));

    // Never into a store that holds rows.
    let out = s.s321d(&[
        "state",
        "migrate",
        "--from",
        "sqlite:var/state.db",
        "--to",
        &db.url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(show(&out).contains("already holds rows"), "{}", show(&out));
}

#[test]
fn run_job_refuses_a_job_whose_lease_another_replica_holds() {
    let db = ScratchDb::new();
    let env = pg_env(&db);
    let s = sandbox();
    // Another replica in the middle of a dhlx-canonical run.
    let mut other = db.open();
    use s321d::state::cluster::{ClusterStore, job_lease};
    assert!(other.try_lease(&job_lease("dhlx-canonical")).unwrap());
    let samples = repo().join("data-samples");
    let out = s.s321d_with(
        &[
            "run-job",
            "dhlx-canonical",
            "pclx-intake",
            "--seed",
            samples.to_str().unwrap(),
        ],
        &as_refs(&env),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("job dhlx-canonical: a daemon on this state store is running it now"),
        "{text}"
    );
    assert!(
        text.contains("s321d run-job pclx-intake"),
        "the other job ran: {text}"
    );
    // Released: the job runs.
    other.release_lease(&job_lease("dhlx-canonical")).unwrap();
    let out = s.s321d_with(&["run-job", "dhlx-canonical"], &as_refs(&env));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("processed"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_replica_leaves_a_job_whose_lease_another_holds_and_says_so() {
    use s321d::state::cluster::{ClusterStore, job_lease};
    let db = ScratchDb::new();
    let s = Sandbox::new();
    s.write(
        "jobs/demo.toml",
        "name = \"demo\"\npattern = \"*.csv\"\nschedule = \"* * * * * *\"\n[source]\nname = \"data\"\n\
         inbox = \"inbox\"\nsettle_secs = 0\n[output]\npath = \"runs\"\n[format]\nkind = \"csv\"\n",
    );
    let port = crate::support::servers::free_port();
    let config = s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n\
             graceful_shutdown_secs = 5\n[state]\nurl = {:?}\n",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string(),
            db.url
        ),
    );
    // Another replica is running the job.
    let mut other = db.open();
    assert!(other.try_lease(&job_lease("demo")).unwrap());
    s.write(
        "data/inbox/a.csv",
        format!("{CANONICAL_HEADER}\n{}\n", clean_line("HB1")),
    );
    let d = crate::daemon::Daemon::start(&s, &config, port);
    let skipped = "s321d_lease_skipped_total{lease=\"job:demo\"}";
    d.wait_for(|| d.get("/metrics").1.contains(skipped), "a skipped tick");
    let (_, ready) = d.get("/readyz");
    assert!(ready.contains("replica "), "{ready}");
    assert!(
        ready.contains(&format!("/{}; leases held: none", db.name)),
        "{ready}"
    );
    assert!(
        s.path().join("data/inbox/a.csv").exists(),
        "the file waits for the holder"
    );
    // The holder goes away: this replica takes the job over and runs it.
    drop(other);
    d.wait_for(
        || !s.path().join("data/inbox/a.csv").exists(),
        "the file taken over",
    );
    d.wait_for(
        || {
            d.get("/metrics")
                .1
                .contains("s321d_lease_held{lease=\"job:demo\"}")
        },
        "the lease gauge",
    );
    assert!(d.stop().success());
}
