//! One run of a report job: build the day's dashboard, queue it in the
//! outbox, try to send everything due; records the job's start and end like
//! intake jobs. The parts (dashboard, rendering, outbox) are `reports`'s.

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use tracing::info;

use crate::app::App;
use crate::job::report::ReportJob;
use crate::reports::{self, email::Email, outbox::Delivery};

/// Builds the dashboard email of a report job for a day.
pub async fn dashboard_email(ctx: &App, job: &ReportJob, day: NaiveDate) -> anyhow::Result<Email> {
    let started = std::time::Instant::now();
    let d = reports::dashboard::build(ctx, job, day).await?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let e = reports::render::dashboard_email(&d, &job.recipients, &id)?;
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

/// One run of a report job: build the day's dashboard, queue it, try to send
/// everything due. Records the job's start and finish like intake jobs.
pub async fn run_report_job(
    ctx: &App,
    job: &ReportJob,
    day: Option<NaiveDate>,
) -> anyhow::Result<Delivery> {
    let now = Utc::now();
    ctx.db(|s| s.job_started(&job.name, now))?;
    let default_tz = ctx
        .config
        .daemon
        .timezone
        .parse()
        .unwrap_or(chrono_tz::America::New_York);
    let day = day.unwrap_or_else(|| job.day_at(now, default_tz));
    let result = async {
        anyhow::ensure!(
            ctx.config.email.enabled(),
            "email is not configured (email.host is empty); use --preview"
        );
        let e = dashboard_email(ctx, job, day).await?;
        reports::outbox::queue(
            ctx,
            &e,
            serde_json::json!({ "report": job.name, "day": day.to_string() }),
        )?;
        Ok(reports::outbox::deliver(ctx, false).await)
    }
    .await;
    let error = result.as_ref().err().map(|e| format!("{e:#}"));
    ctx.db(|s| s.job_finished(&job.name, Utc::now(), error.as_deref()))
        .context("recording the report job's end")?;
    result
}
