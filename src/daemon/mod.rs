//! `s321d run`: the long-running service.
//!
//! - Jobs with a `schedule` fire on it (tokio-cron-scheduler, in the job's or
//!   the configured IANA zone). A job never runs twice at once: a tick that
//!   finds it still running is skipped and logged. A run missed while the
//!   daemon was down runs once at start.
//! - SIGHUP reloads config, policy and jobs atomically; if the new ones are
//!   invalid the old ones stay, with the reason logged. Runs in flight finish
//!   with what they started with.
//! - SIGTERM (or SIGINT) stops scheduling, lets the run in flight finish
//!   within `graceful_shutdown_secs`, then exits; an abandoned run is safe
//!   (the next start redoes it, see `intake::recover`).
//! - systemd: READY, STATUS, WATCHDOG (at half the interval) and STOPPING
//!   through sd_notify; the health and metrics listener is in `health`.
//!
//! Everything the daemon starts is a [`work::Work`] (an intake run, a report
//! run, a pass over the outbox) handed to `Daemon::submit`. Shutdown is one
//! CancellationToken and one TaskTracker.

pub mod health;
pub mod schedule;
pub mod work;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::app::App;
use crate::app::status::Status;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::types::RunKind;
use work::Work;

/// The scheduler and the zone offsets its jobs were built with.
type Scheduled = (JobScheduler, Vec<(Tz, i32)>);

/// The running service.
pub struct Daemon {
    current: RwLock<Arc<App>>,
    pub metrics: Arc<Metrics>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    pub started: DateTime<Utc>,
    config_path: Option<PathBuf>,
    /// The scheduler and the zone offsets its jobs were built with.
    scheduler: tokio::sync::Mutex<Option<Scheduled>>,
    /// Held while a pass over the outbox runs (see `work::Work::Outbox`).
    delivering: Arc<tokio::sync::Mutex<()>>,
    /// Runs' and sources' status, shared by every context across reloads.
    pub status: Arc<Status>,
    /// What the store probes found (see `health::probe_store`).
    pub store_health: Mutex<health::StoreHealth>,
    /// Readiness when last logged (see `health::log_transition`).
    was_ready: Mutex<Option<bool>>,
    /// Set while a store probe runs, so probes never pile up.
    probing: Arc<std::sync::atomic::AtomicBool>,
}

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        warn!("Cannot notify systemd: {e}");
    }
}

/// Loads config and everything it names, sharing `metrics` and `status`
/// across reloads. The status of jobs it has not seen yet comes from the store.
fn load(
    config_path: Option<&std::path::Path>,
    metrics: &Arc<Metrics>,
    status: &Arc<Status>,
) -> Result<App, crate::problem::Problems> {
    let config = Config::load(config_path)?;
    let mut ctx = App::load(config)?;
    ctx.metrics = metrics.clone();
    ctx.status = status.clone();
    let names = ctx
        .jobs
        .iter()
        .map(|j| j.name.clone())
        .chain(ctx.reports.iter().map(|j| j.name.clone()));
    for name in names.collect::<Vec<_>>() {
        if status.job(&name) == Default::default() {
            match ctx.db(|s| s.job_state(&name)) {
                Ok(state) => status.seed(&name, state),
                Err(e) => {
                    warn!(job.name = %name, "Cannot read the state of job {name}; readiness starts without it: {e:#}")
                }
            }
        }
    }
    Ok(ctx)
}

impl Daemon {
    /// The configuration, policy and jobs in force.
    pub fn context(&self) -> Arc<App> {
        self.current.read().expect("context lock").clone()
    }

    pub fn default_zone(&self) -> Tz {
        self.context()
            .config
            .daemon
            .timezone
            .parse()
            .unwrap_or(chrono_tz::America::New_York)
    }

    fn lock_for(&self, job: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .expect("locks")
            .entry(job.to_owned())
            .or_default()
            .clone()
    }

    /// Probes the state store off the async threads (unless a probe is still
    /// going), then logs a readiness change. Runs every second.
    fn check_readiness(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let daemon = self.clone();
        tokio::task::spawn_blocking(move || {
            health::probe_store(&daemon);
            daemon.probing.store(false, Ordering::Release);
            health::log_transition(&daemon);
        });
    }

