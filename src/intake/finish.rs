//! Finishing a run: only once its outputs are published does a file leave the
//! inbox, to `processed/` (or deleted, when the job says so), or to
//! `quarantine/` with an error note beside it when it could not be read.

use chrono::Utc;
use tracing::{info, warn};

use crate::paths::{self, Escaped};

use super::StepReport;
use crate::app::App;
use crate::job::{Intake, Job};
use crate::retry::retry;
use crate::sources::SourceError;
use crate::state::intake::{FileRecord, FileState};

/// Where a finished file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Processed,
    Quarantine,
}

/// Moves `path` out of the inbox. A file already gone (moved by an earlier
/// attempt that crashed before recording it) counts as moved. A name already
/// taken in the destination gets a numeric suffix: nothing is overwritten.
pub async fn move_out(
    ctx: &App,
    intake: &Intake,
    path: &str,
    dest: Destination,
) -> anyhow::Result<Option<String>> {
    let source = ctx.source(&intake.source)?;
    if dest == Destination::Processed && intake.delete_processed {
        return match retry(ctx.retry, "deleting a processed file", || {
            source.delete(path)
        })
        .await
        {
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
    let name = paths::file_name(path);
    let mut target = paths::join(&[folder, name]);
    let mut n = 1;
    while retry(ctx.retry, "checking the destination", || {
        source.exists(&target)
    })
    .await?
    {
        n += 1;
        target = paths::join(&[folder, &fit_name(name, &format!(".{n}"))]);
    }
    match retry(ctx.retry, "moving a file out of the inbox", || {
        source.rename(path, &target)
    })
    .await
    {
        Ok(()) => Ok(Some(target)),
        Err(SourceError::NotFound { .. }) => Ok(None),
        Err(e) => {
            ctx.note_source_error(&e);
            Err(e.into())
        }
    }
}

/// The longest file name common file systems take, in bytes.
const MAX_NAME: usize = 255;

/// `name` followed by `suffix` (`.error.txt`, `.2`), in at most 255 bytes:
/// when too long, the name is cut at a character boundary and 8 hex digits of
/// the SHA-256 of the whole name go before the suffix, so two long names that
/// share a beginning never share a note. The note's body names the file in
/// full, and its name still starts with the file's.
pub fn fit_name(name: &str, suffix: &str) -> String {
    if name.len() + suffix.len() <= MAX_NAME {
        return format!("{name}{suffix}");
    }
    use sha2::{Digest, Sha256};
    let hash = hex::encode(&Sha256::digest(name.as_bytes())[..4]);
    let mut keep = MAX_NAME.saturating_sub(suffix.len() + hash.len() + 1);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{hash}{suffix}", &name[..keep])
}

/// Why a file goes to quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineCause {
    /// The engine could not read it (the reason says why).
    Unreadable,
    /// Evaluating it stopped the process twice (a poison file).
    Poison,
}

/// Moves a file to quarantine with a note beside it (`NAME.error.txt`, the
/// name shortened to fit), and records it `quarantined`.
pub async fn quarantine(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    run_id: &str,
    f: &FileRecord,
    cause: QuarantineCause,
    reason: &str,
) -> anyhow::Result<()> {
    let moved = move_out(ctx, intake, &f.path, Destination::Quarantine).await?;
    crate::faults::crash_point("moved");
    let target = moved.unwrap_or_else(|| paths::join(&[&intake.quarantine, &f.name]));
    let headline = match cause {
        QuarantineCause::Unreadable => "it could not be read",
        QuarantineCause::Poison => "evaluating it stopped s321d twice",
    };
    let note = format!(
        "s321d quarantined this file: {headline}.\n\nfile: {}\nsha256: {}\nsize: {} bytes\njob: {}\nrun: {run_id}\nwhen: {}\nreason: {reason}\narchived copy: {}\n\nFix the file and drop it into the inbox again (any name), or tell the carrier.\n",
        Escaped(&f.name),
        f.sha256,
        f.size,
        job.name,
        Utc::now().to_rfc3339(),
        f.archive.as_deref().unwrap_or("-"),
    );
    let source = ctx.source(&intake.source)?;
    let (folder, name) = target.rsplit_once('/').unwrap_or(("", &target));
    let note_path = paths::join(&[folder, &fit_name(name, ".error.txt")]);
    retry(ctx.retry, "writing a quarantine note", || {
        source.put(&note_path, note.as_bytes())
    })
    .await?;
    // A poison file's record says why (an unreadable one's already does).
    let recorded = (cause == QuarantineCause::Poison).then(|| format!("poison: {reason}"));
    ctx.db(|s| {
        s.set_file_state(
            f.id,
            FileState::Quarantined,
            None,
            None,
            recorded.as_deref(),
        )
    })?;
    info!(job.name = %job.name, file.name = %Escaped(&f.name), quarantine = %Escaped(&target), "Quarantined {}: {}", Escaped(&f.name), Escaped(reason));
    ctx.metrics.inc(
        "s321d_files_total",
        vec![("job", job.name.clone()), ("status", "quarantined".into())],
    );
    Ok(())
}

/// Finishes every `evaluated` file of a run.
pub async fn finish_run_files(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    run_id: &str,
    report: &mut StepReport,
) {
    let files = match ctx.db(|s| s.files_of_run(run_id)) {
        Ok(f) => f,
        Err(e) => {
            report
                .errors
                .push(format!("cannot list the files of run {run_id}: {e:#}"));
            return;
        }
    };
    for f in files
        .into_iter()
        .filter(|f| f.state == FileState::Evaluated)
    {
        if let Err(e) = finish_file(ctx, job, intake, run_id, &f).await {
            warn!(job.name = %job.name, file.name = %Escaped(&f.name), run.id = %run_id, "Cannot move {} out of the inbox; the next run retries: {}", Escaped(&f.name), Escaped(&format!("{e:#}")));
            report.errors.push(format!("{}: {e:#}", f.name));
        }
    }
    let all_done = ctx
        .db(|s| s.files_of_run(run_id))
        .map(|f| {
            f.iter()
                .all(|f| matches!(f.state, FileState::Done | FileState::Quarantined))
        })
        .unwrap_or(false);
    if all_done {
        let summary = ctx
            .db(|s| s.run(run_id))
            .ok()
            .flatten()
            .and_then(|r| r.summary)
            .unwrap_or_default();
        let _ =
            ctx.db(|s| s.finish_run(run_id, crate::state::types::RunStatus::Succeeded, &summary));
    }
}

/// Whether the inbox still holds the very file that was taken (same size and
/// modification time): a carrier may have uploaded new bytes under the same
/// name meanwhile, and those must not be moved out unprocessed.
pub(super) async fn still_ours(ctx: &App, intake: &Intake, f: &FileRecord) -> anyhow::Result<bool> {
    let source = ctx.source(&intake.source)?;
    let listing = retry(ctx.retry, "listing the inbox", || {
        source.list(&intake.inbox)
    })
    .await?;
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
pub async fn finish_duplicate(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    f: &FileRecord,
    of: &FileRecord,
) -> anyhow::Result<()> {
    if still_ours(ctx, intake, f).await? {
        move_out(ctx, intake, &f.path, Destination::Processed).await?;
    }
    let note = format!(
        "same bytes as {} (file {}, taken {})",
        of.name,
        of.id,
        of.taken_at.to_rfc3339()
    );
    ctx.db(|s| s.set_file_state(f.id, FileState::Duplicate, None, None, Some(&note)))?;
    ctx.metrics.inc(
        "s321d_files_total",
        vec![("job", job.name.clone()), ("status", "duplicate".into())],
    );
    Ok(())
}

async fn finish_file(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    run_id: &str,
    f: &FileRecord,
) -> anyhow::Result<()> {
    if !still_ours(ctx, intake, f).await? {
        warn!(
            job.name = %job.name,
            file.name = %Escaped(&f.name),
            "The inbox now holds a different {} (new size or time) than the one processed; leaving it for the next run.",
            Escaped(&f.name)
        );
        let state = if f
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("unreadable: "))
        {
            FileState::Quarantined
        } else {
            FileState::Done
        };
        ctx.db(|s| {
            s.set_file_state(
                f.id,
                state,
                None,
                None,
                Some("the inbox file was replaced before it could be moved out"),
            )
        })?;
        return Ok(());
    }
    if let Some(reason) = f
        .note
        .as_deref()
        .and_then(|n| n.strip_prefix("unreadable: "))
    {
        return quarantine(
            ctx,
            job,
            intake,
            run_id,
            f,
            QuarantineCause::Unreadable,
            reason,
        )
        .await;
    }
    move_out(ctx, intake, &f.path, Destination::Processed).await?;
    crate::faults::crash_point("moved");
    ctx.db(|s| s.set_file_state(f.id, FileState::Done, None, None, None))?;
    ctx.metrics.inc(
        "s321d_files_total",
        vec![("job", job.name.clone()), ("status", "processed".into())],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_names_fit_in_255_bytes_and_stay_findable() {
        assert_eq!(fit_name("a.csv", ".error.txt"), "a.csv.error.txt");
        for len in 240..=255 {
            let name = format!("{}.csv", "L".repeat(len - 4));
            let note = fit_name(&name, ".error.txt");
            assert!(note.len() <= 255, "{len}: {}", note.len());
            assert!(
                note.ends_with(".error.txt") && note.starts_with("LLLL"),
                "{note}"
            );
        }
        let a = fit_name(&format!("{}a.csv", "é".repeat(125)), ".2");
        let b = fit_name(&format!("{}b.csv", "é".repeat(125)), ".2");
        assert!(a.len() <= 255 && b.len() <= 255);
        assert_ne!(a, b, "the hash tells long names apart");
    }
}
