//! The daily compliance dashboard: how one day went, for the compliance team.
//!
//! "The day" is a calendar day in the report job's time zone; it covers every
//! run (not replays) of the covered jobs that started in it. Figures come from
//! the runs' published outputs, aggregated with polars:
//! - shipments (rows of `dispositions.csv`), lines and declared value (exact);
//! - dispositions by entry type (86 / 11 / 01 / hold / duplicate);
//! - findings by rule, severity and carrier (`findings.parquet`);
//! - filing outcomes from the ledger (accepted, rejected with codes, held,
//!   released), where the jobs file;
//! - daily-limit groups (consignee-days flagged L002, and how many L001) and
//!   repeat consignees (more than one shipment in the day);
//! - a data-quality score per carrier (see [`quality`]);
//! - trends over the last `trend_days` days.
//!
//! Per-run aggregates are cached in the state store (`report:run:<id>`), as a
//! run's outputs never change, so the trend days cost nothing after their
//! first report. Consignees are masked unless `reports.mask_personal_data`
//! is off.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{self, RunRef, i128s, shipment_key, strs, u64s};
use super::job::{ReportJob, day_bounds};
use crate::engine::rules::{Rule, Severity};
use crate::intake::Context;
use crate::money;

/// Rules that mark a shipment's data as needing review without holding it.
pub const DATA_WARNINGS: [&str; 3] = ["V007", "V009", "D001"];

/// Dispositions in display order.
pub const DISPOSITIONS: [&str; 5] = ["86", "11", "01", "hold", "duplicate"];

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
    }

    /// Findings of one severity.
    pub fn by_severity(&self, sev: Severity) -> u64 {
        self.findings.iter().filter(|(r, _)| Rule::from_code(r).is_some_and(|r| r.severity() == sev)).map(|(_, n)| n).sum()
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
}

/// The rows the day's "top" tables are built from.
struct RunDetail {
    /// consignee_key, arrival_date, carrier, usd (every shipment).
    consignees: DataFrame,
    /// consignee_key, arrival_date, carrier, house_bill, usd (shipments with L002).
    l002: DataFrame,
    /// consignee_key, arrival_date (shipments with L001).
    l001: DataFrame,
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
    pub policy_versions: Vec<String>,
    pub audit_head: (i64, String),
    pub masked: bool,
}

const CACHE_PREFIX: &str = "report:run:";

/// Builds the dashboard of `day` for a report job.
pub async fn build(ctx: &Context, job: &ReportJob, day: NaiveDate) -> anyhow::Result<Dashboard> {
    let default_tz = ctx.config.daemon.timezone.parse().unwrap_or(chrono_tz::America::New_York);
    let tz = job.zone(default_tz);
    let first = day - chrono::Duration::days(i64::from(job.trend_days.max(1)) - 1);
    let (from, _) = day_bounds(first, tz);
    let (_, to) = day_bounds(day, tz);
    let runs = data::runs_between(ctx, from, to, &job.jobs)?;
    let mask = ctx.config.reports.mask_personal_data;

    let mut by_day: BTreeMap<NaiveDate, (u64, CarrierAgg)> = BTreeMap::new();
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
        let (agg, detail) = load_run(ctx, run, today).await.with_context(|| format!("run {}", run.run_id))?;
        let entry = by_day.entry(local).or_default();
        entry.0 += 1;
        for c in agg.carriers.values() {
            entry.1.add(c);
        }
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
    let (limit_groups, limit_groups_total, multi_bill_days_total, repeat_consignees, repeat_consignees_total) =
        tokio::task::spawn_blocking(move || top_tables(details, top, mask)).await.context("the report task panicked")??;
    let trend = (0..job.trend_days.max(1))
        .map(|i| {
            let d = first + chrono::Duration::days(i64::from(i));
            let (runs, total) = by_day.get(&d).cloned().unwrap_or_default();
            TrendDay { day: d, runs, total }
        })
        .collect();
    let filings = data::filing_outcomes(ctx, &day_runs)?;
    let audit_head = ctx.db(|s| {
        let location = s.location().display().to_string();
        crate::state::audit::head(s.connection()).map_err(|e| crate::state::StoreError::Sqlite { location, source: e })
    })?;
    for r in &day_runs {
        data::forget_scratch(ctx, r);
    }
    Ok(Dashboard {
        report: job.name.clone(),
        day,
        timezone: tz.to_string(),
        generated_at: Utc::now(),
        jobs: if job.jobs.is_empty() { ctx.jobs.iter().filter(|j| j.intake.is_some()).map(|j| j.name.clone()).collect() } else { job.jobs.clone() },
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
        policy_versions: policies,
        audit_head,
        masked: mask,
    })
}

/// A run's aggregates (cached) and, for the report's day, its detail rows.
async fn load_run(ctx: &Context, run: &RunRef, detail: bool) -> anyhow::Result<(RunAgg, Option<RunDetail>)> {
    let key = format!("{CACHE_PREFIX}{}", run.run_id);
    if !detail
        && let Some(cached) = ctx.db(|s| s.get_value(&key))?.and_then(|t| serde_json::from_str::<RunAgg>(&t).ok())
    {
        return Ok((cached, None));
    }
    let disp = data::output_file(ctx, run, "dispositions.csv").await?;
    let findings = data::output_file(ctx, run, "findings.parquet").await?;
    let run_id = run.run_id.clone();
    let (agg, detail) =
        tokio::task::spawn_blocking(move || aggregate_run(&run_id, disp, findings, detail)).await.context("the report task panicked")??;
    ctx.db(|s| s.set_value(&key, &serde_json::to_string(&agg).unwrap_or_default()))?;
    if detail.is_none() {
        data::forget_scratch(ctx, &run.run_id);
    }
    Ok((agg, detail))
}

