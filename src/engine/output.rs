//! The run's output files (contract section 7): `findings.csv`,
//! `findings.parquet` and `dispositions.csv`.
//!
//! Findings stream out chunk by chunk as the stages produce them, so millions of
//! findings never sit in memory. Every file is written under a temporary name,
//! synced, then renamed into place: a reader sees the old file or the whole new
//! one, never half of one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::*;

use super::FINDING_COLUMNS;
use super::rules::{Rule, RuleSet};
use crate::columns as c;
use crate::fsutil::sync_dir;
use crate::job::Job;
use crate::manifest::FileIssues;

/// `findings.csv` / `findings.parquet` columns, as the contract names them.
pub const FINDINGS_HEADER: [&str; 9] = [
    "source_file",
    "record",
    "carrier",
    "house_bill",
    "line_no",
    "rule",
    "severity",
    "field",
    "message",
];

/// `dispositions.csv` columns (v2 added `entry_ref` last).
pub const DISPOSITIONS_HEADER: [&str; 10] = [
    "source_file",
    "carrier",
    "house_bill",
    "arrival_date",
    "consignee_key",
    "lines",
    "total_usd",
    "disposition",
    "reasons",
    "entry_ref",
];

/// A file being written under a temporary name.
pub(crate) struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
}

impl Staged {
    pub(crate) fn new(dir: &Path, name: &str, run_id: &str) -> Staged {
        Staged {
            tmp: dir.join(format!(".{name}.{run_id}.tmp")),
            dest: dir.join(name),
        }
    }

    pub(crate) fn create(&self) -> anyhow::Result<File> {
        File::create(&self.tmp).with_context(|| format!("cannot create {}", self.tmp.display()))
    }

    /// Syncs the temporary file and renames it into place.
    pub(crate) fn commit(&self, file: File) -> anyhow::Result<PathBuf> {
        file.sync_all()
            .with_context(|| format!("cannot sync {}", self.tmp.display()))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("cannot move {} into place", self.dest.display()))?;
        Ok(self.dest.clone())
    }
}

/// Streams findings to CSV and Parquet.
pub struct FindingsWriter {
    names: Vec<String>,
    csv: csv::Writer<BufWriter<File>>,
    csv_file: Staged,
    parquet: polars::io::parquet::write::BatchedWriter<File>,
    parquet_file: Staged,
    counts: BTreeMap<Rule, u64>,
    dir: PathBuf,
    /// Rows written so far per (file, rule), up to `cap`; past it rows are
    /// only counted, and one summary row per (file, rule) ends the output.
    listed: BTreeMap<(u32, Rule), u64>,
    unlisted: BTreeMap<(u32, Rule), u64>,
    cap: u64,
    /// Line findings of the file being read, held until the file is known to
    /// be readable: an unreadable file's rows never reach the outputs. The
    /// cap applies before holding, so this is at most `cap` rows per rule.
    held: Vec<DataFrame>,
    held_counts: BTreeMap<Rule, u64>,
}

/// The most rows of one rule written for one file: the rest are counted in
/// one summary row ("and N more RULE findings in this file were not listed"),
/// so the outputs stay proportional to the input. `findings_by_rule` and the
/// dispositions (which follow the error bits, not the rows) count them all.
pub const MAX_FINDINGS_PER_RULE_PER_FILE: u64 = 10_000;

fn parquet_schema() -> Schema {
    Schema::from_iter([
        Field::new("source_file".into(), DataType::String),
        Field::new("record".into(), DataType::UInt32),
        Field::new("carrier".into(), DataType::String),
        Field::new("house_bill".into(), DataType::String),
        Field::new("line_no".into(), DataType::String),
        Field::new("rule".into(), DataType::String),
        Field::new("severity".into(), DataType::String),
        Field::new("field".into(), DataType::String),
        Field::new("message".into(), DataType::String),
    ])
}

