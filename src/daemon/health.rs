//! The HTTP listener (127.0.0.1 by default): `/healthz` says the process is
//! alive; `/readyz` says the work is happening (the state store answers, no
//! scheduled job's last success is older than `readiness_periods` of its
//! period, and no job's latest run failed); `/metrics` is Prometheus text.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;

use super::{Daemon, schedule};
use crate::state::intake::IntakeStore;

pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(daemon)
}

async fn metrics(State(d): State<Arc<Daemon>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], d.metrics.render())
}

/// Why the daemon is not ready (empty: ready), with one line per job.
pub fn readiness(d: &Daemon) -> (Vec<String>, Vec<String>) {
    let ctx = d.context();
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    if let Err(e) = ctx.db(|s| s.ping()) {
        problems.push(format!("the state store does not answer: {e:#}"));
        return (problems, lines);
    }
    let now = Utc::now();
    let default_tz = d.default_zone();
    for job in ctx.jobs.iter().filter(|j| j.schedule.is_some() && j.intake.is_some()) {
        let state = match ctx.db(|s| s.job_state(&job.name)) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("job {}: cannot read its state: {e:#}", job.name));
                continue;
            }
        };
        let tz = schedule::zone(job, default_tz);
        let Some(period) = schedule::period(job, tz, now) else { continue };
        let allowed = period * ctx.config.daemon.readiness_periods as i32;
        // Before a first success, count from the daemon's start.
        let since = state.last_success.unwrap_or(d.started);
        let age = now - since;
        let failed_last = match (state.last_failure, state.last_success) {
            (Some(f), Some(s)) => f > s,
            (Some(_), None) => true,
            _ => false,
        };
        if age > allowed {
            problems.push(format!(
                "job {}: last success {}s ago, more than {} periods of {}s",
                job.name,
                age.num_seconds(),
                ctx.config.daemon.readiness_periods,
                period.num_seconds()
            ));
        } else if failed_last {
            problems.push(format!("job {}: its latest run failed: {}", job.name, state.last_error.as_deref().unwrap_or("unknown error")));
        }
        lines.push(format!(
            "job {}: last success {}",
            job.name,
            state.last_success.map_or_else(|| "never".into(), |t| t.to_rfc3339())
        ));
    }
    let (outbox_problems, outbox_lines) = crate::reports::outbox::readiness(&ctx.config.paths.data_dir);
    problems.extend(outbox_problems);
    lines.extend(outbox_lines);
    for job in ctx.reports.iter().filter(|j| j.schedule.is_some()) {
        if let Ok(state) = ctx.db(|s| s.job_state(&job.name)) {
            let failed_last = match (state.last_failure, state.last_success) {
                (Some(f), Some(s)) => f > s,
                (Some(_), None) => true,
                _ => false,
            };
            if failed_last {
                problems.push(format!("report job {}: its latest run failed: {}", job.name, state.last_error.as_deref().unwrap_or("unknown error")));
            }
        }
    }
    (problems, lines)
}

async fn readyz(State(d): State<Arc<Daemon>>) -> impl IntoResponse {
    let (problems, lines) = tokio::task::spawn_blocking(move || readiness(&d)).await.unwrap_or_else(|_| {
        (vec!["the readiness check panicked".into()], Vec::new())
    });
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
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, body)
}