fn is_rule(code: &str) -> Expr {
    col("rule").eq(lit(code.to_owned()))
}

/// Aggregates one run's outputs with polars.
fn aggregate_run(run_id: &str, disp: Option<PathBuf>, findings: Option<PathBuf>, want_detail: bool) -> anyhow::Result<(RunAgg, Option<RunDetail>)> {
    let mut agg = RunAgg { run_id: run_id.to_owned(), carriers: BTreeMap::new() };
    let Some(disp) = disp else { return Ok((agg, None)) };
    let d = data::scan_dispositions(&disp)?
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
        Some(p) => Some(data::scan_findings(p)?.select([col("source_file"), col("carrier"), col("house_bill"), col("rule")])),
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
    let by_disp = d.clone().group_by([col("carrier"), col("disposition")]).agg([len().alias("n")]).collect()?;
    let (cs, ds, ns) = (strs(&by_disp, "carrier")?, strs(&by_disp, "disposition")?, u64s(&by_disp, "n")?);
    for i in 0..by_disp.height() {
        agg.carriers.entry(cs[i].clone()).or_default().dispositions.insert(ds[i].clone(), ns[i]);
    }

    let mut detail = None;
    if let Some(f) = f {
        let by_rule = f.clone().group_by([col("carrier"), col("rule")]).agg([len().alias("n")]).collect()?;
        let (cs, rs, ns) = (strs(&by_rule, "carrier")?, strs(&by_rule, "rule")?, u64s(&by_rule, "n")?);
        for i in 0..by_rule.height() {
            agg.carriers.entry(cs[i].clone()).or_default().findings.insert(rs[i].clone(), ns[i]);
        }
        let warn = DATA_WARNINGS.iter().map(|r| is_rule(r)).reduce(|a, b| a.or(b)).expect("rules");
        let flagged = f.clone().filter(warn).select(shipment_key()).unique_generic(None, UniqueKeepStrategy::Any);
        let warned = d
            .clone()
            .filter(col("disposition").neq(lit("hold")))
            .join(flagged, shipment_key(), shipment_key(), JoinArgs::new(JoinType::Semi))
            .group_by([col("carrier")])
            .agg([len().alias("n")])
            .collect()?;
        let (cs, ns) = (strs(&warned, "carrier")?, u64s(&warned, "n")?);
        for i in 0..warned.height() {
            agg.carriers.entry(cs[i].clone()).or_default().warned = ns[i];
        }
        if want_detail {
            let flagged = |rule: &str| f.clone().filter(is_rule(rule)).select(shipment_key()).unique_generic(None, UniqueKeepStrategy::Any);
            let l002 = d
                .clone()
                .join(flagged("L002"), shipment_key(), shipment_key(), JoinArgs::new(JoinType::Semi))
                .select([col("consignee_key"), col("arrival_date"), col("carrier"), col("house_bill"), col("usd")])
                .collect()?;
            let l001 = d
                .clone()
                .join(flagged("L001"), shipment_key(), shipment_key(), JoinArgs::new(JoinType::Semi))
                .select([col("consignee_key"), col("arrival_date")])
                .unique_generic(None, UniqueKeepStrategy::Any)
                .collect()?;
            detail = Some((l002, l001));
        }
    }
    let detail = if want_detail {
        let consignees = d.select([col("consignee_key"), col("arrival_date"), col("carrier"), col("usd")]).collect()?;
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
        Some(RunDetail { consignees, l002, l001 })
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
fn top_tables(details: Vec<RunDetail>, top: usize, mask: bool) -> anyhow::Result<TopTables> {
    if details.is_empty() {
        return Ok((Vec::new(), 0, 0, Vec::new(), 0));
    }
    let stack = |frames: Vec<LazyFrame>| concat(frames, UnionArgs::default());
    let l002 = stack(details.iter().map(|d| d.l002.clone().lazy()).collect())?;
    let groups = l002
        .group_by([col("consignee_key"), col("arrival_date")])
        .agg([col("house_bill").n_unique().alias("bills"), col("usd").sum().alias("usd"), col("carrier").unique().alias("carriers")])
        .sort_by_exprs(
            [col("usd"), col("consignee_key")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let groups_total = groups.height() as u64;
    let g = groups.head(Some(top));
    let (keys, dates, bills, usd, carriers) =
        (strs(&g, "consignee_key")?, strs(&g, "arrival_date")?, u64s(&g, "bills")?, i128s(&g, "usd")?, carrier_lists(&g, "carriers")?);
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

    let all = stack(details.iter().map(|d| d.consignees.clone().lazy()).collect())?;
    let repeat = all
        .filter(col("consignee_key").str().contains(lit("[[:alnum:]]"), false))
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
    let (keys, n, days, usd, carriers) =
        (strs(&r, "consignee_key")?, u64s(&r, "shipments")?, u64s(&r, "days")?, i128s(&r, "usd")?, carrier_lists(&r, "carriers")?);
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
