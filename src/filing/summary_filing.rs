//! When and how entry summaries (AE) go out, and what their answers (AX)
//! do to the ledger. The writer is [`super::summary`]; the records are
//! kept by [`crate::state::summary`].
//!
//! `[filing] entry_summary`:
//! - `after_release`: once ACE accepted an entry's cargo release (the SE
//!   answer, or a later release notification), its summary is written and
//!   sent: over CATAIR in an AE batch (`<filer>-<time>-ae.sei`), over HTTP
//!   to the gateway's `POST /v1/entry-summaries`. Checked at every poll, so
//!   an SX answer that comes later still gets its summary.
//! - `certified`: a type 11/01/03 entry is filed by its summary alone,
//!   certified for cargo release (AE 10 pos 40 `A`): no SE is sent. Its
//!   filing carries the AE batch (or, over HTTP, [`HTTP_CERTIFIED`]) from
//!   the intent on, so neither transport's reconciliation ever sends it as
//!   an SE; the AX answer moves the filing too (accepted or rejected), and
//!   release notifications follow as for any entry.
//! - `off`: none (a broker files them).
//!
//! Exactly once: a summary is recorded `pending` with its text before it is
//! sent, and an entry has at most one. A pending summary is reconciled
//! first — its batch looked for (re-written only when it provably never
//! left), or the gateway asked (`GET /v1/entry-summaries/<n>`, sent again
//! only when the gateway never received it).

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use tracing::{info, warn};

use super::entry::Entry;
use super::release::Refusal;
use super::settings::Filer;
use super::summary::{self, Options};
use super::{batch, http};
use crate::app::App;
use crate::config::EntrySummaryMode;
use crate::state::ledger::{Applied, Filing, FilingState, Transition};
use crate::state::summary::{NewSummary, SummaryState, SummaryTransition};

/// The `batch` of a filing certified by an entry summary sent over HTTP
/// (over CATAIR it is the AE batch's name).
pub const HTTP_CERTIFIED: &str = "entry-summary (certified)";

/// What an AX (or the gateway) said about one summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryResponse {
    pub entry_number: String,
    pub state: SummaryState,
    pub code: String,
    pub narrative: String,
    /// The answer as received, for the ledger.
    pub message: String,
}

/// Whether a filing is certified by its entry summary (no SE for it).
pub fn is_certified(f: &Filing) -> bool {
    f.batch
        .as_deref()
        .is_some_and(|b| batch::is_ae_batch(b) || b == HTTP_CERTIFIED)
}

/// Whether an entry of this type, filed now, is filed by its summary alone.
pub fn certifies(ctx: &App, entry_type: &str) -> bool {
    ctx.config.filing.entry_summary == EntrySummaryMode::Certified
        && summary::wants_summary(entry_type)
}

/// Writes an entry's summary with the configured bond, payment type and the
/// HTS reference's units of quantity.
pub fn write(
    ctx: &App,
    filer: &Filer,
    entry: &Entry,
    certified: bool,
) -> Result<summary::Written, Refusal> {
    let duty = &ctx.policy.duty;
    let unit_of = |hts: &str, date: NaiveDate| -> Option<String> {
        let (_, revision) = duty.revision_on(date)?;
        revision.rate_row(hts)?.unit.map(str::to_owned)
    };
    let opts = Options {
        payment: ctx.config.filing.payment_type,
        certified,
        today: Utc::now().date_naive(),
    };
    summary::transaction(entry, filer, &unit_of, opts)
}

