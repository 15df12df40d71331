//! `s321d run-job NAME`: one run of one job, through the same code path as the
//! daemon's scheduled runs, then exit.

use std::path::Path;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::engine::rules::Disposition;
use crate::jobs::run::{self, JobRunReport};
use crate::state::types::RunKind;

pub fn run(config: Option<&Path>, names: &[String], seed: Option<&Path>) -> ExitCode {
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut jobs = Vec::new();
    for name in names {
        match ctx.job(name) {
            Some(j) if j.intake.is_some() => jobs.push(j),
            Some(_) => {
                eprintln!("error: job {name:?} has no [source] to take files from");
                return ExitCode::from(super::EXIT_USAGE);
            }
            None => {
                let known: Vec<&str> = ctx.jobs.iter().map(|j| j.name.as_str()).collect();
                eprintln!(
                    "error: no job named {name:?} in {} (jobs: {})",
                    ctx.config.paths.jobs_dir.display(),
                    known.join(", ")
                );
                return ExitCode::from(super::EXIT_USAGE);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Some(dir) = seed
        && let Err(e) = runtime.block_on(seed_inboxes(&ctx, &jobs, dir))
    {
        eprintln!(
            "error: cannot seed the inboxes from {}: {e:#}",
            dir.display()
        );
        return ExitCode::from(super::EXIT_FAILED);
    }
    let cancel = CancellationToken::new();
    let mut failed = false;
    for job in &jobs {
        // The lease a daemon's runs of this job hold: never beside one of them.
        let lease = crate::state::cluster::job_lease(&job.name);
        match ctx.db(|s| s.try_lease(&lease)) {
            Ok(true) => {}
            Ok(false) => {
                failed = true;
                eprintln!(
                    "error: job {}: a daemon on this state store is running it now; try again when its run ends",
                    job.name
                );
                continue;
            }
            Err(e) => {
                failed = true;
                eprintln!("error: job {}: {e:#}", job.name);
                continue;
            }
        }
        let mut result = runtime.block_on(run::run_job(&ctx, job, RunKind::Manual, &cancel));
        // A one-shot run waits once for files still settling rather than leave them.
        if let Ok(r) = &result
            && !r.deferred.is_empty()
        {
            let wait = job.intake.as_ref().map_or(0, |i| i.settle_secs) + 1;
            println!(
                "s321d run-job {}: {} file(s) still settling; waiting {wait}s",
                job.name,
                r.deferred.len()
            );
            std::thread::sleep(std::time::Duration::from_secs(wait));
            let first = result.expect("ok");
            result = runtime
                .block_on(run::run_job(&ctx, job, RunKind::Manual, &cancel))
                .map(|mut again| {
                    again.runs.splice(0..0, first.runs);
                    again.duplicates.splice(0..0, first.duplicates);
                    again.errors.splice(0..0, first.errors);
                    again
                });
        }
        if let Err(e) = ctx.db(|s| s.release_lease(&lease)) {
            eprintln!("error: job {}: releasing its lease: {e:#}", job.name);
        }
        match result {
            Ok(report) => {
                failed |= !report.errors.is_empty();
                print_report(&ctx, job, &report);
            }
            Err(e) => {
                failed = true;
                eprintln!("error: job {}: {e:#}", job.name);
            }
        }
    }
    if failed {
        ExitCode::from(super::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Copies the files of `dir` each job would take into its inbox, keeping their
/// modification times (so settled files stay settled).
async fn seed_inboxes(
    ctx: &App,
    jobs: &[std::sync::Arc<crate::job::Job>],
    dir: &Path,
) -> anyhow::Result<()> {
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(job) = jobs.iter().find(|j| j.matches(&name)) else {
            continue;
        };
        let intake = job.intake.as_ref().expect("checked");
        let source = ctx.source(&intake.source)?;
        let dest = crate::paths::join(&[&intake.inbox, &name]);
        source.upload(&path, &dest).await?;
        if let (Some(local), Ok(modified)) = (
            source.local_path(&dest),
            std::fs::metadata(&path).and_then(|m| m.modified()),
        ) {
            std::fs::File::options()
                .write(true)
                .open(&local)?
                .set_modified(modified)?;
        }
        println!("seeded {} into {}:{dest}", path.display(), source.name());
    }
    Ok(())
}

/// The human summary of a job run on stdout.
pub fn print_report(ctx: &App, job: &crate::job::Job, report: &JobRunReport) {
    println!(
        "s321d run-job {}: {} run(s); {} file(s) processed, {} quarantined, {} duplicate, {} waiting",
        job.name,
        report.runs.len(),
        report.files_processed(),
        report.files_quarantined(),
        report.duplicates.len(),
        report.deferred.len()
    );
    for run in &report.runs {
        let by_route: Vec<String> = Disposition::ALL
            .iter()
            .map(|d| {
                format!(
                    "{} {}",
                    d.as_str(),
                    run.dispositions.get(d.as_str()).copied().unwrap_or(0)
                )
            })
            .collect();
        println!(
            "  run {}: {} file(s), {} line(s), {} shipment(s); findings: {} error, {} warning, {} info; dispositions: {}",
            run.run_id,
            run.files.len(),
            run.lines,
            run.shipments,
            run.findings_by_severity.get("error").copied().unwrap_or(0),
            run.findings_by_severity
                .get("warning")
                .copied()
                .unwrap_or(0),
            run.findings_by_severity.get("info").copied().unwrap_or(0),
            by_route.join(", ")
        );
        super::validate::print_entries(&run.entries, "    ");
        for f in &run.files {
            println!(
                "    {} {} ({} records){}",
                f.status,
                f.name,
                f.records,
                f.note
                    .as_ref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
        println!(
            "    outputs: {}:{}",
            job.output.source,
            crate::paths::join(&[&job.output.path, &run.run_id])
        );
    }
    for (run_id, f) in &report.filings {
        let states: Vec<String> = f.states.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!(
            "  filed run {run_id}: {} entr(ies) sent, {} already filed, {} formal entr(ies) listed for a broker (formal_entries.csv), {} not filed (not_filed.csv); ledger: {}",
            f.filed,
            f.already_filed,
            f.formal,
            f.not_filed,
            if states.is_empty() {
                "nothing filed".into()
            } else {
                states.join(", ")
            }
        );
    }
    for d in &report.duplicates {
        println!("  duplicate {d}: the same bytes were taken before; skipped");
    }
    for e in &report.errors {
        println!("  problem: {e}");
    }
    let _ = ctx;
}
