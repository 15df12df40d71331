//! Filing with CBP's ACE.
//!
//! What is filed: shipments routed `86` (only where the regime on the arrival
//! date allows it: routing already ensures that) and `11`. `01` shipments go
//! to `formal_entries.csv` in the run's output folder (and the reports), not
//! filed; `hold` and `duplicate` are never filed.
//!
//! How, exactly once: for each shipment the ledger allocates an entry number
//! and records the filing as `pending` *before* anything is sent
//! (`state::ledger`). After a crash, every `pending` filing is reconciled
//! first — the gateway is asked about it, or the batch and its responses are
//! looked for — and only then is anything new sent. Re-sending is safe: the
//! gateway deduplicates on the entry number (the idempotency key), and a
//! batch is only re-written when it provably never left.
//!
//! Transports: `http` (a broker's ACE gateway, JSON over HTTPS) and `catair`
//! (80-column batch files dropped in an outbound location, SX and SO
//! responses read from an inbound one).

pub mod batch;
pub mod catair;
pub mod entry;
pub mod entry_number;
pub mod http;

use std::collections::BTreeMap;

use anyhow::Context as _;
use tracing::{info, warn};

use crate::intake::Context;
use crate::job::{FilingTransport, Job};
use crate::sources;
use crate::state::intake::IntakeStore;
use crate::state::ledger::{Applied, FilingState, LedgerStore, NewFiling, Transition};
use entry::{Entry, EntryDefaults};
use entry_number::EntryNumber;

/// Filings recorded per ledger transaction.
const INTENT_CHUNK: usize = 2000;

/// A response, reduced to what the ledger needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub entry_number: String,
    pub state: FilingState,
    pub code: String,
    pub narrative: String,
    /// The message as received, for the audit trail.
    pub message: String,
}

/// The filing state an SE90 transaction-level message type means.
pub fn ack_state(message_type: &str) -> Option<FilingState> {
    match message_type {
        "02" | "03" => Some(FilingState::Accepted),
        "01" => Some(FilingState::Rejected),
        "04" => Some(FilingState::Held), // referred to human review
        _ => None,
    }
}

/// The filing state an SO60 release disposition means.
pub fn release_state(code: &str) -> FilingState {
    match code {
        "98" | "01" | "97" | "22" => FilingState::Released,
        "04" => FilingState::Detained,
        "23" => FilingState::Cancelled,
        // 90 under review, 99 suspended, 96 documents, 03 exam, 29 not
        // released, 30/33/34 de minimis, 70-73 quota, 79, 82/83 split...
        _ => FilingState::Held,
    }
}

/// Applies responses to the ledger in one transaction; returns how many
/// moved a filing.
pub fn apply(ctx: &Context, responses: &[Response]) -> anyhow::Result<usize> {
    if responses.is_empty() {
        return Ok(0);
    }
    let list: Vec<Transition<'_>> = responses
        .iter()
        .map(|r| Transition { entry_number: &r.entry_number, to: r.state, code: Some(&r.code), narrative: Some(&r.narrative), message: &r.message })
        .collect();
    let outcomes = ctx.db(|s| s.transitions(&list))?;
    let mut moved = 0;
    for (r, outcome) in responses.iter().zip(outcomes) {
        match outcome {
            Applied::Moved => {
                moved += 1;
                ctx.metrics.inc("s321d_filing_transitions_total", vec![("state", r.state.as_str().to_owned())]);
            }
            Applied::Ignored => {}
            Applied::Unknown => {
                warn!(entry = %r.entry_number, "A response names entry {} that this ledger never filed; ignored.", r.entry_number)
            }
        }
    }
    Ok(moved)
}

/// Marks entries sent, in one transaction.
pub fn mark_submitted<'a>(ctx: &Context, entry_numbers: impl IntoIterator<Item = &'a str>, message: &str) -> anyhow::Result<()> {
    let list: Vec<Transition<'_>> = entry_numbers
        .into_iter()
        .map(|n| Transition { entry_number: n, to: FilingState::Submitted, code: None, narrative: None, message })
        .collect();
    ctx.db(|s| s.transitions(&list))?;
    Ok(())
}

/// What filing a run did.
#[derive(Debug, Default, Clone)]
pub struct FilingReport {
    pub filed: usize,
    pub already_filed: usize,
    pub formal: usize,
    pub not_sent: usize,
    pub states: BTreeMap<String, usize>,
}

fn defaults(ctx: &Context) -> anyhow::Result<EntryDefaults> {
    let f = &ctx.config.filing;
    anyhow::ensure!(!f.filer_code.is_empty(), "filing.filer_code is not set: cannot file");
    Ok(EntryDefaults {
        filer_code: f.filer_code.to_ascii_uppercase(),
        mode_of_transport: f.mode_of_transport.clone(),
        ior_type: f.ior_type.clone(),
        ior_number: f.ior_number.clone(),
    })
}

/// Reconciles every `pending` filing, then reads any new responses.
pub async fn reconcile(ctx: &Context) -> anyhow::Result<()> {
    http::reconcile(ctx).await?;
    batch::reconcile(ctx).await?;
    poll(ctx).await
}

/// Reads responses that arrived since last time (both transports). Each is
/// applied to the ledger before it is marked read (the file moved away, the
/// cursor advanced), so a crash in between re-reads it, and re-applying is
/// harmless: a transition that does not move forward is only recorded.
pub async fn poll(ctx: &Context) -> anyhow::Result<()> {
    batch::read_responses(ctx).await?;
    http::read_notifications(ctx).await
}