/// Applies summary answers in one ledger transaction each way: the summary
/// moves, and a certified summary's filing moves with it (accepted or
/// rejected: the summary was its release request).
pub fn apply(ctx: &App, responses: &[SummaryResponse]) -> anyhow::Result<()> {
    if responses.is_empty() {
        return Ok(());
    }
    let list: Vec<SummaryTransition<'_>> = responses
        .iter()
        .map(|r| SummaryTransition {
            entry_number: &r.entry_number,
            to: r.state,
            code: Some(&r.code),
            narrative: Some(&r.narrative),
            message: &r.message,
        })
        .collect();
    let outcomes = ctx.db(|s| s.summary_transitions(&list))?;
    let mut filing_moves = Vec::new();
    for (r, outcome) in responses.iter().zip(outcomes) {
        match outcome {
            Applied::Moved => {
                ctx.metrics.inc(
                    "s321d_entry_summary_transitions_total",
                    vec![("state", r.state.as_str().to_owned())],
                );
                if r.state == SummaryState::Rejected {
                    warn!(entry = %r.entry_number, "ACE rejected the entry summary of {}: {} {}.", r.entry_number, r.code, r.narrative);
                }
            }
            Applied::Ignored => {}
            Applied::Unknown => {
                warn!(entry = %r.entry_number, "An entry summary answer names entry {} that this ledger never summarised; ignored.", r.entry_number)
            }
        }
        let certified = ctx
            .db(|s| s.summary(&r.entry_number))?
            .is_some_and(|s| s.certified);
        let to = match r.state {
            SummaryState::Accepted => Some(FilingState::Accepted),
            SummaryState::Rejected => Some(FilingState::Rejected),
            SummaryState::Submitted => Some(FilingState::Submitted),
            _ => None,
        };
        if certified && let Some(to) = to {
            filing_moves.push((r, to));
        }
    }
    let transitions: Vec<Transition<'_>> = filing_moves
        .iter()
        .map(|(r, to)| Transition {
            entry_number: &r.entry_number,
            to: *to,
            code: Some(&r.code),
            narrative: Some(&r.narrative),
            message: &r.message,
        })
        .collect();
    if !transitions.is_empty() {
        ctx.db(|s| s.transitions(&transitions))?;
    }
    Ok(())
}

/// One summary to record and send.
struct Outgoing {
    entry: Entry,
    transport: String,
    certified: bool,
    batch: Option<String>,
}

/// The 10 record's port (18-21) of a recorded summary, for its block.
fn port_of(text: &str) -> String {
    text.lines()
        .next()
        .and_then(|l| l.get(17..21))
        .unwrap_or("")
        .to_owned()
}

/// Records each summary (pending, or not filed with the refusal), then
/// sends the ones recorded now. Returns how many went out.
async fn record_and_send(ctx: &App, outgoing: Vec<Outgoing>) -> anyhow::Result<usize> {
    if outgoing.is_empty() {
        return Ok(0);
    }
    let (filer, _) = super::writer_settings(ctx)?;
    let written: Vec<Result<summary::Written, Refusal>> = outgoing
        .iter()
        .map(|o| write(ctx, &filer, &o.entry, o.certified))
        .collect();
    let texts: Vec<(String, String, String, String)> = written
        .iter()
        .map(|w| match w {
            Ok(w) => (
                w.text(),
                summary::usd(w.totals.duty_cents),
                summary::usd(w.totals.fees_cents),
                String::new(),
            ),
            Err(r) => (
                String::new(),
                String::new(),
                String::new(),
                format!("not filed: {r}"),
            ),
        })
        .collect();
    let list: Vec<NewSummary<'_>> = outgoing
        .iter()
        .zip(&texts)
        .map(|(o, (text, duty, fees, why))| NewSummary {
            entry_number: &o.entry.entry_number,
            transport: &o.transport,
            batch: o.batch.as_deref(),
            certified: o.certified,
            state: if why.is_empty() {
                SummaryState::Pending
            } else {
                SummaryState::NotFiled
            },
            message: (!why.is_empty()).then_some(why.as_str()),
            duty_usd: duty,
            fees_usd: fees,
            payload: text,
        })
        .collect();
    let recorded = ctx.db(|s| s.record_summaries(&list))?;
    drop(list);
    crate::faults::crash_point("summary-intent");
    let mut by_batch: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let mut over_http: Vec<(String, String)> = Vec::new();
    let mut refused = 0usize;
    for ((o, (text, _, _, why)), new) in outgoing.iter().zip(&texts).zip(recorded) {
        if !new {
            continue;
        }
        if !why.is_empty() {
            refused += 1;
            warn!(entry = %o.entry.entry_number, "The entry summary of {} is not filed: {}.", o.entry.entry_number, why.trim_start_matches("not filed: "));
            continue;
        }
        match o.transport.as_str() {
            "catair" => by_batch
                .entry(o.batch.clone().unwrap_or_default())
                .or_default()
                .push((o.entry.entry_number.clone(), port_of(text), text.clone())),
            _ => over_http.push((o.entry.entry_number.clone(), text.clone())),
        }
    }
    let mut sent = 0;
    for (name, list) in by_batch {
        let summaries: Vec<(String, String)> = list
            .iter()
            .map(|(_, port, text)| (port.clone(), text.clone()))
            .collect();
        batch::write_ae_batch(ctx, &name, &summaries).await?;
        submitted(
            ctx,
            list.iter().map(|(n, _, _)| n.as_str()),
            &format!("sent in CATAIR AE batch {name}"),
        )?;
        sent += list.len();
    }
    sent += send_http(ctx, &over_http).await?;
    if refused > 0 {
        warn!(
            refused,
            "{refused} entry summar(ies) cannot be filed: a mandatory AE field has no value (ledger show names it)."
        );
    }
    Ok(sent)
}

