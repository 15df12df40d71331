//! Transport A: CATAIR batch files.
//!
//! A run's entries go out as one batch file, `<filer>-<run id>.sei`, in the
//! outbound location (any source: local, bucket, SFTP), written atomically:
//! the ABI envelope of catair.md section 2 (input `A` with the sender site,
//! id code, password, date and application `SE`; per block a `B` with the
//! processing port and filer and a `Y` echoing it, no counts; a `Z` echoing
//! the A) around blocks of at most `block_size` transactions of one port
//! district, each transaction an entry's SE records ([`super::release`]).
//! Responses come back in the inbound location: `<batch>.sx` (the output
//! envelope around, per transaction, the echoed SE10/SE15, record-level SE90
//! 11/13 after faulty records and one SE90 01-04; or, when the batch was
//! rejected, X0/X1 records ending `X1RF999`), and `*.so` (status
//! notifications, SO rev 36: SO10, SO50, SO60). Read responses move to
//! `processed/` under the inbound location.
//!
//! An X1 batch reject means ACE processed no transaction of the batch. Every
//! entry of it becomes `rejected`, with the X1 condition: the same batch sent
//! again would draw the same reject (a syntax or envelope fault), so a person
//! must fix the configuration or data, and the exception report lists it.
//!
//! A pending filing's batch is re-written only when it provably never left:
//! not in the outbound folder, not consumed (`outbound/processed/`, where the
//! VAN or simulator moves what it took), and not answered.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::Utc;
use tracing::{info, warn};

use super::catair::cargo_release as se;
use super::catair::key::{self, LineError};
use super::catair::{self, entry_summary, envelope, status};
use super::entry::Entry;
use super::settings::Envelope;
use super::summary_filing::SummaryResponse;
use super::{Response, ack_state};
use crate::app::App;
use crate::paths;
use crate::sources;
use crate::state::ledger::FilingState;
use crate::state::summary::SummaryState;

/// The batch file of a run.
pub fn batch_name(filer_code: &str, run_id: &str) -> String {
    format!("{filer_code}-{run_id}.sei")
}

/// One block of a batch: its processing port and its transactions.
#[derive(Debug, Clone)]
pub struct Block {
    pub port: String,
    pub transactions: Vec<Vec<key::Record>>,
}

/// The lines of an input batch (catair.md section 2): A, then per block B,
/// its transactions and Y, then Z. `app` is `SE` or `AE`.
pub fn envelope_lines(
    env: &Envelope,
    date: chrono::NaiveDate,
    app: &str,
    blocks: &[Block],
) -> Result<Vec<String>, key::FieldError> {
    let date = date.format("%m%d%y").to_string();
    let mut lines = Vec::new();
    let mut a = key::Record::new(&envelope::A_IN);
    a.set("site", &env.site)?
        .set("id_code", &env.id_code)?
        .set("password", env.password())?
        .set("date", &date)?
        .set("app", app)?;
    lines.push(a.line());
    for block in blocks {
        let mut b = key::Record::new(&envelope::B_IN);
        b.set("port", &block.port)?
            .set("filer", &env.filer)?
            .set("app", app)?;
        lines.push(b.line());
        for t in &block.transactions {
            lines.extend(t.iter().map(key::Record::line));
        }
        let mut y = key::Record::new(&envelope::Y_IN);
        y.set("port", &block.port)?
            .set("filer", &env.filer)?
            .set("app", app)?;
        lines.push(y.line());
    }
    let mut z = key::Record::new(&envelope::Z_IN);
    z.set("site", &env.site)?
        .set("id_code", &env.id_code)?
        .set("date", &date)?;
    lines.push(z.line());
    Ok(lines)
}

/// Groups transactions into blocks: one port district per block (districts
/// 10, 46 and 47 aside, which may mix; s321d keeps them apart too), at most
/// `block_size` each. The B port is the configured processing port, else
/// the entries' port of entry.
pub fn blocks(
    env: &Envelope,
    transactions: Vec<(String, Vec<key::Record>)>,
    block_size: usize,
) -> Vec<Block> {
    let mut by_district: BTreeMap<String, (String, Vec<Vec<key::Record>>)> = BTreeMap::new();
    for (port, t) in transactions {
        let district = port.get(..2).unwrap_or("").to_owned();
        let slot = by_district.entry(district).or_insert_with(|| {
            (
                if env.port.is_empty() {
                    port.clone()
                } else {
                    env.port.clone()
                },
                Vec::new(),
            )
        });
        slot.1.push(t);
    }
    let mut out = Vec::new();
    for (_, (port, ts)) in by_district {
        let mut ts = ts.into_iter().peekable();
        while ts.peek().is_some() {
            out.push(Block {
                port: port.clone(),
                transactions: ts.by_ref().take(block_size.max(1)).collect(),
            });
        }
    }
    out
}

