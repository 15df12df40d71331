//! Compliance reporting: the daily dashboard email, exception reports after
//! runs, privacy masking, previews, and the outbox that never drops a report.
//!
//! - [`dashboard`] + [`render`] + [`charts`]: the daily dashboard, aggregated
//!   with polars over the day's run outputs, as HTML, text and PNG charts.
//! - [`exceptions`] + [`xlsx`]: per-carrier exception reports with XLSX and CSV.
//! - [`email`]: a rendered report as a MIME message or a preview folder.
//! - [`outbox`] + [`smtp`]: the on-disk queue, delivery with backoff, lettre.
//! - [`mask`], [`remedies`], [`html`]: the parts they share.
//!
//! Reports only read run outputs, the runs table and the ledger; they never
//! change them. What was sent is recorded in the audit trail.

pub mod charts;
pub mod dashboard;
pub mod email;
pub mod exceptions;
pub mod html;
pub mod mask;
pub mod outbox;
pub mod remedies;
pub mod render;
pub mod smtp;
pub mod xlsx;

use std::path::Path;

use crate::app::App;

/// Writes an email to a preview folder, addressed as it would be sent.
pub fn preview(ctx: &App, e: &email::Email, dir: &Path) -> anyhow::Result<()> {
    let from = email::sender(&ctx.config.email)?;
    let to = email::recipients(&e.groups, &ctx.config.email).unwrap_or_default();
    e.write_preview(dir, &from, &to)
}
