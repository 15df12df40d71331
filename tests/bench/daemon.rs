//! Benchmark of the daemon (issue targets: a 1M-line file taken, archived,
//! validated and its outputs written within 20 s of becoming stable, on 2
//! cores; the idle daemon under 100 MB, and back near that after a run).
//!
//! ```text
//! cargo bench --bench daemon                     # 1M lines
//! cargo bench --bench daemon -- --lines 200000
//! ```
//! Starts the release `s321d run` with a job polling every second (settle
//! time 2 s), drops the file into its inbox (written under a temporary name,
//! then renamed), and measures from the moment it became stable (its mtime +
//! the settle time) to the moment the run's `summary.json` appears. RSS is read
//! from /proc: idle before the file, the peak (VmHWM), and 30 s after the run.

#[path = "generate.rs"]
#[allow(dead_code)]
mod generate;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let lines: u64 = match args.iter().position(|a| a == "--lines") {
        Some(i) => args[i + 1].parse().expect("--lines N"),
        None => 1_000_000,
    };
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-daemon-{lines}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("jobs")).unwrap();
    let input = tmp.join("input.csv");
    eprintln!("generating {lines} lines");
    generate::generate_canonical(&input, lines, 321).unwrap();
    let size_mb = std::fs::metadata(&input).unwrap().len() as f64 / 1e6;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        tmp.join("s321d.toml"),
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n",
            tmp.join("data").display().to_string(),
            tmp.join("jobs").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        tmp.join("jobs/bench.toml"),
        "name = \"bench\"\npattern = \"*.csv\"\nschedule = \"* * * * * *\"\n[source]\nname = \"data\"\ninbox = \"inbox\"\nsettle_secs = 2\n\
         [output]\npath = \"runs\"\n[format]\nkind = \"csv\"\n",
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args([
            "--config",
            &tmp.join("s321d.toml").display().to_string(),
            "run",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    std::thread::sleep(Duration::from_secs(5));
    let idle_kb = status_kb(pid, "VmRSS:");

    let inbox = tmp.join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(&input, inbox.join("manifest.csv.part")).unwrap();
    std::fs::rename(inbox.join("manifest.csv.part"), inbox.join("manifest.csv")).unwrap();
    let mtime = std::fs::metadata(inbox.join("manifest.csv"))
        .unwrap()
        .modified()
        .unwrap();
    let stable_at = mtime + Duration::from_secs(2);

    let runs = tmp.join("data/runs");
    let deadline = Instant::now() + Duration::from_secs(300);
    let done_at = loop {
        let finished = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("summary.json"))
            .filter(|p| p.exists());
        if finished.is_some() {
            break SystemTime::now();
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let latency = done_at
        .duration_since(stable_at)
        .unwrap_or_default()
        .as_secs_f64();
    let peak_kb = status_kb(pid, "VmHWM:");
    std::thread::sleep(Duration::from_secs(30));
    let after_kb = status_kb(pid, "VmRSS:");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = daemon.wait();
    // Baseline, same run: the bare engine on the same file (`validate
    // --no-history`), so the figure says what taking, archiving, verifying,
    // bookkeeping and publishing add on top of the rules themselves.
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args(["validate", "--no-history", "--out"])
        .arg(tmp.join("validate-out"))
        .arg("--job")
        .arg(tmp.join("jobs/bench.toml"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let baseline = started.elapsed().as_secs_f64();
    let text = format!(
        "| input | stable -> outputs written | bare `validate` (baseline) | ratio | idle RSS | peak RSS | RSS 30 s after |\n\
         |---|---:|---:|---:|---:|---:|---:|\n\
         | {lines} lines ({size_mb:.0} MB) | {latency:.1} s | {baseline:.1} s | {:.2}x | {:.0} MB | {:.0} MB | {:.0} MB |\n",
        latency / baseline,
        idle_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0,
        after_kb as f64 / 1024.0
    );
    println!("{text}");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-daemon.md"),
        text,
    )
    .unwrap();
}
