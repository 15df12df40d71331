//! Taking files: which inbox files are complete, copying each once, spotting
//! the same bytes under another name, and archiving a verified copy.

use std::collections::BTreeSet;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::paths::{self, Escaped};

use super::StepReport;
use crate::app::App;
use crate::fsutil::{remove_quietly, scratch};
use crate::job::{Intake, Job};
use crate::retry::retry;
use crate::sources::{self, Entry, Source};
use crate::state::intake::{FileState, Take};

/// Names that are never complete files: uploads in progress, editor and
/// system droppings, and `.done` markers themselves.
pub fn is_temporary(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with('~')
        || [
            ".tmp",
            ".part",
            ".partial",
            ".crdownload",
            ".filepart",
            ".swp",
            ".done",
            ".lock",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// Whether a listed file is complete: with markers, its `NAME.done` is
/// listed; otherwise it has not been modified for `settle_secs`.
pub fn is_ready(
    entry: &Entry,
    listing: &[Entry],
    intake: &Intake,
    now: chrono::DateTime<Utc>,
) -> bool {
    if intake.done_marker {
        let marker = format!("{}.done", entry.name);
        return listing.iter().any(|e| e.name == marker);
    }
    match entry.modified {
        Some(m) => (now - m).num_milliseconds() >= (intake.settle_secs as i64) * 1000,
        None => false,
    }
}

/// `<archive>/raw/YYYY/MM/DD/<sha256 prefix>-<name>`, the name made one safe,
/// bounded component by [`crate::paths::component`] (a 255-byte or hostile
/// name would not fit or would not be safe there).
fn archive_path(ctx: &App, sha256: &str, name: &str) -> String {
    let day = Utc::now().format("%Y/%m/%d").to_string();
    paths::join(&[
        &ctx.config.archive.path,
        "raw",
        &day,
        &format!("{}-{}", &sha256[..16], crate::paths::component(name)),
    ])
}

/// Takes every complete inbox file of the job and archives it.
pub async fn take_ready_files(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    report: &mut StepReport,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let source = ctx.source(&intake.source)?;
    let listing = match retry(ctx.retry, "listing the inbox", || {
        source.list(&intake.inbox)
    })
    .await
    {
        Ok(l) => {
            ctx.status.source_ok(source.name());
            l
        }
        Err(e) => {
            ctx.note_source_error(&e);
            anyhow::bail!(
                "cannot list the inbox {} of source {}: {e}",
                intake.inbox,
                source.describe()
            );
        }
    };
    // Files recorded but not yet moved out (an earlier finish failed) stay put.
    let in_flight: BTreeSet<String> = ctx
        .db(|s| {
            s.files_in(
                &job.name,
                &[
                    FileState::Taken,
                    FileState::Archived,
                    FileState::Evaluating,
                    FileState::Evaluated,
                    FileState::DuplicatePending,
                ],
            )
        })?
        .into_iter()
        .map(|f| f.path)
        .collect();
    let now = Utc::now();
    for entry in listing.iter() {
        if cancel.is_cancelled() {
            break;
        }
        if is_temporary(&entry.name) || !job.matches(&entry.name) || in_flight.contains(&entry.path)
        {
            continue;
        }
        if !is_ready(entry, &listing, intake, now) {
            report.deferred.push(entry.name.clone());
            continue;
        }
        if let Err(e) = take_one(ctx, job, intake, &source, entry, report).await {
            warn!(job.name = %job.name, file.name = %Escaped(&entry.name), source = source.name(), "Cannot take {} from {}: {}", Escaped(&entry.name), source.describe(), Escaped(&format!("{e:#}")));
            report.errors.push(format!("{}: {e:#}", entry.name));
        }
    }
    Ok(())
}

async fn take_one(
    ctx: &App,
    job: &Job,
    intake: &Intake,
    source: &Source,
    entry: &Entry,
    report: &mut StepReport,
) -> anyhow::Result<()> {
    let staging = ctx.staging().join(&job.name).join(format!(
        "{}-{}",
        uuid::Uuid::now_v7().simple(),
        crate::paths::component(&entry.name)
    ));
    // The copy is only needed until archived; removed on every way out.
    let _staging_guard = scratch::Guard(staging.clone());
    let (size, sha) = match retry(ctx.retry, "copying a file", || {
        source.download(&entry.path, &staging)
    })
    .await
    {
        Ok(v) => v,
        Err(e) => {
            remove_quietly(&staging);
            if matches!(e, sources::SourceError::NotFound { .. }) {
                // Vanished between listing and copying (taken elsewhere, or withdrawn).
                info!(job.name = %job.name, file.name = %Escaped(&entry.name), "File {} vanished before it could be taken.", Escaped(&entry.name));
                report.deferred.push(entry.name.clone());
                return Ok(());
            }
            ctx.note_source_error(&e);
            return Err(e.into());
        }
    };
    if size != entry.size {
        // Still being written: try again next run.
        remove_quietly(&staging);
        report.deferred.push(entry.name.clone());
        return Ok(());
    }
    let staging_text = staging.display().to_string();
    let taken = ctx.db(|s| {
        s.take_file(
            &job.name,
            &intake.source,
            &entry.path,
            size,
            entry.modified,
            &sha,
            &staging_text,
        )
    })?;
    let id = match taken {
        Take::Duplicate { id, of } => {
            remove_quietly(&staging);
            info!(
                job.name = %job.name,
                file.name = %Escaped(&entry.name),
                file.sha256 = %sha,
                duplicate_of = %Escaped(&of.name),
                "File {} holds the same bytes as {} (taken {}); skipped.",
                Escaped(&entry.name),
                Escaped(&of.name),
                of.taken_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            crate::faults::crash_point("duplicate-recorded");
            let record = ctx
                .db(|s| s.files_in(&job.name, &[FileState::DuplicatePending]))?
                .into_iter()
                .find(|f| f.id == id);
            if let Some(record) = record {
                super::finish::finish_duplicate(ctx, job, intake, &record, &of).await?;
            }
            report.duplicates.push(entry.name.clone());
            return Ok(());
        }
        Take::New(id) => id,
    };
    crate::faults::crash_point("taken");

    // Archive, then verify the archived bytes before anything else.
    let archive_source = ctx.source(&ctx.config.archive.source)?;
    let archive = archive_path(ctx, &sha, &entry.name);
    let verified = async {
        retry(ctx.retry, "archiving a file", || {
            archive_source.upload(&staging, &archive)
        })
        .await?;
        let check = ctx
            .staging()
            .join(&job.name)
            .join(format!("{}.verify", uuid::Uuid::now_v7().simple()));
        let _check_guard = scratch::Guard(check.clone());
        let copied = retry(ctx.retry, "verifying an archived file", || {
            archive_source.download(&archive, &check)
        })
        .await;
        remove_quietly(&check);
        copied
    }
    .await;
    match verified {
        Ok((archived_size, archived_sha)) if archived_size == size && archived_sha == sha => {}
        Ok((archived_size, archived_sha)) => {
            anyhow::bail!(
                "the archived copy {archive} does not match ({archived_size} bytes, sha256 {archived_sha}; expected {size}, {sha})"
            );
        }
        Err(e) => {
            ctx.note_source_error(&e);
            return Err(e.into());
        }
    }
    ctx.status.source_ok(archive_source.name());
    ctx.db(|s| s.set_file_state(id, FileState::Archived, Some(&archive), None, None))?;
    crate::faults::crash_point("archived");
    remove_quietly(&staging);
    info!(job.name = %job.name, file.name = %Escaped(&entry.name), file.sha256 = %sha, file.size = size, archive = %archive, "Took {} ({size} bytes) and archived it.", Escaped(&entry.name));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, secs_ago: i64) -> Entry {
        Entry {
            path: format!("inbox/{name}"),
            name: name.into(),
            size: 1,
            modified: Some(Utc::now() - chrono::Duration::seconds(secs_ago)),
        }
    }

    fn intake(settle: u64, marker: bool) -> Intake {
        Intake {
            source: "s".into(),
            inbox: "inbox".into(),
            processed: "processed".into(),
            quarantine: "quarantine".into(),
            settle_secs: settle,
            done_marker: marker,
            delete_processed: false,
        }
    }

    #[test]
    fn temporary_names_are_never_taken() {
        for n in [
            "a.csv.tmp",
            "a.csv.part",
            ".hidden.csv",
            "~lock.csv",
            "a.csv.done",
            "A.CSV.PART",
            "x.filepart",
        ] {
            assert!(is_temporary(n), "{n}");
        }
        for n in [
            "a.csv",
            "PCLX_20261101.txt",
            "feed.ndjson",
            "partial-report.csv",
        ] {
            assert!(!is_temporary(n), "{n}");
        }
    }

    #[test]
    fn readiness_by_settle_time_or_marker() {
        let now = Utc::now();
        let listing = vec![
            entry("old.csv", 60),
            entry("fresh.csv", 1),
            entry("marked.csv", 0),
            entry("marked.csv.done", 0),
        ];
        assert!(is_ready(&listing[0], &listing, &intake(5, false), now));
        assert!(!is_ready(&listing[1], &listing, &intake(5, false), now));
        assert!(is_ready(&listing[1], &listing, &intake(0, false), now));
        assert!(is_ready(&listing[2], &listing, &intake(5, true), now));
        assert!(
            !is_ready(&listing[0], &listing, &intake(5, true), now),
            "with markers, an unmarked file waits"
        );
    }
}
