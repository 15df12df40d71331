//! What the audit trail records outside the state store's own transactions,
//! and the evidence packs built from it.
//!
//! The chain itself (tables, hashing, verification) is `state::audit`; file
//! receipts and filing messages are appended there inside the transactions
//! that record them. This module appends the events whose facts live in the
//! daemon: runs started and finished (with the versions of s321d, the policy
//! and the mapping, the counts, and the SHA-256 of every output file), config
//! loads and reloads, replays, and emails (from `reports::outbox`). It also
//! keeps the exact job file and policy text each run used (`audit_blobs`).
//! `export` writes an evidence pack for a house bill, an entry or a period.

pub mod export;

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::job::Job;
use crate::outputs::summary::Summary;
use crate::state::audit::AuditEvent;
use crate::state::audit_query::NewBlob;
use crate::state::intake::FileRecord;

/// Appends one event in its own transaction.
pub fn record(ctx: &App, event: AuditEvent) -> anyhow::Result<i64> {
    ctx.db(|s| s.append_audit(&event))
        .with_context(|| format!("cannot append a {} event to the audit trail", event.kind))
}

/// The policy text in force, if it can be shown to be the one loaded.
fn policy_text(ctx: &App) -> Option<(String, String)> {
    let p = &ctx.policy;
    if p.source == "builtin" {
        return Some((
            "builtin".into(),
            crate::policy::DEFAULT_POLICY_TOML.to_owned(),
        ));
    }
    let text = std::fs::read_to_string(&p.source).ok()?;
    let mut d = Sha256::new();
    d.update(crate::policy::DEFAULT_POLICY_TOML.as_bytes());
    d.update(text.as_bytes());
    (hex::encode(d.finalize()) == p.digest).then(|| (p.source.clone(), text))
}

/// The job file text, if it is still the one loaded.
fn job_text(job: &Job) -> Option<String> {
    let text = std::fs::read_to_string(&job.path).ok()?;
    (hex::encode(Sha256::digest(text.as_bytes())) == job.digest).then_some(text)
}

/// `run.started`: the files, and the versions of s321d, the policy and the
/// job's mapping (whose exact texts are kept as blobs).
pub fn run_started(
    ctx: &App,
    job: &Job,
    kind: &str,
    run_id: &str,
    files: &[FileRecord],
) -> anyhow::Result<()> {
    let policy = policy_text(ctx);
    let mapping = job_text(job);
    let event = AuditEvent::new(
        "run.started",
        json!({
            "job": job.name, "kind": kind, "s321d_version": env!("CARGO_PKG_VERSION"),
            "policy_source": ctx.policy.source, "policy_sha256": ctx.policy.digest, "policy_kept": policy.is_some(),
            "job_file": job.path.display().to_string(), "job_file_sha256": job.digest, "job_file_kept": mapping.is_some(),
            "files": files.iter().map(|f| json!({"file_id": f.id, "name": f.name, "size": f.size, "sha256": f.sha256, "archive": f.archive})).collect::<Vec<_>>(),
        }),
    )
    .run(run_id);
    let job_path = job.path.display().to_string();
    let mut blobs = Vec::new();
    if let Some((name, text)) = &policy {
        blobs.push(NewBlob {
            digest: &ctx.policy.digest,
            kind: "policy",
            name,
            content: text,
        });
    }
    if let Some(text) = &mapping {
        blobs.push(NewBlob {
            digest: &job.digest,
            kind: "job",
            name: &job_path,
            content: text,
        });
    }
    ctx.db(|s| s.append_audit_with_blobs(&event, &blobs))
        .map(|_| ())
}

/// `run.finished`: the counts and the SHA-256 of every output file.
pub fn run_finished(
    ctx: &App,
    summary: &Summary,
    output: &str,
    outputs: &[(String, String)],
) -> anyhow::Result<()> {
    let event = AuditEvent::new(
        "run.finished",
        json!({
            "job": summary.job, "kind": summary.kind, "output": output,
            "s321d_version": summary.s321d_version, "policy_sha256": summary.policy_sha256, "job_file_sha256": summary.job_file_sha256,
            "lines": summary.lines, "shipments": summary.shipments,
            "findings_by_severity": summary.findings_by_severity, "findings_by_rule": summary.findings_by_rule,
            "dispositions": summary.dispositions,
            "files": summary.files.iter().map(|f| json!({"name": f.name, "sha256": f.sha256, "status": f.status, "records": f.records})).collect::<Vec<_>>(),
            "outputs": outputs.iter().map(|(n, h)| json!({"name": n, "sha256": h})).collect::<Vec<_>>(),
        }),
    )
    .run(&summary.run_id);
    record(ctx, event).map(|_| ())
}

/// SHA-256 of local files, by file name.
pub fn hash_files<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for p in paths {
        out.push((
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256_file(p)?,
        ));
    }
    Ok(out)
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `daemon.started` or `config.reloaded`: what is in force from now on.
pub fn config_loaded(ctx: &App, kind: &str) -> anyhow::Result<()> {
    let config_file = ctx
        .config
        .loaded_from
        .as_ref()
        .map(|p| p.display().to_string());
    let config_sha256 = ctx
        .config
        .loaded_from
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .map(|b| hex::encode(Sha256::digest(&b)));
    let event = AuditEvent::new(
        kind,
        json!({
            "s321d_version": env!("CARGO_PKG_VERSION"), "config_file": config_file, "config_sha256": config_sha256,
            "policy_source": ctx.policy.source, "policy_sha256": ctx.policy.digest,
            "jobs": ctx.jobs.iter().map(|j| json!({"name": j.name, "file": j.path.display().to_string(), "sha256": j.digest})).collect::<Vec<_>>(),
            "report_jobs": ctx.reports.iter().map(|j| json!({"name": j.name, "sha256": j.digest})).collect::<Vec<_>>(),
        }),
    );
    record(ctx, event).map(|_| ())
}

/// `config.reload_refused`: a SIGHUP whose configuration was invalid.
pub fn reload_refused(ctx: &App, problems: &crate::problem::Problems) -> anyhow::Result<()> {
    let event = AuditEvent::new(
        "config.reload_refused",
        json!({ "problems": problems.0.iter().map(|p| p.to_string()).collect::<Vec<_>>() }),
    );
    record(ctx, event).map(|_| ())
}

/// `replay.requested`: which archived files a replay re-evaluates.
pub fn replay_requested(
    ctx: &App,
    job: &Job,
    run_id: &str,
    files: &[FileRecord],
) -> anyhow::Result<()> {
    let event = AuditEvent::new(
        "replay.requested",
        json!({
            "job": job.name,
            "files": files.iter().map(|f| json!({"file_id": f.id, "name": f.name, "sha256": f.sha256, "taken_at": f.taken_at.to_rfc3339()})).collect::<Vec<_>>(),
        }),
    )
    .run(run_id);
    record(ctx, event).map(|_| ())
}