impl FindingsWriter {
    /// Opens both files in `dir`; `names` maps the `file` index to `source_file`.
    pub fn create(dir: &Path, run_id: &str, names: Vec<String>) -> anyhow::Result<FindingsWriter> {
        let csv_file = Staged::new(dir, "findings.csv", run_id);
        let mut csv =
            csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, csv_file.create()?));
        csv.write_record(FINDINGS_HEADER)?;
        let parquet_file = Staged::new(dir, "findings.parquet", run_id);
        let parquet = ParquetWriter::new(parquet_file.create()?)
            .with_compression(ParquetCompression::Snappy)
            .batched(&parquet_schema())?;
        Ok(FindingsWriter {
            names,
            csv,
            csv_file,
            parquet,
            parquet_file,
            counts: BTreeMap::new(),
            dir: dir.to_owned(),
            listed: BTreeMap::new(),
            unlisted: BTreeMap::new(),
            cap: MAX_FINDINGS_PER_RULE_PER_FILE,
            held: Vec::new(),
            held_counts: BTreeMap::new(),
        })
    }

    /// Lowers (or raises) the cap on rows per rule per file.
    pub fn with_cap(mut self, cap: u64) -> FindingsWriter {
        self.cap = cap;
        self
    }

    /// Appends findings (the internal schema, [`FINDING_COLUMNS`]).
    pub fn write(&mut self, findings: &DataFrame) -> anyhow::Result<()> {
        let mut counts = BTreeMap::new();
        if let Some(kept) = self.select(findings, &mut counts)? {
            self.emit(&kept)?;
        }
        for (rule, n) in counts {
            *self.counts.entry(rule).or_insert(0) += n;
        }
        Ok(())
    }

    /// Holds line findings of the file being read until [`FindingsWriter::release`]
    /// (the file was readable) or [`FindingsWriter::discard`] (it was not).
    pub fn hold(&mut self, findings: &DataFrame) -> anyhow::Result<()> {
        let mut counts = std::mem::take(&mut self.held_counts);
        let kept = self.select(findings, &mut counts);
        self.held_counts = counts;
        if let Some(kept) = kept? {
            self.held.push(kept);
        }
        Ok(())
    }

    /// Writes the held findings.
    pub fn release(&mut self) -> anyhow::Result<()> {
        for frame in std::mem::take(&mut self.held) {
            self.emit(&frame)?;
        }
        for (rule, n) in std::mem::take(&mut self.held_counts) {
            *self.counts.entry(rule).or_insert(0) += n;
        }
        Ok(())
    }

    /// Drops the held findings of `file`, as if they had never come.
    pub fn discard(&mut self, file: u32) {
        self.held.clear();
        self.held_counts.clear();
        self.listed.retain(|(f, _), _| *f != file);
        self.unlisted.retain(|(f, _), _| *f != file);
    }

    /// The rows of `findings` within the cap (`None` if none), counting every
    /// row by rule into `counts` and the rows past the cap into `unlisted`.
    fn select(
        &mut self,
        findings: &DataFrame,
        counts: &mut BTreeMap<Rule, u64>,
    ) -> anyhow::Result<Option<DataFrame>> {
        if findings.height() == 0 {
            return Ok(None);
        }
        let file = findings.column(c::FILE)?.u32()?;
        let rule = findings.column("rule")?.str()?;
        let mut keep = Vec::with_capacity(findings.height());
        for (f, code) in file.iter().zip(rule.iter()) {
            let Some(r) = code.and_then(Rule::from_code) else {
                keep.push(true);
                continue;
            };
            *counts.entry(r).or_insert(0) += 1;
            let key = (f.unwrap_or(u32::MAX), r);
            let listed = self.listed.entry(key).or_insert(0);
            if *listed >= self.cap {
                *self.unlisted.entry(key).or_insert(0) += 1;
                keep.push(false);
            } else {
                *listed += 1;
                keep.push(true);
            }
        }
        let mut kept = if keep.iter().all(|k| *k) {
            findings.clone()
        } else {
            findings.filter(&BooleanChunked::from_slice("keep".into(), &keep))?
        };
        if kept.height() == 0 {
            return Ok(None);
        }
        // One chunk per column makes row access O(1) and suits the parquet writer.
        kept.rechunk_mut();
        Ok(Some(kept))
    }

    /// Writes rows [`FindingsWriter::select`] kept to both files.
    fn emit(&mut self, findings: &DataFrame) -> anyhow::Result<()> {
        let file = findings.column(c::FILE)?.u32()?;
        let record = findings.column("record")?.u32()?;
        let text: Vec<&StringChunked> = FINDING_COLUMNS[2..]
            .iter()
            .map(|n| findings.column(n).and_then(|c| c.str()))
            .collect::<PolarsResult<_>>()?;
        let mut source = StringChunkedBuilder::new("source_file".into(), findings.height());
        let mut num = itoa_buf();
        for i in 0..findings.height() {
            let name = file
                .get(i)
                .and_then(|f| self.names.get(f as usize))
                .map_or("", String::as_str);
            source.append_value(name);
            let rec = record.get(i).map_or("", |r| num.format(r));
            self.csv.write_record([
                name.as_bytes(),
                rec.as_bytes(),
                text[0].get(i).unwrap_or("").as_bytes(),
                text[1].get(i).unwrap_or("").as_bytes(),
                text[2].get(i).unwrap_or("").as_bytes(),
                text[3].get(i).unwrap_or("").as_bytes(),
                text[4].get(i).unwrap_or("").as_bytes(),
                text[5].get(i).unwrap_or("").as_bytes(),
                text[6].get(i).unwrap_or("").as_bytes(),
            ])?;
        }
        let mut batch = findings.select(FINDING_COLUMNS[1..].iter().copied())?;
        batch.insert_column(0, source.finish().into_column())?;
        self.parquet.write_batch(&batch)?;
        Ok(())
    }

    /// One row per (file, rule) whose findings went past the cap.
    fn write_summaries(&mut self) -> anyhow::Result<()> {
        if self.unlisted.is_empty() {
            return Ok(());
        }
        let n = self.unlisted.len();
        let mut names = Vec::with_capacity(n);
        let mut rules = Vec::with_capacity(n);
        let mut severities = Vec::with_capacity(n);
        let mut messages = Vec::with_capacity(n);
        for (&(file, rule), &more) in &self.unlisted {
            let name = self.names.get(file as usize).map_or("", String::as_str);
            let message = format!(
                "and {more} more {} findings in this file were not listed",
                rule.code()
            );
            self.csv.write_record([
                name,
                "",
                "",
                "",
                "",
                rule.code(),
                rule.severity().as_str(),
                "",
                message.as_str(),
            ])?;
            names.push(name.to_owned());
            rules.push(rule.code());
            severities.push(rule.severity().as_str());
            messages.push(message);
        }
        let batch = DataFrame::new(
            n,
            vec![
                Column::new("source_file".into(), names),
                Column::new("record".into(), vec![None::<u32>; n]),
                Column::new("carrier".into(), vec![""; n]),
                Column::new("house_bill".into(), vec![""; n]),
                Column::new("line_no".into(), vec![""; n]),
                Column::new("rule".into(), rules),
                Column::new("severity".into(), severities),
                Column::new("field".into(), vec![""; n]),
                Column::new("message".into(), messages),
            ],
        )?;
        self.parquet.write_batch(&batch)?;
        Ok(())
    }

    /// Closes both files and moves them into place. Returns the count of
    /// findings per rule and the paths written.
    pub fn finish(mut self) -> anyhow::Result<(BTreeMap<Rule, u64>, Vec<PathBuf>)> {
        self.write_summaries()?;
        let FindingsWriter {
            csv,
            csv_file,
            parquet,
            parquet_file,
            counts,
            dir,
            ..
        } = self;
        let file = csv
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write findings.csv: {}", e.error()))?;
        let file = file
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write findings.csv: {}", e.error()))?;
        let csv_path = csv_file.commit(file)?;
        parquet.finish()?;
        // The batched writer owns the file; reopen to sync before the rename.
        let file = File::options().write(true).open(&parquet_file.tmp)?;
        let parquet_path = parquet_file.commit(file)?;
        sync_dir(&dir).ok();
        Ok((counts, vec![csv_path, parquet_path]))
    }
}

