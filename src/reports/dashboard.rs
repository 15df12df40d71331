//! The daily compliance dashboard: how one day went, for the compliance team.
//!
//! "The day" is a calendar day in the report job's time zone; it covers every
//! run (not replays) of the covered jobs that started in it. Figures come from
//! the runs' published outputs, aggregated with polars:
//! - shipments (rows of `dispositions.csv`), lines and declared value (exact);
//! - dispositions by entry type (hold / duplicate / 03 / 01 / 86 / 11);
//! - (contract v2) entries by type (03 / 01 / 11), estimated duty, MPF and
//!   HMF per day and per carrier, the chapter 99 headings with the largest
//!   amounts, the MPF saved by grouping shipments onto entries, entries that
//!   cannot be filed for want of an IOR number, and the lines whose duty is
//!   unknown with their reason (`entries.csv`, `entry_lines.csv`, and the
//!   `entries` object of the run summary). Runs from before v2 have none of
//!   these and count as no entries;
//! - findings by rule, severity and carrier (`findings.parquet`);
//! - filing outcomes from the ledger (accepted, rejected with codes, held,
//!   released), where the jobs file;
//! - daily-limit groups (consignee-days flagged L002, and how many L001) and
//!   repeat consignees (more than one shipment in the day);
//! - a data-quality score per carrier (see [`quality`]);
//! - trends over the last `trend_days` days.
//!
//! Per-run aggregates are cached in the state store (`run_aggregates`), as a
//! run's outputs never change, so the trend days cost nothing after their
//! first report. A cached aggregate older than [`AGG_VERSION`] is rebuilt. Consignees are masked unless `reports.mask_personal_data`
//! is off.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::engine::kernels;
use crate::engine::rules::{Disposition, Rule, Severity};
use crate::job::report::{ReportJob, day_bounds};
use crate::money;
use crate::outputs::read::{self, RunRef, i128s, shipment_key, strs, u64s};

/// Rules that mark a shipment's data as needing review without holding it.
pub const DATA_WARNINGS: [&str; 3] = ["V007", "V009", "D001"];

/// Dispositions in display order (the engine's order).
pub const DISPOSITIONS: [Disposition; 6] = Disposition::ALL;

/// The dispositions that are entry types, in [`DISPOSITIONS`] order.
pub const ENTRY_TYPES: [Disposition; 3] = [
    Disposition::Adcvd03,
    Disposition::Formal01,
    Disposition::Informal11,
];

/// The version of [`RunAgg`]: a cached aggregate of an older version is
/// rebuilt from the run's outputs (2: entries, duty and fees).
pub const AGG_VERSION: u32 = 2;

/// Entries and their estimated duty and fees (contract v2 sections 8-9), of
/// one carrier in one run, or of a day: they add up. Money is exact decimal
/// text; an empty text is zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EntryAgg {
    /// Entries by type code (`01`, `03`, `11`).
    pub by_type: BTreeMap<String, u64>,
    /// Estimated duty, MPF and HMF, over the entries whose figure is known
    /// (an unknown figure is empty in `entries.csv` and adds nothing).
    pub duty: String,
    pub mpf: String,
    pub hmf: String,
    /// Entries whose duty or fees are unknown (`duty_status` not `known`).
    pub unknown: u64,
    /// Entries without an IOR number: they cannot be filed (V010).
    pub without_ior: u64,
    /// Lines on entries, and those of them whose duty is unknown (T001).
    pub lines: u64,
    pub unknown_lines: u64,
    /// Chapter 99 amounts by heading.
    pub ch99: BTreeMap<String, Ch99Agg>,
}

/// One chapter 99 heading's amount and the lines it applies to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Ch99Agg {
    /// Exact decimal text.
    pub usd: String,
    pub lines: u64,
}

impl Ch99Agg {
    pub fn usd_units(&self) -> i128 {
        units(&self.usd)
    }
}

/// Exact fixed point of a decimal text; empty (or unreadable) is 0.
fn units(text: &str) -> i128 {
    money::parse_decimal(text).unwrap_or(0)
}

/// `a + b` as decimal text.
fn plus(a: &str, b: &str) -> String {
    money::format(units(a) + units(b))
}

impl EntryAgg {
    /// Entries of every type.
    pub fn count(&self) -> u64 {
        self.by_type.values().sum()
    }

    /// Entries of one type (`01`, `03`, `11`).
    pub fn of_type(&self, code: &str) -> u64 {
        self.by_type.get(code).copied().unwrap_or(0)
    }

    pub fn duty_units(&self) -> i128 {
        units(&self.duty)
    }

    pub fn mpf_units(&self) -> i128 {
        units(&self.mpf)
    }

    pub fn hmf_units(&self) -> i128 {
        units(&self.hmf)
    }

    /// Duty, MPF and HMF together.
    pub fn total_units(&self) -> i128 {
        self.duty_units() + self.mpf_units() + self.hmf_units()
    }

    pub fn add(&mut self, o: &EntryAgg) {
        for (k, v) in &o.by_type {
            *self.by_type.entry(k.clone()).or_default() += v;
        }
        self.duty = plus(&self.duty, &o.duty);
        self.mpf = plus(&self.mpf, &o.mpf);
        self.hmf = plus(&self.hmf, &o.hmf);
        self.unknown += o.unknown;
        self.without_ior += o.without_ior;
        self.lines += o.lines;
        self.unknown_lines += o.unknown_lines;
        for (k, v) in &o.ch99 {
            let e = self.ch99.entry(k.clone()).or_default();
            e.usd = plus(&e.usd, &v.usd);
            e.lines += v.lines;
        }
    }
}

/// What one carrier sent in one run (or a day: they add up).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CarrierAgg {
    pub shipments: u64,
    pub lines: u64,
    /// Declared USD value, exact decimal text.
    pub value: String,
    /// Shipments held (an error finding: the data must be fixed).
    pub held: u64,
    /// Shipments not held that carry a data warning (V007, V009, D001).
    pub warned: u64,
    pub dispositions: BTreeMap<String, u64>,
    /// Findings by rule code.
    pub findings: BTreeMap<String, u64>,
    /// Entries, duty and fees (v2; zero for older runs).
    #[serde(default)]
    pub entries: EntryAgg,
}

