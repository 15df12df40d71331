//! Exception reports: right after a run, one email per carrier whose error
//! findings or filing rejections reach the thresholds
//! (`reports.exceptions.min_errors`, `min_rejections`), to the group
//! responsible for that carrier (`carrier_groups`, else `group`).
//!
//! It says what failed (rule, count, what to do), where (file, record,
//! field, house bill), the filing rejections with ACE's code, and what
//! changed since the job's previous run: per rule, findings that are new,
//! recurring (the same carrier, house bill, line, rule and field was found
//! last time too) and resolved (found last time, not now). Attached: an XLSX
//! (a sheet per severity, plus summary, rejections and changes) and a CSV of
//! every finding. Above `max_attachment_rows` findings the attachments carry
//! the summary and the first rows, and the full files are written to the
//! run's output folder, which the email names.
//!
//! A run owes its reports from its start (its `exceptions` duty is `due` in
//! the state store's `run_duties`) until they are queued, so a stop before
//! that leaves them to the job's next run. Each is queued once per run and
//! carrier, under an outbox id made from `exceptions:<run>:<carrier>`, and
//! recorded in `exception_reports`, so a stop after queueing and before
//! recording it does not send twice.

use std::collections::BTreeMap;

use anyhow::Context as _;
use polars::prelude::*;
use tracing::info;

use super::email::{Attachment, Email, XLSX};
use super::html::{self, Align, Table, bold, colored, esc, int};
use super::mask;
use super::remedies;
use super::xlsx::{self, Sheet, Value};
use crate::app::App;
use crate::engine::rules::{Rule, Severity};
use crate::outputs::read::{self, FilingProblem, RunRef, strs, u64s};
use crate::paths;
use crate::state::typed::{exception_report_key, once_id};
use crate::state::types::{Duty, DutyState};

/// One finding row.
#[derive(Debug, Clone)]
struct Row {
    source_file: String,
    record: Option<u64>,
    house_bill: String,
    line_no: String,
    rule: String,
    severity: String,
    field: String,
    message: String,
}

/// Changes of one rule for one carrier since the previous run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub new: u64,
    pub recurring: u64,
    pub resolved: u64,
}

/// The full XLSX is written to the output folder only up to this many rows.
const FULL_XLSX_MAX_ROWS: usize = 200_000;

const COLUMNS: [&str; 10] = [
    "source_file",
    "record",
    "house_bill",
    "line_no",
    "rule",
    "name",
    "severity",
    "field",
    "message",
    "what_to_do",
];

fn key_exprs() -> Vec<Expr> {
    ["carrier", "house_bill", "line_no", "rule", "field"]
        .iter()
        .map(|k| col(*k).cast(DataType::String).fill_null(lit("")).alias(*k))
        .collect()
}

/// New / recurring / resolved findings per (carrier, rule).
fn changes(
    current: &std::path::Path,
    previous: Option<&std::path::Path>,
) -> anyhow::Result<BTreeMap<(String, String), Change>> {
    let cur = read::scan_findings(current)?
        .select(key_exprs())
        .unique_generic(None, UniqueKeepStrategy::Any);
    let prev = match previous {
        Some(p) => read::scan_findings(p)?
            .select(key_exprs())
            .unique_generic(None, UniqueKeepStrategy::Any),
        None => cur.clone().filter(lit(false)),
    };
    let keys: Vec<Expr> = ["carrier", "house_bill", "line_no", "rule", "field"]
        .iter()
        .map(|k| col(*k))
        .collect();
    let count = |lf: LazyFrame| -> anyhow::Result<Vec<(String, String, u64)>> {
        let df = lf
            .group_by([col("carrier"), col("rule")])
            .agg([len().alias("n")])
            .collect()?;
        let (c, r, n) = (strs(&df, "carrier")?, strs(&df, "rule")?, u64s(&df, "n")?);
        Ok((0..df.height())
            .map(|i| (c[i].clone(), r[i].clone(), n[i]))
            .collect())
    };
    let mut out: BTreeMap<(String, String), Change> = BTreeMap::new();
    for (c, r, n) in count(cur.clone().join(
        prev.clone(),
        keys.clone(),
        keys.clone(),
        JoinArgs::new(JoinType::Anti),
    ))? {
        out.entry((c, r)).or_default().new = n;
    }
    for (c, r, n) in count(cur.clone().join(
        prev.clone(),
        keys.clone(),
        keys.clone(),
        JoinArgs::new(JoinType::Semi),
    ))? {
        out.entry((c, r)).or_default().recurring = n;
    }
    for (c, r, n) in count(prev.join(cur, keys.clone(), keys, JoinArgs::new(JoinType::Anti)))? {
        out.entry((c, r)).or_default().resolved = n;
    }
    Ok(out)
}

