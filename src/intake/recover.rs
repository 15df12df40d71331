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

use tracing::{info, warn};

use crate::paths::Escaped;

use super::{StepReport, evaluate, finish};
use crate::app::App;
use crate::job::{Intake, Job};
use crate::state::intake::{FileRecord, FileState};
use crate::state::types::RunKind;

pub async fn recover(
    ctx: &App,
    job: &Job,
    kind: RunKind,
    report: &mut StepReport,
) -> anyhow::Result<()> {
    let intake = match &job.intake {
        Some(i) => i,
        None => return Ok(()),
    };
    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::Taken]))? {
        if let Some(staging) = &f.staging {
            crate::fsutil::remove_quietly(std::path::Path::new(staging));
        }
        ctx.db(|s| s.forget_file(f.id))?;
        info!(job.name = %job.name, file.name = %Escaped(&f.name), "Recovered {}: taken but not archived before a stop; it will be taken again.", Escaped(&f.name));
    }

    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::DuplicatePending]))? {
        let of = f
            .duplicate_of
            .and_then(|id| ctx.db(|s| s.file(id)).ok().flatten());
        if let Some(of) = of {
            finish::finish_duplicate(ctx, job, intake, &f, &of).await?;
            report.duplicates.push(f.name.clone());
        }
    }

    let mut by_run: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for f in ctx.db(|s| s.files_in(&job.name, &[FileState::Evaluating]))? {
        by_run
            .entry(f.run_id.clone().unwrap_or_default())
            .or_default()
            .push(f);
    }
    for (run_id, files) in by_run {
        if crate::outputs::location::outputs_complete(ctx, job, &run_id).await? {
            let summary = crate::outputs::location::read_summary(ctx, job, &run_id).await?;
            for f in &files {
                let note = summary
                    .files
                    .iter()
                    .find(|o| o.sha256 == f.sha256 && o.name == f.name)
                    .and_then(|o| o.note.as_ref())
                    .map(|n| format!("unreadable: {n}"));
                ctx.db(|s| {
                    s.set_file_state(f.id, FileState::Evaluated, None, None, note.as_deref())
                })?;
            }
            let json = serde_json::to_string(&summary)?;
            ctx.db(|s| s.finish_run(&run_id, crate::state::types::RunStatus::Evaluated, &json))?;
            info!(job.name = %job.name, run.id = %run_id, "Recovered run {run_id}: its outputs were complete.");
            report.runs.push(summary);
        } else if files.iter().any(|f| f.engine_attempts > 0) {
            // The process died inside the engine on these files. Alone, a file
            // that does it again is then known; one that did it twice is
            // quarantined rather than retried forever.
            let solo = if files.len() == 1 {
                vec![(run_id.clone(), files)]
            } else {
                let solo = split_run(ctx, job, &run_id, files)?;
                clear_run_folder(ctx, job, &run_id, |_| true).await;
                solo
            };
            for (solo_run, mut one) in solo {
                let f = one.pop().expect("one file");
                if f.engine_attempts >= ctx.config.limits.poison_after_deaths {
                    clear_run_folder(ctx, job, &solo_run, |_| true).await;
                    quarantine_poison(ctx, job, intake, &solo_run, &f).await?;
                } else {
                    clear_run_folder(ctx, job, &solo_run, is_half_written).await;
                    info!(job.name = %job.name, run.id = %solo_run, file.name = %Escaped(&f.name), "Recovering run {solo_run}: evaluating {} again, alone (the process stopped while evaluating it).", Escaped(&f.name));
                    report.runs.push(
                        evaluate::evaluate_and_publish(ctx, job, kind, &solo_run, vec![f]).await?,
                    );
                }
            }
        } else {
            info!(job.name = %job.name, run.id = %run_id, files = files.len(), "Recovering run {run_id}: evaluating its {} file(s) again.", files.len());
            clear_run_folder(ctx, job, &run_id, is_half_written).await;
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

/// Gives each file of an interrupted run a run of its own (same kind, new id),
/// so the next death inside the engine names one file. The old run is marked
/// `split`: it never published a summary, and is never filed.
fn split_run(
    ctx: &App,
    job: &Job,
    run_id: &str,
    files: Vec<FileRecord>,
) -> anyhow::Result<Vec<(String, Vec<FileRecord>)>> {
    // Manual runs split into manual runs; any other into scheduled ones.
    let kind = match ctx.db(|s| s.run(run_id))?.map(|r| r.kind) {
        Some(RunKind::Manual) => RunKind::Manual,
        _ => RunKind::Scheduled,
    };
    let mut out = Vec::with_capacity(files.len());
    for mut f in files {
        let solo = super::new_run_id(kind);
        // The run's duties (its filing above all) pass to each of its runs.
        ctx.db(|s| s.copy_duties(run_id, &solo))?;
        ctx.db(|s| s.set_file_state(f.id, FileState::Evaluating, None, Some(&solo), None))?;
        f.run_id = Some(solo.clone());
        out.push((solo, vec![f]));
    }
    ctx.db(|s| s.finish_run(run_id, crate::state::types::RunStatus::Split, ""))?;
    info!(job.name = %job.name, run.id = %run_id, files = out.len(), "Run {run_id} stopped while evaluating; its {} file(s) are evaluated one per run.", out.len());
    Ok(out)
}

/// Quarantines a file whose evaluation stopped the process twice.
async fn quarantine_poison(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    run_id: &str,
    f: &FileRecord,
) -> anyhow::Result<()> {
    let taken = match f.engine_attempts {
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    };
    let reason = format!(
        "taken {taken}, never finished: s321d stopped {} times while evaluating it (killed, out of memory, or crashed; limits.poison_after_deaths = {}); it is not retried",
        f.engine_attempts, ctx.config.limits.poison_after_deaths
    );
    warn!(job.name = %job.name, file.name = %Escaped(&f.name), run.id = %run_id, "Quarantining {}: {reason}.", Escaped(&f.name));
    ctx.db(|s| s.finish_run(run_id, crate::state::types::RunStatus::Abandoned, ""))?;
    if !finish::still_ours(ctx, intake, f).await? {
        // The name now holds new bytes (a fixed upload, say): leave those for
        // the next run; only the record of the poison file is closed.
        let note =
            format!("poison: {reason}; the inbox file was replaced meanwhile and is left there");
        ctx.db(|s| s.set_file_state(f.id, FileState::Quarantined, None, None, Some(&note)))?;
        return Ok(());
    }
    finish::quarantine(
        ctx,
        job,
        intake,
        run_id,
        f,
        finish::QuarantineCause::Poison,
        &reason,
    )
    .await
}

/// A temporary name an atomic write leaves behind when the process is killed
/// mid-write (`.NAME.ID.tmp`).
fn is_half_written(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Deletes the entries of an incomplete run's output folder that `which`
/// selects (half-written files before a redo; everything when the run is
/// abandoned), logging what went. Failures are logged, not fatal: the redo
/// overwrites what matters.
async fn clear_run_folder(ctx: &App, job: &Job, run_id: &str, which: impl Fn(&str) -> bool) {
    let Ok(out) = ctx.source(&job.output.source) else {
        return;
    };
    let folder = crate::outputs::location::run_folder(job, run_id);
    let Ok(listing) = out.list(&folder).await else {
        return;
    };
    let mut removed = Vec::new();
    for e in listing.into_iter().filter(|e| which(&e.name)) {
        match out.delete(&e.path).await {
            Ok(()) => removed.push(e.name),
            Err(err) => {
                warn!(job.name = %job.name, run.id = %run_id, "Cannot remove {} from an incomplete run: {err}", Escaped(&e.path))
            }
        }
    }
    if !removed.is_empty() {
        info!(job.name = %job.name, run.id = %run_id, files = removed.len(), "Swept {} file(s) from the incomplete outputs of run {run_id}: {}.", removed.len(), Escaped(&removed.join(", ")));
    }
}
