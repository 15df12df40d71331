//! Finishing a run: only once its outputs are published does a file leave the
//! inbox, to `processed/` (or deleted, when the job says so), or to
//! `quarantine/` with an error note beside it when it could not be read.

use chrono::Utc;
use tracing::{info, warn};

use crate::paths::Escaped;

use super::{Context, JobRunReport, retry::retry};
use crate::job::{Intake, Job};
use crate::sources::{self, SourceError};
use crate::state::intake::{FileRecord, FileState, IntakeStore};

/// Where a finished file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Processed,
    Quarantine,
}

/// Moves `path` out of the inbox. A file already gone (moved by an earlier
/// attempt that crashed before recording it) counts as moved. A name already
/// taken in the destination gets a numeric suffix: nothing is overwritten.
pub async fn move_out(ctx: &Context, intake: &Intake, path: &str, dest: Destination) -> anyhow::Result<Option<String>> {
    let source = ctx.source(&intake.source)?;
    if dest == Destination::Processed && intake.delete_processed {
        return match retry(ctx.retry, "deleting a processed file", || source.delete(path)).await {
            Ok(()) | Err(SourceError::NotFound { .. }) => Ok(None),
            Err(e) => {
                ctx.note_source_error(&e);
                Err(e.into())
            }
        };
    }
    let folder = match dest {
        Destination::Processed => &intake.processed,
        Destination::Quarantine => &intake.quarantine,
    };
    let name = sources::file_name(path);
    let mut target = sources::join(&[folder, name]);
    let mut n = 1;
    while retry(ctx.retry, "checking the destination", || source.exists(&target)).await? {
        n += 1;
        target = sources::join(&[folder, &format!("{name}.{n}")]);
    }
    match retry(ctx.retry, "moving a file out of the inbox", || source.rename(path, &target)).await {
        Ok(()) => Ok(Some(target)),
        Err(SourceError::NotFound { .. }) => Ok(None),
        Err(e) => {
            ctx.note_source_error(&e);
            Err(e.into())
        }
    }
}

/// Finishes every `evaluated` file of a run.
pub async fn finish_run_files(ctx: &Context, job: &Job, intake: &Intake, run_id: &str, report: &mut JobRunReport) {
    let files = match ctx.db(|s| s.files_of_run(run_id)) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(format!("cannot list the files of run {run_id}: {e:#}"));
            return;
        }
    };
    for f in files.into_iter().filter(|f| f.state == FileState::Evaluated) {
        if let Err(e) = finish_file(ctx, job, intake, run_id, &f).await {
            warn!(job.name = %job.name, file.name = %Escaped(&f.name), run.id = %run_id, "Cannot move {} out of the inbox; the next run retries: {}", Escaped(&f.name), Escaped(&format!("{e:#}")));
            report.errors.push(format!("{}: {e:#}", f.name));
        }
    }
    let all_done = ctx
        .db(|s| s.files_of_run(run_id))
        .map(|f| f.iter().all(|f| matches!(f.state, FileState::Done | FileState::Quarantined)))
        .unwrap_or(false);
    if all_done {
        let summary = ctx.db(|s| s.run(run_id)).ok().flatten().and_then(|r| r.summary).unwrap_or_default();
        let _ = ctx.db(|s| s.finish_run(run_id, "succeeded", &summary));
    }
}

/// Whether the inbox still holds the very file that was taken (same size and
/// modification time): a carrier may have uploaded new bytes under the same
/// name meanwhile, and those must not be moved out unprocessed.
async fn still_ours(ctx: &Context, intake: &Intake, f: &FileRecord) -> anyhow::Result<bool> {
    let source = ctx.source(&intake.source)?;
    let listing = retry(ctx.retry, "listing the inbox", || source.list(&intake.inbox)).await?;
    Ok(match listing.iter().find(|e| e.path == f.path) {
        None => true, // gone: moved by an earlier attempt
        // The store keeps milliseconds; compare at that precision.
        Some(e) => {
            let ms = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.timestamp_millis());
            e.size == f.size && (f.modified.is_none() || ms(e.modified) == ms(f.modified))
        }
    })
}

/// Moves a recorded duplicate out of the inbox and marks it done.
pub async fn finish_duplicate(ctx: &Context, job: &Job, intake: &Intake, f: &FileRecord, of: &FileRecord) -> anyhow::Result<()> {
    if still_ours(ctx, intake, f).await? {
        move_out(ctx, intake, &f.path, Destination::Processed).await?;
    }
    let note = format!("same bytes as {} (file {}, taken {})", of.name, of.id, of.taken_at.to_rfc3339());
    ctx.db(|s| s.set_file_state(f.id, FileState::Duplicate, None, None, Some(&note)))?;
    ctx.metrics.inc("s321d_files_total", vec![("job", job.name.clone()), ("status", "duplicate".into())]);
    Ok(())
}

async fn finish_file(ctx: &Context, job: &Job, intake: &Intake, run_id: &str, f: &FileRecord) -> anyhow::Result<()> {
    if !still_ours(ctx, intake, f).await? {
        warn!(
            job.name = %job.name,
            file.name = %Escaped(&f.name),
            "The inbox now holds a different {} (new size or time) than the one processed; leaving it for the next run.",
            Escaped(&f.name)
        );
        let state = if f.note.as_deref().is_some_and(|n| n.starts_with("unreadable: ")) { FileState::Quarantined } else { FileState::Done };
        ctx.db(|s| s.set_file_state(f.id, state, None, None, Some("the inbox file was replaced before it could be moved out")))?;
        return Ok(());
    }
    let unreadable = f.note.as_deref().and_then(|n| n.strip_prefix("unreadable: "));
    let status = if let Some(reason) = unreadable {
        let moved = move_out(ctx, intake, &f.path, Destination::Quarantine).await?;
        super::crash_point("moved");
        let target = moved.unwrap_or_else(|| sources::join(&[&intake.quarantine, &f.name]));
        let note = format!(
            "s321d quarantined this file: it could not be read.\n\nfile: {}\nsha256: {}\nsize: {} bytes\njob: {}\nrun: {run_id}\nwhen: {}\nreason: {reason}\narchived copy: {}\n\nFix the file and drop it into the inbox again (any name), or tell the carrier.\n",
            Escaped(&f.name),
            f.sha256,
            f.size,
            job.name,
            Utc::now().to_rfc3339(),
            f.archive.as_deref().unwrap_or("-"),
        );
        let source = ctx.source(&intake.source)?;
        let note_path = format!("{target}.error.txt");
        retry(ctx.retry, "writing a quarantine note", || source.put(&note_path, note.as_bytes())).await?;
        ctx.db(|s| s.set_file_state(f.id, FileState::Quarantined, None, None, None))?;
        info!(job.name = %job.name, file.name = %Escaped(&f.name), quarantine = %Escaped(&target), "Quarantined {}: {}", Escaped(&f.name), Escaped(reason));
        "quarantined"
    } else {
        move_out(ctx, intake, &f.path, Destination::Processed).await?;
        super::crash_point("moved");
        ctx.db(|s| s.set_file_state(f.id, FileState::Done, None, None, None))?;
        "processed"
    };
    ctx.metrics.inc("s321d_files_total", vec![("job", job.name.clone()), ("status", status.into())]);
    Ok(())
}
