//! Replicas: three daemons, each with its own data folder (as on three
//! hosts), share one PostgreSQL store and one S3 bucket (moto) for inbox,
//! archive and outputs. Files keep arriving for three jobs while replicas are
//! SIGKILLed and restarted at random; every run files its type 86 shipments
//! with the ACE simulator over HTTPS (faults on). Afterwards every file was
//! processed exactly once (one `done` row, moved out of the inbox once), every
//! house bill is in exactly one published run's dispositions, once in the
//! history and on exactly one entry number, which the simulator received and
//! no other; nothing is left pending; no run is left half published; and the
//! audit chain verifies.
//!
//! The CI run is short; a longer one by hand:
//! `S321D_REPLICA_FILES=3000 S321D_REPLICA_DROP_MS=600 S321D_REPLICA_LARGE=50 cargo test --test integration replicas -- --nocapture`
//! (about 30 minutes; it prints files, kills, runs, duplicates and losses).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use s321d::sources::Source;
use s321d::state::pg::testing::ScratchDb;
use sha2::{Digest, Sha256};

use crate::support::acesim::AceSim;
use crate::support::servers::{free_port, s3};
use crate::support::*;

const REPLICAS: usize = 3;
const JOBS: [&str; 3] = ["ja", "jb", "jc"];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The shared bucket as a source (the same TOML the daemons get).
fn bucket_toml(s: &Sandbox, bucket: &str) -> String {
    let key = s.write("secrets/key_id", "testing\n");
    let secret = s.write("secrets/secret", "testing\n");
    format!(
        "kind = \"s3\"\nbucket = {bucket:?}\nendpoint = {:?}\npath_style = true\nallow_http = true\n\
         region = \"us-east-1\"\naccess_key_id_file = {:?}\nsecret_access_key_file = {:?}\n",
        s3().endpoint,
        key.display().to_string(),
        secret.display().to_string()
    )
}

/// Job files (one per job, every second, inbox and outputs in the bucket)
/// and one config per replica; returns the config paths and health ports.
fn setup(s: &Sandbox, db: &ScratchDb, bucket: &str, sim: &AceSim) -> Vec<(String, u16)> {
    for job in JOBS {
        s.write(
            &format!("jobs/{job}.toml"),
            format!(
                "name = \"{job}\"\npattern = \"{job}-*.csv\"\nschedule = \"* * * * * *\"\n\
                 [source]\nname = \"bucket\"\ninbox = \"inbox\"\nsettle_secs = 0\n\
                 [output]\nsource = \"bucket\"\npath = \"runs\"\n[filing]\ntransport = \"http\"\n\
                 [format]\nkind = \"csv\"\n"
            ),
        );
    }
    let source = bucket_toml(s, bucket);
    // The seller every line names, with the address an entry needs.
    let parties = s.write(
        "parties.csv",
        "name,country,address,city,postal_code,subdivision\nShop,VN,22 Hang Gai Street,Hanoi,100000,\n",
    );
    (0..REPLICAS)
        .map(|i| {
            let port = free_port();
            let cfg = s.write(
                &format!("replica{i}/s321d.toml"),
                format!(
                    "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n\
                     [daemon]\nlisten = \"127.0.0.1:{port}\"\ngraceful_shutdown_secs = 5\n\
                     [state]\nurl = {:?}\n[archive]\nsource = \"bucket\"\npath = \"archive\"\n\
                     [limits]\npoison_after_deaths = 100\n\
                     [filing]\nfiler_code = \"S32\"\nfirst_serial = 1000\nbond_type = \"8\"\n\
                     surety_code = \"457\"\ncontact_name = \"Filing Desk\"\ncontact_phone = \"5550100199\"\n\
                     parties_file = {:?}\n\
                     [filing.http]\nurl = {:?}\ntimeout_secs = 2\nretry_attempts = 6\n\
                     retry_initial_ms = 20\nconcurrency = 8\n[sources.bucket]\n{source}",
                    s.path()
                        .join(format!("replica{i}/data"))
                        .display()
                        .to_string(),
                    s.path().join("jobs").display().to_string(),
                    db.url,
                    parties.display().to_string(),
                    sim.url()
                ),
            );
            (cfg.display().to_string(), port)
        })
        .collect()
}

