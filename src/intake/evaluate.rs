//! Evaluating archived files as one engine run and publishing its outputs.
//!
//! Outputs are written locally first, then published to the job's output
//! location as `<path>/<run id>/`: findings, dispositions, and `summary.json`
//! last. A run folder with a `summary.json` is complete; one without is
//! redone under the same run id after a crash, so every run's outputs appear
//! exactly once.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use tracing::info;

use crate::app::App;
use crate::engine::{self, RunFile, RunRequest};
use crate::fsutil::{remove_quietly, scratch};
use crate::job::Job;
use crate::outputs::location::run_folder;
use crate::outputs::summary::{FileOutcome, Summary};
use crate::paths;
use crate::retry::retry;
use crate::state::HistoryStore;
use crate::state::intake::{FileRecord, FileState};
use crate::state::types::{Duty, DutyState, RunKind};

/// Evaluates `files` (archived) as run `run_id` and publishes its outputs.
/// Files are marked `evaluating` first and `evaluated` once the outputs are
/// complete (not for replays, which leave the files' state alone).
pub async fn evaluate_and_publish(
    ctx: &App,
    job: &Job,
    kind: RunKind,
    run_id: &str,
    files: Vec<FileRecord>,
) -> anyhow::Result<Summary> {
    let started = Utc::now();
    let output = format!("{}:{}", job.output.source, run_folder(job, run_id));
    ctx.db(|s| s.start_run(run_id, &job.name, kind, &output))?;
    crate::audit::run_started(ctx, job, kind.as_str(), run_id, &files)?;
    if kind != RunKind::Replay {
        // Its exception reports are owed until queued, whatever stops us first.
        ctx.db(|s| s.set_run_duty(run_id, Duty::Exceptions, DutyState::Due))?;
        for f in &files {
            ctx.db(|s| s.set_file_state(f.id, FileState::Evaluating, None, Some(run_id), None))?;
        }
    }

    crate::faults::crash_point("evaluating");
    // The engine reads local files: archived files in place when the archive is
    // local, else fetched copies.
    let archive_source = ctx.source(&ctx.config.archive.source)?;
    let scratch = ctx.staging().join("runs").join(run_id);
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    // Gone however this function ends (a kill is left to the next sweep).
    let _scratch_guard = scratch::Guard(scratch.clone());
    let mut run_files = Vec::with_capacity(files.len());
    let job_arc = Arc::new(job.clone());
    for f in &files {
        let archive = f
            .archive
            .as_deref()
            .with_context(|| format!("file {} has no archived copy", f.name))?;
        let path: PathBuf = match archive_source.local_path(archive) {
            Some(p) => p,
            None => {
                let local = scratch.join("input").join(format!("{}-{}", f.id, f.name));
                retry(ctx.retry, "fetching an archived file", || {
                    archive_source.download(archive, &local)
                })
                .await?;
                local
            }
        };
        run_files.push(RunFile {
            name: f.name.clone(),
            path,
            sha256: Some(f.sha256.clone()),
            job: job_arc.clone(),
        });
    }

    // Counted before the engine starts and cleared when it returns: a count
    // left behind means the process died evaluating these files (poison).
    let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
    if kind != RunKind::Replay {
        ctx.db(|s| s.engine_started(&ids))?;
        for f in &files {
            crate::faults::crash_on_file(&f.name);
        }
    }
    let out_dir = scratch.join("out");
    let policy = ctx.policy.clone();
    let limits = ctx.config.limits.clone();
    let state = ctx.state.clone();
    let run = run_id.to_owned();
    let record_history = kind != RunKind::Replay;
    let engine_summary =
        tokio::task::spawn_blocking(move || -> anyhow::Result<engine::RunSummary> {
            // The engine's own connection, so bookkeeping and health checks never wait on it.
            let mut history = crate::state::open(&state)?;
            engine::run(RunRequest {
                run_id: run,
                files: run_files,
                policy,
                out_dir,
                history: Some(history.as_mut() as &mut dyn HistoryStore),
                record_history,
                chunk_rows: crate::manifest::DEFAULT_CHUNK_ROWS,
                limits,
            })
        })
        .await
        .context("the engine task panicked")??;
    if kind != RunKind::Replay {
        ctx.db(|s| s.engine_returned(&ids))?;
    }

    let outcomes: Vec<FileOutcome> = files
        .iter()
        .zip(&engine_summary.files)
        .map(|(f, s)| FileOutcome {
            name: f.name.clone(),
            sha256: f.sha256.clone(),
            size: f.size,
            status: if s.unreadable.is_some() {
                "quarantined".into()
            } else {
                "processed".into()
            },
            records: s.records,
            archive: f.archive.clone(),
            note: s.unreadable.clone(),
        })
        .collect();
    crate::faults::crash_point("engine-done");
    let summary = Summary::new(
        &engine_summary,
        job,
        kind.as_str(),
        started,
        &ctx.policy.source,
        outcomes,
    );
    let summary_path = scratch.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_vec_pretty(&summary)?)?;

    // The audit trail records every output's SHA-256.
    let output_hashes = crate::audit::hash_files(
        engine_summary
            .outputs
            .iter()
            .chain(std::iter::once(&summary_path))
            .map(|p| p.as_path()),
    )?;

    // Publish: the data files first, the summary last.
    let out = ctx.source(&job.output.source)?;
    let folder = run_folder(job, run_id);
    for local in engine_summary
        .outputs
        .iter()
        .chain(std::iter::once(&summary_path))
    {
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = paths::join(&[&folder, &name]);
        if let Err(e) = retry(ctx.retry, "publishing run outputs", || {
            out.upload(local, &dest)
        })
        .await
        {
            ctx.note_source_error(&e);
            return Err(anyhow::anyhow!(
                "cannot publish {dest} to {}: {e}",
                out.describe()
            ));
        }
        crate::faults::crash_point("published-one");
    }
    ctx.status.source_ok(out.name());
    crate::faults::crash_point("published");
    let _ = std::fs::remove_dir_all(&scratch);

    if kind != RunKind::Replay {
        for (f, o) in files.iter().zip(&summary.files) {
            let note = o.note.as_ref().map(|n| format!("unreadable: {n}"));
            ctx.db(|s| s.set_file_state(f.id, FileState::Evaluated, None, None, note.as_deref()))?;
        }
    }
    crate::faults::crash_point("evaluated");
    let summary_json = serde_json::to_string(&summary)?;
    ctx.db(|s| {
        s.finish_run(
            run_id,
            crate::state::types::RunStatus::Evaluated,
            &summary_json,
        )
    })?;
    crate::audit::run_finished(ctx, &summary, &output, &output_hashes)?;
    record_metrics(ctx, job, &summary);
    info!(
        job.name = %job.name,
        run.id = %run_id,
        files = summary.files.len(),
        lines = summary.lines,
        shipments = summary.shipments,
        output = %output,
        "Run {run_id} of job {} evaluated {} file(s), {} line(s); outputs in {output}.",
        job.name,
        summary.files.len(),
        summary.lines
    );
    remove_quietly(&summary_path);
    Ok(summary)
}

fn record_metrics(ctx: &App, job: &Job, s: &Summary) {
    let j = || ("job", job.name.clone());
    ctx.metrics
        .add("s321d_lines_total", vec![j()], s.lines as f64);
    ctx.metrics
        .add("s321d_shipments_total", vec![j()], s.shipments as f64);
    for (rule, n) in &s.findings_by_rule {
        let severity =
            crate::engine::rules::Rule::from_code(rule).map_or("", |r| r.severity().as_str());
        ctx.metrics.add(
            "s321d_findings_total",
            vec![
                j(),
                ("rule", rule.clone()),
                ("severity", severity.to_owned()),
            ],
            *n as f64,
        );
    }
    for (d, n) in &s.dispositions {
        ctx.metrics.add(
            "s321d_dispositions_total",
            vec![j(), ("disposition", d.clone())],
            *n as f64,
        );
    }
    for (t, n) in &s.entries.by_type {
        ctx.metrics.add(
            "s321d_entries_total",
            vec![j(), ("entry_type", t.clone())],
            *n as f64,
        );
    }
}