    /// (Re)builds the cron jobs from the jobs in force.
    async fn schedule(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut slot = self.scheduler.lock().await;
        if let Some((mut old, _)) = slot.take() {
            let _ = old.shutdown().await;
        }
        let scheduler = JobScheduler::new()
            .await
            .context("cannot start the scheduler")?;
        let ctx = self.context();
        let default = self.default_zone();
        let mut zones = Vec::new();
        for job in ctx.jobs.iter().filter(|j| j.intake.is_some()) {
            let Some(s) = &job.schedule else { continue };
            let tz = schedule::zone(job, default);
            let daemon = self.clone();
            let name = job.name.clone();
            let cron = CronJob::new_async_tz(s.cron.as_str(), tz, move |_id, _lock| {
                let daemon = daemon.clone();
                let name = name.clone();
                Box::pin(async move {
                    daemon.submit(Work::Intake {
                        job: name,
                        kind: RunKind::Scheduled,
                    })
                })
            })
            .with_context(|| format!("job {}: cannot schedule {:?}", job.name, s.cron))?;
            scheduler
                .add(cron)
                .await
                .with_context(|| format!("job {}: cannot schedule it", job.name))?;
            zones.push((tz, schedule::offset_now(tz)));
            info!(job.name = %job.name, schedule = %s.cron, timezone = %tz, "Scheduled job {} at {:?} ({tz}).", job.name, s.cron);
        }
        for job in &ctx.reports {
            let Some(s) = &job.schedule else { continue };
            let tz = job.zone(default);
            let daemon = self.clone();
            let name = job.name.clone();
            let cron = CronJob::new_async_tz(s.cron.as_str(), tz, move |_id, _lock| {
                let daemon = daemon.clone();
                let name = name.clone();
                Box::pin(async move { daemon.submit(Work::Report { job: name }) })
            })
            .with_context(|| format!("report job {}: cannot schedule {:?}", job.name, s.cron))?;
            scheduler
                .add(cron)
                .await
                .with_context(|| format!("report job {}: cannot schedule it", job.name))?;
            zones.push((tz, schedule::offset_now(tz)));
            info!(report = %job.name, schedule = %s.cron, timezone = %tz, "Scheduled report job {} at {:?} ({tz}).", job.name, s.cron);
        }
        scheduler
            .start()
            .await
            .context("cannot start the scheduler")?;
        *slot = Some((scheduler, zones));
        Ok(())
    }

    /// Whether a zone's UTC offset changed since the jobs were scheduled (DST).
    async fn offsets_changed(&self) -> bool {
        let slot = self.scheduler.lock().await;
        slot.as_ref().is_some_and(|(_, zones)| {
            zones
                .iter()
                .any(|(tz, off)| schedule::offset_now(*tz) != *off)
        })
    }

    /// Runs every scheduled job whose last scheduled time passed while down.
    fn catch_up(self: &Arc<Self>) {
        let ctx = self.context();
        let now = Utc::now();
        let default = self.default_zone();
        for job in ctx
            .jobs
            .iter()
            .filter(|j| j.intake.is_some() && j.schedule.is_some())
        {
            let last = ctx
                .db(|s| s.job_state(&job.name))
                .map(|s| s.last_started)
                .unwrap_or(None);
            if schedule::missed(job, schedule::zone(job, default), last, now) {
                info!(job.name = %job.name, "Job {} missed a scheduled run while s321d was down; running it now.", job.name);
                self.submit(Work::Intake {
                    job: job.name.clone(),
                    kind: RunKind::Scheduled,
                });
            }
        }
        for job in &ctx.reports {
            let last = ctx
                .db(|s| s.job_state(&job.name))
                .map(|s| s.last_started)
                .unwrap_or(None);
            if job.missed(default, last, now) {
                info!(report = %job.name, "Report job {} missed a scheduled run while s321d was down; running it now.", job.name);
                self.submit(Work::Report {
                    job: job.name.clone(),
                });
            }
        }
    }

