//! The daemon's units of work. Every tick, catch-up and pass over the outbox
//! becomes one [`Work`] handed to [`Daemon::submit`], the one place that
//! decides whether it may start (never two of the same at once, nothing new
//! once stopping) and that runs it on the daemon's task tracker, so shutdown
//! waits for all of them alike.

use std::sync::Arc;

use chrono::Utc;
use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use super::{Daemon, notify};
use crate::app::App;
use crate::jobs;
use crate::state::cluster;
use crate::state::types::RunKind;

/// What the daemon can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// A run of an intake job: take its ready files, evaluate, publish, file.
    Intake { job: String, kind: RunKind },
    /// A run of a report job: build the dashboard, queue and send it.
    Report { job: String },
    /// One pass over the outbox: send what is due.
    Outbox,
}

impl Daemon {
    /// Starts `work` unless the daemon is stopping or the same work is
    /// still going (a job's previous run, or a pass over the outbox).
    pub fn submit(self: &Arc<Self>, work: Work) {
        if self.cancel.is_cancelled() {
            return;
        }
        let guard = match &work {
            Work::Intake { job, .. } | Work::Report { job } => {
                match self.lock_for(job).try_lock_owned() {
                    Ok(guard) => guard,
                    Err(_) => {
                        if matches!(work, Work::Intake { .. }) {
                            info!(job.name = %job, "Skipping a run of job {job}: the previous run is still going.");
                        } else {
                            info!(report = %job, "Skipping a run of report job {job}: the previous run is still going.");
                        }
                        return;
                    }
                }
            }
            Work::Outbox => match self.delivering.clone().try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => return,
            },
        };
        let ctx = self.context();
        // One replica at a time runs a job, across every daemon on the store.
        let lease = match &work {
            Work::Intake { job, .. } => Some(cluster::job_lease(job)),
            Work::Report { job } => Some(cluster::report_lease(job)),
            // The outbox is this replica's own folder.
            Work::Outbox => None,
        };
        let lease = match lease.map(|name| Lease::take(&ctx, name)) {
            Some(None) => {
                // Another replica runs it: readiness follows the job through the store.
                if let Work::Intake { job, .. } | Work::Report { job } = &work
                    && let Ok(state) = ctx.db(|s| s.job_state(job))
                {
                    ctx.status.seed(job, state);
                }
                return;
            }
            Some(Some(l)) => Some(l),
            None => None,
        };
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            let _running = guard;
            let _lease = lease;
            if let Some(status) = work.run(&ctx, &cancel).await {
                notify(&[NotifyState::Status(&status)]);
            }
        });
    }
}

impl Work {
    /// Does the work; returns the line for systemd's STATUS, if any.
    async fn run(&self, ctx: &Arc<App>, cancel: &CancellationToken) -> Option<String> {
        match self {
            Work::Intake { job, kind } => {
                let found = ctx.job(job)?;
                Some(match jobs::run::run_job(ctx, &found, *kind, cancel).await {
                    Ok(r) if r.errors.is_empty() => format!(
                        "{}: last run at {} processed {} file(s), quarantined {}",
                        job,
                        Utc::now().format("%H:%M:%S"),
                        r.files_processed(),
                        r.files_quarantined()
                    ),
                    Ok(r) => format!("{}: last run had {} problem(s)", job, r.errors.len()),
                    Err(e) => format!("{job}: last run failed: {e:#}"),
                })
            }
            Work::Report { job } => {
                let found = ctx.reports.iter().find(|j| &j.name == job).cloned()?;
                // Every replica's cron fires; the first to take the lease runs
                // the tick, the others find it started since the tick and skip.
                // Two seconds of slack for a timer that fires a little early.
                let last = ctx.db(|s| s.job_state(job)).ok()?.last_started;
                let zone = ctx.config.daemon.timezone.parse().unwrap_or(chrono_tz::UTC);
                if found.schedule.is_some()
                    && !found.missed(zone, last, Utc::now() + chrono::Duration::seconds(2))
                {
                    info!(report = %job, "Report job {job} already ran for this schedule tick (here or on another replica); skipping.");
                    return None;
                }
                Some(run_report(ctx, &found).await)
            }
            Work::Outbox => {
                if ctx.config.email.enabled() {
                    crate::reports::outbox::deliver(ctx, false).await;
                } else {
                    crate::reports::outbox::update_gauges(ctx);
                }
                None
            }
        }
    }
}

/// A cluster lease held for one piece of work, released when dropped.
struct Lease {
    ctx: Arc<App>,
    name: String,
}

impl Lease {
    /// The lease, or `None` when another replica holds it or the store
    /// cannot say (the work waits for the next tick either way).
    fn take(ctx: &Arc<App>, name: String) -> Option<Lease> {
        match ctx.db(|s| s.try_lease(&name)) {
            Ok(true) => {
                ctx.status.lease(&name, true);
                ctx.metrics
                    .set("s321d_lease_held", vec![("lease", name.clone())], 1.0);
                Some(Lease {
                    ctx: ctx.clone(),
                    name,
                })
            }
            Ok(false) => {
                info!(lease = %name, "Skipping {name}: another replica is running it.");
                ctx.metrics
                    .inc("s321d_lease_skipped_total", vec![("lease", name.clone())]);
                None
            }
            Err(e) => {
                error!(lease = %name, "Cannot take the lease {name}; skipping this tick: {e:#}");
                None
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.ctx.status.lease(&self.name, false);
        self.ctx
            .metrics
            .set("s321d_lease_held", vec![("lease", self.name.clone())], 0.0);
        if let Err(e) = self.ctx.db(|s| s.release_lease(&self.name)) {
            error!(lease = %self.name, "Cannot release the lease {}: {e:#}", self.name);
        }
    }
}

/// One run of a report job, with its status, metric and log line.
async fn run_report(ctx: &Arc<App>, job: &crate::job::report::ReportJob) -> String {
    let result = jobs::report::run_report_job(ctx, job, None).await;
    ctx.status.job_finished(
        &job.name,
        Utc::now(),
        result.as_ref().err().map(|e| format!("{e:#}")).as_deref(),
    );
    let outcome = if result.is_ok() {
        "succeeded"
    } else {
        "failed"
    };
    ctx.metrics.inc(
        "s321d_reports_total",
        vec![("report", job.name.clone()), ("status", outcome.into())],
    );
    match result {
        Ok(d) => format!(
            "{}: report built; {} sent, {} queued",
            job.name,
            d.sent.len(),
            d.queued
        ),
        Err(e) => {
            error!(report = %job.name, "Report job {} failed: {e:#}", job.name);
            format!("{}: report failed: {e:#}", job.name)
        }
    }
}
