//! The HTTP listener (127.0.0.1 by default): `/healthz` says the process is
//! alive; `/readyz` says the work is happening (the state store can be
//! written, no source refuses us, the ACE gateway answers, no scheduled job's last success is older
//! than `readiness_periods` of its period, and no job's latest run failed),
//! naming every cause; `/metrics` is Prometheus text.
//!
//! Readiness never touches the state store on the request path: runs keep
//! their status in memory (`app::status`), and a probe on a connection of
//! its own, with a short lock wait, checks the store every second.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;

use tracing::{info, warn};

use super::{Daemon, schedule};
use crate::paths::Escaped;
use crate::state::sqlite::Probe;

pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(daemon)
}

async fn metrics(State(d): State<Arc<Daemon>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        d.metrics.render(),
    )
}

/// How long the store may refuse the write lock before readiness says so:
/// a run's own writes hold it briefly; minutes of it mean another process.
pub const STORE_LOCKED_AFTER_SECS: i64 = 5;

/// How long the store probe waits for the lock.
pub const PROBE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What the last probes of the state store found (see [`probe_store`]).
#[derive(Debug, Default, Clone)]
pub struct StoreHealth {
    /// The first probe of an unbroken series that found the store locked.
    pub locked_since: Option<chrono::DateTime<Utc>>,
    /// Why the last probe could not open or write the store at all.
    pub unreachable: Option<String>,
}

/// Probes the state store on a connection of its own (never the runs'),
/// waiting at most [`PROBE_WAIT`], and records what it found.
pub fn probe_store(d: &Daemon) {
    let found = crate::state::probe(&d.context().state, PROBE_WAIT);
    let mut h = d.store_health.lock().unwrap_or_else(|p| p.into_inner());
    match found {
        Probe::Writable => *h = StoreHealth::default(),
        Probe::Locked => {
            h.unreachable = None;
            h.locked_since.get_or_insert_with(Utc::now);
        }
        Probe::Unreachable(why) => {
            h.locked_since = None;
            h.unreachable = Some(why);
        }
    }
}

/// Why the daemon is not ready (empty: ready), with one line per job. Reads
/// only memory (the probes' findings, the runs' status, the outbox folder),
/// so it answers at once whatever the state store is doing.
pub fn readiness(d: &Daemon) -> (Vec<String>, Vec<String>) {
    let ctx = d.context();
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let now = Utc::now();
    let store = d
        .store_health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(why) = &store.unreachable {
        problems.push(format!("the state store is unreachable: {why}"));
    }
    if let Some(since) = store.locked_since {
        let secs = (now - since).num_seconds();
        if secs >= STORE_LOCKED_AFTER_SECS {
            problems.push(format!(
                "the state store is locked: no write was possible for {secs}s (another process holds a lock on {})",
                ctx.config.paths.data_dir.join("state.db").display()
            ));
        }
    }
    if let Some((since, why)) = ctx.status.gateway_outage() {
        problems.push(format!(
            "filing is degraded: the ACE gateway {} is unreachable since {}: {}",
            ctx.config.filing.http.url,
            since.to_rfc3339(),
            Escaped(&why)
        ));
    }
    for (source, since, why) in ctx.status.refused() {
        problems.push(format!(
            "source {source} refused access since {}: {}",
            since.to_rfc3339(),
            Escaped(&why)
        ));
    }
    let default_tz = d.default_zone();
    for job in ctx
        .jobs
        .iter()
        .filter(|j| j.schedule.is_some() && j.intake.is_some())
    {
        let state = ctx.status.job(&job.name);
        let tz = schedule::zone(job, default_tz);
        let Some(period) = schedule::period(job, tz, now) else {
            continue;
        };
        let allowed = period * ctx.config.daemon.readiness_periods as i32;
        // Before a first success, count from the daemon's start.
        let since = state.last_success.unwrap_or(d.started);
        let age = now - since;
        if age > allowed {
            problems.push(format!(
                "job {}: last success {}s ago, more than {} periods of {}s",
                job.name,
                age.num_seconds(),
                ctx.config.daemon.readiness_periods,
                period.num_seconds()
            ));
        }
        // Kept when the job is also overdue: it is usually the reason.
        if failed_last(&state) {
            problems.push(format!(
                "job {}: its latest run failed: {}",
                job.name,
                state.last_error.as_deref().unwrap_or("unknown error")
            ));
        }
        lines.push(format!(
            "job {}: last success {}",
            job.name,
            state
                .last_success
                .map_or_else(|| "never".into(), |t| t.to_rfc3339())
        ));
    }
    let leases = ctx.status.leases();
    lines.push(format!(
        "replica {} pid {} on {}; leases held: {}",
        host_name(),
        std::process::id(),
        ctx.state.describe(),
        if leases.is_empty() {
            "none".to_owned()
        } else {
            leases
                .iter()
                .map(|(n, since)| format!("{n} since {}", since.to_rfc3339()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let (outbox_problems, outbox_lines) =
        crate::reports::outbox::readiness(&ctx.config.paths.data_dir);
    problems.extend(outbox_problems);
    lines.extend(outbox_lines);
    for job in ctx.reports.iter().filter(|j| j.schedule.is_some()) {
        let state = ctx.status.job(&job.name);
        if failed_last(&state) {
            problems.push(format!(
                "report job {}: its latest run failed: {}",
                job.name,
                state.last_error.as_deref().unwrap_or("unknown error")
            ));
        }
    }
    (problems, lines)
}

/// This host's name, for telling replicas apart.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn failed_last(state: &crate::state::intake::JobState) -> bool {
    match (state.last_failure, state.last_success) {
        (Some(f), Some(s)) => f > s,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Logs readiness changes, once per transition: WARN with every cause when
/// it turns bad, INFO when it is good again.
pub fn log_transition(d: &Daemon) {
    let (problems, _) = readiness(d);
    let ready = problems.is_empty();
    let mut was = d.was_ready.lock().unwrap_or_else(|p| p.into_inner());
    if *was == Some(ready) {
        return;
    }
    let first = was.is_none();
    *was = Some(ready);
    if !ready {
        warn!(
            problems = problems.len(),
            "s321d is not ready: {}",
            problems.join("; ")
        );
    } else if !first {
        info!("s321d is ready again.");
    }
}

async fn readyz(State(d): State<Arc<Daemon>>) -> impl IntoResponse {
    let (problems, lines) = tokio::task::spawn_blocking(move || readiness(&d))
        .await
        .unwrap_or_else(|_| (vec!["the readiness check panicked".into()], Vec::new()));
    let mut body = String::new();
    if problems.is_empty() {
        body.push_str("ready\n");
    } else {
        body.push_str("not ready\n");
        for p in &problems {
            body.push_str(&format!("- {p}\n"));
        }
    }
    for l in lines {
        body.push_str(&format!("{l}\n"));
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}