impl CarrierAgg {
    pub fn value_units(&self) -> i128 {
        money::parse_decimal(&self.value).unwrap_or(0)
    }

    pub fn add(&mut self, o: &CarrierAgg) {
        self.shipments += o.shipments;
        self.lines += o.lines;
        self.value = money::format(self.value_units() + o.value_units());
        self.held += o.held;
        self.warned += o.warned;
        for (k, v) in &o.dispositions {
            *self.dispositions.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.findings {
            *self.findings.entry(k.clone()).or_default() += v;
        }
        self.entries.add(&o.entries);
    }

    /// Findings of one severity.
    pub fn by_severity(&self, sev: Severity) -> u64 {
        self.findings
            .iter()
            .filter(|(r, _)| Rule::from_code(r).is_some_and(|r| r.severity() == sev))
            .map(|(_, n)| n)
            .sum()
    }

    /// See [`quality`].
    pub fn quality(&self) -> Option<f64> {
        quality(self.shipments, self.held, self.warned)
    }
}

/// The data-quality score, 0 to 100: the share of a carrier's shipments that
/// needed no fixing, where a held shipment (an error: the data must be
/// fixed) counts fully against it and a shipment that moved but carries a
/// data warning (vague description V007, bad ZIP V009, duplicated line D001)
/// counts half: `100 × (shipments − held − ½ × warned) / shipments`. Rules
/// that describe the goods or the law rather than the data (L001-L003,
/// E001-E003, R001, R002, D003, D004) do not count. `None` without shipments.
pub fn quality(shipments: u64, held: u64, warned: u64) -> Option<f64> {
    if shipments == 0 {
        return None;
    }
    let bad = held as f64 + 0.5 * warned as f64;
    Some((100.0 * (shipments as f64 - bad) / shipments as f64).clamp(0.0, 100.0))
}

/// A run's aggregates, as cached.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunAgg {
    pub run_id: String,
    pub carriers: BTreeMap<String, CarrierAgg>,
    /// [`AGG_VERSION`] when built (0 for aggregates cached before versions).
    #[serde(default)]
    pub version: u32,
    /// MPF saved by grouping (the run summary's `entries.mpf_saved_usd`:
    /// what one entry per house bill would have cost in MPF, minus what the
    /// built entries cost), exact decimal text. Not split by carrier: the
    /// summary gives the run's figure only.
    #[serde(default)]
    pub mpf_saved: String,
}

/// The runs of one day, added up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayAgg {
    pub runs: u64,
    pub total: CarrierAgg,
    /// MPF saved by grouping, fixed point.
    pub mpf_saved: i128,
}

impl DayAgg {
    /// Adds one run's aggregates.
    pub fn add_run(&mut self, run: &RunAgg) {
        self.runs += 1;
        for c in run.carriers.values() {
            self.total.add(c);
        }
        self.mpf_saved += units(&run.mpf_saved);
    }
}

/// The rows the day's "top" tables are built from.
struct RunDetail {
    /// consignee_key, arrival_date, carrier, usd (every shipment).
    consignees: DataFrame,
    /// consignee_key, arrival_date, carrier, house_bill, usd (shipments with L002).
    l002: DataFrame,
    /// consignee_key, arrival_date (shipments with L001).
    l001: DataFrame,
    /// The run's first lines whose duty is unknown ([`UNKNOWN_LINE_COLUMNS`]).
    unknown_lines: DataFrame,
}

/// The columns of the unknown-duty lines table, from `entry_lines.csv`.
pub const UNKNOWN_LINE_COLUMNS: [&str; 8] = [
    "source_file",
    "record",
    "carrier",
    "house_bill",
    "line_no",
    "hts_code",
    "country_of_origin",
    "reason",
];

/// A line on an entry whose duty could not be established (T001).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownLine {
    pub source_file: String,
    pub record: Option<u64>,
    pub carrier: String,
    pub house_bill: String,
    pub line_no: String,
    pub hts_code: String,
    pub country_of_origin: String,
    /// Why (`entry_lines.csv` `duty_status` after `unknown: `).
    pub reason: String,
}

/// A chapter 99 heading in the day's top table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ch99Row {
    pub heading: String,
    /// The program label(s) of the heading's `[[duty.layer]]` in the current
    /// policy (empty when the policy no longer has it).
    pub program: String,
    pub lines: u64,
    pub usd: i128,
}

/// A consignee-day over the limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitGroup {
    /// As shown (masked unless masking is off).
    pub consignee: String,
    pub arrival_date: String,
    pub house_bills: u64,
    pub value: i128,
    pub carriers: Vec<String>,
}

/// A consignee with more than one shipment in the day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatConsignee {
    pub consignee: String,
    pub shipments: u64,
    pub arrival_days: u64,
    pub value: i128,
    pub carriers: Vec<String>,
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendDay {
    pub day: NaiveDate,
    pub runs: u64,
    pub total: CarrierAgg,
    /// MPF saved by grouping, fixed point.
    pub mpf_saved: i128,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub report: String,
    pub day: NaiveDate,
    pub timezone: String,
    pub generated_at: DateTime<Utc>,
    pub jobs: Vec<String>,
    pub runs: Vec<String>,
    /// Runs of the day without published outputs (failed or in flight).
    pub incomplete_runs: Vec<String>,
    pub files_processed: u64,
    pub files_quarantined: u64,
    pub total: CarrierAgg,
    pub carriers: BTreeMap<String, CarrierAgg>,
    /// (state, code, narrative, count).
    pub filings: Vec<(String, Option<String>, Option<String>, u64)>,
    pub limit_groups: Vec<LimitGroup>,
    pub limit_groups_total: u64,
    pub multi_bill_days_total: u64,
    pub repeat_consignees: Vec<RepeatConsignee>,
    pub repeat_consignees_total: u64,
    pub trend: Vec<TrendDay>,
    /// MPF saved by grouping over the day's runs, fixed point.
    pub mpf_saved: i128,
    /// The day's chapter 99 headings with the largest amounts (`top` of them).
    pub ch99: Vec<Ch99Row>,
    /// How many headings the day's entries carry in all.
    pub ch99_headings: u64,
    /// The day's first lines whose duty is unknown (`top` of them; the count
    /// is `total.entries.unknown_lines`).
    pub unknown_lines: Vec<UnknownLine>,
    pub policy_versions: Vec<String>,
    pub audit_head: (i64, String),
    pub masked: bool,
}

