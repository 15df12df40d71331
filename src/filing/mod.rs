//! Filing with CBP's ACE.
//!
//! What is filed (from a finished run's outputs, see [`plan`]): each shipment
//! routed `86` as an entry of its own (routing already allows `86` only where
//! the regime on the arrival date does), and each type 11 entry of the run's
//! `entries.csv` as one entry with all its house bills and lines. Type 01 and
//! 03 entries go to `formal_entries.csv` in the run's output folder, for a
//! broker (type 01 is filed like a type 11 with `formal_entries = "file"`);
//! a type 11 that cannot be filed (V010: no IOR number; a house bill
//! already on another entry; lines not in the archive) goes to
//! `not_filed.csv` with the reason; `hold` and `duplicate` are never filed.
//!
//! How, exactly once: for each entry the ledger allocates an entry number and
//! records the filing as `pending`, with every house bill of it under a key
//! no second entry can take, *before* anything is sent (`state::ledger`).
//! After a crash, every `pending` filing is reconciled first — the gateway is
//! asked about it, or the batch and its responses are looked for — and only
//! then is anything new sent. Re-sending is safe: the gateway deduplicates on
//! the entry number (the idempotency key), and a batch is only re-written
//! when it provably never left.
//!
//! Entry summaries (AE) of type 11 and 01 entries follow the release, or
//! stand for it when certified: [`summary`] writes them, [`summary_filing`]
//! sends them and reads ACE's answers, exactly once as above.
//!
//! Transports: `http` (a broker's ACE gateway, JSON over HTTPS) and `catair`
//! (80-column batch files dropped in an outbound location, SX and SO
//! responses read from an inbound one).

pub mod batch;
pub mod cape;
pub mod catair;
pub mod entry;
pub mod http;
pub mod plan;
pub mod release;
pub mod settings;
pub mod story;
pub mod summary;
pub mod summary_filing;

use std::collections::BTreeMap;

use anyhow::Context as _;
use tracing::{info, warn};

use crate::app::App;
use crate::entry_number::{self, EntryNumber};
use crate::job::{FilingTransport, Job};
use crate::paths;
use crate::sources;
use crate::state::ledger::{self, Applied, FilingState, Intent, NewFiling, NotFiled, Transition};
use crate::state::types::{Duty, DutyState};
use entry::EntryDefaults;

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

/// The filing state an SO60 release disposition code means (a gateway's
/// `release` field carries the same codes): see [`catair::status::release_state`];
/// `None` when the notice moves nothing.
pub fn release_state(code: &str) -> Option<FilingState> {
    catair::status::release_state(code, "")
}