/// What a findings writer leaves: findings per rule, and the files written.
type Written = (BTreeMap<Rule, u64>, Vec<PathBuf>);

/// A [`FindingsWriter`] on its own thread, so serialising findings overlaps
/// with evaluating the next chunk. Frames queue on a short bounded channel.
pub struct BackgroundWriter {
    tx: Option<crossbeam_channel::Sender<Op>>,
    handle: Option<std::thread::JoinHandle<anyhow::Result<Written>>>,
}

/// What the writer thread is asked to do, in order.
enum Op {
    Write(DataFrame),
    Hold(DataFrame),
    Release,
    Discard(u32),
}

impl BackgroundWriter {
    pub fn start(writer: FindingsWriter) -> anyhow::Result<BackgroundWriter> {
        let (tx, rx) = crossbeam_channel::bounded::<Op>(4);
        let handle = std::thread::Builder::new()
            .name("s321d-writer".into())
            .spawn(move || {
                let mut writer = writer;
                for op in rx {
                    match op {
                        Op::Write(frame) => writer.write(&frame)?,
                        Op::Hold(frame) => writer.hold(&frame)?,
                        Op::Release => writer.release()?,
                        Op::Discard(file) => writer.discard(file),
                    }
                }
                writer.finish()
            })?;
        Ok(BackgroundWriter {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queues findings; fails if the writer thread has stopped (its error
    /// comes back from [`BackgroundWriter::finish`]).
    pub fn write(&mut self, findings: DataFrame) -> anyhow::Result<()> {
        if findings.height() == 0 {
            return Ok(());
        }
        self.send(Op::Write(findings))
    }

    /// Queues line findings of the file being read ([`FindingsWriter::hold`]).
    pub fn hold(&mut self, findings: DataFrame) -> anyhow::Result<()> {
        if findings.height() == 0 {
            return Ok(());
        }
        self.send(Op::Hold(findings))
    }

    /// The file being read was readable: its held findings are written.
    pub fn release(&mut self) -> anyhow::Result<()> {
        self.send(Op::Release)
    }

    /// The file being read was not: its held findings are dropped.
    pub fn discard(&mut self, file: u32) -> anyhow::Result<()> {
        self.send(Op::Discard(file))
    }

    fn send(&mut self, op: Op) -> anyhow::Result<()> {
        let tx = self.tx.as_ref().expect("not finished");
        if tx.send(op).is_err() {
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the findings writer stopped")));
        }
        Ok(())
    }

    fn join(&mut self) -> anyhow::Result<(BTreeMap<Rule, u64>, Vec<PathBuf>)> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("the findings writer panicked"))?,
            None => Err(anyhow::anyhow!("the findings writer already stopped")),
        }
    }

    /// Waits for every queued frame, then closes and moves the files into place.
    pub fn finish(mut self) -> anyhow::Result<(BTreeMap<Rule, u64>, Vec<PathBuf>)> {
        self.join()
    }
}

/// A small integer formatter that does not allocate per call.
struct ItoaBuf(String);

fn itoa_buf() -> ItoaBuf {
    ItoaBuf(String::with_capacity(12))
}

impl ItoaBuf {
    fn format(&mut self, n: u32) -> &str {
        use std::fmt::Write as _;
        self.0.clear();
        let _ = write!(self.0, "{n}");
        &self.0
    }
}

/// What T002 says of a file: how many of its lines arrive after
/// `duty.reviewed_through`, that date, and the carrier its lines name (a
/// file-level finding otherwise knows only the job's constant).
pub struct Unreviewed {
    pub lines: u64,
    pub reviewed_through: chrono::NaiveDate,
    pub carrier: Option<String>,
}

/// F001/F002/F003/F004 and T002 findings of one file. Adds the file-level error
/// rules that hold every shipment of the file to `errors`.
pub fn file_findings(
    file: u32,
    job: &Job,
    issues: &FileIssues,
    unreviewed: Option<Unreviewed>,
    errors: &mut RuleSet,
) -> PolarsResult<DataFrame> {
    let carrier = job
        .format
        .constants
        .get(c::CARRIER)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mut rows: Vec<(Option<u32>, Rule, String, String)> = Vec::new();
    let mut carriers = Vec::new();
    if let Some(reason) = &issues.unreadable {
        rows.push((
            None,
            Rule::F001,
            String::new(),
            format!("the file cannot be read: {reason}"),
        ));
        errors.insert(Rule::F001);
    }
    for m in &issues.missing_columns {
        rows.push((
            None,
            Rule::F002,
            m.canonical.clone(),
            format!(
                "column {:?} (mapped to {}) is not in the file",
                m.source, m.canonical
            ),
        ));
        errors.insert(Rule::F002);
    }
    for m in &issues.marked_columns {
        rows.push((None, Rule::F002, m.field.clone(), m.message.clone()));
        errors.insert(Rule::F002);
    }
    for m in &issues.duplicated_columns {
        rows.push((None, Rule::F004, m.field.clone(), m.message.clone()));
    }
    for m in &issues.malformed {
        rows.push((
            Some(m.record),
            Rule::F003,
            String::new(),
            format!("record {} {}", m.record, m.message),
        ));
    }
    carriers.resize(rows.len(), carrier.clone());
    if let Some(u) = unreviewed.filter(|u| u.lines > 0) {
        rows.push((
            None,
            Rule::T002,
            c::ARRIVAL_DATE.to_owned(),
            format!(
                "{} line(s) arrive after duty.reviewed_through {}: their duty rates were not checked against CBP's guidance for those dates",
                u.lines, u.reviewed_through
            ),
        ));
        carriers.push(if carrier.is_empty() {
            u.carrier.unwrap_or_default()
        } else {
            carrier.clone()
        });
    }
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new(c::FILE.into(), vec![file; n]),
            Column::new(
                "record".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new("carrier".into(), carriers),
            Column::new("house_bill".into(), vec![""; n]),
            Column::new("line_no".into(), vec![""; n]),
            Column::new(
                "rule".into(),
                rows.iter().map(|r| r.1.code()).collect::<Vec<_>>(),
            ),
            Column::new(
                "severity".into(),
                rows.iter()
                    .map(|r| r.1.severity().as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "field".into(),
                rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "message".into(),
                rows.iter().map(|r| r.3.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Writes `dispositions.csv` from the run stage's frame.
pub fn write_dispositions(
    dir: &Path,
    run_id: &str,
    dispositions: &DataFrame,
) -> anyhow::Result<PathBuf> {
    let staged = Staged::new(dir, "dispositions.csv", run_id);
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, staged.create()?));
    w.write_record(DISPOSITIONS_HEADER)?;
    let cols: Vec<StringChunked> = DISPOSITIONS_HEADER
        .iter()
        .map(|n| {
            dispositions
                .column(n)
                .and_then(|c| c.cast(&DataType::String))
                .and_then(|c| c.str().cloned())
        })
        .collect::<PolarsResult<_>>()?;
    for i in 0..dispositions.height() {
        w.write_record(cols.iter().map(|c| c.get(i).unwrap_or("")))?;
    }
    let mut buf = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write dispositions.csv: {}", e.error()))?;
    buf.flush()?;
    let file = buf
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write dispositions.csv: {}", e.error()))?;
    let path = staged.commit(file)?;
    sync_dir(dir).ok();
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` findings of `rule` for file `file`, in the internal schema.
    fn frame(file: u32, rule: Rule, n: usize) -> DataFrame {
        let s = |v: &str| Column::new("x".into(), vec![v; n]);
        DataFrame::new(
            n,
            vec![
                Column::new(c::FILE.into(), vec![file; n]),
                Column::new("record".into(), (1..=n as u32).collect::<Vec<_>>()),
                s("DHLX").with_name("carrier".into()),
                s("H1").with_name("house_bill".into()),
                s("1").with_name("line_no".into()),
                s(rule.code()).with_name("rule".into()),
                s(rule.severity().as_str()).with_name("severity".into()),
                s("").with_name("field".into()),
                s("m").with_name("message".into()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn findings_past_the_cap_are_counted_in_one_summary_row_per_file_and_rule() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FindingsWriter::create(dir.path(), "r1", vec!["a.csv".into(), "b.csv".into()])
            .unwrap()
            .with_cap(3);
        w.write(&frame(0, Rule::F003, 2)).unwrap();
        w.write(&frame(0, Rule::F003, 4)).unwrap();
        w.write(&frame(1, Rule::F003, 3)).unwrap();
        w.write(&frame(0, Rule::V001, 1)).unwrap();
        let (counts, paths) = w.finish().unwrap();
        assert_eq!(counts[&Rule::F003], 9);
        assert_eq!(counts[&Rule::V001], 1);
        let csv = std::fs::read_to_string(&paths[0]).unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 3 + 3 + 1 + 1, "{csv}");
        assert_eq!(
            rows.iter()
                .filter(|r| r.starts_with("a.csv,") && r.contains(",F003,"))
                .count(),
            4,
            "{csv}"
        );
        assert_eq!(
            *rows.last().unwrap(),
            "a.csv,,,,,F003,error,,and 3 more F003 findings in this file were not listed"
        );
        let pq = ParquetReader::new(File::open(&paths[1]).unwrap())
            .finish()
            .unwrap();
        assert_eq!(pq.height(), rows.len());
        let last = pq
            .column("message")
            .unwrap()
            .str()
            .unwrap()
            .get(pq.height() - 1)
            .unwrap()
            .to_owned();
        assert_eq!(
            last,
            "and 3 more F003 findings in this file were not listed"
        );
    }
}