/// Builds the dashboard of `day` for a report job.
pub async fn build(ctx: &App, job: &ReportJob, day: NaiveDate) -> anyhow::Result<Dashboard> {
    let default_tz = ctx
        .config
        .daemon
        .timezone
        .parse()
        .unwrap_or(chrono_tz::America::New_York);
    let tz = job.zone(default_tz);
    let first = day - chrono::Duration::days(i64::from(job.trend_days.max(1)) - 1);
    let (from, _) = day_bounds(first, tz);
    let (_, to) = day_bounds(day, tz);
    let runs = read::runs_between(ctx, from, to, &job.jobs)?;
    let mask = ctx.config.reports.mask_personal_data;

    let mut by_day: BTreeMap<NaiveDate, DayAgg> = BTreeMap::new();
    let mut carriers: BTreeMap<String, CarrierAgg> = BTreeMap::new();
    let mut details = Vec::new();
    let mut day_runs = Vec::new();
    let mut incomplete = Vec::new();
    let (mut processed, mut quarantined) = (0, 0);
    let mut policies: Vec<String> = Vec::new();
    for run in &runs {
        let local = run.started_at.with_timezone(&tz).date_naive();
        let today = local == day;
        if !run.complete() {
            if today {
                incomplete.push(run.run_id.clone());
            }
            continue;
        }
        let (agg, detail) = load_run(ctx, run, today, job.top)
            .await
            .with_context(|| format!("run {}", run.run_id))?;
        by_day.entry(local).or_default().add_run(&agg);
        if today {
            day_runs.push(run.run_id.clone());
            for (name, c) in &agg.carriers {
                carriers.entry(name.clone()).or_default().add(c);
            }
            if let Some(d) = detail {
                details.push(d);
            }
            if let Some(s) = &run.summary {
                processed += s.files.iter().filter(|f| f.status == "processed").count() as u64;
                quarantined += s.files.iter().filter(|f| f.status == "quarantined").count() as u64;
                if !policies.contains(&s.policy_sha256) {
                    policies.push(s.policy_sha256.clone());
                }
            }
        }
    }
    let mut total = CarrierAgg::default();
    for c in carriers.values() {
        total.add(c);
    }
    let top = job.top;
    let (
        (
            limit_groups,
            limit_groups_total,
            multi_bill_days_total,
            repeat_consignees,
            repeat_consignees_total,
        ),
        unknown_lines,
    ) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok((
            top_tables(&details, top, mask)?,
            first_unknown_lines(&details, top)?,
        ))
    })
    .await
    .context("the report task panicked")??;
    let mpf_saved = by_day.get(&day).map_or(0, |d| d.mpf_saved);
    let (ch99, ch99_headings) = top_ch99(&total.entries, top, &programs(&ctx.policy.duty.layers));
    let trend = (0..job.trend_days.max(1))
        .map(|i| {
            let d = first + chrono::Duration::days(i64::from(i));
            let DayAgg {
                runs,
                total,
                mpf_saved,
            } = by_day.get(&d).cloned().unwrap_or_default();
            TrendDay {
                day: d,
                runs,
                total,
                mpf_saved,
            }
        })
        .collect();
    let filings = read::filing_outcomes(ctx, &day_runs)?;
    let audit_head = ctx.db(|s| s.audit_head())?;
    for r in &day_runs {
        read::forget_scratch(ctx, r);
    }
    Ok(Dashboard {
        report: job.name.clone(),
        day,
        timezone: tz.to_string(),
        generated_at: Utc::now(),
        jobs: if job.jobs.is_empty() {
            ctx.jobs
                .iter()
                .filter(|j| j.intake.is_some())
                .map(|j| j.name.clone())
                .collect()
        } else {
            job.jobs.clone()
        },
        runs: day_runs,
        incomplete_runs: incomplete,
        files_processed: processed,
        files_quarantined: quarantined,
        total,
        carriers,
        filings,
        limit_groups,
        limit_groups_total,
        multi_bill_days_total,
        repeat_consignees,
        repeat_consignees_total,
        trend,
        mpf_saved,
        ch99,
        ch99_headings,
        unknown_lines,
        policy_versions: policies,
        audit_head,
        masked: mask,
    })
}

/// A run's aggregates (cached) and, for the report's day, its detail rows
/// (with up to `top` lines of unknown duty).
async fn load_run(
    ctx: &App,
    run: &RunRef,
    detail: bool,
    top: usize,
) -> anyhow::Result<(RunAgg, Option<RunDetail>)> {
    if !detail
        && let Some(cached) = ctx
            .db(|s| s.run_aggregate(&run.run_id, AGG_VERSION))?
            .and_then(|t| serde_json::from_str::<RunAgg>(&t).ok())
        && cached.version >= AGG_VERSION
    {
        return Ok((cached, None));
    }
    // A run without entries (every run from before v2, and v2 runs whose
    // shipments all went 86, hold or duplicate) writes no entries files: do
    // not ask a remote output location for them.
    let has_entries = run
        .summary
        .as_ref()
        .is_some_and(|s| s.entries.by_type.values().any(|n| *n > 0));
    let outputs = RunOutputs {
        dispositions: read::output_file(ctx, run, "dispositions.csv").await?,
        findings: read::output_file(ctx, run, "findings.parquet").await?,
        entries: if has_entries {
            read::output_file(ctx, run, "entries.csv").await?
        } else {
            None
        },
        entry_lines: if has_entries {
            read::output_file(ctx, run, "entry_lines.csv").await?
        } else {
            None
        },
    };
    let run_id = run.run_id.clone();
    let (mut agg, detail) = tokio::task::spawn_blocking(move || {
        aggregate_run(&run_id, &outputs, detail.then_some(top))
    })
    .await
    .context("the report task panicked")??;
    agg.mpf_saved = run
        .summary
        .as_ref()
        .map(|s| money::format(units(&s.entries.mpf_saved_usd)))
        .unwrap_or_default();
    let json = serde_json::to_string(&agg).unwrap_or_default();
    ctx.db(|s| s.set_run_aggregate(&run.run_id, agg.version, &json))?;
    if detail.is_none() {
        read::forget_scratch(ctx, &run.run_id);
    }
    Ok((agg, detail))
}

