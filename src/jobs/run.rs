//! One run of one job: the intake steps (recover, take and archive,
//! evaluate and publish, finish), then filing when the job files, then the
//! exception reports the run owes. Records the run's start and end in the
//! store, status and metrics. Started by the daemon's schedule and by
//! `s321d run-job`.

use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::app::App;
use crate::fsutil::scratch;
use crate::intake::{self, StepReport};
use crate::job::Job;
use crate::outputs::summary::Summary;
use crate::state::types::{Duty, DutyState, RunKind};

/// What one job run did.
#[derive(Debug, Default, Clone)]
pub struct JobRunReport {
    /// Runs evaluated (a recovered run plus a new one, at most).
    pub runs: Vec<Summary>,
    /// Files found duplicating earlier ones, by name.
    pub duplicates: Vec<String>,
    /// Files left for a later run (still changing, or an operation failed).
    pub deferred: Vec<String>,
    /// Problems that did not stop the run, one line each.
    pub errors: Vec<String>,
    /// What the filing step did, per run filed.
    pub filings: Vec<(String, crate::filing::FilingReport)>,
}

impl JobRunReport {
    pub fn files_processed(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status == "processed")
            .count()
    }
    pub fn files_quarantined(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status == "quarantined")
            .count()
    }
}

impl From<StepReport> for JobRunReport {
    fn from(s: StepReport) -> JobRunReport {
        JobRunReport {
            runs: s.runs,
            duplicates: s.duplicates,
            deferred: s.deferred,
            errors: s.errors,
            filings: Vec::new(),
        }
    }
}

/// Runs one job once: recover, take, archive, evaluate, publish, finish.
/// `cancel` stops it between steps (what is left is redone next time).
pub async fn run_job(
    ctx: &App,
    job: &Job,
    kind: RunKind,
    cancel: &CancellationToken,
) -> anyhow::Result<JobRunReport> {
    let started = Instant::now();
    let now = Utc::now();
    let job_name = job.name.clone();
    ctx.status.job_started(&job.name, now);
    if let Err(e) = ctx.db(|s| s.job_started(&job_name, now)) {
        ctx.status
            .job_finished(&job.name, Utc::now(), Some(&format!("{e:#}")));
        return Err(e);
    }
    info!(job.name = %job.name, kind = kind.as_str(), "Starting a run of job {}.", job.name);
    let result = run_steps(ctx, job, kind, cancel).await;
    let labels = |status: &str| vec![("job", job.name.clone()), ("status", status.to_owned())];
    let secs = started.elapsed().as_secs_f64();
    ctx.metrics.observe(
        "s321d_run_duration_seconds",
        vec![("job", job.name.clone())],
        secs,
    );
    ctx.metrics.set(
        "s321d_last_run_duration_seconds",
        vec![("job", job.name.clone())],
        secs,
    );
    let unix = Utc::now().timestamp() as f64;
    match &result {
        Ok(report) if report.errors.is_empty() => {
            ctx.status.job_finished(&job.name, Utc::now(), None);
            ctx.db(|s| s.job_finished(&job_name, Utc::now(), None))?;
            ctx.metrics.inc("s321d_runs_total", labels("succeeded"));
            ctx.metrics.set(
                "s321d_last_success_timestamp_seconds",
                vec![("job", job.name.clone())],
                unix,
            );
            ctx.metrics
                .set("s321d_job_up", vec![("job", job.name.clone())], 1.0);
            info!(
                job.name = %job.name,
                files.processed = report.files_processed(),
                files.quarantined = report.files_quarantined(),
                files.duplicate = report.duplicates.len(),
                files.deferred = report.deferred.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "Finished a run of job {}: {} file(s) processed, {} quarantined, {} duplicate.",
                job.name,
                report.files_processed(),
                report.files_quarantined(),
                report.duplicates.len()
            );
        }
        Ok(report) => {
            let why = report.errors.join("; ");
            ctx.status.job_finished(&job.name, Utc::now(), Some(&why));
            ctx.db(|s| s.job_finished(&job_name, Utc::now(), Some(&why)))?;
            ctx.metrics.inc("s321d_runs_total", labels("failed"));
            ctx.metrics.set(
                "s321d_last_failure_timestamp_seconds",
                vec![("job", job.name.clone())],
                unix,
            );
            ctx.metrics
                .set("s321d_job_up", vec![("job", job.name.clone())], 0.0);
            warn!(job.name = %job.name, errors = report.errors.len(), "Run of job {} finished with problems: {why}", job.name);
        }
        Err(e) => {
            let why = format!("{e:#}");
            ctx.status.job_finished(&job.name, Utc::now(), Some(&why));
            let _ = ctx.db(|s| s.job_finished(&job_name, Utc::now(), Some(&why)));
            ctx.metrics.inc("s321d_runs_total", labels("failed"));
            ctx.metrics.set(
                "s321d_last_failure_timestamp_seconds",
                vec![("job", job.name.clone())],
                unix,
            );
            ctx.metrics
                .set("s321d_job_up", vec![("job", job.name.clone())], 0.0);
            error!(job.name = %job.name, "Run of job {} failed: {why}", job.name);
        }
    }
    result
}