/// Files the eligible shipments of a finished run.
pub async fn file_run(ctx: &Context, job: &Job, run_id: &str, transport: FilingTransport) -> anyhow::Result<FilingReport> {
    let started = std::time::Instant::now();
    let defaults = defaults(ctx)?;
    reconcile(ctx).await.context("reconciling earlier filings before sending new ones")?;
    let run = ctx.db(|s| s.run(run_id))?.with_context(|| format!("no run {run_id}"))?;
    anyhow::ensure!(run.kind != "replay", "run {run_id} is a replay: replays are never filed");
    let out = ctx.source(&job.output.source)?;
    let folder = sources::join(&[&job.output.path, run_id]);
    let dispositions = out.get(&sources::join(&[&folder, "dispositions.csv"])).await.with_context(|| format!("run {run_id} has no dispositions"))?;
    let selection = entry::select(&dispositions)?;
    let mut report = FilingReport { formal: selection.formal.len(), ..FilingReport::default() };

    // The formal-entry list, beside the run's other outputs.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["source_file", "carrier", "house_bill", "arrival_date", "total_usd", "reasons"])?;
    for f in &selection.formal {
        w.serialize((&f.source_file, &f.carrier, &f.house_bill, &f.arrival_date, &f.total_usd, &f.reasons))?;
    }
    out.put(&sources::join(&[&folder, "formal_entries.csv"]), &w.into_inner()?).await?;

    // Entries from the run's archived files.
    let archive = ctx.source(&ctx.config.archive.source)?;
    let scratch = ctx.staging().join("filing").join(run_id);
    let mut entries: Vec<Entry> = Vec::new();
    for f in ctx.db(|s| s.files_of_run(run_id))? {
        let Some(path) = f.archive.as_deref() else { continue };
        let local = match archive.local_path(path) {
            Some(p) => p,
            None => {
                let p = scratch.join(format!("{}-{}", f.id, f.name));
                archive.download(path, &p).await?;
                p
            }
        };
        let (job_arc, name, sel, policy, defaults) = (job.clone(), f.name.clone(), &selection, ctx.policy.clone(), defaults.clone());
        entries.extend(entry::build_from_file(&job_arc, &name, &local, sel, &policy, &defaults)?);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let built_ms = started.elapsed().as_millis() as u64;

    // Intent first: every entry gets its number and a pending filing, then is
    // sent. Chunks bound the transaction size; a crash between chunks leaves
    // pending filings that the next attempt reconciles.
    let batch_name = (transport == FilingTransport::Catair).then(|| batch::batch_name(&defaults.filer_code, run_id));
    let make = |serial: u64| EntryNumber::new(&defaults.filer_code, serial).ok().map(|n| n.to_string());
    let first = ctx.config.filing.first_serial;
    let mut pending = Vec::new();
    for chunk in entries.chunks_mut(INTENT_CHUNK) {
        // The payload is the entry as sent, with the number the ledger gives it.
        let payloads: Vec<_> = chunk
            .iter()
            .map(|e| {
                move |number: &str| {
                    let mut p = e.clone();
                    p.entry_number = number.to_owned();
                    serde_json::to_string(&p).unwrap_or_default()
                }
            })
            .collect();
        let filings: Vec<NewFiling<'_>> = chunk
            .iter()
            .zip(&payloads)
            .map(|(e, payload)| NewFiling {
                carrier: &e.carrier,
                house_bill: &e.house_bill,
                entry_type: &e.entry_type,
                job: &job.name,
                run_id,
                transport: transport.as_str(),
                batch: batch_name.as_deref(),
                payload,
            })
            .collect();
        let recorded = ctx.db(|s| s.record_intents(&defaults.filer_code, first, &make, &filings))?;
        for (e, filing) in chunk.iter_mut().zip(recorded) {
            match filing {
                Some(f) => {
                    e.entry_number = f.entry_number;
                    pending.push(e.clone());
                }
                None => report.already_filed += 1,
            }
        }
    }
    crate::intake::crash_point("filing-intent");
    let recorded_ms = started.elapsed().as_millis() as u64;
    report.filed = pending.len();
    match transport {
        FilingTransport::Http => report.not_sent = http::send_all(ctx, &pending).await?,
        FilingTransport::Catair => {
            if let Some(name) = &batch_name {
                if !pending.is_empty() {
                    batch::write_batch(ctx, name, &pending).await?;
                }
            }
        }
    }
    let sent_ms = started.elapsed().as_millis() as u64;
    poll(ctx).await?;
    for f in ctx.db(|s| s.filings_of_run(run_id))? {
        *report.states.entry(f.state.as_str().to_owned()).or_insert(0) += 1;
    }
    ctx.db(|s| s.set_value(&format!("filing:{run_id}"), "done"))?;
    info!(
        job.name = %job.name,
        run.id = %run_id,
        transport = transport.as_str(),
        filed = report.filed,
        formal = report.formal,
        built_ms,
        recorded_ms,
        sent_ms,
        duration_ms = started.elapsed().as_millis() as u64,
        "Filed {} entr(ies) of run {run_id} over {}; {} shipment(s) need a formal entry.",
        report.filed,
        transport.as_str(),
        report.formal
    );
    Ok(report)
}
