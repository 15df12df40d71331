//! `s321d report`: build a report by hand, to preview it or send it now.
//!
//! - `--job NAME [--date DATE]`: the daily dashboard of report job NAME for
//!   DATE (default: the day it would cover now).
//! - `--run RUN_ID [--carrier C]`: the exception report(s) of a run, one per
//!   carrier (every carrier with findings when previewing).
//! - `--preview DIR`: write the email(s) to DIR (one folder per carrier, its
//!   name made safe by [`crate::paths::component`]; HTML, text, images,
//!   attachments, .eml) and send nothing.
//! - `--flush`: only try to send what is queued in the outbox.
//!
//! Without `--preview`, reports are queued in the outbox and sent at once;
//! one the SMTP server does not take stays queued (exit 1) and the daemon
//! retries it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::app::App;
use crate::reports::{self, exceptions, outbox};

/// What `report` was asked for.
pub struct ReportArgs {
    pub job: Option<String>,
    pub date: Option<chrono::NaiveDate>,
    pub run: Option<String>,
    pub carrier: Option<String>,
    pub preview: Option<PathBuf>,
    pub flush: bool,
}

pub fn run(config: Option<&Path>, args: ReportArgs) -> ExitCode {
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(go(&ctx, args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

fn print_delivery(d: &outbox::Delivery) -> ExitCode {
    for id in &d.sent {
        println!("sent {id}");
    }
    for (id, e) in &d.failed {
        println!("queued {id}: delivery failed ({e}); the daemon retries it");
    }
    println!(
        "s321d report: {} sent, {} still queued in the outbox",
        d.sent.len(),
        d.queued
    );
    if d.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILED)
    }
}

async fn go(ctx: &App, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.flush {
        return Ok(print_delivery(&outbox::deliver(ctx, true).await));
    }
    match (&args.job, &args.run) {
        (Some(name), None) => {
            let Some(job) = ctx.reports.iter().find(|j| &j.name == name).cloned() else {
                let known: Vec<&str> = ctx.reports.iter().map(|j| j.name.as_str()).collect();
                eprintln!(
                    "error: no report job named {name:?} in {} (report jobs: {})",
                    ctx.config.paths.jobs_dir.display(),
                    known.join(", ")
                );
                return Ok(ExitCode::from(super::EXIT_USAGE));
            };
            let default_tz = ctx
                .config
                .daemon
                .timezone
                .parse()
                .unwrap_or(chrono_tz::America::New_York);
            let day = args
                .date
                .unwrap_or_else(|| job.day_at(chrono::Utc::now(), default_tz));
            if let Some(dir) = &args.preview {
                let e = crate::jobs::report::dashboard_email(ctx, &job, day).await?;
                reports::preview(ctx, &e, dir)?;
                println!(
                    "s321d report {}: the dashboard for {day} is in {} ({})",
                    job.name,
                    dir.display(),
                    e.subject
                );
                return Ok(ExitCode::SUCCESS);
            }
            let d = crate::jobs::report::run_report_job(ctx, &job, Some(day)).await?;
            Ok(print_delivery(&d))
        }
        (None, Some(run_id)) => {
            let Some(run) = crate::outputs::read::run(ctx, run_id)? else {
                eprintln!("error: no run {run_id:?} in the state store");
                return Ok(ExitCode::from(super::EXIT_USAGE));
            };
            let previewing = args.preview.is_some();
            let built = exceptions::build(ctx, &run, args.carrier.as_deref(), previewing).await?;
            if built.is_empty() {
                println!("s321d report: run {run_id} has no exceptions to report");
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(dir) = &args.preview {
                for r in &built {
                    let sub = if built.len() == 1 {
                        dir.clone()
                    } else {
                        dir.join(if r.carrier.is_empty() {
                            "no-carrier".to_owned()
                        } else {
                            crate::paths::component(&r.carrier)
                        })
                    };
                    reports::preview(ctx, &r.email, &sub)?;
                    println!(
                        "s321d report: exceptions of {} in run {run_id} are in {} ({})",
                        r.carrier,
                        sub.display(),
                        r.email.subject
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            anyhow::ensure!(
                ctx.config.email.enabled(),
                "email is not configured (email.host is empty); use --preview"
            );
            for r in &built {
                outbox::queue(
                    ctx,
                    &r.email,
                    serde_json::json!({ "run_id": run.run_id, "job": run.job, "carrier": r.carrier }),
                )?;
            }
            Ok(print_delivery(&outbox::deliver(ctx, false).await))
        }
        _ => {
            eprintln!(
                "error: give --job NAME (a dashboard), --run RUN_ID (exception reports) or --flush"
            );
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
    }
}
