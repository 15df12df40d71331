//! Compliance reporting: the daily dashboard email, exception reports after
//! runs, privacy masking, previews, and the outbox that never drops a report.
//!
//! - [`dashboard`] + [`render`] + [`charts`]: the daily dashboard, aggregated
//!   with polars over the day's run outputs, as HTML, text and PNG charts.
//! - [`exceptions`] + [`xlsx`]: per-carrier exception reports with XLSX and CSV.
//! - [`email`]: a rendered report as a MIME message or a preview folder.
//! - [`outbox`] + [`smtp`]: the on-disk queue, delivery with backoff, lettre.
//! - [`mask`], [`remedies`], [`html`]: the parts they share.
//!
//! Reports only read run outputs, the runs table and the ledger; they never
//! change them. What was sent is recorded in the audit trail.

pub mod charts;
pub mod dashboard;
pub mod email;
pub mod exceptions;
pub mod html;
pub mod mask;
pub mod outbox;
pub mod remedies;
pub mod render;
pub mod smtp;
pub mod xlsx;

use std::path::Path;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use tracing::info;

use crate::app::App;
use crate::job::report::ReportJob;
use crate::state::intake::IntakeStore;

/// Builds the dashboard email of a report job for a day.
pub async fn dashboard_email(ctx: &App, job: &ReportJob, day: NaiveDate) -> anyhow::Result<email::Email> {
    let started = std::time::Instant::now();
    let d = dashboard::build(ctx, job, day).await?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let e = render::dashboard_email(&d, &job.recipients, &id)?;
    info!(
        report = %job.name,
        day = %day,
        runs = d.runs.len(),
        shipments = d.total.shipments,
        entries = d.total.entries.count(),
        duration_ms = started.elapsed().as_millis() as u64,
        "Built the {} dashboard for {day}: {} run(s), {} shipment(s).",
        job.name,
        d.runs.len(),
        d.total.shipments
    );
    Ok(e)
}

/// Writes an email to a preview folder, addressed as it would be sent.
pub fn preview(ctx: &App, e: &email::Email, dir: &Path) -> anyhow::Result<()> {
    let from = email::sender(&ctx.config.email)?;
    let to = email::recipients(&e.groups, &ctx.config.email).unwrap_or_default();
    e.write_preview(dir, &from, &to)
}

/// One run of a report job: build the day's dashboard, queue it, try to send
/// everything due. Records the job's start and finish like intake jobs.
pub async fn run_report_job(ctx: &App, job: &ReportJob, day: Option<NaiveDate>) -> anyhow::Result<outbox::Delivery> {
    let now = Utc::now();
    ctx.db(|s| s.job_started(&job.name, now))?;
    let default_tz = ctx.config.daemon.timezone.parse().unwrap_or(chrono_tz::America::New_York);
    let day = day.unwrap_or_else(|| job.day_at(now, default_tz));
    let result = async {
        anyhow::ensure!(ctx.config.email.enabled(), "email is not configured (email.host is empty); use --preview");
        let e = dashboard_email(ctx, job, day).await?;
        outbox::queue(ctx, &e, serde_json::json!({ "report": job.name, "day": day.to_string() }))?;
        Ok(outbox::deliver(ctx, false).await)
    }
    .await;
    let error = result.as_ref().err().map(|e| format!("{e:#}"));
    ctx.db(|s| s.job_finished(&job.name, Utc::now(), error.as_deref())).context("recording the report job's end")?;
    result
}
