//! What reports and evidence packs read: the runs recorded in the state store, their published
//! outputs (`dispositions.csv`, `findings.parquet` and, from contract v2,
//! `entries.csv` and `entry_lines.csv`; fetched to local scratch when the
//! output location is remote), and the filing ledger. Outputs of runs from
//! before v2 read too: a missing file is `None`, a missing column is nulls.
//! Frames are polars lazy scans that read only the columns a report needs.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::summary::Summary;
use crate::app::App;
use crate::engine::entry_stage::{ENTRIES_HEADER, ENTRY_LINES_HEADER};
use crate::engine::kernels;
use crate::engine::output::DISPOSITIONS_HEADER;
use crate::paths;
use crate::sources;
use crate::state::intake::RunRecord;
use crate::state::ledger::FilingState;
use crate::state::types::{RunKind, RunStatus};

/// A filing outcome: state, code, narrative, count.
pub type Outcome = (String, Option<String>, Option<String>, u64);

/// A run as reports see it.
#[derive(Debug, Clone)]
pub struct RunRef {
    pub run_id: String,
    pub job: String,
    pub kind: RunKind,
    pub status: RunStatus,
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
        self.summary.is_some() && self.status.published()
    }
}

/// Runs (not replays) started in [from, to), of these jobs (all if empty), oldest first.
pub fn runs_between(
    ctx: &App,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    jobs: &[String],
) -> anyhow::Result<Vec<RunRef>> {
    let kinds = [RunKind::Scheduled, RunKind::Manual];
    let rows = ctx.db(|s| s.runs_between(from, to, jobs, &kinds))?;
    Ok(rows.into_iter().map(run_ref).collect())
}

/// A store's run record as reports see it.
pub fn run_ref(r: RunRecord) -> RunRef {
    RunRef {
        summary: r
            .summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        run_id: r.run_id,
        job: r.job,
        kind: r.kind,
        status: r.status,
        started_at: r.started_at,
        output: r.output,
    }
}

/// One run by id.
pub fn run(ctx: &App, run_id: &str) -> anyhow::Result<Option<RunRef>> {
    Ok(ctx.db(|s| s.run(run_id))?.map(run_ref))
}

/// The run of the same job before `run` (not a replay) that published outputs.
pub fn previous_run(ctx: &App, run: &RunRef) -> anyhow::Result<Option<RunRef>> {
    let from = run.started_at - chrono::Duration::days(400);
    let runs = runs_between(
        ctx,
        from,
        run.started_at + chrono::Duration::milliseconds(1),
        std::slice::from_ref(&run.job),
    )?;
    Ok(runs
        .into_iter()
        .rev()
        .find(|r| r.run_id != run.run_id && r.complete() && r.started_at <= run.started_at))
}

/// A local path to one of a run's output files (fetched to scratch if the
/// output location is not a local folder). `None` if the run has none.
pub async fn output_file(ctx: &App, run: &RunRef, name: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some((source_name, folder)) = run.location() else {
        return Ok(None);
    };
    let source = ctx.source(source_name)?;
    let path = paths::join(&[folder, name]);
    if let Some(local) = source.local_path(&path) {
        return Ok(local.exists().then_some(local));
    }
    let scratch = ctx.staging().join("reports").join(&run.run_id).join(name);
    if scratch.exists() {
        return Ok(Some(scratch));
    }
    match crate::retry::retry(ctx.retry, "fetching a run output", || {
        source.download(&path, &scratch)
    })
    .await
    {
        Ok(_) => Ok(Some(scratch)),
        Err(sources::SourceError::NotFound { .. }) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "cannot fetch {path} from {}: {e}",
            source.describe()
        )),
    }
}

/// Removes a run's fetched copies.
pub fn forget_scratch(ctx: &App, run_id: &str) {
    let _ = std::fs::remove_dir_all(ctx.staging().join("reports").join(run_id));
}

/// `dispositions.csv` columns as read (every column a string but `lines`):
/// the v2 columns, `entry_ref` last. A file written before v2 has the first
/// nine only; [`scan_dispositions`] reads both.
pub fn dispositions_schema() -> Schema {
    typed_schema(&DISPOSITIONS_HEADER, &[("lines", DataType::UInt64)])
}

