//! The rule engine: one *run* over a list of manifest files, from bytes to
//! findings, dispositions and new history (contract sections 4-7).
//!
//! Stages, each a polars plan:
//! 1. `line_rules`: per chunk, normalise and apply the line rules; keep compact
//!    line facts, stream findings straight to the output writers.
//! 2. `file_rules`: per file, D001 and D002 on that file's line facts.
//! 3. `shipment_rules`: per run, shipments, D003/D004/L001-L003 with history,
//!    and routing.
//!
//! A reader thread parses the next chunk while polars evaluates the current one.
//! The engine never files, sends or moves anything: callers (`validate`, the
//! daemon, `replay`) decide what to do with a [`RunSummary`].

pub mod duty_lines;
pub mod entry_stage;
pub mod file_rules;
pub mod kernels;
pub mod line_rules;
pub mod output;
pub mod rules;
pub mod shipment_rules;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_entries;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::columns as c;
use crate::job::Job;
use crate::manifest::{self, FileIssues, Input};
use crate::policy::Policy;
use crate::state::HistoryStore;
use rules::{Rule, RuleSet, Severity};

/// Columns of the internal findings frames, in output order (`file` becomes
/// `source_file` when written).
pub const FINDING_COLUMNS: [&str; 9] = [
    c::FILE,
    "record",
    "carrier",
    "house_bill",
    "line_no",
    "rule",
    "severity",
    "field",
    "message",
];

/// Projects rows that fired `rule` into the findings schema.
pub(crate) fn finding_frame(
    rows: LazyFrame,
    rule: Rule,
    record: Expr,
    line_no: Expr,
    field: Expr,
    message: Expr,
) -> LazyFrame {
    rows.select([
        col(c::FILE),
        record.cast(DataType::UInt32).alias("record"),
        col(c::K_CARRIER).alias("carrier"),
        col(c::K_HOUSE_BILL).alias("house_bill"),
        line_no.cast(DataType::String).alias("line_no"),
        lit(rule.code()).alias("rule"),
        lit(rule.severity().as_str()).alias("severity"),
        field.cast(DataType::String).alias("field"),
        message.alias("message"),
    ])
}

/// A left join that keeps the left frame's row order.
pub(crate) fn left_join_keep_order() -> JoinArgs {
    let mut args = JoinArgs::new(JoinType::Left);
    args.maintain_order = MaintainOrderJoin::Left;
    args
}

/// One file of a run.
#[derive(Debug, Clone)]
pub struct RunFile {
    /// The name written in outputs (the file's base name).
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 if the caller already knows it (the daemon does); else computed
    /// when history needs it.
    pub sha256: Option<String>,
    /// The job that reads it.
    pub job: Arc<Job>,
}

/// A run to evaluate.
pub struct RunRequest<'a> {
    pub run_id: String,
    pub files: Vec<RunFile>,
    pub policy: Arc<Policy>,
    pub out_dir: PathBuf,
    /// `None` runs without history (`--no-history`): nothing read, nothing recorded.
    pub history: Option<&'a mut (dyn HistoryStore + 'a)>,
    /// Whether this run's new shipments are added to history (false for replays,
    /// which re-evaluate what history already holds).
    pub record_history: bool,
    pub chunk_rows: usize,
    /// Per-file caps (`[limits]`): record length, rows, decoded text, findings per rule.
    pub limits: crate::config::LimitsConfig,
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub name: String,
    pub job: String,
    pub sha256: String,
    pub records: u64,
    /// F001's reason, when the file could not be read at all.
    pub unreadable: Option<String>,
}

/// The outcome of a run, for the CLI, the daemon's run summary and metrics.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub files: Vec<FileSummary>,
    pub lines: u64,
    pub shipments: u64,
    pub findings_by_rule: BTreeMap<Rule, u64>,
    pub dispositions: BTreeMap<String, u64>,
    pub new_history: u64,
    /// The run's entries (contract section 8), by type and in total.
    pub entries: EntrySummary,
    pub outputs: Vec<PathBuf>,
    pub policy_digest: String,
    pub duration_ms: u128,
}

/// What the run's entries add up to (for summaries, metrics and reports).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EntrySummary {
    /// Entries by type code (`01`, `03`, `11`).
    pub by_type: BTreeMap<String, u64>,
    /// Estimated duty, MPF and HMF over the entries whose figure is known.
    pub duty_usd: String,
    pub mpf_usd: String,
    pub hmf_usd: String,
    /// MPF saved by grouping: one entry per house bill would have cost this
    /// much more (over entries whose fees are known).
    pub mpf_saved_usd: String,
    /// Entries whose duty or fees are unknown.
    pub unknown: u64,
    /// Entries that cannot be filed for want of an IOR number (V010).
    pub without_ior: u64,
    /// Chapter 99 amounts by heading, over the entered lines.
    pub ch99_usd: BTreeMap<String, String>,
}