/// Starts a replica; its log is appended to `<config>.log`.
fn start(cfg: &str) -> Child {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(format!("{cfg}.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args(["--config", cfg, "run"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The last lines of every replica's log, for assertion messages.
fn logs(replicas: &[(String, u16)]) -> String {
    replicas
        .iter()
        .map(|(cfg, _)| {
            let text = std::fs::read_to_string(format!("{cfg}.log")).unwrap_or_default();
            // Backtrace frames left out.
            let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
            format!(
                "{cfg}:\n{}",
                lines[lines.len().saturating_sub(15)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A manifest of `n` type 86 shipments (arrivals before the suspension of
/// de minimis), house bills `{tag}N{i}`: letters and digits, as ACE knows them.
fn manifest(tag: &str, n: usize) -> String {
    let mut t = format!("{CANONICAL_HEADER},conveyance,ior_number\n");
    for i in 0..n {
        let hb = format!("{tag}N{i}");
        t.push_str(&format!(
            "DHLX,MAWB1,{hb},1,2025-04-01,4701,Hanoi Textiles,VN,Person {hb},12 Main Street,Brooklyn,NY,11201,Cotton T-shirt,6109.10.0012,VN,1,45.00,USD,0.5,Shop,,\n"
        ));
    }
    t
}

/// Simulator faults: 5xx answers, late answers, dropped connections,
/// notifications twice and out of order.
const FAULTS: &str = "[release]\ndelay_ms = 50\nseed = 11\n[faults]\nerror_rate = 0.05\n\
    timeout_rate = 0.01\ntimeout_ms = 2500\ndrop_rate = 0.02\nduplicate_notifications = 0.2\n\
    reorder_notifications = true\n";

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The `house_bill` column of a dispositions.csv.
fn house_bills(csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "house_bill")
        .expect("house_bill column");
    lines
        .map(|l| l.split(',').nth(col).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn three_replicas_share_the_work_and_process_every_file_once() {
    let files = env_or("S321D_REPLICA_FILES", 36) as usize;
    let drop_ms = env_or("S321D_REPLICA_DROP_MS", 120);
    // Every tenth file this many shipments (the others 1 to 20).
    let large = env_or("S321D_REPLICA_LARGE", 500) as usize;
    let s = Sandbox::new();
    let db = ScratchDb::new();
    let bucket = format!("replicas-{}-{}", std::process::id(), free_port());
    s3().create_bucket(&bucket);
    let sim = AceSim::start(s.path(), &s.path().join("sim"), FAULTS);
    let replicas = setup(&s, &db, &bucket, &sim);
    let cfg: s321d::sources::SourceConfig = toml::from_str(&bucket_toml(&s, &bucket)).unwrap();
    let source = Source::from_config("bucket", &cfg).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut seed: u64 = 0x5321_d3e9_11ca;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut daemons: Vec<Child> = replicas.iter().map(|(c, _)| start(c)).collect();
    let started = Instant::now();
    let mut dropped: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut bills = 0usize;
    let mut kills = 0usize;
    let mut next_kill = Instant::now() + Duration::from_millis(800 + next(1500));
    for n in 0..files {
        let job = JOBS[n % JOBS.len()];
        let name = format!("{job}-{n:05}.csv");
        let lines = if n % 10 == 3 {
            large
        } else {
            1 + next(20) as usize
        };
        let bytes = manifest(&format!("H{n:05}"), lines).into_bytes();
        rt.block_on(source.put(&format!("inbox/{name}"), &bytes))
            .unwrap();
        dropped.insert(name, bytes);
        bills += lines;
        std::thread::sleep(Duration::from_millis(drop_ms));
        if Instant::now() >= next_kill {
            let victim = next(REPLICAS as u64) as usize;
            daemons[victim].kill().unwrap(); // SIGKILL
            daemons[victim].wait().unwrap();
            kills += 1;
            std::thread::sleep(Duration::from_millis(next(400)));
            daemons[victim] = start(&replicas[victim].0);
            next_kill = Instant::now() + Duration::from_millis(600 + next(2000));
        }
    }

    // No more kills: the replicas finish the backlog.
    let deadline = Instant::now() + Duration::from_secs(300 + files as u64 / 5);
    loop {
        let inbox = rt.block_on(source.list("inbox")).unwrap();
        let open: i64 = db
            .admin(|c| {
                c.query_one(
                    "SELECT count(*) FROM files WHERE state NOT IN ('done', 'quarantined', 'duplicate')",
                    &[],
                )
            })
            .get(0);
        let done: i64 = db
            .admin(|c| c.query_one("SELECT count(*) FROM files", &[]))
            .get(0);
        // Filing settled: nothing numbered and unsent or unanswered, no run's filing due.
        let unsettled: i64 = db
            .admin(|c| {
                c.query_one(
                    "SELECT (SELECT count(*) FROM filings WHERE state IN ('pending', 'submitted')) \
                     + (SELECT count(*) FROM run_duties WHERE duty = 'filing' AND state = 'due')",
                    &[],
                )
            })
            .get(0);
        if inbox.is_empty() && open == 0 && done as usize >= files && unsettled == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replicas did not finish: {} in the inbox, {open} open, {unsettled} filings or runs unsettled\nsim:\n{}",
            inbox.len(),
            sim.log()
        );
        for d in &mut daemons {
            assert!(
                d.try_wait().unwrap().is_none(),
                "a replica exited on its own"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for (d, (_, port)) in daemons.iter_mut().zip(&replicas) {
        let (status, _) = crate::support::servers::http("GET", *port, "/healthz", "");
        assert_eq!(status, 200);
        Command::new("kill")
            .arg("-TERM")
            .arg(d.id().to_string())
            .status()
            .unwrap();
    }
    for d in &mut daemons {
        assert!(
            d.wait().unwrap().success(),
            "SIGTERM stops a replica cleanly"
        );
    }

    // Every file: one `done` row, nothing else.
    let rows: Vec<(String, String)> = db
        .admin(|c| c.query("SELECT sha256, state FROM files", &[]))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut twice = 0;
    let mut lost = 0;
    for (name, bytes) in &dropped {
        let h = sha(bytes);
        let done = rows
            .iter()
            .filter(|(s, st)| *s == h && st == "done")
            .count();
        match done {
            0 => lost += 1,
            1 => {}
            _ => twice += 1,
        }
        assert_eq!(done, 1, "{name}: {done} done rows; all rows: {rows:?}");
    }
    assert!(rows.iter().all(|(_, st)| st == "done"), "{rows:?}");
    assert_eq!(rows.len(), dropped.len(), "one row per file");

    // Each file left the inbox once, to processed/.
    let processed = rt.block_on(source.list("processed")).unwrap();
    let mut moved: BTreeMap<String, usize> = BTreeMap::new();
    for e in &processed {
        let name = e.path.rsplit('/').next().unwrap().to_owned();
        *moved.entry(name).or_default() += 1;
    }
    for name in dropped.keys() {
        assert_eq!(moved.get(name), Some(&1), "{name} in processed/: {moved:?}");
    }

    // Every published run is whole, and every house bill is in one of them once.
    let outputs: Vec<Option<String>> = db
        .admin(|c| c.query("SELECT output FROM runs ORDER BY run_id", &[]))
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut run_dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for output in outputs.into_iter().flatten() {
        // `source:path`
        let dir = output
            .split_once(':')
            .map_or(output.as_str(), |(_, p)| p)
            .to_owned();
        let names = rt.block_on(source.list(&dir)).unwrap();
        if !names.is_empty() {
            run_dirs.insert(dir, names.into_iter().map(|e| e.name).collect());
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (dir, names) in &run_dirs {
        assert!(
            names.iter().any(|n| n == "summary.json"),
            "{dir} is half published: {names:?}"
        );
        let csv = rt
            .block_on(source.get(&format!("{dir}/dispositions.csv")))
            .unwrap();
        for hb in house_bills(&String::from_utf8(csv).unwrap()) {
            *seen.entry(hb).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), bills, "every house bill in a published run");
    assert!(seen.values().all(|n| *n == 1), "a house bill in two runs");
    let history: i64 = db
        .admin(|c| c.query_one("SELECT count(*) FROM shipments", &[]))
        .get(0);
    assert_eq!(
        history as usize, bills,
        "every house bill once in the history"
    );

    // Every shipment filed once: one entry number per house bill in the
    // ledger, and the simulator received that number for it and no other.
    let ledger: BTreeMap<String, String> = db
        .admin(|c| {
            c.query(
                "SELECT b.house_bill, f.entry_number FROM filing_bills b JOIN filings f ON f.id = b.filing_id",
                &[],
            )
        })
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let not_filed: Vec<String> = db
        .admin(|c| c.query("SELECT reason FROM not_filed LIMIT 5", &[]))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ledger.len(),
        bills,
        "every house bill on an entry; not filed: {not_filed:?}\n{}",
        logs(&replicas)
    );
    let received = sim.received();
    let mut filed_twice = 0;
    for (_, hb, numbers) in &received {
        if numbers.len() != 1 {
            filed_twice += 1;
        }
        assert_eq!(numbers.len(), 1, "{hb} reached ACE under {numbers:?}");
        assert_eq!(
            ledger.get(hb),
            numbers.first(),
            "{hb}: the ledger and ACE agree"
        );
    }
    assert_eq!(received.len(), bills, "ACE received every house bill");

    let out = Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args(["--config", &replicas[0].0, "audit", "verify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    eprintln!(
        "replicas: {} files ({bills} house bills) over {REPLICAS} replicas and {} jobs in {:.0} s; \
         {kills} SIGKILLs; {} published runs; processed twice: {twice}; lost: {lost}; \
         entries {}, filed twice: {filed_twice}, never filed: {}",
        dropped.len(),
        JOBS.len(),
        started.elapsed().as_secs_f64(),
        run_dirs.len(),
        ledger.len(),
        bills - received.len()
    );
}