    /// SIGHUP: load everything anew; keep the old on any problem.
    async fn reload(self: &Arc<Self>) {
        notify(&[NotifyState::Reloading]);
        match load(self.config_path.as_deref(), &self.metrics, &self.status) {
            Ok(ctx) => {
                let jobs = ctx.jobs.len();
                if let Err(e) = crate::audit::config_loaded(&ctx, "config.reloaded") {
                    error!("Cannot record the reload in the audit trail: {e:#}");
                }
                *self.current.write().expect("context lock") = Arc::new(ctx);
                match self.schedule().await {
                    Ok(()) => info!(jobs, "Reloaded configuration, policy and {jobs} job(s)."),
                    Err(e) => error!("Reloaded configuration but cannot schedule its jobs: {e:#}"),
                }
            }
            Err(problems) => {
                if let Err(e) = crate::audit::reload_refused(&self.context(), &problems) {
                    error!("Cannot record the refused reload in the audit trail: {e:#}");
                }
                error!(
                    problems = problems.0.len(),
                    "Reload refused; keeping the configuration in force: {problems}"
                );
            }
        }
        notify(&[NotifyState::Ready]);
    }
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn run(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Status::default());
    let ctx =
        load(config_path.as_deref(), &metrics, &status).map_err(|p| anyhow::anyhow!("{p}"))?;
    let listen = ctx.config.daemon.listen.clone();
    let grace = Duration::from_secs(ctx.config.daemon.graceful_shutdown_secs);
    let daemon = Arc::new(Daemon {
        current: RwLock::new(Arc::new(ctx)),
        metrics,
        locks: Mutex::new(HashMap::new()),
        tracker: TaskTracker::new(),
        cancel: CancellationToken::new(),
        started: Utc::now(),
        config_path,
        scheduler: tokio::sync::Mutex::new(None),
        delivering: Arc::new(tokio::sync::Mutex::new(())),
        status,
        store_health: Mutex::new(health::StoreHealth::default()),
        was_ready: Mutex::new(None),
        probing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    });
    crate::audit::config_loaded(&daemon.context(), "daemon.started")?;

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let server_cancel = daemon.cancel.clone();
    let server = tokio::spawn(
        axum::serve(listener, health::router(daemon.clone()))
            .with_graceful_shutdown(async move { server_cancel.cancelled().await })
            .into_future(),
    );
    crate::fsutil::scratch::sweep(&daemon.context().config.paths.data_dir);
    daemon.schedule().await?;
    daemon.catch_up();

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut dst_tick = tokio::time::interval(Duration::from_secs(60));
    // The outbox is looked at every second; entries carry their own next attempt.
    let mut outbox_tick = tokio::time::interval(Duration::from_secs(1));
    notify(&[NotifyState::Ready, NotifyState::Status("running")]);
    info!(listen = %listen, jobs = daemon.context().jobs.len(), "s321d is running; health and metrics on http://{listen}/.");

    loop {
        tokio::select! {
            _ = hangup.recv() => daemon.reload().await,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = watchdog_tick.tick(), if watchdog.is_some() => notify(&[NotifyState::Watchdog]),
            _ = outbox_tick.tick() => {
                daemon.submit(Work::Outbox);
                daemon.check_readiness();
            }
            _ = dst_tick.tick() => {
                if daemon.offsets_changed().await {
                    info!("A time zone changed its UTC offset (daylight saving); rescheduling jobs.");
                    if let Err(e) = daemon.schedule().await {
                        error!("Cannot reschedule jobs: {e:#}");
                    }
                }
            }
        }
    }

    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    info!(
        grace_secs = grace.as_secs(),
        "Stopping: no new runs; waiting up to {}s for the run in flight.",
        grace.as_secs()
    );
    if let Some((mut scheduler, _)) = daemon.scheduler.lock().await.take() {
        let _ = scheduler.shutdown().await;
    }
    daemon.cancel.cancel();
    daemon.tracker.close();
    let finished = tokio::time::timeout(grace, daemon.tracker.wait())
        .await
        .is_ok();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    if finished {
        info!("Stopped cleanly.");
        Ok(())
    } else {
        warn!(
            "Abandoned the run in flight after {}s; the next start redoes it.",
            grace.as_secs()
        );
        anyhow::bail!("a run was abandoned at shutdown")
    }
}
