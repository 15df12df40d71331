//! Benchmark of the reports and the audit trail (issue targets: the daily
//! dashboard for a day of 1M shipments in under 15 s with under 1 GB of
//! memory; `audit verify` of a million events in under 10 s).
//!
//! ```text
//! cargo bench --bench reports                        # about 1M shipments, 1M events
//! cargo bench --bench reports -- --lines 300000 --events 200000
//! ```
//! Setup (not timed): the generator's three carrier shapes are taken, archived
//! and evaluated by the release `s321d run-job` (the real path, so the day's
//! runs, outputs and audit events are what the daemon would leave), then a
//! state store with `--events` filing events is written through the library.
//! Timed, each as its own process with its peak RSS read by a small Python
//! wrapper: `s321d report --job bench-daily --preview DIR` (the whole
//! dashboard: polars aggregation over the day's outputs, charts, HTML, MIME)
//! and `s321d audit verify`. Results go to `<target>/tmp/bench-reports.md`.

#[path = "generate.rs"]
#[allow(dead_code)]
mod generate;

use s321d::state::audit_query::AuditStore;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Measured {
    wall_s: f64,
    peak_rss_mb: f64,
    stdout: String,
}

/// Runs `cmd` under a wrapper that reports the child's peak RSS.
fn measure(cmd: &[String]) -> Measured {
    const WRAPPER: &str = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n\
        sys.stderr.write(r.stderr)\n\
        print(r.stdout)\n\
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
        sys.exit(r.returncode)";
    let started = Instant::now();
    let out = Command::new("python3")
        .arg("-c")
        .arg(WRAPPER)
        .args(cmd)
        .output()
        .expect("python3 runs");
    let wall_s = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed: {}\n{stdout}\n{}",
        cmd.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let kb: f64 = stdout
        .trim()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("peak RSS printed");
    Measured {
        wall_s,
        peak_rss_mb: kb / 1024.0,
        stdout,
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .map_or(default, |i| args[i + 1].parse().expect("a number"))
}

fn config(dir: &Path, data: &Path) -> PathBuf {
    let path = dir.join("s321d.toml");
    std::fs::write(
        &path,
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n[daemon]\ntimezone = \"UTC\"\n\
             [email.groups]\ncompliance = [\"compliance@broker.example\"]\n",
            data.display().to_string(),
            dir.join("jobs").display().to_string()
        ),
    )
    .unwrap();
    path
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let lines = arg(&args, "--lines", 1_800_000);
    let events = arg(&args, "--events", 1_000_000);
    let s321d = env!("CARGO_BIN_EXE_s321d").to_owned();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-reports-{lines}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("jobs")).unwrap();

    // A day of manifests from three carriers, run through the real intake.
    eprintln!("generating {lines} lines");
    let gen_dir = tmp.join("generated");
    let files = generate::generate(&gen_dir, lines, 1_000_000, 321).unwrap();
    let mut names = Vec::new();
    for (file, text) in generate::JOBS {
        let name = text.split('"').nth(1).unwrap().to_owned();
        let (head, format) = text.split_once("[format]").unwrap();
        std::fs::write(
            tmp.join("jobs").join(file),
            format!(
                "{head}[source]\nname = \"data\"\ninbox = \"{name}/inbox\"\nprocessed = \"{name}/processed\"\nquarantine = \"{name}/quarantine\"\n\
                 settle_secs = 0\n[output]\npath = \"runs/{name}\"\n[format]{format}"
            ),
        )
        .unwrap();
        names.push(name);
    }
    std::fs::write(
        tmp.join("jobs/bench-daily.toml"),
        "name = \"bench-daily\"\ntimezone = \"UTC\"\n[report]\nkind = \"dashboard\"\nrecipients = [\"compliance\"]\nday = \"today\"\n",
    )
    .unwrap();
    let data = tmp.join("data");
    let cfg = config(&tmp, &data);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let job = if name.starts_with("DHLX") {
            "bench-dhlx"
        } else if name.starts_with("PCLX") {
            "bench-pclx"
        } else {
            "bench-upsn"
        };
        let inbox = data.join(job).join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::rename(f, inbox.join(&name)).unwrap();
    }
    eprintln!("running the intake jobs (not timed)");
    let started = Instant::now();
    let mut cmd = Command::new(&s321d);
    cmd.args(["--config", cfg.to_str().unwrap(), "run-job"])
        .args(&names);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_out = String::from_utf8_lossy(&out.stdout).into_owned();
    let shipments: u64 = run_out
        .lines()
        .filter_map(|l| l.split(" line(s), ").nth(1))
        .filter_map(|r| r.split(' ').next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    eprintln!(
        "intake: {shipments} shipments in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // The dashboard.
    let today = chrono::Utc::now().date_naive().to_string();
    let preview = tmp.join("preview");
    let dash = measure(&[
        s321d.clone(),
        "--config".into(),
        cfg.display().to_string(),
        "report".into(),
        "--job".into(),
        "bench-daily".into(),
        "--date".into(),
        today,
        "--preview".into(),
        preview.display().to_string(),
    ]);
    let text = std::fs::read_to_string(preview.join("message.txt")).unwrap();
    let shown: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Shipments: "))
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert_eq!(
        shown, shipments,
        "the dashboard counts every shipment of the day"
    );

    // An audit trail of `events` events, then verify.
    eprintln!("writing {events} audit events (not timed)");
    let chain_dir = tmp.join("chain");
    let chain_data = chain_dir.join("data");
    std::fs::create_dir_all(chain_dir.join("jobs")).unwrap();
    let chain_cfg = config(&chain_dir, &chain_data);
    {
        let mut store = s321d::state::open_sqlite(&chain_data).unwrap();
        let mut n = 0u64;
        while n < events {
            let batch = (events - n).min(100_000);
            let evs = (0..batch).map(|i| {
                let k = n + i;
                s321d::state::audit::events::filing_response(
                    "DHLX",
                    &format!("DX{k:09}"),
                    &format!("K9Q-{:07}-{}", k % 10_000_000, k % 10),
                    "submitted",
                    "accepted",
                    true,
                    Some("02"),
                    Some("ACCEPTED"),
                    &format!("SE90 02 ENTRY ACCEPTED K9Q{:07}", k % 10_000_000),
                )
            });
            store.append_audit_many(evs.into_iter().collect()).unwrap();
            n += batch;
        }
    }
    let verify = measure(&[
        s321d.clone(),
        "--config".into(),
        chain_cfg.display().to_string(),
        "audit".into(),
        "verify".into(),
    ]);
    assert!(
        verify.stdout.contains(&format!("ok: {events} event(s)")),
        "{}",
        verify.stdout
    );

    let report = format!(
        "| what | size | wall (s) | peak RSS (MB) | target |\n|---|---:|---:|---:|---|\n\
         | daily dashboard (`s321d report --preview`) | {shipments} shipments, {lines} lines, 3 carriers | {:.2} | {:.0} | < 15 s, < 1024 MB |\n\
         | `s321d audit verify` | {events} events | {:.2} | {:.0} | < 10 s |\n",
        dash.wall_s, dash.peak_rss_mb, verify.wall_s, verify.peak_rss_mb
    );
    println!("{report}");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-reports.md"),
        &report,
    )
    .unwrap();
}
