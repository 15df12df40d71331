//! Crash recovery, at the start of every job run: whatever an earlier run left
//! unfinished is completed, using only what the state store and the output
//! location say. Each case is idempotent, so recovering twice is harmless.
//!
//! - `taken` (copied locally, not yet archived): the copy is discarded and the
//!   record forgotten; the file is still in the inbox and is taken afresh.
//! - `archived`: evaluated by this run together with newly taken files.
//! - `evaluating` under run R: if R's `summary.json` is published, the outputs
//!   are complete and the files become `evaluated`; otherwise R is evaluated
//!   again, under the same run id, overwriting its partial outputs.
//! - `evaluated`: moved out of the inbox (`finish`).
//! - `duplicate-pending`: moved out of the inbox, then `duplicate`.

use std::collections::BTreeMap;

use tracing::info;

use crate::paths::Escaped;

use super::{Context, JobRunReport, RunKind, evaluate, finish};
use crate::job::Job;
use crate::state::intake::{FileState, IntakeStore};

pub async fn recover(ctx: &Context, job: &Job, kind: RunKind, report: &mut JobRunReport) -> anyhow::Result<()> {
    let intake = match &job.intake {
        Some(i) => i,
        None => return Ok(()),
    };
    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::Taken]))? {
        if let Some(staging) = &f.staging {
            super::remove_quietly(std::path::Path::new(staging));
        }
        ctx.db(|s| s.forget_file(f.id))?;
        info!(job.name = %job.name, file.name = %Escaped(&f.name), "Recovered {}: taken but not archived before a stop; it will be taken again.", Escaped(&f.name));
    }

    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::DuplicatePending]))? {
        let of = f.duplicate_of.and_then(|id| ctx.db(|s| s.file(id)).ok().flatten());
        if let Some(of) = of {
            finish::finish_duplicate(ctx, job, intake, &f, &of).await?;
            report.duplicates.push(f.name.clone());
        }
    }

    let mut by_run: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::Evaluating]))? {
        by_run.entry(f.run_id.clone().unwrap_or_default()).or_default().push(f);
    }
    for (run_id, files) in by_run {
        if evaluate::outputs_complete(ctx, job, &run_id).await? {
            let summary = evaluate::read_summary(ctx, job, &run_id).await?;
            for f in &files {
                let note = summary
                    .files
                    .iter()
                    .find(|o| o.sha256 == f.sha256 && o.name == f.name)
                    .and_then(|o| o.note.as_ref())
                    .map(|n| format!("unreadable: {n}"));
                ctx.db(|s| s.set_file_state(f.id, FileState::Evaluated, None, None, note.as_deref()))?;
            }
            let json = serde_json::to_string(&summary)?;
            ctx.db(|s| s.finish_run(&run_id, "evaluated", &json))?;
            info!(job.name = %job.name, run.id = %run_id, "Recovered run {run_id}: its outputs were complete.");
            report.runs.push(summary);
        } else {
            info!(job.name = %job.name, run.id = %run_id, files = files.len(), "Recovering run {run_id}: evaluating its {} file(s) again.", files.len());
            let summary = evaluate::evaluate_and_publish(ctx, job, kind, &run_id, files).await?;
            report.runs.push(summary);
        }
    }

    let mut runs: Vec<String> = ctx
        .db(|s| s.files_in(&job.name, &[FileState::Evaluated]))?
        .into_iter()
        .filter_map(|f| f.run_id)
        .collect();
    runs.dedup();
    for run_id in runs {
        finish::finish_run_files(ctx, job, intake, &run_id, report).await;
    }
    Ok(())
}