impl EntrySummary {
    fn new(entries: &[entry_stage::Entry], ch99: &entry_stage::Ch99Totals) -> EntrySummary {
        let mut s = EntrySummary::default();
        let (mut duty, mut mpf, mut hmf, mut saved) = (0i128, 0i128, 0i128, 0i128);
        for e in entries {
            if let (Some(alone), Some(built)) = (e.mpf_per_bill, e.mpf) {
                saved += alone - built;
            }
            *s.by_type.entry(e.entry_type.code().to_owned()).or_insert(0) += 1;
            duty += e.duty.unwrap_or(0);
            mpf += e.mpf.unwrap_or(0);
            hmf += e.hmf.unwrap_or(0);
            s.unknown += u64::from(!e.known());
            s.without_ior += u64::from(e.ior_number.is_empty());
        }
        s.duty_usd = crate::money::format(duty);
        s.mpf_usd = crate::money::format(mpf);
        s.hmf_usd = crate::money::format(hmf);
        s.mpf_saved_usd = crate::money::format(saved);
        s.ch99_usd = ch99
            .iter()
            .map(|(k, v)| (k.clone(), crate::money::format(*v)))
            .collect();
        s
    }
}

impl RunSummary {
    /// Findings of one severity.
    pub fn count(&self, severity: Severity) -> u64 {
        self.findings_by_rule
            .iter()
            .filter(|(r, _)| r.severity() == severity)
            .map(|(_, n)| n)
            .sum()
    }