async fn run_steps(
    ctx: &App,
    job: &Job,
    kind: RunKind,
    cancel: &CancellationToken,
) -> anyhow::Result<JobRunReport> {
    let intake = job
        .intake
        .as_ref()
        .with_context(|| format!("job {} has no [source] to take files from", job.name))?;
    let mut steps = StepReport::default();
    scratch::sweep(&ctx.config.paths.data_dir);
    intake::recover::recover(ctx, job, kind, &mut steps).await?;
    if cancel.is_cancelled() {
        return Ok(steps.into());
    }
    intake::take::take_ready_files(ctx, job, intake, &mut steps, cancel).await?;
    if cancel.is_cancelled() {
        return Ok(steps.into());
    }
    let archived =
        ctx.db(|s| s.files_in(&job.name, &[crate::state::intake::FileState::Archived]))?;
    if !archived.is_empty() {
        let run_id = intake::new_run_id(kind);
        if job.filing.is_some() {
            ctx.db(|s| s.set_run_duty(&run_id, Duty::Filing, DutyState::Due))?;
        }
        let summary =
            intake::evaluate::evaluate_and_publish(ctx, job, kind, &run_id, archived).await?;
        intake::finish::finish_run_files(ctx, job, intake, &run_id, &mut steps).await;
        steps.runs.push(summary);
    }
    let mut report = JobRunReport::from(steps);
    if let Some(transport) = job.filing {
        report.filings = file_runs(ctx, job, transport, &report).await?;
        // Entries left pending fail the run (issue 10 item 6), after the
        // exception reports below are still built.
        let failures: Vec<String> = report
            .filings
            .iter()
            .filter_map(|(id, r)| r.failure().map(|w| format!("filing run {id}: {w}")))
            .collect();
        report.errors.extend(failures);
    }
    // This call's runs, and earlier ones a stop left owing their reports.
    let mut owed: Vec<String> = report.runs.iter().map(|r| r.run_id.clone()).collect();
    for r in ctx.db(|s| s.runs_with_duty(&job.name, Duty::Exceptions, DutyState::Due))? {
        if !owed.contains(&r) {
            owed.push(r);
        }
    }
    crate::faults::crash_point("exceptions-owed");
    for run_id in &owed {
        if let Err(e) = crate::reports::exceptions::after_run(ctx, run_id).await {
            warn!(job.name = %job.name, run.id = %run_id, "Cannot build the exception reports of run {run_id}: {e:#}");
            report
                .errors
                .push(format!("exception reports of run {run_id}: {e:#}"));
        }
    }
    Ok(report)
}

/// The filing step: files this job's runs that are not filed yet (the new
/// ones, and any a stop interrupted), then reads ACE's answers.
async fn file_runs(
    ctx: &App,
    job: &Job,
    transport: crate::job::FilingTransport,
    report: &JobRunReport,
) -> anyhow::Result<Vec<(String, crate::filing::FilingReport)>> {
    let mut runs: Vec<String> = report.runs.iter().map(|r| r.run_id.clone()).collect();
    let unfiled: Vec<String> = {
        let store = ctx
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("state store lock poisoned"))?;
        store.runs_with_duty(&job.name, Duty::Filing, DutyState::Due)?
    };
    for r in unfiled {
        if !runs.contains(&r) {
            runs.push(r);
        }
    }
    let mut filed = Vec::new();
    for run_id in runs {
        let r = crate::filing::file_run(ctx, job, &run_id, transport)
            .await
            .with_context(|| format!("filing run {run_id}"))?;
        filed.push((run_id, r));
    }
    crate::filing::poll(ctx).await?;
    Ok(filed)
}
