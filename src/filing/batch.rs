//! Transport A: CATAIR batch files.
//!
//! A run's entries go out as one batch file, `<filer>-<run id>.sei`, in the
//! outbound location (any source: local, bucket, SFTP), written atomically:
//! the envelope (`A` batch header, `B` block header, `Y` block trailer, `Z`
//! batch trailer) around blocks of at most `block_size` transactions, each
//! transaction an entry's SE records. Responses come back in the inbound
//! location: `<batch>.sx` (acknowledgements: the echoed SE10/SE15, record-level
//! SE90 11/13 after faulty records, and one transaction-level SE90 01-04), and
//! `*.so` (status notifications: SO10 then SO60 release dispositions). Read
//! responses move to `processed/` under the inbound location.
//!
//! A pending filing's batch is re-written only when it provably never left:
//! not in the outbound folder, not consumed (`outbound/processed/`, where the
//! VAN or simulator moves what it took), and not answered.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::Utc;
use tracing::{info, warn};

use super::catair::{self, Record};
use super::entry::{self, Entry};
use super::{Response, ack_state, release_state};
use crate::intake::Context;
use crate::sources;
use crate::state::ledger::{FilingState, LedgerStore};

/// The batch file of a run.
pub fn batch_name(filer_code: &str, run_id: &str) -> String {
    format!("{filer_code}-{run_id}.sei")
}

/// The lines of a batch: envelope and transactions, every one 80 characters.
pub fn batch_lines(filer_code: &str, batch_no: u64, entries: &[Entry], block_size: usize) -> anyhow::Result<Vec<String>> {
    let date = Utc::now().format("%m%d%y").to_string();
    let mut lines = Vec::new();
    let mut a = Record::new(&catair::A_REC);
    a.set("filer_code", filer_code)?.set("date", &date)?.num("batch", batch_no % 1_000_000)?;
    lines.push(a.line());
    let mut blocks = 0;
    for block in entries.chunks(block_size.max(1)) {
        blocks += 1;
        let mut b = Record::new(&catair::B_REC);
        b.set("filer_code", filer_code)?.set("application", "SE")?;
        lines.push(b.line());
        let mut count = 0;
        for e in block {
            for r in entry::records(e)? {
                lines.push(r.line());
                count += 1;
            }
        }
        let mut y = Record::new(&catair::Y_REC);
        y.num("records", count)?;
        lines.push(y.line());
    }
    let mut z = Record::new(&catair::Z_REC);
    z.set("filer_code", filer_code)?.set("date", &date)?.num("batch", batch_no % 1_000_000)?.num("blocks", blocks)?;
    lines.push(z.line());
    Ok(lines)
}

/// Writes a batch atomically to the outbound location and marks its entries submitted.
pub async fn write_batch(ctx: &Context, name: &str, entries: &[Entry]) -> anyhow::Result<()> {
    let cfg = &ctx.config.filing.catair;
    let filer = ctx.config.filing.filer_code.to_ascii_uppercase();
    let batch_no = Utc::now().timestamp() as u64;
    let text = batch_lines(&filer, batch_no, entries, cfg.block_size)?.join("\n") + "\n";
    let out = ctx.source(&cfg.outbound_source)?;
    let path = sources::join(&[&cfg.outbound_path, name]);
    crate::intake::retry::retry(ctx.retry, "writing a CATAIR batch", || out.put(&path, text.as_bytes())).await?;
    crate::intake::crash_point("batch-written");
    super::mark_submitted(ctx, entries.iter().map(|e| e.entry_number.as_str()), &format!("sent in CATAIR batch {name}"))?;
    info!(batch = %name, entries = entries.len(), "Wrote CATAIR batch {name} with {} entr(ies) to {}.", entries.len(), out.describe());
    Ok(())
}