/// Writes a batch atomically to the outbound location and marks its entries submitted.
pub async fn write_batch(ctx: &App, name: &str, entries: &[Entry]) -> anyhow::Result<()> {
    let cfg = &ctx.config.filing.catair;
    let env = Envelope::from_config(&ctx.config.filing)?;
    let (filer, book) = super::writer_settings(ctx)?;
    let mut transactions = Vec::with_capacity(entries.len());
    for e in entries {
        let written = super::release::transaction(e, &filer, &book)
            .map_err(|r| anyhow::anyhow!("entry {} cannot be written: {r}", e.entry_number))?;
        transactions.push((e.port_of_entry.clone(), written.records));
    }
    let text = envelope_lines(
        &env,
        Utc::now().date_naive(),
        "SE",
        &blocks(&env, transactions, cfg.block_size),
    )?
    .join("\n")
        + "\n";
    let out = ctx.source(&cfg.outbound_source)?;
    let path = paths::join(&[&cfg.outbound_path, name]);
    crate::retry::retry(ctx.retry, "writing a CATAIR batch", || {
        out.put(&path, text.as_bytes())
    })
    .await?;
    crate::faults::crash_point("batch-written");
    super::mark_submitted(
        ctx,
        entries.iter().map(|e| e.entry_number.as_str()),
        &format!("sent in CATAIR batch {name}"),
    )?;
    info!(batch = %name, entries = entries.len(), "Wrote CATAIR batch {name} with {} entr(ies) to {}.", entries.len(), out.describe());
    Ok(())
}

/// What an AE batch's name ends with: the VAN (and the simulator) take
/// `*.sei` files, and the answer `<batch>.sx` is read as an AX by this end.
pub const AE_BATCH_SUFFIX: &str = "-ae.sei";

/// The name of an AE batch.
pub fn ae_batch_name(filer_code: &str, tag: &str) -> String {
    format!("{filer_code}-{tag}{AE_BATCH_SUFFIX}")
}

/// Whether a batch name is an AE batch's.
pub fn is_ae_batch(name: &str) -> bool {
    name.ends_with(AE_BATCH_SUFFIX)
}

/// Writes an AE batch atomically to the outbound location: the envelope
/// with application `AE` around each summary's records (`(port, text)`, the
/// text as the ledger recorded it).
pub async fn write_ae_batch(
    ctx: &App,
    name: &str,
    summaries: &[(String, String)],
) -> anyhow::Result<()> {
    let cfg = &ctx.config.filing.catair;
    let env = Envelope::from_config(&ctx.config.filing)?;
    let mut transactions = Vec::with_capacity(summaries.len());
    for (port, text) in summaries {
        let records = text
            .lines()
            .enumerate()
            .map(|(i, l)| key::Record::parse(l, i + 1, entry_summary::INPUT))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!("a recorded entry summary for batch {name} is not AE records")
            })?;
        transactions.push((port.clone(), records));
    }
    let text = envelope_lines(
        &env,
        Utc::now().date_naive(),
        "AE",
        &blocks(&env, transactions, cfg.block_size),
    )?
    .join("\n")
        + "\n";
    let out = ctx.source(&cfg.outbound_source)?;
    let path = paths::join(&[&cfg.outbound_path, name]);
    crate::retry::retry(ctx.retry, "writing a CATAIR AE batch", || {
        out.put(&path, text.as_bytes())
    })
    .await?;
    crate::faults::crash_point("summary-batch-written");
    info!(batch = %name, summaries = summaries.len(), "Wrote CATAIR AE batch {name} with {} entry summar(ies) to {}.", summaries.len(), out.describe());
    Ok(())
}

/// Whether a batch left: in the outbound folder, taken from it, or answered.
pub async fn batch_left(ctx: &App, name: &str) -> anyhow::Result<bool> {
    let cfg = &ctx.config.filing.catair;
    let out = ctx.source(&cfg.outbound_source)?;
    let inbound = ctx.source(&cfg.inbound_source)?;
    Ok(out
        .exists(&paths::join(&[&cfg.outbound_path, name]))
        .await?
        || out
            .exists(&paths::join(&[&cfg.outbound_path, "processed", name]))
            .await?
        || inbound
            .exists(&paths::join(&[&cfg.inbound_path, &format!("{name}.sx")]))
            .await?
        || inbound
            .exists(&paths::join(&[
                &cfg.inbound_path,
                "processed",
                &format!("{name}.sx"),
            ]))
            .await?)
}