/// Every finding of a run, sorted by carrier, severity, file and record.
fn read_rows(path: &std::path::Path) -> anyhow::Result<BTreeMap<String, Vec<Row>>> {
    let df = read::scan_findings(path)?
        .with_column(
            when(col("severity").eq(lit("error")))
                .then(lit(0u32))
                .when(col("severity").eq(lit("warning")))
                .then(lit(1u32))
                .otherwise(lit(2u32))
                .alias("_sev"),
        )
        .sort_by_exprs(
            [
                col("carrier"),
                col("_sev"),
                col("source_file"),
                col("record"),
            ],
            SortMultipleOptions::default()
                .with_maintain_order(true)
                .with_nulls_last(false),
        )
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let records: Vec<Option<u64>> = df
        .column("record")?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .collect();
    let cols: Vec<Vec<String>> = [
        "carrier",
        "source_file",
        "house_bill",
        "line_no",
        "rule",
        "severity",
        "field",
        "message",
    ]
    .iter()
    .map(|c| strs(&df, c))
    .collect::<anyhow::Result<_>>()?;
    let mut out: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for i in 0..df.height() {
        out.entry(cols[0][i].clone()).or_default().push(Row {
            source_file: cols[1][i].clone(),
            record: records[i],
            house_bill: cols[2][i].clone(),
            line_no: cols[3][i].clone(),
            rule: cols[4][i].clone(),
            severity: cols[5][i].clone(),
            field: cols[6][i].clone(),
            message: cols[7][i].clone(),
        });
    }
    Ok(out)
}

fn rule_name(code: &str) -> &'static str {
    Rule::from_code(code).map_or("", Rule::name)
}

fn row_values(r: &Row, mask_on: bool) -> Vec<Value> {
    vec![
        r.source_file.clone().into(),
        r.record.map_or(Value::Empty, |n| Value::Number(n as f64)),
        r.house_bill.clone().into(),
        r.line_no.clone().into(),
        r.rule.clone().into(),
        rule_name(&r.rule).into(),
        r.severity.clone().into(),
        r.field.clone().into(),
        mask::message(&r.field, &r.message, mask_on).into(),
        remedies::for_rule(&r.rule).into(),
    ]
}

/// The XLSX sheets for some rows.
/// What to do about a rejection or an entry not filed.
fn what_to_do(f: &FilingProblem) -> &'static str {
    if f.state == read::NOT_FILED {
        "Not sent to ACE: supply what the reason names (manifest data, the IOR, the parties file or [filing] configuration), then run s321d file --run with this run."
    } else {
        remedies::for_ace(&f.state, f.code.as_deref())
    }
}

/// The entry column: the number, or the ledger's state when none was given.
fn entry_label(f: &FilingProblem) -> String {
    if f.entry_number.is_empty() {
        format!("({})", f.state)
    } else {
        f.entry_number.clone()
    }
}