    /// Files that could not be read (F001).
    pub fn unreadable_files(&self) -> impl Iterator<Item = &FileSummary> {
        self.files.iter().filter(|f| f.unreadable.is_some())
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Where a run's time went (logged at debug level).
#[derive(Default)]
struct StageTiming {
    reading: std::time::Duration,
    line_rules: std::time::Duration,
    file_rules: std::time::Duration,
    run_rules: std::time::Duration,
    /// Appending each file's distinct lines to the entry-line spill.
    spill: std::time::Duration,
    /// Entry stage: grouping, fees, V010.
    entries: std::time::Duration,
    /// Streaming the spill into `entry_lines.csv` (part of `writing`).
    entry_lines: std::time::Duration,
    writing: std::time::Duration,
}

enum Message {
    Chunk(DataFrame),
    FileDone(FileIssues),
}

/// Evaluates a run and writes `findings.csv`, `findings.parquet` and
/// `dispositions.csv` into `out_dir` (atomically: a reader never sees a half
/// file). History is consulted and, when the outputs are in place, updated.
pub fn run(request: RunRequest<'_>) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let RunRequest {
        run_id,
        files,
        policy,
        out_dir,
        mut history,
        record_history,
        chunk_rows,
        limits,
    } = request;
    let read_limits = manifest::Limits {
        max_record_bytes: usize::try_from(limits.max_record_bytes).unwrap_or(usize::MAX),
        max_rows: limits.max_rows_per_file,
        max_decoded_bytes: limits.max_decoded_bytes_per_file,
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create the output folder {}", out_dir.display()))?;
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let mut writer = output::BackgroundWriter::start(
        output::FindingsWriter::create(&out_dir, &run_id, names.clone())?
            .with_cap(limits.max_findings_per_rule),
    )?;

    let need_sha = history.is_some();
    let mut shas = Vec::with_capacity(files.len());
    for f in &files {
        shas.push(match (&f.sha256, need_sha) {
            (Some(s), _) => s.clone(),
            (None, true) => sha256_file(&f.path).unwrap_or_default(),
            (None, false) => String::new(),
        });
    }

    let ctx = line_rules::LineContext::new(policy.clone());
    let mut spill = entry_stage::LineSpill::create(&out_dir, &run_id)?;
    let mut unreviewed = 0u64;
    let (tx, rx) = crossbeam_channel::bounded::<anyhow::Result<Message>>(2);
    let reader_files = files.clone();
    let reader = std::thread::Builder::new()
        .name("s321d-reader".into())
        .spawn(move || {
            for (idx, f) in reader_files.iter().enumerate() {
                let mut send_chunk = |df: DataFrame| -> anyhow::Result<()> {
                    tx.send(Ok(Message::Chunk(df)))
                        .map_err(|_| anyhow::anyhow!("the engine stopped"))
                };
                let result = manifest::read_limited(
                    &f.job.format,
                    Input::Path(&f.path),
                    idx as u32,
                    chunk_rows,
                    &read_limits,
                    &mut send_chunk,
                )
                .with_context(|| format!("cannot read {}", f.path.display()));
                let stop = result.is_err();
                if tx.send(result.map(Message::FileDone)).is_err() || stop {
                    return;
                }
            }
        })?;

    let mut summaries = Vec::with_capacity(files.len());
    let mut metas = Vec::with_capacity(files.len());
    let mut run_shipments: Vec<DataFrame> = Vec::new();
    let mut run_signatures: Vec<DataFrame> = Vec::new();
    let mut file_facts: Vec<DataFrame> = Vec::new();
    let mut lines = 0u64;
    // Lines of the file being read: taken back if it turns out unreadable.
    let mut file_lines = 0u64;
    let mut current = 0usize;
    let mut timing = StageTiming::default();
    let mut waited = Instant::now();
    for message in rx {
        timing.reading += waited.elapsed();
        match message? {
            Message::Chunk(chunk) => {
                file_lines += chunk.height() as u64;
                let t = Instant::now();
                let out = line_rules::evaluate(chunk, &ctx, &files[current].job.format)?;
                unreviewed += out.unreviewed;
                timing.line_rules += t.elapsed();
                let t = Instant::now();
                writer.hold(out.findings)?;
                timing.writing += t.elapsed();
                file_facts.push(out.facts);
            }
            Message::FileDone(issues) => {
                let f = &files[current];
                let mut errors = RuleSet::default();
                let mut lines_after = std::mem::take(&mut unreviewed);
                if issues.unreadable.is_some() {
                    // F001 alone speaks for an unreadable file (a reader that
                    // stopped at a cap or failed part-way): none of its rows
                    // reach findings, dispositions, entries or history.
                    writer.discard(current as u32)?;
                    file_facts.clear();
                    lines_after = 0;
                } else {
                    writer.release()?;
                    lines += file_lines;
                }
                file_lines = 0;
                let t002 =
                    policy
                        .duty
                        .reviewed_through
                        .map(|reviewed_through| output::Unreviewed {
                            lines: lines_after,
                            reviewed_through,
                            carrier: first_carrier(&file_facts),
                        });
                writer.write(output::file_findings(
                    current as u32,
                    &f.job,
                    &issues,
                    t002,
                    &mut errors,
                )?)?;
                if !file_facts.is_empty() {
                    let t = Instant::now();
                    let facts = concat_frames(std::mem::take(&mut file_facts))?;
                    let out = file_rules::evaluate(facts)?;
                    timing.file_rules += t.elapsed();
                    writer.write(out.findings)?;
                    let t = Instant::now();
                    spill.append(&out.entry_lines)?;
                    timing.spill += t.elapsed();
                    run_shipments.push(out.shipments);
                    run_signatures.push(out.line_signatures);
                }
                summaries.push(FileSummary {
                    name: f.name.clone(),
                    job: f.job.name.clone(),
                    sha256: shas[current].clone(),
                    records: u64::from(issues.records),
                    unreadable: issues.unreadable.clone(),
                });
                metas.push(shipment_rules::FileMeta {
                    name: f.name.clone(),
                    sha256: shas[current].clone(),
                    errors,
                });
                current += 1;
            }
        }
        waited = Instant::now();
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    anyhow::ensure!(
        current == files.len(),
        "the reader stopped after {current} of {} files",
        files.len()
    );

    let t = Instant::now();
    let (shipments, signatures) = if run_shipments.is_empty() {
        let empty = file_rules::evaluate(empty_line_facts())?;
        (empty.shipments, empty.line_signatures)
    } else {
        (
            concat_frames(run_shipments)?,
            concat_frames(run_signatures)?,
        )
    };
    // From the first history read to the record of this run's shipments, one
    // critical section: a concurrent run waits here, then sees ours.
    if record_history && let Some(h) = history.as_deref_mut() {
        h.lock_history()?;
    }
    let out = shipment_rules::evaluate(
        shipments,
        signatures,
        &metas,
        &policy,
        history.as_deref_mut(),
        &run_id,
    )?;
    crate::faults::pause_for_tests("history-read");
    timing.run_rules += t.elapsed();
    let t = Instant::now();
    let entered = entry_stage::evaluate(out.dispositions, &policy)?;
    timing.entries += t.elapsed();
    let t = Instant::now();
    writer.write(out.findings)?;
    writer.write(entered.findings.clone())?;
    let mut written = vec![output::write_dispositions(
        &out_dir,
        &run_id,
        &entered.dispositions,
    )?];
    let mut ch99 = entry_stage::Ch99Totals::new();
    if !entered.entries.is_empty() {
        written.push(entry_stage::write_entries(
            &out_dir,
            &run_id,
            &entered.entries,
        )?);
        let lines_started = Instant::now();
        let (path, totals) = entry_stage::write_entry_lines(
            &out_dir,
            &run_id,
            &mut spill,
            &entered,
            &names,
            policy.duty.has_hts(),
            &mut |t001| writer.write(t001),
        )?;
        written.push(path);
        ch99 = totals;
        timing.entry_lines += lines_started.elapsed();
    } else {
        // No entry this run: entries of an earlier run in this folder are not this run's.
        for stale in ["entries.csv", "entry_lines.csv"] {
            let _ = std::fs::remove_file(out_dir.join(stale));
        }
    }
    drop(spill);
    let (findings_by_rule, mut outputs) = writer.finish()?;
    outputs.extend(written);
    timing.writing += t.elapsed();
    tracing::debug!(
        run.id = %run_id,
        waiting_for_reader_ms = timing.reading.as_millis() as u64,
        line_rules_ms = timing.line_rules.as_millis() as u64,
        file_rules_ms = timing.file_rules.as_millis() as u64,
        run_rules_ms = timing.run_rules.as_millis() as u64,
        spill_ms = timing.spill.as_millis() as u64,
        entries_ms = timing.entries.as_millis() as u64,
        entry_lines_ms = timing.entry_lines.as_millis() as u64,
        writing_ms = timing.writing.as_millis() as u64,
        "Stage timings of run {run_id}."
    );

    let new_history = match history {
        Some(h) if record_history => h.record_shipments(&out.new_history)?,
        _ => 0,
    };
    let mut disposition_counts = BTreeMap::new();
    for d in entered
        .dispositions
        .column("disposition")?
        .str()?
        .iter()
        .flatten()
    {
        *disposition_counts.entry(d.to_owned()).or_insert(0) += 1;
    }
    Ok(RunSummary {
        run_id,
        files: summaries,
        lines,
        shipments: entered.dispositions.height() as u64,
        entries: EntrySummary::new(&entered.entries, &ch99),
        findings_by_rule,
        dispositions: disposition_counts,
        new_history,
        outputs,
        policy_digest: policy.digest.clone(),
        duration_ms: started.elapsed().as_millis(),
    })
}

/// The carrier the first line of a file names (for T002, a file-level finding).
fn first_carrier(facts: &[DataFrame]) -> Option<String> {
    let first = facts
        .first()?
        .column(c::K_CARRIER)
        .ok()?
        .str()
        .ok()?
        .get(0)?;
    Some(first.to_owned()).filter(|c| !c.is_empty())
}

fn concat_frames(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut it = frames.into_iter();
    let mut first = it.next().expect("at least one frame");
    for f in it {
        first.vstack_mut_owned(f)?;
    }
    first.rechunk_mut();
    Ok(first)
}

/// Line facts of a run with no readable line, in the line stage's schema.
fn empty_line_facts() -> DataFrame {
    let col = |name: &str, dt: DataType| Column::new_empty(name.into(), &dt);
    DataFrame::new(
        0,
        vec![
            col(c::FILE, DataType::UInt32),
            col(c::RECORD, DataType::UInt32),
            col(c::SHIP_HI, DataType::UInt64),
            col(c::SHIP_LO, DataType::UInt64),
            col(c::K_CARRIER, DataType::String),
            col(c::K_HOUSE_BILL, DataType::String),
            col(c::K_LINE, DataType::String),
            col(c::N_LINE, DataType::String),
            col(c::ROW_HASH_HI, DataType::UInt64),
            col(c::ROW_HASH_LO, DataType::UInt64),
            col(c::USD, DataType::Int128),
            col(c::DATE, DataType::Date),
            col(c::CONSIGNEE_KEY, DataType::String),
            col(c::LINE_SIGNATURE, DataType::UInt64),
            col(c::ERRORS, DataType::UInt32),
            col(c::E001, DataType::Boolean),
            col(c::E003, DataType::Boolean),
            col(c::E004, DataType::Boolean),
            col(c::N_HTS, DataType::String),
            col(c::N_ORIGIN, DataType::String),
            col(c::N_PORT, DataType::String),
            col(c::N_CONVEYANCE, DataType::String),
            col(c::N_IOR, DataType::String),
            col(c::N_MODE, DataType::String),
            col(c::N_CHECKOUT, DataType::Int128),
            col(duty_lines::RATE_COLUMN, DataType::String),
            col(duty_lines::RATE, DataType::String),
            col(duty_lines::HTS_DUTY, DataType::Int128),
            col(duty_lines::CH99, DataType::String),
            col(duty_lines::DUTY, DataType::Int128),
            col(duty_lines::T001, DataType::String),
        ],
    )
    .expect("empty columns")
}