/// `entries.csv` columns as read (contract section 8; `lines` a count, the
/// rest strings).
pub fn entries_schema() -> Schema {
    typed_schema(&ENTRIES_HEADER, &[("lines", DataType::UInt64)])
}

/// `entry_lines.csv` columns as read (contract section 9; `record` a number,
/// the rest strings: `line_no` is kept as the carrier sent it).
pub fn entry_lines_schema() -> Schema {
    typed_schema(&ENTRY_LINES_HEADER, &[("record", DataType::UInt64)])
}

fn typed_schema(names: &[&str], typed: &[(&str, DataType)]) -> Schema {
    Schema::from_iter(names.iter().map(|n| {
        let dtype = typed
            .iter()
            .find(|(t, _)| t == n)
            .map_or(DataType::String, |(_, d)| d.clone());
        Field::new((*n).into(), dtype)
    }))
}

/// The header row of one of our CSV outputs.
fn csv_header(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?;
    Ok(header.iter().map(str::to_owned).collect())
}

/// A lazy scan of one of our CSV outputs, typed by `known` for the columns
/// it names and as strings otherwise, and the file's header. The schema
/// follows the file's own header, so files written by an older s321d (fewer
/// columns) and a newer one (more columns, added last as the contract
/// allows) both read.
fn scan_output_csv(path: &Path, known: &Schema) -> anyhow::Result<(LazyFrame, Vec<String>)> {
    let text = path.to_str().context("non-UTF-8 path")?;
    let header = csv_header(path)?;
    let schema = Schema::from_iter(header.iter().map(|h| {
        Field::new(
            h.as_str().into(),
            known.get(h.as_str()).cloned().unwrap_or(DataType::String),
        )
    }));
    let lf = LazyCsvReader::new(PlRefPath::new(text))
        .with_has_header(true)
        .with_schema(Some(Arc::new(schema)))
        .with_glob(false)
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok((lf, header))
}

/// Adds the columns of `known` that a file from an older s321d lacks, as
/// nulls of their type, so every run's frame has the same columns.
fn with_missing(lf: LazyFrame, header: &[String], known: &Schema) -> LazyFrame {
    let missing: Vec<Expr> = known
        .iter()
        .filter(|(n, _)| !header.iter().any(|h| h.as_str() == n.as_str()))
        .map(|(n, dtype)| lit(NULL).cast(dtype.clone()).alias(n.clone()))
        .collect();
    if missing.is_empty() {
        lf
    } else {
        lf.with_columns(missing)
    }
}

/// A lazy scan of a `dispositions.csv`, with `usd` (exact fixed point,
/// Int128). It always has every v2 column: a file written before v2 (nine
/// columns) gets an `entry_ref` of nulls, as its shipments were on no entry.
pub fn scan_dispositions(path: &Path) -> anyhow::Result<LazyFrame> {
    let schema = dispositions_schema();
    let (lf, header) = scan_output_csv(path, &schema)?;
    let lf = with_missing(lf, &header, &schema);
    Ok(lf.with_column(
        kernels::decimal(col("total_usd"), false)
            .fill_null(kernels::lit_money(0))
            .alias("usd"),
    ))
}

/// A lazy scan of an `entries.csv` (v2), with exact fixed-point (Int128)
/// `entered`, `duty`, `mpf` and `hmf`: null where the file leaves the figure
/// empty (unknown), never 0.
pub fn scan_entries(path: &Path) -> anyhow::Result<LazyFrame> {
    let schema = entries_schema();
    let (lf, header) = scan_output_csv(path, &schema)?;
    Ok(with_missing(lf, &header, &schema).with_columns([
        kernels::decimal(col("entered_value_usd"), false).alias("entered"),
        kernels::decimal(col("duty_usd"), false).alias("duty"),
        kernels::decimal(col("mpf_usd"), false).alias("mpf"),
        kernels::decimal(col("hmf_usd"), false).alias("hmf"),
    ]))
}

/// A lazy scan of an `entry_lines.csv` (v2), with `duty` (Int128, null when
/// unknown) and `reason`: why the line's duty is unknown (the text after
/// `unknown: ` in `duty_status`), null when it is known.
pub fn scan_entry_lines(path: &Path) -> anyhow::Result<LazyFrame> {
    let schema = entry_lines_schema();
    let (lf, header) = scan_output_csv(path, &schema)?;
    Ok(with_missing(lf, &header, &schema).with_columns([
        kernels::decimal(col("duty_usd"), false).alias("duty"),
        unknown_reason(),
    ]))
}