fn sheets(
    rows: &[&Row],
    summary: &[(String, u64, String)],
    rejections: &[&FilingProblem],
    changes: &[(String, Change)],
    mask_on: bool,
) -> Vec<Sheet> {
    let widths = [22.0, 8.0, 16.0, 8.0, 7.0, 26.0, 9.0, 18.0, 60.0, 60.0];
    let mut out = Vec::new();
    let mut s = Sheet::new(
        "summary",
        &["rule", "name", "severity", "findings", "what_to_do"],
        &[7.0, 28.0, 9.0, 10.0, 80.0],
    );
    for (rule, n, sev) in summary {
        s.rows.push(vec![
            rule.clone().into(),
            rule_name(rule).into(),
            sev.clone().into(),
            Value::Number(*n as f64),
            remedies::for_rule(rule).into(),
        ]);
    }
    out.push(s);
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let mut s = Sheet::new(sev.as_str(), &COLUMNS, &widths);
        // A sheet holds at most 1,048,575 rows.
        for r in rows
            .iter()
            .filter(|r| r.severity == sev.as_str())
            .take(1_048_575)
        {
            s.rows.push(row_values(r, mask_on));
        }
        out.push(s);
    }
    let mut s = Sheet::new(
        "rejections",
        &[
            "entry_number",
            "house_bill",
            "entry_type",
            "state",
            "code",
            "narrative",
            "what_to_do",
        ],
        &[16.0, 16.0, 10.0, 10.0, 6.0, 40.0, 60.0],
    );
    for f in rejections {
        s.rows.push(vec![
            entry_label(f).into(),
            f.house_bill.clone().into(),
            f.entry_type.clone().into(),
            f.state.clone().into(),
            f.code.clone().unwrap_or_default().into(),
            f.narrative.clone().unwrap_or_default().into(),
            what_to_do(f).into(),
        ]);
    }
    out.push(s);
    let mut s = Sheet::new(
        "changes",
        &["rule", "name", "new", "recurring", "resolved"],
        &[7.0, 28.0, 10.0, 10.0, 10.0],
    );
    for (rule, c) in changes {
        s.rows.push(vec![
            rule.clone().into(),
            rule_name(rule).into(),
            Value::Number(c.new as f64),
            Value::Number(c.recurring as f64),
            Value::Number(c.resolved as f64),
        ]);
    }
    out.push(s);
    out
}

fn csv_rows(rows: &[&Row], mask_on: bool) -> Vec<Vec<Value>> {
    rows.iter().map(|r| row_values(r, mask_on)).collect()
}

/// A carrier's exception report, ready to queue.
pub struct Report {
    pub carrier: String,
    pub email: Email,
    pub errors: u64,
    pub rejections: u64,
}

