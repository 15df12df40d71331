//! Benchmark of intake with 1, 2 and 3 replicas on one PostgreSQL store
//! (issue 12), beside one daemon on SQLite as the baseline, in one run.
//!
//! ```text
//! cargo bench --bench replicas                          # 3 jobs x 6 files x 100,000 lines
//! cargo bench --bench replicas -- --files 4 --lines 50000
//! ```
//! For each setup: a fresh store (a scratch database on the PostgreSQL server
//! of `S321D_TEST_PG`, default 127.0.0.1:5432, or a SQLite file), a fresh
//! shared folder holding every job's inbox, archive and outputs (the shared
//! disk or bucket replicas on several hosts would use), every file already
//! in the inbox and settled; then N release daemons start, each with its own
//! data folder, and the clock runs until the store records every file done.
//! Work is split by job (one lease per job), so the three jobs can run on
//! three replicas at once; the machine's cores bound what that buys.

#[path = "generate.rs"]
#[allow(dead_code)]
mod generate;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use s321d::state::pg::testing::ScratchDb;

const JOBS: [&str; 3] = ["ja", "jb", "jc"];

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].parse().expect("a number"))
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the job files and one config per replica under `dir`.
fn setup(dir: &Path, state_url: &str, replicas: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    for job in JOBS {
        std::fs::write(
            dir.join(format!("jobs/{job}.toml")),
            format!(
                "name = \"{job}\"\npattern = \"{job}-*.csv\"\nschedule = \"* * * * * *\"\n\
                 [source]\nname = \"shared\"\ninbox = \"inbox\"\nsettle_secs = 0\n\
                 [output]\nsource = \"shared\"\npath = \"runs\"\n[format]\nkind = \"csv\"\n"
            ),
        )
        .unwrap();
    }
    (0..replicas)
        .map(|i| {
            let cfg = dir.join(format!("replica{i}.toml"));
            std::fs::write(
                &cfg,
                format!(
                    "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n\
                     [daemon]\nlisten = \"127.0.0.1:{}\"\n[state]\nurl = {state_url:?}\n\
                     [archive]\nsource = \"shared\"\npath = \"archive\"\n\
                     [sources.shared]\nkind = \"local\"\nroot = {:?}\n",
                    dir.join(format!("replica{i}")).display().to_string(),
                    dir.join("jobs").display().to_string(),
                    free_port(),
                    dir.join("shared").display().to_string(),
                ),
            )
            .unwrap();
            cfg
        })
        .collect()
}

/// Files done so far, as the store says.
fn done(url: &str, sqlite: Option<&Path>) -> i64 {
    let sql = "SELECT count(*) FROM files WHERE state = 'done'";
    match sqlite {
        Some(db) => rusqlite::Connection::open(db)
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or(0),
        None => {
            let mut config: postgres::Config = url.parse().unwrap();
            if let Ok(p) = std::env::var("PGPASSWORD") {
                config.password(p);
            }
            config
                .connect(postgres::NoTls)
                .and_then(|mut c| c.query_one(sql, &[]).map(|r| r.get(0)))
                .unwrap_or(0)
        }
    }
}

/// One setup: returns the wall time from start to every file done.
fn measure(name: &str, replicas: usize, pg: bool, inputs: &[PathBuf], root: &Path) -> f64 {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let db = pg.then(ScratchDb::new);
    let (url, sqlite) = match &db {
        Some(db) => (db.url.clone(), None),
        None => {
            let file = dir.join("state.db");
            (format!("sqlite:{}", file.display()), Some(file))
        }
    };
    let configs = setup(&dir, &url, replicas);
    let inbox = dir.join("shared/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for input in inputs {
        std::fs::copy(input, inbox.join(input.file_name().unwrap())).unwrap();
    }
    let started = Instant::now();
    let mut daemons: Vec<Child> = configs
        .iter()
        .map(|cfg| {
            Command::new(env!("CARGO_BIN_EXE_s321d"))
                .args(["--config", &cfg.display().to_string(), "run"])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = started + Duration::from_secs(1800);
    while done(&url, sqlite.as_deref()) < inputs.len() as i64 {
        assert!(Instant::now() < deadline, "{name}: not done in 30 minutes");
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = started.elapsed().as_secs_f64();
    for d in &mut daemons {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(d.id().to_string())
            .status();
    }
    for d in &mut daemons {
        let _ = d.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    wall
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let per_job = arg(&args, "--files", 6) as usize;
    let lines = arg(&args, "--lines", 100_000);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-replicas");
    let gen_dir = root.join("inputs");
    std::fs::create_dir_all(&gen_dir).unwrap();
    let mut inputs = Vec::new();
    for (j, job) in JOBS.iter().enumerate() {
        for f in 0..per_job {
            let path = gen_dir.join(format!("{job}-{f:03}-{lines}.csv"));
            if !path.exists() {
                // Distinct seeds: distinct bytes and house bills per file.
                generate::generate_canonical(&path, lines, 1000 + (j * per_job + f) as u64)
                    .unwrap();
            }
            inputs.push(path);
        }
    }
    let total_lines = lines * inputs.len() as u64;
    eprintln!(
        "{} files of {lines} lines ({total_lines} lines) over {} jobs",
        inputs.len(),
        JOBS.len()
    );
    let setups: [(&str, usize, bool); 4] = [
        ("sqlite-1", 1, false),
        ("postgres-1", 1, true),
        ("postgres-2", 2, true),
        ("postgres-3", 3, true),
    ];
    let mut rows = Vec::new();
    for (name, replicas, pg) in setups {
        let wall = measure(name, replicas, pg, &inputs, &root);
        eprintln!("{name}: {wall:.2} s");
        rows.push((name, replicas, wall));
    }
    let base = rows[1].2;
    println!("| setup | replicas | wall (s) | lines/s | vs 1 replica on PostgreSQL |");
    println!("|---|---:|---:|---:|---:|");
    for (name, replicas, wall) in rows {
        println!(
            "| {name} | {replicas} | {wall:.2} | {:.0} | {:.2}x |",
            total_lines as f64 / wall,
            base / wall
        );
    }
}
