//! The outbox: every report is queued on disk before any attempt to send it,
//! and stays there until the SMTP server has accepted it. Never dropped.
//!
//! `<data_dir>/outbox/<id>.eml` holds the exact MIME bytes (so a retry sends
//! the same message, same Message-ID) and `<id>.json` the envelope and the
//! delivery state (attempts, next attempt, last error). Both are written
//! under a temporary name, synced and renamed (the `.json` last: its presence
//! marks a complete entry). A failed attempt schedules the next one with
//! exponential backoff (`email.retry_initial_secs` doubling up to
//! `email.retry_max_secs`, with jitter); the daemon's delivery loop sends what
//! is due, `/readyz` reports mail that failed, and `/metrics` carries the
//! queue length and the age of the oldest entry. Once sent, the `.eml` moves
//! to `outbox/sent/`, an `email.sent` audit event names recipients, subject
//! and Message-ID, and the `.json` is removed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::email::{Email, recipients, sender};
use crate::app::App;
use crate::fsutil::write_atomic_bytes;
use crate::state::audit::AuditEvent;

/// One queued message's envelope and delivery state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Queued {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub groups: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// (file name, SHA-256) of each attachment.
    pub attachments: Vec<(String, String)>,
    /// SHA-256 of the whole message.
    pub sha256: String,
    /// What the report is about (run id, report job and day), for the audit trail.
    pub about: serde_json::Value,
}

/// The outbox folder.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

