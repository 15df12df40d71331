//! `s321d validate`: run the engine over files given on the command line
//! (contract section 7). Nothing is filed; outputs go to `--out`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tracing::{error, info};

use super::{EXIT_FAILED, EXIT_USAGE, report_problems};
use crate::cli::ValidateArgs;
use crate::config::Config;
use crate::engine::rules::{Disposition, Severity};
use crate::engine::{self, EntrySummary, RunFile, RunRequest, RunSummary};
use crate::job::{self, Job};
use crate::policy::Policy;
use crate::problem::Problems;
use crate::state::{self, HistoryStore};

pub fn run(config: Option<&Path>, args: ValidateArgs) -> ExitCode {
    let cfg = match Config::load(config) {
        Ok(c) => c,
        Err(p) => return report_problems(&p),
    };
    crate::telemetry::init(cfg.log.format, &cfg.log.level);

    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    for path in &args.jobs {
        match Job::load(path) {
            Ok(j) => jobs.push(j),
            Err(p) => problems.extend(p.0),
        }
    }
    let policy = match args.policy.clone().or_else(|| cfg.policy_path()) {
        Some(p) => Policy::load(&p),
        None => Ok(Policy::builtin()),
    };
    let policy = match policy {
        Ok(p) => Some(p),
        Err(p) => {
            problems.extend(p.0);
            None
        }
    };
    if !problems.is_empty() {
        return report_problems(&Problems(problems));
    }
    let policy = Arc::new(policy.expect("checked above"));
    let jobs: Vec<Arc<Job>> = jobs.into_iter().map(Arc::new).collect();

    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let plain: Vec<Job> = jobs.iter().map(|j| (**j).clone()).collect();
        match job::job_for(&plain, &name) {
            Some(j) => {
                let job = jobs
                    .iter()
                    .find(|x| x.path == j.path && x.name == j.name)
                    .cloned()
                    .expect("same list");
                files.push(RunFile {
                    name,
                    path: path.clone(),
                    sha256: None,
                    job,
                });
            }
            None => {
                eprintln!(
                    "error: {}: no --job pattern matches the file name {name:?}",
                    path.display()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }

    // `--data-dir` names a folder whose SQLite store to use; else `[state]`.
    let location = match &args.data_dir {
        Some(dir) => Ok(crate::config::state::StateLocation::Sqlite(
            dir.join("state.db"),
        )),
        None => cfg.state_location(),
    };
    let mut store = if args.no_history {
        None
    } else {
        let location = match location {
            Ok(l) => l,
            Err(p) => return super::report_problems(&crate::problem::Problems(vec![p])),
        };
        match state::open(&location) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    };
    let run_id = uuid::Uuid::now_v7().to_string();
    info!(run.id = %run_id, files = files.len(), history = store.is_some(), "Starting validate run {run_id}.");
    let request = RunRequest {
        run_id,
        files,
        policy,
        out_dir: args.out.clone(),
        history: store.as_deref_mut().map(|s| s as &mut dyn HistoryStore),
        record_history: true,
        chunk_rows: args.chunk_rows.max(1),
        limits: cfg.limits.clone(),
    };
    match engine::run(request) {
        Ok(summary) => {
            print_summary(&summary);
            if summary.unreadable_files().next().is_some() {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            error!("Validate run failed: {e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The run's entries and what they owe, one line (nothing when there are none).
pub fn print_entries(e: &EntrySummary, indent: &str) {
    if e.by_type.is_empty() {
        return;
    }
    let by_type: Vec<String> = e
        .by_type
        .iter()
        .map(|(t, n)| format!("type {t} {n}"))
        .collect();
    println!(
        "{indent}entries: {} ({}); estimated duty USD {}, MPF {}, HMF {} (the known figures){}",
        e.by_type.values().sum::<u64>(),
        by_type.join(", "),
        e.duty_usd,
        e.mpf_usd,
        e.hmf_usd,
        if e.unknown > 0 {
            format!(
                "; {} entr(ies) incomplete: a line's duty (T001) or the fee for the date is unknown",
                e.unknown
            )
        } else {
            String::new()
        }
    );
    if e.without_ior > 0 {
        println!(
            "{indent}entries without an IOR number (V010, not filed): {}",
            e.without_ior
        );
    }
}

/// The short human summary on stdout.
pub fn print_summary(s: &RunSummary) {
    println!(
        "s321d validate: run {}: {} file(s), {} line(s), {} shipment(s) in {} ms",
        s.run_id,
        s.files.len(),
        s.lines,
        s.shipments,
        s.duration_ms
    );
    println!(
        "  findings: {} error, {} warning, {} info",
        s.count(Severity::Error),
        s.count(Severity::Warning),
        s.count(Severity::Info)
    );
    if !s.findings_by_rule.is_empty() {
        let by_rule: Vec<String> = s
            .findings_by_rule
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        println!("  by rule: {}", by_rule.join(", "));
    }
    let by_route: Vec<String> = Disposition::ALL
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d.as_str(),
                s.dispositions.get(d.as_str()).copied().unwrap_or(0)
            )
        })
        .collect();
    println!("  dispositions: {}", by_route.join(", "));
    print_entries(&s.entries, "  ");
    for f in s.unreadable_files() {
        println!(
            "  unreadable: {} ({})",
            f.name,
            f.unreadable.as_deref().unwrap_or("")
        );
    }
    if s.new_history > 0 {
        println!("  history: {} new shipment(s) recorded", s.new_history);
    }
    let outs: Vec<String> = s.outputs.iter().map(|p| p.display().to_string()).collect();
    println!("  wrote {}", outs.join(", "));
}