/// Builds the exception reports of a run: one per carrier that passes the
/// thresholds (every carrier with findings or rejections with `all`, for
/// previews), or only `only` when given.
pub async fn build(
    ctx: &App,
    run: &RunRef,
    only: Option<&str>,
    all: bool,
) -> anyhow::Result<Vec<Report>> {
    let cfg = &ctx.config.reports.exceptions;
    let mask_on = ctx.config.reports.mask_personal_data;
    let Some(findings_path) = read::output_file(ctx, run, "findings.parquet").await? else {
        anyhow::bail!(
            "run {} has no findings.parquet in its outputs ({})",
            run.run_id,
            run.output.as_deref().unwrap_or("no output location")
        );
    };
    let previous = read::previous_run(ctx, run)?;
    let previous_path = match &previous {
        Some(p) => read::output_file(ctx, p, "findings.parquet").await?,
        None => None,
    };
    let (fp, pp) = (findings_path.clone(), previous_path.clone());
    let (rows, changes) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok((read_rows(&fp)?, changes(&fp, pp.as_deref())?))
    })
    .await
    .context("the report task panicked")??;
    let rejections = read::rejections(ctx, &run.run_id)?;
    let mut carriers: Vec<String> = rows.keys().cloned().collect();
    for r in &rejections {
        if !carriers.contains(&r.carrier) {
            carriers.push(r.carrier.clone());
        }
    }
    carriers.sort();
    let mut out = Vec::new();
    for carrier in carriers {
        if only.is_some_and(|o| !o.eq_ignore_ascii_case(&carrier)) {
            continue;
        }
        let empty = Vec::new();
        let rows = rows.get(&carrier).unwrap_or(&empty);
        let errors = rows.iter().filter(|r| r.severity == "error").count() as u64;
        let rejected: Vec<&FilingProblem> =
            rejections.iter().filter(|r| r.carrier == carrier).collect();
        let over = (cfg.min_errors > 0 && errors >= cfg.min_errors)
            || (cfg.min_rejections > 0 && rejected.len() as u64 >= cfg.min_rejections);
        if !over && !(all && (!rows.is_empty() || !rejected.is_empty())) && only.is_none() {
            continue;
        }
        let changes: Vec<(String, Change)> = changes
            .iter()
            .filter(|((c, _), _)| *c == carrier)
            .map(|((_, r), ch)| (r.clone(), ch.clone()))
            .collect();
        let email = render(
            ctx,
            run,
            previous.as_ref(),
            &carrier,
            rows,
            &rejected,
            &changes,
            mask_on,
        )
        .await?;
        out.push(Report {
            carrier,
            email,
            errors,
            rejections: rejected.len() as u64,
        });
    }
    if previous_path.is_some()
        && let Some(p) = &previous
    {
        read::forget_scratch(ctx, &p.run_id);
    }
    read::forget_scratch(ctx, &run.run_id);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn render(
    ctx: &App,
    run: &RunRef,
    previous: Option<&RunRef>,
    carrier: &str,
    rows: &[Row],
    rejected: &[&FilingProblem],
    changes: &[(String, Change)],
    mask_on: bool,
) -> anyhow::Result<Email> {
    let cfg = &ctx.config.reports.exceptions;
    let carrier_label = if carrier.is_empty() {
        "(no carrier)"
    } else {
        carrier
    };
    let count = |sev: &str| rows.iter().filter(|r| r.severity == sev).count() as u64;
    let (errors, warnings, infos) = (count("error"), count("warning"), count("info"));
    let id = uuid::Uuid::now_v7().simple().to_string();
    let group = cfg.group_for(carrier).to_owned();

    // Summary per rule, in contract order.
    let mut by_rule: BTreeMap<Rule, (u64, Vec<String>)> = BTreeMap::new();
    for r in rows {
        if let Some(rule) = Rule::from_code(&r.rule) {
            let e = by_rule.entry(rule).or_default();
            e.0 += 1;
            if !r.field.is_empty() && !e.1.contains(&r.field) {
                e.1.push(r.field.clone());
            }
        }
    }
    let summary: Vec<(String, u64, String)> = by_rule
        .iter()
        .map(|(r, (n, _))| (r.code().to_owned(), *n, r.severity().as_str().to_owned()))
        .collect();

    let mut body = String::new();
    let mut text = String::new();
    let title = format!("Exceptions for {carrier_label} in run {}", run.run_id);
    body.push_str(&format!(
        "<h1 style=\"{};font-size:20px;margin:0 0 2px 0;color:{}\">{}</h1>\n",
        html::FONT,
        html::INK,
        esc(&title)
    ));
    let files: Vec<String> = run
        .summary
        .as_ref()
        .map(|s| s.files.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    let intro = format!(
        "Job {}, run started {}; file(s): {}.",
        run.job,
        run.started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        if files.is_empty() {
            "-".into()
        } else {
            files.join(", ")
        }
    );
    body.push_str(&html::note(&intro));
    text.push_str(&format!("{title}\n{intro}\n\n"));
    body.push_str(&html::tiles(&[
        (
            "Errors",
            int(errors),
            Some(if errors > 0 { html::RED } else { html::GREEN }),
        ),
        ("Warnings", int(warnings), None),
        ("Info", int(infos), None),
        (
            "Filing rejections",
            int(rejected.len() as u64),
            Some(if rejected.is_empty() {
                html::GREEN
            } else {
                html::RED
            }),
        ),
    ]));
    text.push_str(&format!(
        "Errors: {}\nWarnings: {}\nInfo: {}\nFiling rejections: {}\n\n",
        int(errors),
        int(warnings),
        int(infos),
        rejected.len()
    ));

    let mut what = Table::new(
        &["Rule", "Name", "Findings", "Fields", "What to do"],
        &[
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Left,
            Align::Left,
        ],
    );
    // In text the advice does not fit a table column: one paragraph per rule.
    let mut what_text = String::new();
    for (rule, (n, fields)) in &by_rule {
        if rule.severity() == Severity::Info {
            continue;
        }
        let color = if rule.severity() == Severity::Error {
            html::RED
        } else {
            html::AMBER
        };
        what.row(vec![
            colored(rule.code(), color),
            rule.name().into(),
            int(*n).into(),
            fields.join(", ").into(),
            remedies::for_rule(rule.code()).into(),
        ]);
        what_text.push_str(&format!(
            "{} {} ({}): {} finding(s){}\n  What to do: {}\n",
            rule.code(),
            rule.name(),
            rule.severity().as_str(),
            int(*n),
            if fields.is_empty() {
                String::new()
            } else {
                format!(" in {}", fields.join(", "))
            },
            remedies::for_rule(rule.code())
        ));
    }
    body.push_str(&html::h2("What failed and what to do"));
    text.push_str("WHAT FAILED AND WHAT TO DO\n");
    if what.is_empty() {
        body.push_str(&html::para("No error or warning findings."));
        text.push_str("No error or warning findings.\n");
    } else {
        body.push_str(&what.html());
        text.push_str(&what_text);
    }
    text.push('\n');

    const SHOWN: usize = 25;
    let errs: Vec<&Row> = rows.iter().filter(|r| r.severity == "error").collect();
    if !errs.is_empty() {
        let mut w = Table::new(
            &["File", "Record", "Field", "House bill", "Rule", "Message"],
            &[
                Align::Left,
                Align::Right,
                Align::Left,
                Align::Left,
                Align::Left,
                Align::Left,
            ],
        );
        for r in errs.iter().take(SHOWN) {
            w.row(vec![
                r.source_file.clone().into(),
                r.record.map_or_else(String::new, |n| n.to_string()).into(),
                r.field.clone().into(),
                r.house_bill.clone().into(),
                bold(r.rule.clone()),
                mask::message(&r.field, &r.message, mask_on).into(),
            ]);
        }
        let heading = if errs.len() > SHOWN {
            format!(
                "Where: the first {SHOWN} of {} errors",
                int(errs.len() as u64)
            )
        } else {
            "Where: every error".to_owned()
        };
        body.push_str(&html::h2(&heading));
        body.push_str(&w.html());
        text.push_str(&format!("{}\n", heading.to_uppercase()));
        text.push_str(&w.text());
        text.push('\n');
    }

    if !rejected.is_empty() {
        let mut t = Table::new(
            &[
                "Entry",
                "House bill",
                "Type",
                "Code",
                "Narrative",
                "What to do",
            ],
            &[Align::Left; 6],
        );
        for f in rejected {
            t.row(vec![
                entry_label(f).into(),
                f.house_bill.clone().into(),
                f.entry_type.clone().into(),
                colored(f.code.clone().unwrap_or_default(), html::RED),
                f.narrative.clone().unwrap_or_default().into(),
                what_to_do(f).into(),
            ]);
        }
        body.push_str(&html::h2("Filing rejections (ACE) and entries not filed"));
        body.push_str(&t.html());
        text.push_str("FILING REJECTIONS (ACE) AND ENTRIES NOT FILED\n");
        text.push_str(&t.text());
        text.push('\n');
    }
    // An ongoing gateway outage (this process's own knowledge, as /readyz
    // has it): the run's entries wait as pending, said once here too.
    if let Some((since, why)) = ctx.status.gateway_outage() {
        let line = format!(
            "Filing is degraded: the ACE gateway {} is unreachable since {} ({why}); this run's entries wait as pending and are sent when it answers.",
            ctx.config.filing.http.url,
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        body.push_str(&html::h2("Filing"));
        body.push_str(&html::para(&line));
        text.push_str(&format!("FILING\n{line}\n\n"));
    }

    let since = previous.map_or_else(
        || "no earlier run of this job".to_owned(),
        |p| format!("run {}", p.run_id),
    );
    body.push_str(&html::h2(&format!(
        "What changed since the last run ({since})"
    )));
    text.push_str(&format!("WHAT CHANGED SINCE THE LAST RUN ({since})\n"));
    let mut ch = Table::new(
        &["Rule", "Name", "New", "Recurring", "Resolved"],
        &[
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
    );
    for (rule, c) in changes {
        ch.row(vec![
            bold(rule.clone()),
            rule_name(rule).into(),
            int(c.new).into(),
            int(c.recurring).into(),
            int(c.resolved).into(),
        ]);
    }
    if ch.is_empty() {
        body.push_str(&html::para("No findings now or in the previous run."));
        text.push_str("No findings now or in the previous run.\n");
    } else {
        body.push_str(&ch.html());
        text.push_str(&ch.text());
    }
    body.push_str(&html::note("New: not found in the previous run. Recurring: the same house bill, line, rule and field was found in the previous run too (sent again without a fix). Resolved: found in the previous run, not in this one."));
    text.push('\n');

    // Attachments.
    // The carrier comes from data: one sanitiser keeps it a plain file-name part.
    let stem = format!(
        "exceptions-{}-{}",
        crate::paths::component(&carrier_label.replace(['(', ')', ' '], "")),
        run.run_id
    );
    let all_rows: Vec<&Row> = rows.iter().collect();
    let full = all_rows.len() <= cfg.max_attachment_rows;
    let shown: Vec<&Row> = if full {
        all_rows.clone()
    } else {
        all_rows
            .iter()
            .copied()
            .take(cfg.max_attachment_rows)
            .collect()
    };
    let headers: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let book = xlsx::workbook(&sheets(&shown, &summary, rejected, changes, mask_on))?;
    let csv = xlsx::csv(&headers, &csv_rows(&shown, mask_on))?;
    let mut attachments = vec![
        Attachment {
            file_name: format!("{stem}.xlsx"),
            content_type: XLSX.into(),
            bytes: book,
        },
        Attachment {
            file_name: format!("{stem}.csv"),
            content_type: "text/csv".into(),
            bytes: csv,
        },
    ];
    let mut pointer = String::new();
    if !full {
        // The full files go to the run's output folder (which holds full data anyway).
        let location = run.location().context("the run has no output location")?;
        let out = ctx.source(location.0)?;
        let scratch = ctx.staging().join("reports").join(format!("{id}-full"));
        std::fs::create_dir_all(&scratch)?;
        let csv_path = scratch.join(format!("{stem}.csv"));
        std::fs::write(&csv_path, xlsx::csv(&headers, &csv_rows(&all_rows, false))?)?;
        let mut written = vec![paths::join(&[location.1, &format!("{stem}.csv")])];
        out.upload(&csv_path, &written[0])
            .await
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", written[0]))?;
        if all_rows.len() <= FULL_XLSX_MAX_ROWS {
            let xlsx_path = scratch.join(format!("{stem}.xlsx"));
            std::fs::write(
                &xlsx_path,
                xlsx::workbook(&sheets(&all_rows, &summary, rejected, changes, false))?,
            )?;
            let dest = paths::join(&[location.1, &format!("{stem}.xlsx")]);
            out.upload(&xlsx_path, &dest)
                .await
                .map_err(|e| anyhow::anyhow!("cannot write {dest}: {e}"))?;
            written.push(dest);
        }
        let _ = std::fs::remove_dir_all(&scratch);
        pointer = format!(
            "This run has {} findings for {carrier_label}, more than the {} attached (reports.exceptions.max_attachment_rows): the attachments hold the summary and the first {} rows. The full file(s), unmasked: {} in {}.",
            int(all_rows.len() as u64),
            int(cfg.max_attachment_rows as u64),
            int(cfg.max_attachment_rows as u64),
            written.join(", "),
            out.describe()
        );
        let summary_only = Sheet {
            rows: summary
                .iter()
                .map(|(r, n, s)| {
                    vec![
                        r.clone().into(),
                        rule_name(r).into(),
                        s.clone().into(),
                        Value::Number(*n as f64),
                        remedies::for_rule(r).into(),
                    ]
                })
                .collect(),
            ..Sheet::new(
                "summary",
                &["rule", "name", "severity", "findings", "what_to_do"],
                &[7.0, 28.0, 9.0, 10.0, 80.0],
            )
        };
        attachments.push(Attachment {
            file_name: format!("{stem}-summary.xlsx"),
            content_type: XLSX.into(),
            bytes: xlsx::workbook(&[summary_only])?,
        });
    }
    body.push_str(&html::h2("Attachments"));
    let att_text = if pointer.is_empty() {
        format!(
            "{stem}.xlsx (sheets: summary, error, warning, info, rejections, changes) and {stem}.csv hold every finding of {carrier_label} in this run."
        )
    } else {
        pointer.clone()
    };
    body.push_str(&html::para(&att_text));
    text.push_str(&format!("ATTACHMENTS\n{att_text}\n\n"));
    let privacy = if mask_on {
        "Consignee values in messages are masked; the run outputs keep the full data."
    } else {
        "Masking is off (reports.mask_personal_data = false)."
    };
    let footer = format!(
        "{privacy} Outputs: {}. Sent to group {group}.",
        run.output.as_deref().unwrap_or("-")
    );
    body.push_str(&format!(
        "<hr style=\"border:0;border-top:1px solid {};margin:18px 0 8px 0\">\n",
        html::LINE
    ));
    body.push_str(&html::note(&footer));
    text.push_str(&format!("--\n{footer}\n"));

    let subject = format!(
        "[s321d] {carrier_label}: {} error(s), {} rejection(s) in run {} ({}) - action needed",
        int(errors),
        rejected.len(),
        run.run_id,
        run.job
    );
    Ok(Email {
        kind: "exceptions".into(),
        id,
        subject,
        html: html::document(&title, &body),
        text,
        images: Vec::new(),
        attachments,
        groups: vec![group],
    })
}

/// After a run: queue and try to send the exception reports it calls for.
/// Returns the queued report ids.
pub async fn after_run(ctx: &App, run_id: &str) -> anyhow::Result<Vec<String>> {
    let cfg = &ctx.config.reports.exceptions;
    if !cfg.enabled || !ctx.config.email.enabled() {
        ctx.db(|s| s.set_run_duty(run_id, Duty::Exceptions, DutyState::Off))?;
        return Ok(Vec::new());
    }
    let Some(run) = read::run(ctx, run_id)? else {
        return Ok(Vec::new());
    };
    if run.kind == crate::state::types::RunKind::Replay || !run.complete() {
        return Ok(Vec::new());
    }
    let reports = build(ctx, &run, None, false).await?;
    let mut queued = Vec::new();
    for r in reports {
        if ctx.db(|s| s.exception_report_queued(&run.run_id, &r.carrier))? {
            continue;
        }
        // Queued under an id made from the key: a crash before it is
        // recorded below (`exception_reports`) makes the next call find the
        // outbox entry, not send again.
        let about =
            serde_json::json!({ "run_id": run.run_id, "job": run.job, "carrier": r.carrier });
        let key = exception_report_key(&run.run_id, &r.carrier);
        if let Some(q) = super::outbox::queue_once(ctx, &key, &r.email, about)? {
            info!(run.id = %run.run_id, carrier = %r.carrier, errors = r.errors, rejections = r.rejections, email.id = %q.id,
                "Run {} has {} error(s) and {} rejection(s) for carrier {}; queued exception report {}.", run.run_id, r.errors, r.rejections, r.carrier, q.id);
            queued.push(q.id);
        }
        crate::faults::crash_point("exceptions-queued");
        ctx.db(|s| s.set_exception_report_queued(&run.run_id, &r.carrier, &once_id(&key)))?;
    }
    ctx.db(|s| s.set_run_duty(run_id, Duty::Exceptions, DutyState::Done))?;
    // Also what an earlier, interrupted call queued and never sent.
    super::outbox::deliver(ctx, false).await;
    Ok(queued)
}
