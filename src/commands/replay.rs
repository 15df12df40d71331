//! `s321d replay --job NAME --from DATE --to DATE`: re-evaluate the archived
//! files a job took between two dates (inclusive, UTC), under the policy in
//! force now, which applies to each shipment the regime of its arrival date.
//! Fresh outputs go beside the old ones, in a run folder named `replay-...`
//! whose summary says `"kind": "replay"`. A replay never files anything, never
//! moves a file, and adds nothing to history.

use std::path::Path;
use std::process::ExitCode;

use chrono::{NaiveDate, TimeZone, Utc};

use crate::intake::new_run_id;
use crate::state::types::RunKind;

pub fn run(config: Option<&Path>, job: &str, from: NaiveDate, to: NaiveDate) -> ExitCode {
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(job) = ctx.job(job) else {
        eprintln!("error: no job named {job:?}");
        return ExitCode::from(super::EXIT_USAGE);
    };
    if to < from {
        eprintln!("error: --to {to} is before --from {from}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    let start = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).expect("midnight"));
    let end = Utc.from_utc_datetime(
        &(to + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let files = match ctx.db(|s| s.archived_between(&job.name, start, end)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    if files.is_empty() {
        println!(
            "s321d replay {}: no archived files taken between {from} and {to}",
            job.name
        );
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let run_id = new_run_id(RunKind::Replay);
    match runtime.block_on(crate::jobs::replay::replay(&ctx, &job, &run_id, files)) {
        Ok(summary) => {
            println!(
                "s321d replay {}: run {run_id}: {} file(s), {} line(s), {} shipment(s); outputs in {}:{}",
                job.name,
                summary.files.len(),
                summary.lines,
                summary.shipments,
                job.output.source,
                crate::paths::join(&[&job.output.path, &run_id])
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