/// Reads an AX answer to AE batch `batch` (catair.md sections 2 and 7): per
/// transaction the echoed 10, E1 conditions after records at fault, and a
/// closing E1 with disposition `A` (accepted) or `R` (rejected). A batch
/// reject (X1) rejects every summary of the batch (`batch_entries`).
pub fn read_ax(
    text: &str,
    batch: &str,
    batch_entries: &[String],
) -> Result<Vec<SummaryResponse>, LineError> {
    let mut layouts: Vec<&'static catair::key::Layout> = vec![
        &envelope::A_OUT,
        &envelope::B_OUT,
        &envelope::Y_OUT,
        &envelope::Z_OUT,
        &envelope::X0,
        &envelope::X1,
        &entry_summary::E0,
        &entry_summary::E1,
    ];
    layouts.extend_from_slice(entry_summary::INPUT);
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            records.push(key::Record::parse(line, i + 1, &layouts)?);
        }
    }
    if records.iter().any(|r| r.id() == "X1") {
        let first = records
            .iter()
            .find(|r| r.id() == "X1" && r.get("condition") != "999");
        let (code, narrative) = first
            .map(|r| (r.get("condition").to_owned(), r.get("narrative").to_owned()))
            .unwrap_or(("999".into(), "BATCH REJECTED".into()));
        let all: Vec<String> = records
            .iter()
            .filter(|r| r.id() == "X1")
            .map(|r| format!("{} {}", r.get("condition"), r.get("narrative")))
            .collect();
        let message = format!(
            "AX {batch}: batch rejected, no summary processed: {}",
            all.join("; ")
        );
        return Ok(batch_entries
            .iter()
            .map(|n| SummaryResponse {
                entry_number: n.clone(),
                state: SummaryState::Rejected,
                code: code.clone(),
                narrative: narrative.clone(),
                message: message.clone(),
            })
            .collect());
    }
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut conditions: Vec<(String, String)> = Vec::new();
    for r in &records {
        match r.id() {
            "10" => {
                current = Some(entry_number(r.get("filer"), r.get("entry_number")));
                conditions.clear();
            }
            "E1" => {
                let (disposition, condition, narrative) = (
                    r.get("disposition"),
                    r.get("condition").to_owned(),
                    r.get("narrative").to_owned(),
                );
                let state = match disposition {
                    "A" => SummaryState::Accepted,
                    "R" => SummaryState::Rejected,
                    _ => {
                        conditions.push((format!("{}{condition}", r.get("severity")), narrative));
                        continue;
                    }
                };
                let Some(number) = current.take().filter(|n| !n.is_empty()) else {
                    continue;
                };
                // The first fatal condition names the rejection; the closing
                // E1 (999 ENTRY SUMMARY REJECTED) says only that it was.
                let fatal = conditions.iter().find(|(c, _)| c.starts_with('F'));
                let (code, why) = match (state, fatal) {
                    (SummaryState::Rejected, Some((c, n))) => (c[1..].to_owned(), n.clone()),
                    _ => (
                        if condition.is_empty() {
                            r.get("reason").to_owned()
                        } else {
                            condition
                        },
                        narrative.clone(),
                    ),
                };
                let listed: Vec<String> =
                    conditions.iter().map(|(c, n)| format!("{c} {n}")).collect();
                out.push(SummaryResponse {
                    entry_number: number,
                    state,
                    code,
                    narrative: why,
                    message: format!(
                        "AX {batch}: E1 {disposition} {narrative}{}",
                        if listed.is_empty() {
                            String::new()
                        } else {
                            format!("; conditions: {}", listed.join(" | "))
                        }
                    ),
                });
                conditions.clear();
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reconciles `pending` CATAIR filings by batch.
pub async fn reconcile(ctx: &App) -> anyhow::Result<()> {
    // A filing certified by its entry summary travels in an AE batch, which
    // super::summary_filing reconciles: it is never written as an SE.
    let pending: Vec<_> = ctx
        .db(|s| s.filings_in(&[FilingState::Pending]))?
        .into_iter()
        .filter(|f| f.transport == "catair" && !super::summary_filing::is_certified(f))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let cfg = &ctx.config.filing.catair;
    let out = ctx.source(&cfg.outbound_source)?;
    let inbound = ctx.source(&cfg.inbound_source)?;
    let mut by_batch: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for f in pending {
        by_batch
            .entry(f.batch.clone().unwrap_or_default())
            .or_default()
            .push(f);
    }
    for (name, filings) in by_batch {
        let left = out
            .exists(&paths::join(&[&cfg.outbound_path, &name]))
            .await?
            || out
                .exists(&paths::join(&[&cfg.outbound_path, "processed", &name]))
                .await?
            || inbound
                .exists(&paths::join(&[&cfg.inbound_path, &format!("{name}.sx")]))
                .await?
            || inbound
                .exists(&paths::join(&[
                    &cfg.inbound_path,
                    "processed",
                    &format!("{name}.sx"),
                ]))
                .await?;
        if left {
            super::mark_submitted(
                ctx,
                filings.iter().map(|f| f.entry_number.as_str()),
                &format!("reconciled: batch {name} was sent"),
            )?;
        } else {
            let entries: Vec<Entry> = filings
                .iter()
                .map(|f| {
                    serde_json::from_str(&f.payload)
                        .context("a pending filing's payload is not an entry")
                })
                .collect::<anyhow::Result<_>>()?;
            warn!(batch = %name, entries = entries.len(), "Batch {name} never left: writing it again.");
            write_batch(ctx, &name, &entries).await?;
        }
    }
    Ok(())
}

/// The records an SX batch may hold: the output envelope, X0/X1, the echoed
/// SE input records and SE90.
fn sx_layouts() -> Vec<&'static catair::key::Layout> {
    let mut l: Vec<&'static catair::key::Layout> = vec![
        &envelope::A_OUT,
        &envelope::B_OUT,
        &envelope::Y_OUT,
        &envelope::Z_OUT,
        &envelope::X0,
        &envelope::X1,
        &se::SE90,
    ];
    l.extend_from_slice(se::INPUT);
    l
}

/// `ABC-1234567-6` from a filer code and the 8-character serial + check digit.
fn entry_number(filer: &str, number: &str) -> String {
    let number = number.trim();
    if number.len() == 8 && filer.trim().len() == 3 {
        format!("{}-{}-{}", filer.trim(), &number[..7], &number[7..])
    } else {
        String::new()
    }
}

/// Reads an SX answer to batch `batch` (catair.md sections 2 and 4). A batch
/// reject (X1) rejects every entry of the batch (`batch_entries`) with its
/// first condition; otherwise each transaction's closing SE90 01-04 decides,
/// with the record-level SE90 11/13 before it kept in the message.
pub fn read_sx(
    text: &str,
    batch: &str,
    batch_entries: &[String],
) -> Result<Vec<Response>, LineError> {
    let layouts = sx_layouts();
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            records.push(key::Record::parse(line, i + 1, &layouts)?);
        }
    }
    let x1: Vec<&key::Record> = records
        .iter()
        .filter(|r| r.id() == "X1" && r.get("condition") != "999")
        .collect();
    if records.iter().any(|r| r.id() == "X1") {
        let conditions: Vec<String> = x1
            .iter()
            .map(|r| format!("{} {}", r.get("condition"), r.get("narrative")))
            .collect();
        let refs: Vec<String> = records
            .iter()
            .filter(|r| r.id() == "X0")
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.get("kind"),
                    r.get("occurrence"),
                    r.get("reference")
                )
            })
            .collect();
        let (code, narrative) = x1
            .first()
            .map(|r| (r.get("condition").to_owned(), r.get("narrative").to_owned()))
            .unwrap_or(("999".into(), "BATCH REJECTED".into()));
        let message = format!(
            "SX {batch}: batch rejected, no transaction processed: {}{}",
            conditions.join("; "),
            if refs.is_empty() {
                String::new()
            } else {
                format!(" (at {})", refs.join("; "))
            }
        );
        return Ok(batch_entries
            .iter()
            .map(|n| Response {
                entry_number: n.clone(),
                state: FilingState::Rejected,
                code: code.clone(),
                narrative: narrative.clone(),
                message: message.clone(),
            })
            .collect());
    }
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut notes: Vec<String> = Vec::new();
    for r in &records {
        match r.id() {
            "SE10" => {
                current = Some(entry_number(r.get("filer"), r.get("entry_number")));
                notes.clear();
            }
            "SE90" => {
                let (t, condition, narrative) = (
                    r.get("message_type"),
                    r.get("condition").to_owned(),
                    r.get("narrative").to_owned(),
                );
                match (t, &current) {
                    ("11" | "13", _) => notes.push(format!("{t} {condition} {narrative}")),
                    (t, Some(number)) if !number.is_empty() => {
                        if let Some(state) = ack_state(t) {
                            let detail = if notes.is_empty() {
                                String::new()
                            } else {
                                format!("; records: {}", notes.join(" | "))
                            };
                            out.push(Response {
                                entry_number: number.clone(),
                                state,
                                code: condition.clone(),
                                narrative: narrative.clone(),
                                message: format!(
                                    "SX {batch}: SE90 {t} {condition} {narrative}{detail}"
                                ),
                            });
                        }
                        current = None;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reads an SO status notification batch (rev 36, catair.md section 5): per
/// SO10, its SO50 bill holds and SO60 dispositions, each mapped by
/// [`status::release_state`]; records s321d does not use (SO20-SO42,
/// SO70-SO72) are skipped, dispositions that move nothing are dropped.
pub fn read_so(text: &str, file: &str) -> Result<Vec<Response>, LineError> {
    let layouts: Vec<&'static catair::key::Layout> = vec![
        &envelope::A_OUT,
        &envelope::B_OUT,
        &envelope::Y_OUT,
        &envelope::Z_OUT,
        &status::SO10,
        &status::SO50,
        &status::SO60,
    ];
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if status::SKIPPED.iter().any(|id| line.starts_with(id)) {
            if line.len() != key::WIDTH {
                return Err(LineError {
                    line: i + 1,
                    message: format!("is {} characters, not {}", line.len(), key::WIDTH),
                });
            }
            continue;
        }
        let r = key::Record::parse(line, i + 1, &layouts)?;
        let (state, what) = match r.id() {
            "SO10" => {
                current = Some(entry_number(r.get("filer"), r.get("entry_number")));
                continue;
            }
            "SO60" => (
                status::release_state(r.get("code"), r.get("release_origin").trim()),
                "SO60",
            ),
            "SO50" => (status::bill_match_state(r.get("code")), "SO50"),
            _ => continue,
        };
        let (Some(number), Some(state)) = (current.as_ref().filter(|n| !n.is_empty()), state)
        else {
            continue;
        };
        let code = r.get("code").to_owned();
        let narrative = r.get("narrative").to_owned();
        let release = if r.id() == "SO60" && !r.get("release_date").trim().is_empty() {
            format!(" release date {}", r.get("release_date"))
        } else {
            String::new()
        };
        out.push(Response {
            entry_number: number.clone(),
            state,
            message: format!(
                "SO {file}: {what} {code} {narrative} at {} {}{release}",
                r.get("date"),
                r.get("time")
            ),
            code,
            narrative,
        });
    }
    Ok(out)
}

/// Reads every response in the inbound location, applies it to the ledger,
/// then files it away under `processed/`.
pub async fn read_responses(ctx: &App) -> anyhow::Result<()> {
    let cfg = &ctx.config.filing.catair;
    let any_catair = ctx
        .db(|s| {
            s.filings_in(&[
                FilingState::Pending,
                FilingState::Submitted,
                FilingState::Accepted,
                FilingState::Held,
                FilingState::Detained,
            ])
        })?
        .iter()
        .any(|f| f.transport == "catair")
        || ctx
            .db(|s| s.summaries_in(&[SummaryState::Pending, SummaryState::Submitted]))?
            .iter()
            .any(|s| s.transport == "catair");
    if !any_catair {
        return Ok(());
    }
    let inbound = ctx.source(&cfg.inbound_source)?;
    for file in inbound.list(&cfg.inbound_path).await? {
        // Only finished responses: a dot file is one still being written.
        let wanted = !file.name.starts_with('.')
            && (file.name.ends_with(".sx") || file.name.ends_with(".so"));
        if !wanted {
            continue;
        }
        let bytes = match inbound.get(&file.path).await {
            Ok(b) => b,
            Err(sources::SourceError::NotFound { .. }) => continue, // taken away meanwhile
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(batch) = file.name.strip_suffix(".sx").filter(|b| is_ae_batch(b)) {
            let numbers: Vec<String> = ctx
                .db(|s| s.summaries_in(&SummaryState::ALL))?
                .into_iter()
                .filter(|s| s.batch.as_deref() == Some(batch))
                .map(|s| s.entry_number)
                .collect();
            match read_ax(&text, batch, &numbers) {
                Ok(responses) => {
                    super::summary_filing::apply(ctx, &responses)?;
                    inbound
                        .rename(
                            &file.path,
                            &paths::join(&[&cfg.inbound_path, "processed", &file.name]),
                        )
                        .await?;
                }
                Err(e) => {
                    warn!(file.name = %file.name, "Cannot read ACE AX answer {}: {e}; moved to rejected/.", file.name);
                    inbound
                        .rename(
                            &file.path,
                            &paths::join(&[&cfg.inbound_path, "rejected", &file.name]),
                        )
                        .await?;
                }
            }
            continue;
        }
        let parsed = if let Some(batch) = file.name.strip_suffix(".sx") {
            let numbers: Vec<String> = ctx
                .db(|s| s.filings_in(&FilingState::ALL))?
                .into_iter()
                .filter(|f| f.batch.as_deref() == Some(batch))
                .map(|f| f.entry_number)
                .collect();
            read_sx(&text, batch, &numbers).map_err(anyhow::Error::from)
        } else {
            read_so(&text, &file.name).map_err(anyhow::Error::from)
        };
        match parsed {
            Ok(responses) => {
                super::apply(ctx, &responses)?;
                inbound
                    .rename(
                        &file.path,
                        &paths::join(&[&cfg.inbound_path, "processed", &file.name]),
                    )
                    .await?;
            }
            Err(e) => {
                // Kept aside, not lost: an operator can read it.
                warn!(file.name = %file.name, "Cannot read ACE response {}: {e}; moved to rejected/.", file.name);
                inbound
                    .rename(
                        &file.path,
                        &paths::join(&[&cfg.inbound_path, "rejected", &file.name]),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An 80-character line with each value at its 1-based position, built
    /// from catair.md's tables, not with s321d's layouts.
    fn place(values: &[(usize, &str)]) -> String {
        let mut b = vec![b' '; 80];
        for (pos, v) in values {
            b[pos - 1..pos - 1 + v.len()].copy_from_slice(v.as_bytes());
        }
        String::from_utf8(b).unwrap()
    }

    fn env() -> Envelope {
        Envelope {
            site: "2704".into(),
            id_code: "EEE".into(),
            password: "PASSWD".to_owned().into(),
            port: String::new(),
            filer: "S32".into(),
        }
    }

    #[test]
    fn the_input_envelope_is_at_the_published_positions() {
        let mut t = key::Record::new(&se::SE60);
        t.set("hts", "6214101000").unwrap();
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let bl = blocks(
            &env(),
            vec![
                ("4701".into(), vec![t.clone()]),
                ("2704".into(), vec![t.clone()]),
                ("4772".into(), vec![t]),
            ],
            999,
        );
        assert_eq!(
            bl.iter()
                .map(|b| (b.port.as_str(), b.transactions.len()))
                .collect::<Vec<_>>(),
            [("2704", 1), ("4701", 2)],
            "one district per block"
        );
        let lines = envelope_lines(&env(), d, "SE", &bl).unwrap();
        assert!(lines.iter().all(|l| l.len() == 80));
        assert_eq!(
            lines[0],
            place(&[
                (1, "A"),
                (2, "2704"),
                (6, "EEE"),
                (9, "PASSWD"),
                (15, "120326"),
                (26, "SE")
            ])
        );
        assert_eq!(
            lines[1],
            place(&[(1, "B"), (4, "2704"), (8, "S32"), (11, "SE")])
        );
        assert_eq!(
            lines[3],
            place(&[(1, "Y"), (4, "2704"), (8, "S32"), (11, "SE")]),
            "no count in an input Y"
        );
        assert_eq!(
            lines[4],
            place(&[(1, "B"), (4, "4701"), (8, "S32"), (11, "SE")])
        );
        assert_eq!(
            lines.last().unwrap(),
            &place(&[(1, "Z"), (2, "2704"), (6, "EEE"), (15, "120326")]),
            "no password, no count in Z"
        );
        // A configured processing port goes in every B.
        let mut e = env();
        e.port = "4772".into();
        let mut t = key::Record::new(&se::SE60);
        t.set("hts", "6214101000").unwrap();
        assert_eq!(
            blocks(&e, vec![("4701".into(), vec![t])], 999)[0].port,
            "4772"
        );
    }

    fn sx_accept_and_reject() -> String {
        [
            place(&[
                (1, "A"),
                (2, "2704"),
                (6, "EEE"),
                (15, "120326"),
                (26, "SX"),
            ]),
            place(&[(1, "B"), (4, "4701"), (8, "S32"), (11, "SX")]),
            place(&[
                (1, "SE10"),
                (5, "A"),
                (6, "S32"),
                (11, "00010007"),
                (20, "86"),
            ]),
            place(&[
                (1, "SE15"),
                (5, "H"),
                (10, "DX1001"),
                (60, "00000001"),
                (73, "N"),
            ]),
            place(&[(1, "SE90"), (5, "02"), (10, "ENTRY ACCEPTED")]),
            place(&[
                (1, "SE10"),
                (5, "A"),
                (6, "S32"),
                (11, "00010015"),
                (20, "11"),
            ]),
            place(&[(1, "SE36"), (5, "SAN FRANCISCO"), (64, "US")]),
            place(&[(1, "SE90"), (5, "11"), (7, "C12"), (10, "CITY NOT VALID")]),
            place(&[(1, "SE90"), (5, "01"), (7, "C12"), (10, "ENTRY REJECTED")]),
            place(&[(1, "Y"), (4, "4701"), (8, "S32"), (11, "SX"), (13, "00007")]),
            place(&[(1, "Z"), (2, "2704"), (6, "EEE"), (15, "120326")]),
        ]
        .join("\n")
    }

    #[test]
    fn an_sx_answers_each_transaction() {
        let r = read_sx(&sx_accept_and_reject(), "b", &[]).unwrap();
        let got: Vec<(&str, FilingState, &str)> = r
            .iter()
            .map(|r| (r.entry_number.as_str(), r.state, r.code.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("S32-0001000-7", FilingState::Accepted, ""),
                ("S32-0001001-5", FilingState::Rejected, "C12")
            ]
        );
        assert!(
            r[1].message.contains("11 C12 CITY NOT VALID"),
            "{}",
            r[1].message
        );
    }

    #[test]
    fn an_x1_rejects_every_entry_of_the_batch() {
        let sx = [
            place(&[(1, "A"), (2, "2704"), (6, "EEE"), (15, "120326")]),
            format!("B{}B", " ".repeat(78)),
            place(&[
                (1, "X0"),
                (4, "BLOCK"),
                (11, "000001"),
                (18, "REF ID:"),
                (26, "4701 S32    SE"),
            ]),
            place(&[
                (1, "X1"),
                (4, "F"),
                (5, "X17"),
                (11, "FILER NOT AUTHORIZED"),
            ]),
            place(&[
                (1, "X1"),
                (3, "R"),
                (4, "F"),
                (5, "999"),
                (11, "BATCH REJECTED"),
            ]),
            place(&[(1, "Y"), (13, "00003"), (80, "Y")]),
            format!("Z{}Z", " ".repeat(78)),
        ]
        .join("\n");
        let entries = ["S32-0001000-7".to_owned(), "S32-0001001-5".to_owned()];
        let r = read_sx(&sx, "b", &entries).unwrap();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.state == FilingState::Rejected
            && r.code == "X17"
            && r.narrative == "FILER NOT AUTHORIZED"));
        assert!(r[0].message.contains("BLOCK 000001"), "{}", r[0].message);
        // A line that is not a record of an SX batch is refused with its number.
        let err = read_sx("SE10 short", "b", &[]).unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn an_ax_answers_each_summary_and_an_x1_rejects_them_all() {
        let ax = [
            place(&[
                (1, "A"),
                (2, "4701"),
                (6, "S32"),
                (15, "120326"),
                (26, "AX"),
            ]),
            place(&[(1, "B"), (4, "4701"), (8, "S32"), (11, "AX")]),
            place(&[
                (1, "10"),
                (3, "A"),
                (4, "S32"),
                (9, "00010009"),
                (18, "4701"),
                (34, "11"),
            ]),
            place(&[
                (1, "E1"),
                (3, "A"),
                (8, "995"),
                (11, "SUMMARY HAS BEEN ADDED"),
                (51, "S32"),
                (56, "00010009"),
            ]),
            place(&[
                (1, "10"),
                (3, "A"),
                (4, "S32"),
                (9, "00010017"),
                (18, "4701"),
                (34, "01"),
            ]),
            place(&[
                (1, "E1"),
                (4, "F"),
                (5, "E14"),
                (11, "11 RECORD (IOR) REQUIRED"),
                (51, "S32"),
                (56, "00010017"),
            ]),
            place(&[
                (1, "E1"),
                (3, "R"),
                (4, "F"),
                (5, "999"),
                (11, "ENTRY SUMMARY REJECTED"),
                (51, "S32"),
                (56, "00010017"),
            ]),
            place(&[(1, "Y"), (4, "4701"), (8, "S32"), (11, "AX"), (13, "00005")]),
            place(&[(1, "Z"), (2, "4701"), (6, "S32"), (15, "120326")]),
        ]
        .join("\n");
        let r = read_ax(&ax, "b-ae.sei", &[]).unwrap();
        let got: Vec<(&str, SummaryState, &str, &str)> = r
            .iter()
            .map(|r| {
                (
                    r.entry_number.as_str(),
                    r.state,
                    r.code.as_str(),
                    r.narrative.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "S32-0001000-9",
                    SummaryState::Accepted,
                    "995",
                    "SUMMARY HAS BEEN ADDED"
                ),
                (
                    "S32-0001001-7",
                    SummaryState::Rejected,
                    "E14",
                    "11 RECORD (IOR) REQUIRED"
                ),
            ]
        );
        assert!(
            r[1].message.contains("FE14 11 RECORD (IOR) REQUIRED"),
            "{}",
            r[1].message
        );
        let x1 = [
            place(&[(1, "A"), (2, "4701"), (6, "S32"), (15, "120326")]),
            format!("B{}B", " ".repeat(78)),
            place(&[
                (1, "X1"),
                (4, "F"),
                (5, "X17"),
                (11, "FILER NOT AUTHORIZED"),
            ]),
            place(&[
                (1, "X1"),
                (3, "R"),
                (4, "F"),
                (5, "999"),
                (11, "BATCH REJECTED"),
            ]),
            place(&[(1, "Y"), (13, "00002"), (80, "Y")]),
            format!("Z{}Z", " ".repeat(78)),
        ]
        .join("\n");
        let r = read_ax(&x1, "b-ae.sei", &["S32-0001000-9".to_owned()]).unwrap();
        assert_eq!(
            (r.len(), r[0].state, r[0].code.as_str()),
            (1, SummaryState::Rejected, "X17")
        );
        assert!(is_ae_batch("S32-run-ae.sei") && !is_ae_batch("S32-run.sei"));
    }

    #[test]
    fn so_rev_36_is_read_at_the_published_positions() {
        let so = [
            place(&[
                (1, "A"),
                (2, "2704"),
                (6, "EEE"),
                (15, "120326"),
                (26, "SO"),
            ]),
            place(&[(1, "B"), (4, "4701"), (8, "S32"), (11, "SO")]),
            place(&[
                (1, "SO10"),
                (5, "4701"),
                (9, "S32"),
                (14, "00010007"),
                (23, "86"),
                (25, "12-345678900"),
                (37, "DHLX"),
            ]),
            place(&[(1, "SO40"), (5, "H"), (10, "DX1001")]),
            place(&[
                (1, "SO50"),
                (5, "120326"),
                (11, "1402"),
                (15, "95"),
                (17, "BILL ARRIVED"),
                (57, "N"),
            ]),
            place(&[
                (1, "SO60"),
                (5, "120326"),
                (11, "1405"),
                (15, "98"),
                (17, "RELEASED"),
                (57, "120326"),
                (63, "03"),
            ]),
            place(&[
                (1, "SO10"),
                (5, "4701"),
                (9, "S32"),
                (14, "00010015"),
                (23, "11"),
                (25, "12-345678900"),
            ]),
            place(&[
                (1, "SO50"),
                (5, "120326"),
                (11, "1410"),
                (15, "53"),
                (17, "CBP HOLD"),
                (57, "N"),
            ]),
            place(&[
                (1, "SO60"),
                (5, "120326"),
                (11, "1411"),
                (15, "97"),
                (17, "ADMISSIBLE"),
            ]),
            place(&[
                (1, "SO60"),
                (5, "120326"),
                (11, "1412"),
                (15, "04"),
                (17, "ENTRY DETAINED"),
            ]),
            place(&[(1, "Y"), (4, "4701"), (8, "S32"), (11, "SO"), (13, "00008")]),
            place(&[(1, "Z"), (2, "2704"), (6, "EEE"), (15, "120326")]),
        ]
        .join("\n");
        let r = read_so(&so, "x.so").unwrap();
        let got: Vec<(&str, FilingState, &str)> = r
            .iter()
            .map(|r| (r.entry_number.as_str(), r.state, r.code.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("S32-0001000-7", FilingState::Released, "98"),
                ("S32-0001001-5", FilingState::Held, "53"),
                ("S32-0001001-5", FilingState::Detained, "04"),
            ],
            "the code is read at 15-16, never the date at 5-6; 95 and 97 move nothing"
        );
        assert!(
            r[0].message.contains("at 120326 1405 release date 120326"),
            "{}",
            r[0].message
        );
        assert_eq!(r[1].narrative, "CBP HOLD");
    }
}
