//! What reports read: the runs recorded in the state store, their published
//! outputs (`dispositions.csv`, `findings.parquet`, fetched to local scratch
//! when the output location is remote), and the filing ledger. Frames are
//! polars lazy scans that read only the columns a report needs.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::engine::kernels;
use crate::intake::Context;
use crate::intake::summary::Summary;
use crate::sources;

/// A `runs` row: id, job, kind, status, started, output, summary.
type RunRow = (String, String, String, String, String, Option<String>, Option<String>);

/// A filing outcome: state, code, narrative, count.
pub type Outcome = (String, Option<String>, Option<String>, u64);

/// A run as reports see it.
#[derive(Debug, Clone)]
pub struct RunRef {
    pub run_id: String,
    pub job: String,
    pub kind: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    /// `source:path` of the outputs.
    pub output: Option<String>,
    pub summary: Option<Summary>,
}

impl RunRef {
    /// The output source and folder.
    pub fn location(&self) -> Option<(&str, &str)> {
        self.output.as_deref().and_then(|o| o.split_once(':'))
    }

    /// Whether the run published its outputs (a summary was recorded).
    pub fn complete(&self) -> bool {
        self.summary.is_some() && matches!(self.status.as_str(), "evaluated" | "succeeded")
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs (not replays) started in [from, to), of these jobs (all if empty), oldest first.
pub fn runs_between(ctx: &Context, from: DateTime<Utc>, to: DateTime<Utc>, jobs: &[String]) -> anyhow::Result<Vec<RunRef>> {
    let rows = ctx.db(|s| {
        let location = s.location().display().to_string();
        let conn = s.connection();
        let q = || -> rusqlite::Result<Vec<RunRow>> {
            let mut stmt = conn.prepare_cached(
                "SELECT run_id, job, kind, status, started_at, output, summary FROM runs \
                 WHERE started_at >= ?1 AND started_at < ?2 AND kind <> 'replay' ORDER BY started_at, run_id",
            )?;
            let rows = stmt.query_map([ts(from), ts(to)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })?;
            rows.collect()
        };
        q().map_err(|e| crate::state::StoreError::Sqlite { location, source: e })
    })?;
    Ok(rows
        .into_iter()
        .filter(|r| jobs.is_empty() || jobs.contains(&r.1))
        .map(|(run_id, job, kind, status, started, output, summary)| RunRef {
            started_at: DateTime::parse_from_rfc3339(&started).map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
            summary: summary.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            run_id,
            job,
            kind,
            status,
            output,
        })
        .collect())
}

/// One run by id.
pub fn run(ctx: &Context, run_id: &str) -> anyhow::Result<Option<RunRef>> {
    use crate::state::intake::IntakeStore;
    let Some(r) = ctx.db(|s| s.run(run_id))? else { return Ok(None) };
    Ok(Some(RunRef {
        summary: r.summary.as_deref().and_then(|s| serde_json::from_str(s).ok()),
        run_id: r.run_id,
        job: r.job,
        kind: r.kind,
        status: r.status,
        started_at: r.started_at,
        output: r.output,
    }))
}

/// The run of the same job before `run` (not a replay) that published outputs.
pub fn previous_run(ctx: &Context, run: &RunRef) -> anyhow::Result<Option<RunRef>> {
    let from = run.started_at - chrono::Duration::days(400);
    let runs = runs_between(ctx, from, run.started_at + chrono::Duration::milliseconds(1), std::slice::from_ref(&run.job))?;
    Ok(runs.into_iter().rev().find(|r| r.run_id != run.run_id && r.complete() && r.started_at <= run.started_at))
}

/// A local path to one of a run's output files (fetched to scratch if the
/// output location is not a local folder). `None` if the run has none.
pub async fn output_file(ctx: &Context, run: &RunRef, name: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some((source_name, folder)) = run.location() else { return Ok(None) };
    let source = ctx.source(source_name)?;
    let path = sources::join(&[folder, name]);
    if let Some(local) = source.local_path(&path) {
        return Ok(local.exists().then_some(local));
    }
    let scratch = ctx.staging().join("reports").join(&run.run_id).join(name);
    if scratch.exists() {
        return Ok(Some(scratch));
    }
    match crate::intake::retry::retry(ctx.retry, "fetching a run output", || source.download(&path, &scratch)).await {
        Ok(_) => Ok(Some(scratch)),
        Err(sources::SourceError::NotFound { .. }) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot fetch {path} from {}: {e}", source.describe())),
    }
}

/// Removes a run's fetched copies.
pub fn forget_scratch(ctx: &Context, run_id: &str) {
    let _ = std::fs::remove_dir_all(ctx.staging().join("reports").join(run_id));
}

/// `dispositions.csv` columns as read (every column a string but `lines`).
pub fn dispositions_schema() -> Schema {
    Schema::from_iter([
        Field::new("source_file".into(), DataType::String),
        Field::new("carrier".into(), DataType::String),
        Field::new("house_bill".into(), DataType::String),
        Field::new("arrival_date".into(), DataType::String),
        Field::new("consignee_key".into(), DataType::String),
        Field::new("lines".into(), DataType::UInt64),
        Field::new("total_usd".into(), DataType::String),
        Field::new("disposition".into(), DataType::String),
        Field::new("reasons".into(), DataType::String),
    ])
}

/// A lazy scan of a `dispositions.csv`, with `usd` (exact fixed point, Int128).
pub fn scan_dispositions(path: &std::path::Path) -> anyhow::Result<LazyFrame> {
    let text = path.to_str().context("non-UTF-8 path")?;
    let lf = LazyCsvReader::new(PlRefPath::new(text))
        .with_has_header(true)
        .with_schema(Some(Arc::new(dispositions_schema())))
        .with_glob(false)
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(lf.with_column(kernels::decimal(col("total_usd"), false).fill_null(kernels::lit_money(0)).alias("usd")))
}

/// A lazy scan of a `findings.parquet`.
pub fn scan_findings(path: &std::path::Path) -> anyhow::Result<LazyFrame> {
    let text = path.to_str().context("non-UTF-8 path")?;
    let args = ScanArgsParquet { glob: false, ..ScanArgsParquet::default() };
    LazyFrame::scan_parquet(PlRefPath::new(text), args).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// The shipment key of `dispositions.csv` and `findings`: (file, carrier, house bill).
pub fn shipment_key() -> [Expr; 3] {
    [col("source_file"), col("carrier"), col("house_bill")]
}

/// Reads a `u64` column's values (nulls as 0).
pub fn u64s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<u64>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(c.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Reads a string column's values (nulls as "").
pub fn strs(df: &DataFrame, name: &str) -> anyhow::Result<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.unwrap_or("").to_owned()).collect())
}

/// Reads an Int128 column's values (nulls as 0).
pub fn i128s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<i128>> {
    Ok(df.column(name)?.i128()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// Filing outcomes of some runs: (state, code, narrative, count), largest first.
pub fn filing_outcomes(ctx: &Context, run_ids: &[String]) -> anyhow::Result<Vec<Outcome>> {
    let ids = serde_json::to_string(run_ids)?;
    ctx.db(|s| {
        let location = s.location().display().to_string();
        let conn = s.connection();
        let q = || -> rusqlite::Result<Vec<Outcome>> {
            let mut stmt = conn.prepare_cached(
                "SELECT state, code, narrative, count(*) FROM filings WHERE run_id IN (SELECT value FROM json_each(?1)) \
                 GROUP BY state, code, narrative ORDER BY count(*) DESC, state, code",
            )?;
            let rows = stmt.query_map([&ids], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)))?;
            rows.collect()
        };
        q().map_err(|e| crate::state::StoreError::Sqlite { location, source: e })
    })
}

/// A rejected or held filing of a run.
#[derive(Debug, Clone)]
pub struct FilingProblem {
    pub carrier: String,
    pub house_bill: String,
    pub entry_number: String,
    pub entry_type: String,
    pub state: String,
    pub code: Option<String>,
    pub narrative: Option<String>,
}

/// The rejected filings of a run.
pub fn rejections(ctx: &Context, run_id: &str) -> anyhow::Result<Vec<FilingProblem>> {
    ctx.db(|s| {
        let location = s.location().display().to_string();
        let conn = s.connection();
        let q = || -> rusqlite::Result<Vec<FilingProblem>> {
            let mut stmt = conn.prepare_cached(
                "SELECT carrier, house_bill, entry_number, entry_type, state, code, narrative FROM filings \
                 WHERE run_id = ?1 AND state = 'rejected' ORDER BY carrier, house_bill",
            )?;
            let rows = stmt.query_map([run_id], |r| {
                Ok(FilingProblem {
                    carrier: r.get(0)?,
                    house_bill: r.get(1)?,
                    entry_number: r.get(2)?,
                    entry_type: r.get(3)?,
                    state: r.get(4)?,
                    code: r.get(5)?,
                    narrative: r.get(6)?,
                })
            })?;
            rows.collect()
        };
        q().map_err(|e| crate::state::StoreError::Sqlite { location, source: e })
    })
}