/// Reconciles `pending` CATAIR filings by batch.
pub async fn reconcile(ctx: &Context) -> anyhow::Result<()> {
    let pending: Vec<_> = ctx.db(|s| s.filings_in(&[FilingState::Pending]))?.into_iter().filter(|f| f.transport == "catair").collect();
    if pending.is_empty() {
        return Ok(());
    }
    let cfg = &ctx.config.filing.catair;
    let out = ctx.source(&cfg.outbound_source)?;
    let inbound = ctx.source(&cfg.inbound_source)?;
    let mut by_batch: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for f in pending {
        by_batch.entry(f.batch.clone().unwrap_or_default()).or_default().push(f);
    }
    for (name, filings) in by_batch {
        let left = out.exists(&sources::join(&[&cfg.outbound_path, &name])).await?
            || out.exists(&sources::join(&[&cfg.outbound_path, "processed", &name])).await?
            || inbound.exists(&sources::join(&[&cfg.inbound_path, &format!("{name}.sx")])).await?
            || inbound.exists(&sources::join(&[&cfg.inbound_path, "processed", &format!("{name}.sx")])).await?;
        if left {
            super::mark_submitted(ctx, filings.iter().map(|f| f.entry_number.as_str()), &format!("reconciled: batch {name} was sent"))?;
        } else {
            let entries: Vec<Entry> = filings
                .iter()
                .map(|f| serde_json::from_str(&f.payload).context("a pending filing's payload is not an entry"))
                .collect::<anyhow::Result<_>>()?;
            warn!(batch = %name, entries = entries.len(), "Batch {name} never left: writing it again.");
            write_batch(ctx, &name, &entries).await?;
        }
    }
    Ok(())
}

/// `ABC-1234567-6` from an SE10/SO10 record.
fn entry_number_of(r: &Record) -> String {
    let n = r.get("entry_number");
    if n.len() == 8 { format!("{}-{}-{}", r.get("filer_code"), &n[..7], &n[7..]) } else { String::new() }
}