/// Marks summaries submitted (and their certified filings).
fn submitted<'a>(
    ctx: &App,
    numbers: impl IntoIterator<Item = &'a str>,
    message: &str,
) -> anyhow::Result<()> {
    let responses: Vec<SummaryResponse> = numbers
        .into_iter()
        .map(|n| SummaryResponse {
            entry_number: n.to_owned(),
            state: SummaryState::Submitted,
            code: String::new(),
            narrative: String::new(),
            message: message.to_owned(),
        })
        .collect();
    apply(ctx, &responses)
}

/// The ledger's reading of a gateway answer.
fn from_answer(a: &http::SummaryAnswer, via: &str) -> SummaryResponse {
    let state = if a.status == "accepted" {
        SummaryState::Accepted
    } else {
        SummaryState::Rejected
    };
    let conditions = if a.conditions.is_empty() {
        String::new()
    } else {
        format!("; conditions: {}", a.conditions.join(" | "))
    };
    SummaryResponse {
        entry_number: a.entry_number.clone(),
        state,
        code: a.code.clone(),
        narrative: a.narrative.clone(),
        message: format!(
            "{via}: entry summary {} {} {}{conditions}",
            a.status, a.code, a.narrative
        ),
    }
}

/// Sends summaries to the gateway one by one; an unreachable gateway leaves
/// the rest pending (reconciled later) and is alerted as an outage.
async fn send_http(ctx: &App, list: &[(String, String)]) -> anyhow::Result<usize> {
    if list.is_empty() {
        return Ok(0);
    }
    let gateway = http::Gateway::new(ctx)?;
    let mut sent = 0;
    for (number, text) in list {
        match gateway.post_summary(text, number).await {
            Ok(answer) => {
                crate::faults::crash_point("summary-answered");
                submitted(ctx, [number.as_str()], "POST /v1/entry-summaries")?;
                apply(ctx, &[from_answer(&answer, "gateway")])?;
                sent += 1;
            }
            Err(e) if e.downcast_ref::<http::Unreachable>().is_some() => {
                super::gateway_failed(ctx, &e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Sends the certified summaries of entries just recorded `pending` (their
/// filings carry `batch`, or [`HTTP_CERTIFIED`]).
pub async fn file_certified(
    ctx: &App,
    entries: &[Entry],
    transport: &str,
    batch: Option<&str>,
) -> anyhow::Result<usize> {
    let outgoing = entries
        .iter()
        .map(|e| Outgoing {
            entry: e.clone(),
            transport: transport.to_owned(),
            certified: true,
            batch: batch.map(str::to_owned),
        })
        .collect();
    record_and_send(ctx, outgoing).await
}

/// Reconciles pending summaries, then sends the ones now due: entries whose
/// release ACE accepted (`after_release`), and certified filings whose
/// summary a crash kept from being recorded.
pub async fn run(ctx: &App) -> anyhow::Result<()> {
    reconcile(ctx).await?;
    let mut outgoing = Vec::new();
    for f in ctx
        .db(|s| s.filings_in(&[FilingState::Pending]))?
        .into_iter()
        .filter(is_certified)
    {
        if ctx.db(|s| s.summary(&f.entry_number))?.is_none() {
            let entry: Entry = serde_json::from_str(&f.payload)
                .context("a pending filing's payload is not an entry")?;
            outgoing.push(Outgoing {
                entry,
                transport: f.transport.clone(),
                certified: true,
                batch: f.batch.clone(),
            });
        }
    }
    if ctx.config.filing.entry_summary != EntrySummaryMode::Off {
        let due = ctx.db(|s| s.summaries_due(summary::SUMMARY_TYPES))?;
        let filer_code = ctx.config.filing.filer_code.to_ascii_uppercase();
        let name = batch::ae_batch_name(
            &filer_code,
            &Utc::now().format("%Y%m%dT%H%M%S%3f").to_string(),
        );
        for f in due {
            let entry: Entry =
                serde_json::from_str(&f.payload).context("a filing's payload is not an entry")?;
            let batch = (f.transport == "catair").then(|| name.clone());
            outgoing.push(Outgoing {
                entry,
                transport: f.transport.clone(),
                certified: false,
                batch,
            });
        }
    }
    let n = record_and_send(ctx, outgoing).await?;
    if n > 0 {
        info!(summaries = n, "Sent {n} entry summar(ies) to ACE.");
    }
    Ok(())
}

/// Reconciles `pending` summaries: a CATAIR one whose batch left is
/// submitted, one whose batch never left is written again; an HTTP one is
/// asked about and sent again only if the gateway never received it.
async fn reconcile(ctx: &App) -> anyhow::Result<()> {
    let pending = ctx.db(|s| s.summaries_in(&[SummaryState::Pending]))?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut by_batch: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut resend = Vec::new();
    let mut gateway = None;
    for s in pending {
        if s.transport == "catair" {
            by_batch
                .entry(s.batch.clone().unwrap_or_default())
                .or_default()
                .push(s);
            continue;
        }
        let g = match &gateway {
            Some(g) => g,
            None => gateway.insert(http::Gateway::new(ctx)?),
        };
        match g.get_summary(&s.entry_number).await {
            Ok(Some(answer)) => {
                submitted(
                    ctx,
                    [s.entry_number.as_str()],
                    "reconciled: the gateway has the summary",
                )?;
                apply(ctx, &[from_answer(&answer, "reconciled")])?;
            }
            Ok(None) => resend.push((s.entry_number.clone(), s.payload.clone())),
            Err(e) if e.downcast_ref::<http::Unreachable>().is_some() => {
                super::gateway_failed(ctx, &e);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    for (name, list) in by_batch {
        if batch::batch_left(ctx, &name).await? {
            submitted(
                ctx,
                list.iter().map(|s| s.entry_number.as_str()),
                &format!("reconciled: AE batch {name} was sent"),
            )?;
        } else {
            warn!(batch = %name, summaries = list.len(), "AE batch {name} never left: writing it again.");
            let summaries: Vec<(String, String)> = list
                .iter()
                .map(|s| (port_of(&s.payload), s.payload.clone()))
                .collect();
            batch::write_ae_batch(ctx, &name, &summaries).await?;
            submitted(
                ctx,
                list.iter().map(|s| s.entry_number.as_str()),
                &format!("sent in CATAIR AE batch {name}"),
            )?;
        }
    }
    if !resend.is_empty() {
        warn!(
            summaries = resend.len(),
            "Re-sending {} pending entry summar(ies) the gateway never received.",
            resend.len()
        );
        send_http(ctx, &resend).await?;
    }
    Ok(())
}