/// Queues a report for its groups' addresses. Returns the queue entry.
pub fn queue(ctx: &App, email: &Email, about: serde_json::Value) -> anyhow::Result<Queued> {
    use sha2::{Digest, Sha256};
    let cfg = &ctx.config.email;
    let from = sender(cfg)?;
    let to = recipients(&email.groups, cfg)?;
    anyhow::ensure!(
        !to.is_empty(),
        "the groups {:?} hold no address",
        email.groups
    );
    let message = email.to_message(&from, &to)?;
    let bytes = message.formatted();
    let q = Queued {
        id: email.id.clone(),
        kind: email.kind.clone(),
        subject: email.subject.clone(),
        message_id: email.message_id(&from),
        from: from.email.to_string(),
        to: to.iter().map(|m| m.email.to_string()).collect(),
        groups: email.groups.clone(),
        created_at: Utc::now(),
        attempts: 0,
        next_attempt_at: Utc::now(),
        last_error: None,
        attachments: email
            .attachments
            .iter()
            .map(|a| (a.file_name.clone(), hex::encode(Sha256::digest(&a.bytes))))
            .collect(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        about,
    };
    let d = dir(&ctx.config.paths.data_dir);
    write_atomic_bytes(&d.join(format!("{}.eml", q.id)), &bytes)?;
    write_atomic_bytes(
        &d.join(format!("{}.json", q.id)),
        &serde_json::to_vec_pretty(&q)?,
    )?;
    crate::audit::record(
        ctx,
        AuditEvent::new(
            "email.queued",
            serde_json::json!({ "id": q.id, "kind": q.kind, "subject": q.subject, "message_id": q.message_id, "groups": q.groups,
                "recipients": q.to, "sha256": q.sha256, "attachments": q.attachments, "about": q.about }),
        ),
    )?;
    info!(email.id = %q.id, email.kind = %q.kind, groups = %q.groups.join(","), recipients = q.to.len(), "Queued the {} report {} for {} recipient(s).", q.kind, q.id, q.to.len());
    Ok(q)
}

/// Queues a report at most once for `key`: its id comes from the key, and
/// an entry of that id already queued or sent is left as it is (`None`).
/// A caller that queues and then records that it did can crash in between
/// and call again: the report still goes out once.
pub fn queue_once(
    ctx: &App,
    key: &str,
    email: &Email,
    about: serde_json::Value,
) -> anyhow::Result<Option<Queued>> {
    let id = crate::state::typed::once_id(key);
    let d = dir(&ctx.config.paths.data_dir);
    if d.join(format!("{id}.json")).exists() || d.join("sent").join(format!("{id}.eml")).exists() {
        return Ok(None);
    }
    let email = Email {
        id,
        ..email.clone()
    };
    queue(ctx, &email, about).map(Some)
}

/// Every queued entry, oldest first (unreadable ones are reported, not dropped).
pub fn list(data_dir: &Path) -> Vec<Queued> {
    let d = dir(data_dir);
    let Ok(entries) = std::fs::read_dir(&d) else {
        return Vec::new();
    };
    let mut out: Vec<Queued> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .filter_map(|p| match std::fs::read(&p).map_err(anyhow::Error::from).and_then(|b| Ok(serde_json::from_slice::<Queued>(&b)?)) {
            Ok(q) => Some(q),
            Err(e) => {
                warn!(file.path = %p.display(), "Cannot read the outbox entry {}: {e:#}", p.display());
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    out
}

/// What a delivery pass did.
#[derive(Debug, Default, Clone)]
pub struct Delivery {
    pub sent: Vec<String>,
    /// (id, error) of the attempts that failed (the entries stay queued).
    pub failed: Vec<(String, String)>,
    /// Entries still queued after the pass.
    pub queued: usize,
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(cfg: &crate::config::email::EmailConfig, attempts: u32) -> chrono::Duration {
    let base =
        cfg.retry_initial_secs.max(1) as f64 * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let capped = base.min(cfg.retry_max_secs.max(1) as f64);
    // ±20% jitter so many queued reports do not retry in lockstep.
    let nanos = Utc::now().timestamp_subsec_nanos() as f64 / 1e9;
    let jittered = capped * (0.8 + 0.4 * nanos);
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// Sends every entry that is due (all of them with `force`).
pub async fn deliver(ctx: &App, force: bool) -> Delivery {
    let data_dir = ctx.config.paths.data_dir.clone();
    let mut report = Delivery::default();
    // One delivery pass at a time, across processes (the daemon's loop and a
    // `s321d report` by hand), so no entry is sent twice.
    let _lock = match lock(&data_dir) {
        Ok(Some(l)) => l,
        Ok(None) => {
            report.queued = update_gauges(ctx);
            return report;
        }
        Err(e) => {
            warn!("Cannot lock the outbox; not delivering now: {e:#}");
            report.queued = update_gauges(ctx);
            return report;
        }
    };
    let now = Utc::now();
    for mut q in list(&data_dir) {
        if !force && q.next_attempt_at > now {
            continue;
        }
        let eml = dir(&data_dir).join(format!("{}.eml", q.id));
        let result = match std::fs::read(&eml) {
            Ok(bytes) => super::smtp::send(&ctx.config.email, &q.from, &q.to, &bytes)
                .await
                .map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("cannot read {}: {e}", eml.display())),
        };
        match result {
            Ok(answer) => {
                let event = AuditEvent::new(
                    "email.sent",
                    serde_json::json!({ "id": q.id, "kind": q.kind, "subject": q.subject, "message_id": q.message_id,
                        "recipients": q.to, "groups": q.groups, "attempts": q.attempts + 1, "server_answer": answer,
                        "sha256": q.sha256, "attachments": q.attachments, "about": q.about }),
                );
                if let Err(e) = crate::audit::record(ctx, event) {
                    warn!(email.id = %q.id, "Sent report {} but cannot record it in the audit trail: {e:#}", q.id);
                }
                let sent_dir = dir(&data_dir).join("sent");
                let _ = std::fs::create_dir_all(&sent_dir);
                if let Err(e) = std::fs::rename(&eml, sent_dir.join(format!("{}.eml", q.id))) {
                    warn!(email.id = %q.id, "Cannot move the sent report {} out of the queue: {e}", q.id);
                }
                let _ = std::fs::remove_file(dir(&data_dir).join(format!("{}.json", q.id)));
                crate::fsutil::sync_dir(&dir(&data_dir)).ok();
                ctx.metrics
                    .inc("s321d_emails_sent_total", vec![("kind", q.kind.clone())]);
                info!(email.id = %q.id, email.kind = %q.kind, attempts = q.attempts + 1, recipients = q.to.len(), "Sent the {} report {} to {} recipient(s).", q.kind, q.id, q.to.len());
                report.sent.push(q.id.clone());
            }
            Err(e) => {
                q.attempts += 1;
                q.last_error = Some(e.clone());
                q.next_attempt_at = Utc::now() + backoff(&ctx.config.email, q.attempts);
                let path = dir(&data_dir).join(format!("{}.json", q.id));
                if let Err(we) = serde_json::to_vec_pretty(&q)
                    .map_err(anyhow::Error::from)
                    .and_then(|b| write_atomic_bytes(&path, &b))
                {
                    warn!(email.id = %q.id, "Cannot update the outbox entry {}: {we:#}", q.id);
                }
                ctx.metrics
                    .inc("s321d_email_failures_total", vec![("kind", q.kind.clone())]);
                warn!(
                    email.id = %q.id,
                    attempts = q.attempts,
                    next_attempt = %q.next_attempt_at.to_rfc3339(),
                    "Cannot send the {} report {} (attempt {}); it stays queued and is retried at {}: {e}",
                    q.kind, q.id, q.attempts, q.next_attempt_at.to_rfc3339()
                );
                report.failed.push((q.id.clone(), e));
            }
        }
    }
    report.queued = update_gauges(ctx);
    report
}

/// Takes the outbox lock, or `None` if another delivery holds it.
fn lock(data_dir: &Path) -> anyhow::Result<Option<std::fs::File>> {
    let d = dir(data_dir);
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(d.join(".lock"))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Sets the queue gauges; returns the queue length.
pub fn update_gauges(ctx: &App) -> usize {
    let q = list(&ctx.config.paths.data_dir);
    ctx.metrics
        .set("s321d_email_queued", vec![], q.len() as f64);
    let oldest = q
        .iter()
        .map(|e| e.created_at)
        .min()
        .map_or(0.0, |t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0);
    ctx.metrics
        .set("s321d_email_oldest_queued_seconds", vec![], oldest.max(0.0));
    q.len()
}

/// Readiness problems: queued reports whose delivery has failed.
pub fn readiness(data_dir: &Path) -> (Vec<String>, Vec<String>) {
    let q = list(data_dir);
    let failing: Vec<&Queued> = q.iter().filter(|e| e.attempts > 0).collect();
    let mut problems = Vec::new();
    if let Some(first) = failing.first() {
        problems.push(format!(
            "email: {} report(s) queued after failed delivery (oldest {} since {}, {} attempt(s), next at {}): {}",
            failing.len(),
            first.id,
            first.created_at.to_rfc3339(),
            first.attempts,
            first.next_attempt_at.to_rfc3339(),
            first.last_error.as_deref().unwrap_or("unknown error")
        ));
    }
    let lines = vec![format!("email: {} report(s) queued", q.len())];
    (problems, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let cfg = crate::config::email::EmailConfig {
            retry_initial_secs: 10,
            retry_max_secs: 60,
            ..Default::default()
        };
        let s = |n| backoff(&cfg, n).num_milliseconds() as f64 / 1000.0;
        assert!((8.0..=12.0).contains(&s(1)), "{}", s(1));
        assert!((16.0..=24.0).contains(&s(2)), "{}", s(2));
        assert!((48.0..=72.0).contains(&s(10)), "{}", s(10));
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("outbox/a.json");
        write_atomic_bytes(&p, b"{}").unwrap();
        write_atomic_bytes(&p, b"{\"x\":1}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"x\":1}");
        let names: Vec<_> = std::fs::read_dir(d.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