/// Parses an acknowledgement file (`.sx`) of batch `batch`.
pub fn parse_ack(text: &str, batch: &str, batch_entries: &[String]) -> anyhow::Result<Vec<Response>> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut errors: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r = Record::parse(line, i + 1)?;
        match r.id() {
            "SE10" => {
                current = Some(entry_number_of(&r));
                errors.clear();
            }
            "SE90" => {
                let message_type = r.get("message_type");
                let condition = r.get("condition").to_owned();
                let narrative = r.get("narrative").to_owned();
                match (message_type, &current) {
                    // Record-level: collected into the transaction's message.
                    ("11" | "13", _) => errors.push(format!("{condition} {narrative}")),
                    (t, Some(number)) => {
                        if let Some(state) = ack_state(t) {
                            let detail = if errors.is_empty() { String::new() } else { format!("; records: {}", errors.join(" | ")) };
                            out.push(Response {
                                entry_number: number.clone(),
                                state,
                                code: condition.clone(),
                                narrative: narrative.clone(),
                                message: format!("SX {batch}: SE90 {t} {condition} {narrative}{detail}"),
                            });
                        }
                        current = None;
                    }
                    // Before any transaction: the whole batch was refused.
                    (t, None) if ack_state(t) == Some(FilingState::Rejected) => {
                        for number in batch_entries {
                            out.push(Response {
                                entry_number: number.clone(),
                                state: FilingState::Rejected,
                                code: condition.clone(),
                                narrative: narrative.clone(),
                                message: format!("SX {batch}: batch rejected: {condition} {narrative}"),
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parses a status notification file (`.so`).
pub fn parse_status(text: &str, file: &str) -> anyhow::Result<Vec<Response>> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r = Record::parse(line, i + 1)?;
        match r.id() {
            "SO10" => current = Some(entry_number_of(&r)),
            "SO60" => {
                if let Some(number) = &current {
                    let code = r.get("code").to_owned();
                    let narrative = r.get("narrative").to_owned();
                    out.push(Response {
                        entry_number: number.clone(),
                        state: release_state(&code),
                        message: format!("SO {file}: SO60 {code} {narrative}"),
                        code,
                        narrative,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reads every response in the inbound location, applies it to the ledger,
/// then files it away under `processed/`.
pub async fn read_responses(ctx: &Context) -> anyhow::Result<()> {
    let cfg = &ctx.config.filing.catair;
    let any_catair = ctx
        .db(|s| s.filings_in(&[FilingState::Pending, FilingState::Submitted, FilingState::Accepted, FilingState::Held, FilingState::Detained]))?
        .iter()
        .any(|f| f.transport == "catair");
    if !any_catair {
        return Ok(());
    }
    let inbound = ctx.source(&cfg.inbound_source)?;
    for file in inbound.list(&cfg.inbound_path).await? {
        // Only finished responses: a dot file is one still being written.
        let wanted = !file.name.starts_with('.') && (file.name.ends_with(".sx") || file.name.ends_with(".so"));
        if !wanted {
            continue;
        }
        let bytes = match inbound.get(&file.path).await {
            Ok(b) => b,
            Err(sources::SourceError::NotFound { .. }) => continue, // taken away meanwhile
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = if let Some(batch) = file.name.strip_suffix(".sx") {
            let numbers: Vec<String> = ctx.db(|s| s.filings_in(&FilingState::ALL))?.into_iter().filter(|f| f.batch.as_deref() == Some(batch)).map(|f| f.entry_number).collect();
            parse_ack(&text, batch, &numbers)
        } else {
            parse_status(&text, &file.name)
        };
        match parsed {
            Ok(responses) => {
                super::apply(ctx, &responses)?;
                inbound.rename(&file.path, &sources::join(&[&cfg.inbound_path, "processed", &file.name])).await?;
            }
            Err(e) => {
                // Kept aside, not lost: an operator can read it.
                warn!(file.name = %file.name, "Cannot read ACE response {}: {e}; moved to rejected/.", file.name);
                inbound.rename(&file.path, &sources::join(&[&cfg.inbound_path, "rejected", &file.name])).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_have_an_envelope_and_blocks() {
        let mut e = crate::filing::entry::tests_support::sample();
        let mut entries = Vec::new();
        for s in 1..=5u64 {
            e.entry_number = crate::filing::entry_number::EntryNumber::new("ABC", s).unwrap().to_string();
            entries.push(e.clone());
        }
        let lines = batch_lines("ABC", 7, &entries, 2).unwrap();
        assert!(lines.iter().all(|l| l.len() == 80));
        assert!(lines[0].starts_with("AABC"));
        assert!(lines.last().unwrap().starts_with("ZABC"));
        assert_eq!(lines.iter().filter(|l| l.starts_with('B')).count(), 3, "5 entries in blocks of 2");
        assert_eq!(lines.iter().filter(|l| l.starts_with("SE10")).count(), 5);
        let z = Record::parse(lines.last().unwrap(), 1).unwrap();
        assert_eq!(z.get("blocks"), "000003");
    }

    #[test]
    fn acknowledgements_and_status_notifications_parse() {
        let mut se10 = Record::new(&catair::SE10);
        se10.set("filer_code", "ABC").unwrap().set("entry_number", "12345676").unwrap().set("entry_type", "86").unwrap();
        let mut rec_err = Record::new(&catair::SE90);
        rec_err.set("message_type", "11").unwrap().set("condition", "H01").unwrap().set("narrative", "HTS NOT 10 DIGITS").unwrap();
        let mut txn = Record::new(&catair::SE90);
        txn.set("message_type", "01").unwrap().set("condition", "H01").unwrap().set("narrative", "ENTRY REJECTED").unwrap();
        let text = [se10.line(), rec_err.line(), txn.line()].join("\n");
        let r = parse_ack(&text, "b", &[]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].entry_number.as_str(), r[0].state, r[0].code.as_str()), ("ABC-1234567-6", FilingState::Rejected, "H01"));
        assert!(r[0].message.contains("HTS NOT 10 DIGITS"));

        let mut batch = Record::new(&catair::SE90);
        batch.set("message_type", "01").unwrap().set("condition", "999").unwrap().set("narrative", "BATCH REJECTED").unwrap();
        let r = parse_ack(&batch.line(), "b", &["ABC-0000001-X".into(), "ABC-0000002-Y".into()]).unwrap();
        assert_eq!(r.len(), 2, "a batch rejection rejects every entry of the batch");

        let mut so10 = Record::new(&catair::SO10);
        so10.set("filer_code", "ABC").unwrap().set("entry_number", "12345676").unwrap();
        let mut so60 = Record::new(&catair::SO60);
        so60.set("code", "98").unwrap().set("narrative", "RELEASED").unwrap();
        let r = parse_status(&[so10.line(), so60.line()].join("\n"), "x.so").unwrap();
        assert_eq!((r[0].state, r[0].code.as_str()), (FilingState::Released, "98"));
    }
}
