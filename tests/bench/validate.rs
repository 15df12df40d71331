//! Benchmark: `s321d validate` against a plain DuckDB SQL implementation of the
//! same rules, on the same synthetic manifests, in the same run.
//!
//! ```text
//! cargo bench --bench validate                       # 1M and 5M lines
//! cargo bench --bench validate -- --lines 200000     # other sizes
//! cargo bench --bench validate -- --generate-only DIR N
//! ```
//! Two s321d rows per size: duty off (a v1 policy: no `[duty]`) and duty on
//! (the shipped default's `[duty]`, `[fees]` and `[entries]`, with its HTS
//! revision moved back to 2016 so that every line of the 2025 bench data is
//! priced, and the default chapter 99 layers); their ratio is the cost of the
//! estimate (issue 9). The HTS revision's load time is measured too.
//!
//! Each system runs as its own process; wall time is measured around it and
//! peak RSS is the child's `ru_maxrss` (read by a tiny Python wrapper, so each
//! figure covers exactly one run). DuckDB comes from PyPI into a virtualenv
//! under the target folder on first use. Both runs are told to use every core.
//! Results print as a table and go to `<target>/tmp/bench-validate.md`.

#[path = "generate.rs"]
#[allow(dead_code)]
mod generate;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SEED: u64 = 321;
const PER_FILE: u64 = 1_000_000;

struct Measured {
    wall_s: f64,
    peak_rss_mb: f64,
}

/// Runs `cmd` under a wrapper that reports the child's peak RSS.
fn measure(cmd: &[String]) -> Measured {
    const WRAPPER: &str = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{} failed: {}\n{}",
        cmd[0],
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
    }
}

fn duckdb_python(tmp: &Path) -> PathBuf {
    let venv = tmp.join("duckdb-venv");
    let python = venv.join("bin/python3");
    if !python.exists() {
        eprintln!("installing DuckDB from PyPI into {}", venv.display());
        assert!(
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap()
                .success()
        );
        assert!(
            Command::new(&python)
                .args(["-m", "pip", "install", "-q", "duckdb==2.0.0"])
                .status()
                .unwrap()
                .success()
        );
    }
    python
}

fn dataset(tmp: &Path, lines: u64) -> (PathBuf, Vec<PathBuf>) {
    let dir = tmp.join(format!("bench-data-{lines}"));
    let done = dir.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("generating {lines} lines into {}", dir.display());
        generate::generate(&dir, lines, PER_FILE, SEED).expect("generate");
        std::fs::write(&done, "").unwrap();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    (dir, files)
}

/// A policy that prices every bench line: the shipped default with its HTS
/// revision starting in 2016 and the revision's path made absolute.
fn duty_policy(tmp: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(repo.join("config/policy.toml")).unwrap();
    let mut out = String::with_capacity(text.len());
    let mut in_hts = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_hts = t.starts_with("[[duty.hts]]");
        }
        if in_hts && t.starts_with("from") {
            out.push_str("from = \"2016-01-01\"\n");
        } else if in_hts && t.starts_with("file") {
            let name = t.split('"').nth(1).expect("file = \"...\"");
            let abs = repo.join("config").join(name);
            out.push_str(&format!("file = \"{}\"\n", abs.display()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = tmp.join("bench-duty-policy.toml");
    std::fs::write(&path, out).unwrap();
    path
}

/// Load time of the shipped HTS revision, best of five (in this release build).
fn hts_load_seconds() -> (f64, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/hts-2026-rev4.csv");
    let mut best = f64::MAX;
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let rev = s321d::duty::HtsRevision::load(&path).expect("the shipped revision loads");
        best = best.min(t.elapsed().as_secs_f64());
        rows = rev.coverage().rows;
    }
    (best, rows)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(i) = args.iter().position(|a| a == "--generate-only") {
        let dir = PathBuf::from(&args[i + 1]);
        let lines: u64 = args[i + 2].parse().expect("N lines");
        let files = generate::generate(&dir, lines, PER_FILE, SEED).expect("generate");
        println!("wrote {} files into {}", files.len(), dir.display());
        return;
    }
    let sizes: Vec<u64> = match args.iter().position(|a| a == "--lines") {
        Some(i) => args[i + 1]
            .split(',')
            .map(|n| n.parse().expect("--lines N[,N]"))
            .collect(),
        None => vec![1_000_000, 5_000_000],
    };
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let s321d = env!("CARGO_BIN_EXE_s321d");
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bench/duckdb_rules.py");
    let python = duckdb_python(&tmp);
    let v1_policy = tmp.join("bench-v1-policy.toml");
    std::fs::write(&v1_policy, "# v1: no [duty], [fees] or [entries]\n").unwrap();
    let duty_policy = duty_policy(&tmp);
    let (load_s, hts_rows) = hts_load_seconds();

    let mut report = String::from(
        "| lines | system | wall (s) | lines/s | peak RSS (MB) |\n|---:|---|---:|---:|---:|\n",
    );
    let mut ratios = Vec::new();
    for lines in sizes {
        let (dir, files) = dataset(&tmp, lines);
        let jobs: Vec<String> = ["dhlx", "pclx", "upsn"]
            .iter()
            .flat_map(|j| {
                [
                    "--job".to_owned(),
                    dir.join("jobs")
                        .join(format!("{j}.toml"))
                        .display()
                        .to_string(),
                ]
            })
            .collect();
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();

        let s321d_run = |policy: &Path, tag: &str| {
            let out = tmp.join(format!("bench-out-s321d-{tag}-{lines}"));
            let mut cmd = vec![
                s321d.to_owned(),
                "validate".into(),
                "--no-history".into(),
                "--policy".into(),
                policy.display().to_string(),
                "--out".into(),
                out.display().to_string(),
            ];
            cmd.extend(jobs.iter().cloned());
            cmd.extend(files.iter().cloned());
            measure(&cmd)
        };
        let ours = s321d_run(&v1_policy, "v1");
        let priced = s321d_run(&duty_policy, "duty");

        let out = tmp.join(format!("bench-out-duckdb-{lines}"));
        let mut cmd = vec![
            python.display().to_string(),
            baseline.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        cmd.extend(jobs.iter().cloned());
        cmd.extend(files.iter().cloned());
        let duck = measure(&cmd);

        for (name, m) in [
            ("s321d (duty off)", &ours),
            ("s321d (duty on)", &priced),
            ("DuckDB SQL", &duck),
        ] {
            report.push_str(&format!(
                "| {lines} | {name} | {:.2} | {:.0} | {:.0} |\n",
                m.wall_s,
                lines as f64 / m.wall_s,
                m.peak_rss_mb
            ));
        }
        ratios.push(format!(
            "{lines} lines: s321d is {:.2}x faster than DuckDB and uses {:.2}x its peak memory",
            duck.wall_s / ours.wall_s,
            ours.peak_rss_mb / duck.peak_rss_mb
        ));
        ratios.push(format!(
            "{lines} lines: duty on / duty off: {:.3}x the time, {:.3}x the peak memory",
            priced.wall_s / ours.wall_s,
            priced.peak_rss_mb / ours.peak_rss_mb
        ));
    }
    ratios.push(format!(
        "loading the HTS revision ({hts_rows} rows): {load_s:.3} s (best of 5)"
    ));
    let text = format!("{report}\n{}\n", ratios.join("\n"));
    println!("{text}");
    std::fs::write(tmp.join("bench-validate.md"), &text).unwrap();
}