/// `reason` from `duty_status`: `known` is null, `unknown: why` is `why`.
pub fn unknown_reason() -> Expr {
    let status = col("duty_status").fill_null(lit(""));
    when(status.clone().str().starts_with(lit("unknown")))
        .then(
            status
                .str()
                .strip_prefix(lit("unknown"))
                .str()
                .strip_chars_start(lit(": ")),
        )
        .otherwise(lit(NULL).cast(DataType::String))
        .alias("reason")
}

/// A lazy scan of a `findings.parquet`.
pub fn scan_findings(path: &Path) -> anyhow::Result<LazyFrame> {
    let text = path.to_str().context("non-UTF-8 path")?;
    let args = ScanArgsParquet {
        glob: false,
        ..ScanArgsParquet::default()
    };
    LazyFrame::scan_parquet(PlRefPath::new(text), args)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
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
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").to_owned())
        .collect())
}

/// Reads an Int128 column's values (nulls as 0).
pub fn i128s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<i128>> {
    Ok(df
        .column(name)?
        .i128()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Filing outcomes of some runs: (state, code, narrative, count), largest first.
pub fn filing_outcomes(ctx: &App, run_ids: &[String]) -> anyhow::Result<Vec<Outcome>> {
    let outcomes = ctx.db(|s| s.filing_outcomes(run_ids))?;
    Ok(outcomes
        .into_iter()
        .map(|(state, code, narrative, n)| (state.as_str().to_owned(), code, narrative, n))
        .collect())
}

/// A rejected or held filing of a run, or an entry of it not filed
/// (`state` is [`NOT_FILED`], no entry number, the reason as narrative).
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

/// The `state` of a [`FilingProblem`] for an entry that was never filed.
pub const NOT_FILED: &str = "not filed";

/// The rejected filings of a run, then the entries of it s321d did not file
/// (the ledger's `not filed: <reason>`, as in the run's `not_filed.csv`).
pub fn rejections(ctx: &App, run_id: &str) -> anyhow::Result<Vec<FilingProblem>> {
    let mut out = rejected(ctx, run_id)?;
    let not_filed =
        ctx.db(|s| crate::state::ledger::LedgerStore::not_filed(s, Some(run_id), None))?;
    out.extend(not_filed.into_iter().map(|n| FilingProblem {
        carrier: n.carrier,
        house_bill: n.house_bills.join(" "),
        entry_number: String::new(),
        entry_type: n.entry_type,
        state: NOT_FILED.to_owned(),
        code: None,
        narrative: Some(n.reason),
    }));
    // Entry summaries ACE rejected or s321d could not write, apart from the release.
    let filings = ctx.db(|s| crate::state::ledger::LedgerStore::filings_of_run(s, run_id))?;
    for f in filings {
        let Some(sum) =
            ctx.db(|s| crate::state::summary::SummaryStore::summary(s, &f.entry_number))?
        else {
            continue;
        };
        let state = match sum.state {
            crate::state::summary::SummaryState::Rejected => "entry summary rejected",
            crate::state::summary::SummaryState::NotFiled => "entry summary not filed",
            _ => continue,
        };
        let why = if sum.state == crate::state::summary::SummaryState::NotFiled {
            sum.message
        } else {
            sum.narrative
        };
        let narrative = Some(format!("entry summary (AE): {}", why.unwrap_or_default()));
        out.push(FilingProblem {
            carrier: f.carrier,
            house_bill: f.house_bill,
            entry_number: f.entry_number,
            entry_type: f.entry_type,
            state: state.into(),
            code: sum.code,
            narrative,
        });
    }
    Ok(out)
}

fn rejected(ctx: &App, run_id: &str) -> anyhow::Result<Vec<FilingProblem>> {
    let filings = ctx.db(|s| s.filings_of_run_in(run_id, &[FilingState::Rejected]))?;
    Ok(filings
        .into_iter()
        .map(|f| FilingProblem {
            carrier: f.carrier,
            house_bill: f.house_bill,
            entry_number: f.entry_number,
            entry_type: f.entry_type,
            state: f.state.as_str().to_owned(),
            code: f.code,
            narrative: f.narrative,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_DISPOSITIONS: &str = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons\n\
        a.csv,DHLX,H1,2025-04-01,jane doe|12 main st|11201,2,20.00,86,\n\
        a.csv,DHLX,H2,2025-04-01,ann lee|5 oak ave|10001,1,900.00,11,L002\n";
    const V2_DISPOSITIONS: &str = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons,entry_ref\n\
        b.csv,DHLX,H3,2026-01-15,bob roe|7 elm st|08020,1,120.00,03,E001;E004,R000001\n\
        b.csv,DHLX,H4,2026-01-15,eve ray|1 bay dr|94121,1,10.00,hold,V002,\n";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn dispositions_from_before_and_after_v2_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let old = scan_dispositions(&write(dir.path(), "old.csv", V1_DISPOSITIONS)).unwrap();
        let new = scan_dispositions(&write(dir.path(), "new.csv", V2_DISPOSITIONS)).unwrap();
        let both = concat([old, new], UnionArgs::default())
            .unwrap()
            .collect()
            .unwrap();
        let names: Vec<&str> = both.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(
            names[..10],
            DISPOSITIONS_HEADER,
            "every v2 column, in contract order"
        );
        assert_eq!(
            strs(&both, "entry_ref").unwrap(),
            ["", "", "R000001", ""],
            "an old file's shipments were on no entry"
        );
        assert_eq!(
            strs(&both, "disposition").unwrap(),
            ["86", "11", "03", "hold"]
        );
        assert_eq!(u64s(&both, "lines").unwrap(), [2, 1, 1, 1]);
        assert_eq!(
            i128s(&both, "usd").unwrap()[1],
            crate::money::parse_decimal("900").unwrap()
        );
        // What the audit export selects works on an old file too.
        let old = scan_dispositions(&dir.path().join("old.csv"))
            .unwrap()
            .select(DISPOSITIONS_HEADER.map(col))
            .collect()
            .unwrap();
        assert_eq!(old.height(), 2);
    }

    #[test]
    fn entries_and_lines_read_with_exact_money_and_the_unknown_reason() {
        let dir = tempfile::tempdir().unwrap();
        let entries = format!(
            "{}\nR000001,11,141.51,DHLX,2026-01-15,4701,M1,k,12-345678900,H1;H2,2,500.00,257.50,2.69,0.00,260.19,known,hts.csv; reviewed_through 2026-01-10,,\n\
             R000002,11,141.51,DHLX,2026-01-15,4701,M1,k2,,H4,1,40.00,,2.69,0.00,,unknown,hts.csv; reviewed_through 2026-01-10,5.00,\n",
            ENTRIES_HEADER.join(",")
        );
        let e = scan_entries(&write(dir.path(), "entries.csv", &entries))
            .unwrap()
            .collect()
            .unwrap();
        let units = |v: &str| crate::money::parse_decimal(v).unwrap();
        let duty: Vec<Option<i128>> = e.column("duty").unwrap().i128().unwrap().iter().collect();
        assert_eq!(
            duty,
            [Some(units("257.50")), None],
            "an unknown duty is null, never 0"
        );
        assert_eq!(i128s(&e, "mpf").unwrap(), [units("2.69"), units("2.69")]);
        assert_eq!(u64s(&e, "lines").unwrap(), [2, 1]);

        let lines = format!(
            "{}\nR000001,b.csv,2,DHLX,H1,1,6109100012,CN,200.00,general,16.5%,33.00,9903.88.03=50.00;9903.01.25=20.00,103.00,known\n\
             R000002,b.csv,5,DHLX,H4,1,6110202079,VN,40.00,general,17.5¢/kg + 16%,,9903.01.25=4.00,,\"unknown: the rate needs weight_kg, which is empty\"\n",
            ENTRY_LINES_HEADER.join(",")
        );
        let l = scan_entry_lines(&write(dir.path(), "entry_lines.csv", &lines))
            .unwrap()
            .collect()
            .unwrap();
        let reason: Vec<Option<&str>> = l.column("reason").unwrap().str().unwrap().iter().collect();
        assert_eq!(
            reason,
            [None, Some("the rate needs weight_kg, which is empty")]
        );
        assert_eq!(u64s(&l, "record").unwrap(), [2, 5]);
        let duty: Vec<Option<i128>> = l.column("duty").unwrap().i128().unwrap().iter().collect();
        assert_eq!(duty, [Some(units("103.00")), None]);
    }
}