fn is_rule(code: &str) -> Expr {
    col("rule").eq(lit(code.to_owned()))
}

/// A run's output files, as local paths (`None`: the run has no such file).
struct RunOutputs {
    dispositions: Option<PathBuf>,
    findings: Option<PathBuf>,
    /// v2 outputs: absent for runs from before v2 and runs without entries.
    entries: Option<PathBuf>,
    entry_lines: Option<PathBuf>,
}

/// Aggregates one run's outputs with polars; with `detail`, also the rows of
/// the day's top tables (and up to `detail` lines of unknown duty).
fn aggregate_run(
    run_id: &str,
    outputs: &RunOutputs,
    detail: Option<usize>,
) -> anyhow::Result<(RunAgg, Option<RunDetail>)> {
    let want_detail = detail.is_some();
    let mut agg = RunAgg {
        run_id: run_id.to_owned(),
        carriers: BTreeMap::new(),
        version: AGG_VERSION,
        mpf_saved: String::new(),
    };
    let findings = outputs.findings.clone();
    let Some(disp) = outputs.dispositions.clone() else {
        return Ok((agg, None));
    };
    let d = read::scan_dispositions(&disp)?
        .select([
            col("source_file"),
            col("carrier"),
            col("house_bill"),
            col("arrival_date"),
            col("consignee_key"),
            col("lines"),
            col("usd"),
            col("disposition"),
        ])
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", disp.display()))?
        .lazy();
    let f = match &findings {
        Some(p) => Some(read::scan_findings(p)?.select([
            col("source_file"),
            col("carrier"),
            col("house_bill"),
            col("rule"),
        ])),
        None => None,
    };

    let by_carrier = d
        .clone()
        .group_by([col("carrier")])
        .agg([
            len().alias("n"),
            col("lines").sum().alias("lines"),
            col("usd").sum().alias("usd"),
            col("disposition").eq(lit("hold")).sum().alias("held"),
        ])
        .collect()?;
    for (i, c) in strs(&by_carrier, "carrier")?.into_iter().enumerate() {
        let e = agg.carriers.entry(c).or_default();
        e.shipments = u64s(&by_carrier, "n")?[i];
        e.lines = u64s(&by_carrier, "lines")?[i];
        e.value = money::format(i128s(&by_carrier, "usd")?[i]);
        e.held = u64s(&by_carrier, "held")?[i];
    }
    let by_disp = d
        .clone()
        .group_by([col("carrier"), col("disposition")])
        .agg([len().alias("n")])
        .collect()?;
    let (cs, ds, ns) = (
        strs(&by_disp, "carrier")?,
        strs(&by_disp, "disposition")?,
        u64s(&by_disp, "n")?,
    );
    for i in 0..by_disp.height() {
        agg.carriers
            .entry(cs[i].clone())
            .or_default()
            .dispositions
            .insert(ds[i].clone(), ns[i]);
    }

    // v2: entries, duty and fees; runs from before v2 have no such files.
    let mut entry_aggs = match &outputs.entries {
        Some(p) => entries_by_carrier(read::scan_entries(p)?)
            .with_context(|| format!("cannot read {}", p.display()))?,
        None => BTreeMap::new(),
    };
    let lines = outputs
        .entry_lines
        .as_deref()
        .map(read::scan_entry_lines)
        .transpose()?;
    if let (Some(l), Some(p)) = (&lines, &outputs.entry_lines) {
        for (carrier, e) in entry_lines_by_carrier(l.clone())
            .with_context(|| format!("cannot read {}", p.display()))?
        {
            entry_aggs.entry(carrier).or_default().add(&e);
        }
    }
    for (carrier, e) in entry_aggs {
        agg.carriers.entry(carrier).or_default().entries.add(&e);
    }
    let unknown_lines = match (&lines, detail) {
        (Some(l), Some(n)) => unknown_line_rows(l.clone(), n)?,
        _ => DataFrame::empty_with_schema(&unknown_lines_schema()),
    };

    let mut detail = None;
    if let Some(f) = f {
        let by_rule = f
            .clone()
            .group_by([col("carrier"), col("rule")])
            .agg([len().alias("n")])
            .collect()?;
        let (cs, rs, ns) = (
            strs(&by_rule, "carrier")?,
            strs(&by_rule, "rule")?,
            u64s(&by_rule, "n")?,
        );
        for i in 0..by_rule.height() {
            agg.carriers
                .entry(cs[i].clone())
                .or_default()
                .findings
                .insert(rs[i].clone(), ns[i]);
        }
        let warn = DATA_WARNINGS
            .iter()
            .map(|r| is_rule(r))
            .reduce(|a, b| a.or(b))
            .expect("rules");
        let flagged = f
            .clone()
            .filter(warn)
            .select(shipment_key())
            .unique_generic(None, UniqueKeepStrategy::Any);
        let warned = d
            .clone()
            .filter(col("disposition").neq(lit("hold")))
            .join(
                flagged,
                shipment_key(),
                shipment_key(),
                JoinArgs::new(JoinType::Semi),
            )
            .group_by([col("carrier")])
            .agg([len().alias("n")])
            .collect()?;
        let (cs, ns) = (strs(&warned, "carrier")?, u64s(&warned, "n")?);
        for i in 0..warned.height() {
            agg.carriers.entry(cs[i].clone()).or_default().warned = ns[i];
        }
        if want_detail {
            let flagged = |rule: &str| {
                f.clone()
                    .filter(is_rule(rule))
                    .select(shipment_key())
                    .unique_generic(None, UniqueKeepStrategy::Any)
            };
            let l002 = d
                .clone()
                .join(
                    flagged("L002"),
                    shipment_key(),
                    shipment_key(),
                    JoinArgs::new(JoinType::Semi),
                )
                .select([
                    col("consignee_key"),
                    col("arrival_date"),
                    col("carrier"),
                    col("house_bill"),
                    col("usd"),
                ])
                .collect()?;
            let l001 = d
                .clone()
                .join(
                    flagged("L001"),
                    shipment_key(),
                    shipment_key(),
                    JoinArgs::new(JoinType::Semi),
                )
                .select([col("consignee_key"), col("arrival_date")])
                .unique_generic(None, UniqueKeepStrategy::Any)
                .collect()?;
            detail = Some((l002, l001));
        }
    }
    let detail = if want_detail {
        let consignees = d
            .select([
                col("consignee_key"),
                col("arrival_date"),
                col("carrier"),
                col("usd"),
            ])
            .collect()?;
        let (l002, l001) = detail.unwrap_or_else(|| {
            (
                DataFrame::empty_with_schema(&Schema::from_iter([
                    Field::new("consignee_key".into(), DataType::String),
                    Field::new("arrival_date".into(), DataType::String),
                    Field::new("carrier".into(), DataType::String),
                    Field::new("house_bill".into(), DataType::String),
                    Field::new("usd".into(), DataType::Int128),
                ])),
                DataFrame::empty_with_schema(&Schema::from_iter([
                    Field::new("consignee_key".into(), DataType::String),
                    Field::new("arrival_date".into(), DataType::String),
                ])),
            )
        });
        Some(RunDetail {
            consignees,
            l002,
            l001,
            unknown_lines,
        })
    } else {
        None
    };
    Ok((agg, detail))
}