/// Applies responses to the ledger in one transaction; returns how many
/// moved a filing.
pub fn apply(ctx: &App, responses: &[Response]) -> anyhow::Result<usize> {
    if responses.is_empty() {
        return Ok(0);
    }
    let list: Vec<Transition<'_>> = responses
        .iter()
        .map(|r| Transition {
            entry_number: &r.entry_number,
            to: r.state,
            code: Some(&r.code),
            narrative: Some(&r.narrative),
            message: &r.message,
        })
        .collect();
    let outcomes = ctx.db(|s| s.transitions(&list))?;
    let mut moved = 0;
    for (r, outcome) in responses.iter().zip(outcomes) {
        match outcome {
            Applied::Moved => {
                moved += 1;
                ctx.metrics.inc(
                    "s321d_filing_transitions_total",
                    vec![("state", r.state.as_str().to_owned())],
                );
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
pub fn mark_submitted<'a>(
    ctx: &App,
    entry_numbers: impl IntoIterator<Item = &'a str>,
    message: &str,
) -> anyhow::Result<()> {
    let list: Vec<Transition<'_>> = entry_numbers
        .into_iter()
        .map(|n| Transition {
            entry_number: n,
            to: FilingState::Submitted,
            code: None,
            narrative: None,
            message,
        })
        .collect();
    ctx.db(|s| s.transitions(&list))?;
    Ok(())
}

/// What filing a run did, in entries.
#[derive(Debug, Default, Clone)]
pub struct FilingReport {
    /// Entries given a number and sent (or written to a batch) now.
    pub filed: usize,
    /// Entries whose house bills were all on filed entries already.
    pub already_filed: usize,
    /// Type 01 and 03 entries listed in `formal_entries.csv`.
    pub formal: usize,
    /// Entries listed in `not_filed.csv` (V010, a bill on another entry, ...).
    pub not_filed: usize,
    /// Entries sent that got no answer yet (they stay pending).
    pub not_sent: usize,
    /// Entries ACE already held (every house bill on one entry, filed from
    /// another or a lost state store): recorded under ACE's number, listed
    /// in `adopted.csv`, not filed again.
    pub adopted: usize,
    /// Entries of the run still waiting after the retries: pending in the
    /// ledger (sent and unanswered, or never sent), or not numbered at all
    /// because the gateway could not be asked about their house bills.
    pub pending: usize,
    /// Why they wait: the last transport error, naming the gateway.
    pub pending_why: Option<String>,
    pub states: BTreeMap<String, usize>,
}

impl FilingReport {
    /// The failure to report when entries still wait (exit non-zero, a
    /// job's run fails), naming how many and why.
    pub fn failure(&self) -> Option<String> {
        (self.pending > 0).then(|| {
            format!(
                "{} entr(ies) still pending after the retries: {}",
                self.pending,
                self.pending_why
                    .as_deref()
                    .unwrap_or("no answer from ACE yet")
            )
        })
    }
}

/// Records what the gateway did: `None`, it answered; `Some(why)`, it could
/// not be reached after the retries. An outage is alerted once — one WARN,
/// `s321d_filing_gateway_up` 0, `/readyz` naming it — however many requests
/// fail during it, and its end is logged once at INFO.
pub fn gateway_seen(ctx: &App, down: Option<&str>) {
    let url = &ctx.config.filing.http.url;
    match down {
        Some(why) => {
            ctx.metrics.set("s321d_filing_gateway_up", Vec::new(), 0.0);
            if ctx.status.gateway_down(why) {
                warn!(gateway.url = %url, "The ACE gateway {url} cannot be reached ({why}); filing is degraded: entries wait, pending, until it answers.");
            }
        }
        None => {
            ctx.metrics.set("s321d_filing_gateway_up", Vec::new(), 1.0);
            if let Some(since) = ctx.status.gateway_up() {
                info!(gateway.url = %url, "The ACE gateway {url} answers again (unreachable since {}).", since.to_rfc3339());
            }
        }
    }
}

/// [`gateway_seen`] for an error that may be an [`http::Unreachable`].
pub fn gateway_failed(ctx: &App, e: &anyhow::Error) {
    if let Some(u) = e.downcast_ref::<http::Unreachable>() {
        gateway_seen(ctx, Some(&u.why));
    }
}

/// The outage an HTTP step met, as text naming the gateway; other errors
/// are returned.
fn outage(result: anyhow::Result<http::Unsent>, url: &str) -> anyhow::Result<Option<String>> {
    match result {
        Ok(u) if u.count == 0 => Ok(None),
        Ok(u) => Ok(Some(format!(
            "the ACE gateway {url} did not answer: {}",
            u.why.unwrap_or_default()
        ))),
        Err(e) => match e.downcast::<http::Unreachable>() {
            Ok(u) => Ok(Some(u.to_string())),
            Err(e) => Err(e),
        },
    }
}

fn defaults(ctx: &App) -> anyhow::Result<EntryDefaults> {
    let f = &ctx.config.filing;
    anyhow::ensure!(
        !f.filer_code.is_empty(),
        "filing.filer_code is not set: cannot file"
    );
    Ok(EntryDefaults {
        filer_code: f.filer_code.to_ascii_uppercase(),
        mode_of_transport: f.mode_of_transport.clone(),
        ior_type: f.ior_type.clone(),
        ior_number: f.ior_number.clone(),
    })
}

/// A type 86 entry as a broker-list row.
fn listed_86(p: &entry::Prepared) -> plan::EntryRow {
    let e = &p.entry;
    plan::EntryRow {
        entry_type: e.entry_type.clone(),
        carrier: e.carrier.clone(),
        arrival_date: e.arrival_date.to_string(),
        port_of_entry: e.port_of_entry.clone(),
        conveyance: p.record.conveyance.clone(),
        consignee_key: p.record.consignee_key.clone(),
        ior_number: e.ior_number.clone(),
        house_bills: p.bills.iter().map(|(_, h)| h.clone()).collect(),
        lines: e.lines.len().to_string(),
        entered_value_usd: p.record.entered_value_usd.clone(),
        duty_usd: p.record.duty_usd.clone(),
        mpf_usd: p.record.mpf_usd.clone(),
        hmf_usd: p.record.hmf_usd.clone(),
        total_usd: p.record.total_usd.clone(),
        duty_status: p.record.duty_status.clone(),
        ..plan::EntryRow::default()
    }
}

/// The bond, contact and party book the SE writer needs, from configuration.
pub fn writer_settings(ctx: &App) -> anyhow::Result<(settings::Filer, release::PartyBook)> {
    let f = &ctx.config.filing;
    let book = if f.parties_file.is_empty() {
        release::PartyBook::default()
    } else {
        release::PartyBook::read(std::path::Path::new(&f.parties_file))?
    };
    Ok((settings::Filer::from_config(f), book))
}

/// Records entries ACE already holds under ACE's numbers (as `accepted`:
/// ACE holds them), so its later notifications for them apply; returns the
/// `adopted.csv` rows, each saying "adopted from ACE".
fn adopt_entries(
    ctx: &App,
    job: &Job,
    run_id: &str,
    transport: FilingTransport,
    filer_code: &str,
    adopt: &[(entry::Prepared, http::BillHolder)],
    plan: &mut plan::Plan,
) -> anyhow::Result<Vec<plan::Listed>> {
    let whys: Vec<String> = adopt
        .iter()
        .map(|(_, h)| format!("adopted from ACE: entry {} (type {}, filer {}) already holds every house bill of it; this state store never filed it", h.entry_number, h.entry_type, h.filer_code))
        .collect();
    let payloads: Vec<_> = adopt
        .iter()
        .map(|(p, _)| {
            move |number: &str| {
                let mut e = p.entry.clone();
                e.entry_number = number.to_owned();
                serde_json::to_string(&e).unwrap_or_default()
            }
        })
        .collect();
    let list: Vec<(NewFiling<'_>, ledger::Adopted<'_>)> = adopt
        .iter()
        .zip(&payloads)
        .zip(&whys)
        .map(|(((p, h), payload), why)| {
            let own = entry_number::EntryNumber::parse(&h.entry_number)
                .ok()
                .filter(|n| n.filer_code == filer_code)
                .map(|n| n.serial);
            (
                NewFiling {
                    carrier: &p.bills[0].0,
                    house_bill: &p.bills[0].1,
                    bills: &p.bills,
                    entry_type: &p.entry.entry_type,
                    job: &job.name,
                    run_id,
                    transport: transport.as_str(),
                    batch: None,
                    payload,
                    record: &p.record,
                },
                ledger::Adopted {
                    entry_number: &h.entry_number,
                    state: FilingState::Accepted,
                    own_serial: own,
                    message: why,
                },
            )
        })
        .collect();
    let first = ctx.config.filing.first_serial;
    let outcomes = ctx.db(|s| s.adopt(filer_code, first, &list))?;
    drop(list);
    let mut listed = Vec::new();
    for (((p, h), why), outcome) in adopt.iter().zip(&whys).zip(outcomes) {
        let entry =
            match plan.informal.iter().position(|i| {
                i.entry.entry_ref == p.entry.entry_ref && !p.entry.entry_ref.is_empty()
            }) {
                Some(i) => plan.informal.remove(i).entry,
                None => listed_86(p),
            };
        match outcome {
            Intent::New(_) => {
                info!(run.id = %run_id, entry = %h.entry_number, "Adopted entry {} from ACE for {} {}: filed from another state store.", h.entry_number, p.bills[0].0, p.bills[0].1);
                listed.push(plan::Listed {
                    entry,
                    reasons: String::new(),
                    why: why.clone(),
                });
            }
            // Known here after all (another run recorded it meanwhile).
            Intent::AlreadyFiled(_) => {}
            Intent::Conflict(filed) => {
                let on: Vec<String> = filed
                    .iter()
                    .map(|(c, hb, n)| format!("{c} {hb} is on entry {n}"))
                    .collect();
                plan.not_filed.push(plan::Listed { entry, reasons: String::new(), why: format!("house bills already on a filed entry ({}); a house bill is never on two entries", on.join("; ")) });
            }
        }
    }
    Ok(listed)
}

/// A `not_filed.csv` row as the ledger keeps it.
fn not_filed_record(run_id: &str, l: &plan::Listed, at: chrono::DateTime<chrono::Utc>) -> NotFiled {
    let why = if l.why.is_empty() {
        l.reasons.as_str()
    } else {
        l.why.as_str()
    };
    let mut bills = l.entry.house_bills.clone();
    bills.sort();
    NotFiled {
        run_id: run_id.to_owned(),
        entry_ref: l.entry.entry_ref.clone(),
        entry_type: l.entry.entry_type.clone(),
        carrier: l.entry.carrier.clone(),
        house_bills: bills,
        reason: why.strip_prefix("not filed: ").unwrap_or(why).to_owned(),
        recorded_at: at,
    }
}

/// Reconciles every `pending` filing, then reads any new responses.
/// Returns the gateway outage that left HTTP filings pending, if any (the
/// CATAIR side and the responses are still read).
pub async fn reconcile(ctx: &App) -> anyhow::Result<Option<String>> {
    let down = outage(http::reconcile(ctx).await, &ctx.config.filing.http.url)?;
    batch::reconcile(ctx).await?;
    poll(ctx).await?;
    Ok(down)
}

/// Reads responses that arrived since last time (both transports). Each is
/// applied to the ledger before it is marked read (the file moved away, the
/// cursor advanced), so a crash in between re-reads it, and re-applying is
/// harmless: a transition that does not move forward is only recorded.
pub async fn poll(ctx: &App) -> anyhow::Result<()> {
    batch::read_responses(ctx).await?;
    http::read_notifications(ctx).await?;
    // Entry summaries follow what the answers say (a release accepted).
    summary_filing::run(ctx).await
}

/// Reads an output of the run; None when the run did not write it.
async fn run_output(
    out: &sources::Source,
    folder: &str,
    name: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    match out.get(&paths::join(&[folder, name])).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(sources::SourceError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Files the entries of a finished run: its `86` shipments one house bill
/// each, its type 11 entries with all their house bills; lists the rest.
pub async fn file_run(
    ctx: &App,
    job: &Job,
    run_id: &str,
    transport: FilingTransport,
) -> anyhow::Result<FilingReport> {
    let started = std::time::Instant::now();
    let defaults = defaults(ctx)?;
    let mut down = reconcile(ctx)
        .await
        .context("reconciling earlier filings before sending new ones")?;
    let run = ctx
        .db(|s| s.run(run_id))?
        .with_context(|| format!("no run {run_id}"))?;
    anyhow::ensure!(
        run.kind != crate::state::types::RunKind::Replay,
        "run {run_id} is a replay: replays are never filed"
    );
    let out = ctx.source(&job.output.source)?;
    let folder = paths::join(&[&job.output.path, run_id]);
    let dispositions = run_output(&out, &folder, "dispositions.csv")
        .await?
        .with_context(|| format!("run {run_id} has no dispositions"))?;
    let entries_csv = run_output(&out, &folder, "entries.csv").await?;
    let lines_csv = run_output(&out, &folder, "entry_lines.csv").await?;
    let file_formal = ctx.config.filing.formal_entries == crate::config::FormalEntries::File;
    let mut plan = plan::plan_filing(
        &dispositions,
        entries_csv.as_deref(),
        lines_csv.as_deref(),
        &defaults.ior_number,
        file_formal,
    )
    .with_context(|| format!("reading the entries of run {run_id}"))?;
    let mut report = FilingReport {
        formal: plan.formal.len(),
        ..FilingReport::default()
    };

    // Entries from the run's archived files.
    let archive = ctx.source(&ctx.config.archive.source)?;
    let scratch = ctx.staging().join("filing").join(run_id);
    let mut local: Vec<(String, std::path::PathBuf)> = Vec::new();
    for f in ctx.db(|s| s.files_of_run(run_id))? {
        let Some(path) = f.archive.as_deref() else {
            continue;
        };
        let p = match archive.local_path(path) {
            Some(p) => p,
            None => {
                let p = scratch.join(format!("{}-{}", f.id, f.name));
                archive.download(path, &p).await?;
                p
            }
        };
        local.push((f.name.clone(), p));
    }
    let files: Vec<entry::ArchivedFile<'_>> = local
        .iter()
        .map(|(name, path)| entry::ArchivedFile { name, path })
        .collect();
    let (prepared, unbuilt) = entry::build(job, &files, &plan, &ctx.policy, &defaults)?;
    drop(files);
    let _ = std::fs::remove_dir_all(&scratch);
    for u in unbuilt {
        if let Some(i) = plan
            .informal
            .iter()
            .position(|i| i.entry.entry_ref == u.entry_ref)
        {
            let i = plan.informal.remove(i);
            plan.not_filed.push(plan::Listed {
                reasons: String::new(),
                entry: i.entry,
                why: u.why,
            });
        }
    }
    // Every mandatory field filled, or the entry is not filed and says why
    // (not_filed.csv, the log, and the exception report's filing section
    // through the run's lists). Cut text is noted in the ledger below.
    let (filer, book) = writer_settings(ctx)?;
    let mut refused = 0usize;
    let mut kept: Vec<entry::Prepared> = Vec::with_capacity(prepared.len());
    let mut kept_cuts: Vec<Vec<String>> = Vec::with_capacity(prepared.len());
    for p in prepared {
        // An entry filed by its certified summary sends no SE: its summary
        // must be complete instead.
        let checked = if summary_filing::certifies(ctx, &p.entry.entry_type) {
            summary_filing::write(ctx, &filer, &p.entry, true).map(|_| Vec::new())
        } else {
            release::transaction(&p.entry, &filer, &book).map(|w| w.cuts)
        };
        match checked {
            Ok(cuts) => {
                kept.push(p);
                kept_cuts.push(cuts);
            }
            Err(r) => {
                refused += 1;
                let why = format!("not filed: {r}");
                match plan.informal.iter().position(|i| {
                    i.entry.entry_ref == p.entry.entry_ref && !p.entry.entry_ref.is_empty()
                }) {
                    Some(i) => {
                        let i = plan.informal.remove(i);
                        plan.not_filed.push(plan::Listed {
                            reasons: String::new(),
                            entry: i.entry,
                            why,
                        });
                    }
                    None => plan.not_filed.push(plan::Listed {
                        reasons: String::new(),
                        entry: listed_86(&p),
                        why,
                    }),
                }
            }
        }
    }
    // Exactly once across state stores (issue 10 item 7, in part): an entry
    // with a house bill ACE already holds on an entry this ledger never
    // filed (a lost or second state store) is not filed again. Adopting
    // ACE's number into the ledger is not done yet: the entry is listed.
    // Entries not numbered because the gateway cannot be asked (it is down):
    // they wait for the next attempt, which files the run again.
    let mut waiting = 0usize;
    let mut held = None;
    let mut adopt: Vec<(entry::Prepared, http::BillHolder)> = Vec::new();
    // Over CATAIR too when a gateway is configured: the query goes to
    // `filing.http.url` (CATAIR has no query transaction of its own).
    let ask = transport == FilingTransport::Http || !ctx.config.filing.http.url.is_empty();
    if ask && !kept.is_empty() && down.is_none() {
        match http::held_elsewhere(ctx, &kept).await {
            Ok(h) => held = Some(h),
            Err(e) => {
                down = outage(Err(e), &ctx.config.filing.http.url)
                    .context("asking the gateway which house bills ACE already holds")?
            }
        }
    }
    if ask && held.is_none() {
        waiting = kept.len();
        kept.clear();
        kept_cuts.clear();
    }
    if let Some(held) = held {
        let mut still = Vec::with_capacity(kept.len());
        let mut still_cuts = Vec::with_capacity(kept.len());
        for ((p, c), h) in kept.into_iter().zip(kept_cuts).zip(held) {
            match h {
                http::AtAce::Nothing => {
                    still.push(p);
                    still_cuts.push(c);
                }
                http::AtAce::Entry(holder) => adopt.push((p, holder)),
                http::AtAce::Partly(hb, holder) => {
                    refused += 1;
                    let why = format!(
                        "not filed: house bill {hb} is already on entry {} at ACE (type {}, filer {}), which this state store never filed; a house bill is never on two entries",
                        holder.entry_number, holder.entry_type, holder.filer_code
                    );
                    match plan.informal.iter().position(|i| {
                        i.entry.entry_ref == p.entry.entry_ref && !p.entry.entry_ref.is_empty()
                    }) {
                        Some(i) => {
                            let i = plan.informal.remove(i);
                            plan.not_filed.push(plan::Listed {
                                reasons: String::new(),
                                entry: i.entry,
                                why,
                            });
                        }
                        None => plan.not_filed.push(plan::Listed {
                            reasons: String::new(),
                            entry: listed_86(&p),
                            why,
                        }),
                    }
                }
            }
        }
        kept = still;
        kept_cuts = still_cuts;
    }
    let mut prepared = kept;
    let cuts: BTreeMap<usize, Vec<String>> = kept_cuts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if refused > 0 {
        warn!(run.id = %run_id, refused, "{refused} entr(ies) of run {run_id} cannot be filed: a mandatory CATAIR field has no value (not_filed.csv names each field).");
    }
    let built_ms = started.elapsed().as_millis() as u64;

    // Intent first: every entry gets its number and a pending filing, then is
    // sent. Chunks bound the transaction size; a crash between chunks leaves
    // pending filings that the next attempt reconciles.
    let batch_name = (transport == FilingTransport::Catair)
        .then(|| batch::batch_name(&defaults.filer_code, run_id));
    // Certified summaries: their filings name the AE batch (or the HTTP
    // mark) from the intent on, so nothing ever sends them as an SE.
    let certified_batch = match transport {
        FilingTransport::Catair => batch::ae_batch_name(&defaults.filer_code, run_id),
        FilingTransport::Http => summary_filing::HTTP_CERTIFIED.to_owned(),
    };
    let make = |serial: u64| {
        EntryNumber::new(&defaults.filer_code, serial)
            .ok()
            .map(|n| n.to_string())
    };
    let first = ctx.config.filing.first_serial;
    let mut pending = Vec::new();
    let mut notes: Vec<(String, String)> = Vec::new();
    for (chunk_no, chunk) in prepared.chunks_mut(INTENT_CHUNK).enumerate() {
        // The payload is the entry as sent, with the number the ledger gives it.
        let payloads: Vec<_> = chunk
            .iter()
            .map(|p| {
                move |number: &str| {
                    let mut e = p.entry.clone();
                    e.entry_number = number.to_owned();
                    serde_json::to_string(&e).unwrap_or_default()
                }
            })
            .collect();
        let filings: Vec<NewFiling<'_>> = chunk
            .iter()
            .zip(&payloads)
            .map(|(p, payload)| NewFiling {
                carrier: &p.bills[0].0,
                house_bill: &p.bills[0].1,
                bills: &p.bills,
                entry_type: &p.entry.entry_type,
                job: &job.name,
                run_id,
                transport: transport.as_str(),
                batch: if summary_filing::certifies(ctx, &p.entry.entry_type) {
                    Some(certified_batch.as_str())
                } else {
                    batch_name.as_deref()
                },
                payload,
                record: &p.record,
            })
            .collect();
        let recorded =
            ctx.db(|s| s.record_intents(&defaults.filer_code, first, &make, &filings))?;
        drop(filings);
        for (k, (p, intent)) in chunk.iter_mut().zip(recorded).enumerate() {
            match intent {
                Intent::New(f) => {
                    if let Some(c) = cuts.get(&(chunk_no * INTENT_CHUNK + k)) {
                        notes.push((
                            f.entry_number.clone(),
                            format!("warning: CATAIR text cut: {}", c.join("; ")),
                        ));
                    }
                    p.entry.entry_number = f.entry_number;
                    pending.push(p.entry.clone());
                }
                Intent::AlreadyFiled(_) => report.already_filed += 1,
                Intent::Conflict(filed) => {
                    let on: Vec<String> = filed
                        .iter()
                        .map(|(c, h, n)| format!("{c} {h} is on entry {n}"))
                        .collect();
                    warn!(
                        run.id = %run_id,
                        entry_ref = %p.entry.entry_ref,
                        "Entry {} of run {run_id} is not filed: some of its house bills are on filed entries ({}).",
                        p.entry.entry_ref,
                        on.join("; ")
                    );
                    let listed = plan
                        .informal
                        .iter()
                        .find(|i| i.entry.entry_ref == p.entry.entry_ref)
                        .map(|i| i.entry.clone());
                    plan.not_filed.push(plan::Listed {
                        entry: listed.unwrap_or_else(|| listed_86(p)),
                        reasons: String::new(),
                        why: format!("house bills already on a filed entry ({}); a house bill is never on two entries", on.join("; ")),
                    });
                }
            }
        }
    }
    // Cut text, noted as events of the pending filing (recorded, not moving
    // it): `s321d ledger show` lists them with the entry.
    if !notes.is_empty() && transport == FilingTransport::Catair {
        let list: Vec<Transition<'_>> = notes
            .iter()
            .map(|(n, m)| Transition {
                entry_number: n,
                to: FilingState::Pending,
                code: None,
                narrative: None,
                message: m,
            })
            .collect();
        ctx.db(|s| s.transitions(&list))?;
        warn!(run.id = %run_id, entries = notes.len(), "{} entr(ies) of run {run_id} had text cut to CATAIR field lengths; each cut is in the entry's ledger events.", notes.len());
    }
    if !adopt.is_empty() {
        let listed = adopt_entries(
            ctx,
            job,
            run_id,
            transport,
            &defaults.filer_code,
            &adopt,
            &mut plan,
        )?;
        report.adopted = listed.len();
        out.put(
            &paths::join(&[&folder, "adopted.csv"]),
            &plan::list_csv(&listed)?,
        )
        .await?;
    }
    crate::faults::crash_point("filing-intent");
    let recorded_ms = started.elapsed().as_millis() as u64;

    // The broker lists, beside the run's other outputs (rewritten whole each
    // time the run is filed: the same run gives the same lists).
    report.not_filed = plan.not_filed.len();
    out.put(
        &paths::join(&[&folder, "formal_entries.csv"]),
        &plan::list_csv(&plan.formal)?,
    )
    .await?;
    out.put(
        &paths::join(&[&folder, "not_filed.csv"]),
        &plan::list_csv(&plan.not_filed)?,
    )
    .await?;
    // The same list in the ledger, as `not filed: <reason>` (issue 10 item
    // 3): `s321d ledger show HOUSE_BILL` and the exception report read it.
    let now = chrono::Utc::now();
    let not_filed: Vec<NotFiled> = plan
        .not_filed
        .iter()
        .map(|l| not_filed_record(run_id, l, now))
        .collect();
    ctx.db(|s| s.record_not_filed(run_id, &not_filed))?;

    report.filed = pending.len();
    let (certified, pending): (Vec<entry::Entry>, Vec<entry::Entry>) = pending
        .into_iter()
        .partition(|e| summary_filing::certifies(ctx, &e.entry_type));
    if !certified.is_empty() {
        summary_filing::file_certified(
            ctx,
            &certified,
            transport.as_str(),
            Some(certified_batch.as_str()),
        )
        .await?;
    }
    match transport {
        FilingTransport::Http => {
            let unsent = http::send_all(ctx, &pending).await?;
            report.not_sent = unsent.count;
            if let Some(why) = outage(Ok(unsent), &ctx.config.filing.http.url)? {
                down = Some(why);
            }
        }
        FilingTransport::Catair => {
            if let Some(name) = &batch_name
                && !pending.is_empty()
            {
                batch::write_batch(ctx, name, &pending).await?;
            }
        }
    }
    let sent_ms = started.elapsed().as_millis() as u64;
    poll(ctx).await?;
    for f in ctx.db(|s| s.filings_of_run(run_id))? {
        *report
            .states
            .entry(f.state.as_str().to_owned())
            .or_insert(0) += 1;
    }
    report.pending = waiting
        + report
            .states
            .get(FilingState::Pending.as_str())
            .copied()
            .unwrap_or(0);
    report.pending_why = down;
    // Entries never numbered make the run unfiled still: the next attempt
    // files it again (pending ones are reconciled either way).
    if waiting == 0 {
        ctx.db(|s| s.set_run_duty(run_id, Duty::Filing, DutyState::Done))?;
    }
    if let Some(why) = report.failure() {
        warn!(run.id = %run_id, pending = report.pending, "Run {run_id}: {why}");
    }
    info!(
        job.name = %job.name,
        run.id = %run_id,
        transport = transport.as_str(),
        filed = report.filed,
        already_filed = report.already_filed,
        formal = report.formal,
        not_filed = report.not_filed,
        built_ms,
        recorded_ms,
        sent_ms,
        duration_ms = started.elapsed().as_millis() as u64,
        "Filed {} entr(ies) of run {run_id} over {}; {} formal entr(ies) listed for a broker, {} not filed (not_filed.csv).",
        report.filed,
        transport.as_str(),
        report.formal,
        report.not_filed
    );
    Ok(report)
}