/// The list column of carriers as a sorted Vec, per row.
fn carrier_lists(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let lists = df.column(name)?.list()?.clone();
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut v: Vec<String> = match lists.get_as_series(i) {
            Some(s) => s.str()?.iter().flatten().map(str::to_owned).collect(),
            None => Vec::new(),
        };
        v.sort();
        out.push(v);
    }
    Ok(out)
}

type TopTables = (Vec<LimitGroup>, u64, u64, Vec<RepeatConsignee>, u64);

/// Daily-limit groups and repeat consignees over the day's runs.
fn top_tables(details: &[RunDetail], top: usize, mask: bool) -> anyhow::Result<TopTables> {
    if details.is_empty() {
        return Ok((Vec::new(), 0, 0, Vec::new(), 0));
    }
    let stack = |frames: Vec<LazyFrame>| concat(frames, UnionArgs::default());
    let l002 = stack(details.iter().map(|d| d.l002.clone().lazy()).collect())?;
    let groups = l002
        .group_by([col("consignee_key"), col("arrival_date")])
        .agg([
            col("house_bill").n_unique().alias("bills"),
            col("usd").sum().alias("usd"),
            col("carrier").unique().alias("carriers"),
        ])
        .sort_by_exprs(
            [col("usd"), col("consignee_key")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let groups_total = groups.height() as u64;
    let g = groups.head(Some(top));
    let (keys, dates, bills, usd, carriers) = (
        strs(&g, "consignee_key")?,
        strs(&g, "arrival_date")?,
        u64s(&g, "bills")?,
        i128s(&g, "usd")?,
        carrier_lists(&g, "carriers")?,
    );
    let limit_groups = (0..g.height())
        .map(|i| LimitGroup {
            consignee: super::mask::consignee(&keys[i], mask),
            arrival_date: dates[i].clone(),
            house_bills: bills[i],
            value: usd[i],
            carriers: carriers[i].clone(),
        })
        .collect();
    let multi = stack(details.iter().map(|d| d.l001.clone().lazy()).collect())?
        .unique_generic(None, UniqueKeepStrategy::Any)
        .collect()?
        .height() as u64;

    let all = stack(
        details
            .iter()
            .map(|d| d.consignees.clone().lazy())
            .collect(),
    )?;
    let repeat = all
        .filter(
            col("consignee_key")
                .str()
                .contains(lit("[[:alnum:]]"), false),
        )
        .group_by([col("consignee_key")])
        .agg([
            len().alias("shipments"),
            col("arrival_date").n_unique().alias("days"),
            col("usd").sum().alias("usd"),
            col("carrier").unique().alias("carriers"),
        ])
        .filter(col("shipments").gt(lit(1u32)))
        .sort_by_exprs(
            [col("shipments"), col("usd"), col("consignee_key")],
            SortMultipleOptions::default().with_order_descending_multi([true, true, false]),
        )
        .collect()?;
    let repeat_total = repeat.height() as u64;
    let r = repeat.head(Some(top));
    let (keys, n, days, usd, carriers) = (
        strs(&r, "consignee_key")?,
        u64s(&r, "shipments")?,
        u64s(&r, "days")?,
        i128s(&r, "usd")?,
        carrier_lists(&r, "carriers")?,
    );
    let repeats = (0..r.height())
        .map(|i| RepeatConsignee {
            consignee: super::mask::consignee(&keys[i], mask),
            shipments: n[i],
            arrival_days: days[i],
            value: usd[i],
            carriers: carriers[i].clone(),
        })
        .collect();
    Ok((limit_groups, groups_total, multi, repeats, repeat_total))
}

/// Entries per carrier from an `entries.csv` scan ([`read::scan_entries`]):
/// by type, duty, MPF and HMF over the known figures, unknown entries, and
/// entries without an IOR number.
pub fn entries_by_carrier(entries: LazyFrame) -> anyhow::Result<BTreeMap<String, EntryAgg>> {
    let e = entries.select([
        col("carrier").fill_null(lit("")),
        col("entry_type").fill_null(lit("")),
        col("duty"),
        col("mpf"),
        col("hmf"),
        col("duty_status")
            .fill_null(lit(""))
            .neq(lit("known"))
            .alias("unknown"),
        col("ior_number")
            .fill_null(lit(""))
            .str()
            .strip_chars(lit(NULL))
            .eq(lit(""))
            .alias("no_ior"),
    ]);
    let sums = e
        .clone()
        .group_by([col("carrier")])
        .agg([
            col("duty").sum(),
            col("mpf").sum(),
            col("hmf").sum(),
            col("unknown").sum(),
            col("no_ior").sum(),
        ])
        .collect()?;
    let mut out: BTreeMap<String, EntryAgg> = BTreeMap::new();
    let (cs, duty, mpf, hmf) = (
        strs(&sums, "carrier")?,
        i128s(&sums, "duty")?,
        i128s(&sums, "mpf")?,
        i128s(&sums, "hmf")?,
    );
    let (unknown, no_ior) = (u64s(&sums, "unknown")?, u64s(&sums, "no_ior")?);
    for i in 0..sums.height() {
        let a = out.entry(cs[i].clone()).or_default();
        a.duty = money::format(duty[i]);
        a.mpf = money::format(mpf[i]);
        a.hmf = money::format(hmf[i]);
        a.unknown = unknown[i];
        a.without_ior = no_ior[i];
    }
    let types = e
        .group_by([col("carrier"), col("entry_type")])
        .agg([len().alias("n")])
        .collect()?;
    let (cs, ts, ns) = (
        strs(&types, "carrier")?,
        strs(&types, "entry_type")?,
        u64s(&types, "n")?,
    );
    for i in 0..types.height() {
        out.entry(cs[i].clone())
            .or_default()
            .by_type
            .insert(ts[i].clone(), ns[i]);
    }
    Ok(out)
}

/// Entry lines per carrier from an `entry_lines.csv` scan
/// ([`read::scan_entry_lines`]): lines, lines of unknown duty, and the
/// chapter 99 amounts per heading (the `ch99` column, `heading=amount`
/// `;`-separated).
pub fn entry_lines_by_carrier(lines: LazyFrame) -> anyhow::Result<BTreeMap<String, EntryAgg>> {
    let l = lines.select([
        col("carrier").fill_null(lit("")),
        col("reason"),
        col("ch99").fill_null(lit("")),
    ]);
    let counts = l
        .clone()
        .group_by([col("carrier")])
        .agg([
            len().alias("n"),
            col("reason").is_not_null().sum().alias("unknown"),
        ])
        .collect()?;
    let mut out: BTreeMap<String, EntryAgg> = BTreeMap::new();
    let (cs, ns, unknown) = (
        strs(&counts, "carrier")?,
        u64s(&counts, "n")?,
        u64s(&counts, "unknown")?,
    );
    for i in 0..counts.height() {
        let a = out.entry(cs[i].clone()).or_default();
        a.lines = ns[i];
        a.unknown_lines = unknown[i];
    }
    let ch99 = l
        .select([
            col("carrier"),
            col("ch99").str().split(lit(";")).alias("part"),
        ])
        .explode(
            cols(["part"]),
            ExplodeOptions {
                empty_as_null: true,
                keep_nulls: false,
            },
        )
        .filter(col("part").str().contains_literal(lit("=")))
        .select([
            col("carrier"),
            col("part")
                .str()
                .extract(lit(r"^\s*([^=]*?)\s*="), 1)
                .alias("heading"),
            kernels::decimal(col("part").str().extract(lit(r"=\s*(\S*)\s*$"), 1), false)
                .alias("usd"),
        ])
        .group_by([col("carrier"), col("heading")])
        .agg([col("usd").sum().alias("usd"), len().alias("n")])
        .collect()?;
    let (cs, hs, usd, ns) = (
        strs(&ch99, "carrier")?,
        strs(&ch99, "heading")?,
        i128s(&ch99, "usd")?,
        u64s(&ch99, "n")?,
    );
    for i in 0..ch99.height() {
        let a = out
            .entry(cs[i].clone())
            .or_default()
            .ch99
            .entry(hs[i].clone())
            .or_default();
        a.usd = plus(&a.usd, &money::format(usd[i]));
        a.lines += ns[i];
    }
    Ok(out)
}

/// The schema of [`UNKNOWN_LINE_COLUMNS`].
fn unknown_lines_schema() -> Schema {
    Schema::from_iter(UNKNOWN_LINE_COLUMNS.iter().map(|c| {
        Field::new(
            (*c).into(),
            if *c == "record" {
                DataType::UInt64
            } else {
                DataType::String
            },
        )
    }))
}

/// A run's first `n` lines whose duty is unknown, in file and record order.
fn unknown_line_rows(lines: LazyFrame, n: usize) -> anyhow::Result<DataFrame> {
    let n = IdxSize::try_from(n).unwrap_or(IdxSize::MAX);
    Ok(lines
        .filter(col("reason").is_not_null())
        .select(UNKNOWN_LINE_COLUMNS.map(col))
        .limit(n)
        .collect()?)
}

/// The first `n` lines of unknown duty over the day's runs, in run order.
fn first_unknown_lines(details: &[RunDetail], n: usize) -> anyhow::Result<Vec<UnknownLine>> {
    let mut out = Vec::new();
    for d in details {
        let df = &d.unknown_lines;
        let records: Vec<Option<u64>> = df
            .column("record")?
            .cast(&DataType::UInt64)?
            .u64()?
            .iter()
            .collect();
        let text: Vec<Vec<String>> = UNKNOWN_LINE_COLUMNS
            .iter()
            .map(|c| strs(df, c))
            .collect::<anyhow::Result<_>>()?;
        for (i, record) in records.into_iter().enumerate() {
            if out.len() >= n {
                return Ok(out);
            }
            out.push(UnknownLine {
                source_file: text[0][i].clone(),
                record,
                carrier: text[2][i].clone(),
                house_bill: text[3][i].clone(),
                line_no: text[4][i].clone(),
                hts_code: text[5][i].clone(),
                country_of_origin: text[6][i].clone(),
                reason: text[7][i].clone(),
            });
        }
    }
    Ok(out)
}

/// The chapter 99 headings with the largest amounts (ties by heading), at
/// most `top`, and how many headings there are in all. `programs` labels
/// each heading (see [`programs`]).
pub fn top_ch99(
    entries: &EntryAgg,
    top: usize,
    programs: &BTreeMap<String, String>,
) -> (Vec<Ch99Row>, u64) {
    let mut rows: Vec<Ch99Row> = entries
        .ch99
        .iter()
        .map(|(h, a)| Ch99Row {
            heading: h.clone(),
            program: programs.get(h).cloned().unwrap_or_default(),
            lines: a.lines,
            usd: a.usd_units(),
        })
        .collect();
    rows.sort_by(|a, b| b.usd.cmp(&a.usd).then_with(|| a.heading.cmp(&b.heading)));
    let all = rows.len() as u64;
    rows.truncate(top);
    (rows, all)
}

/// Program labels by chapter 99 heading, from the policy's `[[duty.layer]]`
/// tables (a heading in several layers with different programs lists each).
pub fn programs(layers: &[crate::duty::layers::Layer]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for l in layers {
        let p = out.entry(l.heading.clone()).or_default();
        if !l.program.is_empty() && !p.contains(&l.program.as_str()) {
            p.push(&l.program);
        }
    }
    out.into_iter().map(|(h, p)| (h, p.join(", "))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> i128 {
        money::parse_decimal(text).unwrap()
    }

    /// One `entries.csv` row: carrier, type, duty, mpf, hmf, status, ior.
    type EntryRow<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        &'a str,
        &'a str,
    );

    /// An `entries.csv` frame as [`read::scan_entries`] gives it.
    fn entries_frame(rows: &[EntryRow<'_>]) -> LazyFrame {
        let col_of = |f: &dyn Fn(&EntryRow<'_>) -> Option<String>| -> Vec<Option<String>> {
            rows.iter().map(f).collect()
        };
        df! {
            "carrier" => col_of(&|r| Some(r.0.to_owned())),
            "entry_type" => col_of(&|r| Some(r.1.to_owned())),
            "duty_usd" => col_of(&|r| r.2.map(str::to_owned)),
            "mpf_usd" => col_of(&|r| r.3.map(str::to_owned)),
            "hmf_usd" => col_of(&|r| Some(r.4.to_owned())),
            "duty_status" => col_of(&|r| Some(r.5.to_owned())),
            "ior_number" => col_of(&|r| (!r.6.is_empty()).then(|| r.6.to_owned())),
        }
        .unwrap()
        .lazy()
        .with_columns([
            kernels::decimal(col("duty_usd"), false).alias("duty"),
            kernels::decimal(col("mpf_usd"), false).alias("mpf"),
            kernels::decimal(col("hmf_usd"), false).alias("hmf"),
        ])
    }

    /// An `entry_lines.csv` frame as [`read::scan_entry_lines`] gives it.
    fn lines_frame(rows: &[(&str, &str, u64, &str, &str, &str)]) -> LazyFrame {
        // (carrier, house_bill, record, hts, ch99, duty_status)
        df! {
            "source_file" => rows.iter().map(|_| "f.csv").collect::<Vec<_>>(),
            "record" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "carrier" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "house_bill" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "line_no" => rows.iter().map(|_| "1").collect::<Vec<_>>(),
            "hts_code" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "country_of_origin" => rows.iter().map(|_| "CN").collect::<Vec<_>>(),
            "ch99" => rows.iter().map(|r| (!r.4.is_empty()).then_some(r.4)).collect::<Vec<_>>(),
            "duty_status" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        }
        .unwrap()
        .lazy()
        .with_column(read::unknown_reason())
    }

    fn run_agg(run_id: &str, entries: &BTreeMap<String, EntryAgg>, mpf_saved: &str) -> RunAgg {
        let carriers = entries
            .iter()
            .map(|(c, e)| {
                (
                    c.clone(),
                    CarrierAgg {
                        entries: e.clone(),
                        ..CarrierAgg::default()
                    },
                )
            })
            .collect();
        RunAgg {
            run_id: run_id.into(),
            carriers,
            version: AGG_VERSION,
            mpf_saved: mpf_saved.into(),
        }
    }

    #[test]
    fn entries_add_up_per_carrier_with_unknown_figures_left_out() {
        let e = entries_by_carrier(entries_frame(&[
            (
                "DHLX",
                "11",
                Some("26.50"),
                Some("2.69"),
                "0.00",
                "known",
                "12-345678900",
            ),
            (
                "DHLX",
                "11",
                None,
                Some("2.69"),
                "0.00",
                "unknown",
                "12-345678900",
            ),
            (
                "DHLX",
                "01",
                Some("795.00"),
                Some("33.58"),
                "1.25",
                "known",
                "",
            ),
            (
                "PCLX",
                "03",
                Some("12.00"),
                None,
                "0.00",
                "unknown",
                "251203-00042",
            ),
        ]))
        .unwrap();
        let d = &e["DHLX"];
        assert_eq!(
            (d.of_type("11"), d.of_type("01"), d.of_type("03"), d.count()),
            (2, 1, 0, 3)
        );
        assert_eq!(
            d.duty_units(),
            usd("821.50"),
            "the unknown entry's duty adds nothing"
        );
        assert_eq!(d.mpf_units(), usd("38.96"));
        assert_eq!(d.hmf_units(), usd("1.25"));
        assert_eq!(d.total_units(), usd("861.71"));
        assert_eq!((d.unknown, d.without_ior), (1, 1));
        let p = &e["PCLX"];
        assert_eq!(
            (
                p.of_type("03"),
                p.duty_units(),
                p.mpf_units(),
                p.unknown,
                p.without_ior
            ),
            (1, usd("12.00"), 0, 1, 0)
        );
    }

    #[test]
    fn lines_give_unknown_duty_and_chapter_99_amounts_per_heading() {
        let lines = lines_frame(&[
            (
                "DHLX",
                "H1",
                1,
                "6109100012",
                "9903.88.03=50.00;9903.01.25=20.00",
                "known",
            ),
            ("DHLX", "H1", 2, "6109100012", "9903.88.03=75.005", "known"),
            (
                "DHLX",
                "H4",
                5,
                "6110202079",
                "9903.01.25=4.00",
                "unknown: the rate 17.5¢/kg + 16% needs weight_kg, which is empty",
            ),
            (
                "PCLX",
                "P1",
                3,
                "9403608081",
                "",
                "unknown: no HTS revision covers 2024-12-31",
            ),
            ("PCLX", "P2", 4, "9403608081", "", "known"),
        ]);
        let e = entry_lines_by_carrier(lines.clone()).unwrap();
        assert_eq!((e["DHLX"].lines, e["DHLX"].unknown_lines), (3, 1));
        assert_eq!(
            (
                e["PCLX"].lines,
                e["PCLX"].unknown_lines,
                e["PCLX"].ch99.len()
            ),
            (2, 1, 0)
        );
        let ch = &e["DHLX"].ch99;
        assert_eq!(
            ch["9903.88.03"],
            Ch99Agg {
                usd: "125.005".into(),
                lines: 2
            },
            "exact sums, not floats"
        );
        assert_eq!(
            ch["9903.01.25"],
            Ch99Agg {
                usd: "24.00".into(),
                lines: 2
            }
        );

        let rows = unknown_line_rows(lines, 10).unwrap();
        assert_eq!(strs(&rows, "house_bill").unwrap(), ["H4", "P1"]);
        assert_eq!(
            strs(&rows, "reason").unwrap(),
            [
                "the rate 17.5¢/kg + 16% needs weight_kg, which is empty",
                "no HTS revision covers 2024-12-31"
            ]
        );
        let details = vec![RunDetail {
            consignees: DataFrame::empty(),
            l002: DataFrame::empty(),
            l001: DataFrame::empty(),
            unknown_lines: rows,
        }];
        let first = first_unknown_lines(&details, 1).unwrap();
        assert_eq!(first.len(), 1, "a short table: the first ones only");
        assert_eq!(
            (
                first[0].house_bill.as_str(),
                first[0].record,
                first[0].hts_code.as_str()
            ),
            ("H4", Some(5), "6110202079")
        );
    }

    #[test]
    fn days_and_carriers_add_up_and_mpf_saved_comes_from_the_summaries() {
        let run1 = entries_by_carrier(entries_frame(&[
            (
                "DHLX",
                "11",
                Some("26.50"),
                Some("2.69"),
                "0.00",
                "known",
                "12-345678900",
            ),
            (
                "PCLX",
                "01",
                Some("100.00"),
                Some("33.58"),
                "0.00",
                "known",
                "12-345678900",
            ),
        ]))
        .unwrap();
        let run2 = entries_by_carrier(entries_frame(&[(
            "DHLX",
            "03",
            Some("12.00"),
            Some("33.58"),
            "0.50",
            "known",
            "12-345678900",
        )]))
        .unwrap();
        let run3 = entries_by_carrier(entries_frame(&[(
            "DHLX",
            "11",
            Some("1.00"),
            Some("2.69"),
            "0.00",
            "known",
            "12-345678900",
        )]))
        .unwrap();
        let mut days: BTreeMap<&str, DayAgg> = BTreeMap::new();
        days.entry("2026-01-15")
            .or_default()
            .add_run(&run_agg("r1", &run1, "2.69"));
        days.entry("2026-01-15")
            .or_default()
            .add_run(&run_agg("r2", &run2, "5.38"));
        days.entry("2026-01-16")
            .or_default()
            .add_run(&run_agg("r3", &run3, ""));
        let d1 = &days["2026-01-15"];
        assert_eq!(d1.runs, 2);
        assert_eq!(
            (
                d1.total.entries.of_type("11"),
                d1.total.entries.of_type("01"),
                d1.total.entries.of_type("03")
            ),
            (1, 1, 1)
        );
        assert_eq!(d1.total.entries.duty_units(), usd("138.50"));
        assert_eq!(d1.total.entries.mpf_units(), usd("69.85"));
        assert_eq!(d1.total.entries.hmf_units(), usd("0.50"));
        assert_eq!(
            d1.mpf_saved,
            usd("8.07"),
            "MPF saved adds up over the day's runs"
        );
        let d2 = &days["2026-01-16"];
        assert_eq!(
            (d2.runs, d2.total.entries.duty_units(), d2.mpf_saved),
            (1, usd("1.00"), 0),
            "a run without the figure saves 0"
        );

        // Per carrier: the carriers of the day's runs, added.
        let mut carriers: BTreeMap<String, CarrierAgg> = BTreeMap::new();
        for run in [run_agg("r1", &run1, ""), run_agg("r2", &run2, "")] {
            for (name, c) in &run.carriers {
                carriers.entry(name.clone()).or_default().add(c);
            }
        }
        assert_eq!(carriers["DHLX"].entries.duty_units(), usd("38.50"));
        assert_eq!(carriers["DHLX"].entries.count(), 2);
        assert_eq!(carriers["PCLX"].entries.mpf_units(), usd("33.58"));

        // A run from before v2 (no entries) and an aggregate cached before versions.
        let mut old = DayAgg::default();
        let cached: RunAgg = serde_json::from_str(r#"{"run_id":"r0","carriers":{"DHLX":{"shipments":3,"lines":3,"value":"60","held":0,"warned":0,"dispositions":{"86":3},"findings":{}}}}"#).unwrap();
        assert_eq!(cached.version, 0, "an old cache entry is rebuilt");
        old.add_run(&cached);
        assert_eq!(
            (
                old.total.shipments,
                old.total.entries.count(),
                old.total.entries.total_units(),
                old.mpf_saved
            ),
            (3, 0, 0, 0)
        );
    }

    #[test]
    fn top_headings_are_the_largest_amounts_with_their_programs() {
        let mut e = EntryAgg::default();
        for (h, usd, lines) in [
            ("9903.01.25", "24.00", 3),
            ("9903.88.03", "125.00", 2),
            ("9903.88.15", "24.00", 1),
            ("9903.85.08", "0.50", 1),
        ] {
            e.ch99.insert(
                h.into(),
                Ch99Agg {
                    usd: usd.into(),
                    lines,
                },
            );
        }
        let programs: BTreeMap<String, String> = [
            ("9903.88.03".to_owned(), "301".to_owned()),
            ("9903.01.25".to_owned(), "IEEPA".to_owned()),
        ]
        .into();
        let (rows, all) = top_ch99(&e, 3, &programs);
        assert_eq!(all, 4);
        let got: Vec<(&str, &str, u64, i128)> = rows
            .iter()
            .map(|r| (r.heading.as_str(), r.program.as_str(), r.lines, r.usd))
            .collect();
        assert_eq!(
            got,
            [
                ("9903.88.03", "301", 2, usd("125")),
                ("9903.01.25", "IEEPA", 3, usd("24")),
                ("9903.88.15", "", 1, usd("24"))
            ],
            "largest first, ties by heading, at most `top`"
        );
        assert_eq!(
            top_ch99(&EntryAgg::default(), 10, &programs),
            (Vec::new(), 0)
        );
    }
}
