//! Evidence packs: everything s321d knows about a house bill, an entry or a
//! period, in a folder (or a zip) a person can read and CBP can be given.
//!
//! For a house bill (`--house-bill HB [--carrier C]`, or `--entry N`, which
//! names one): every run that saw it, with
//! - the source record(s) as read from the archived file, the file's name,
//!   size and SHA-256, and whether the archived copy still has that hash;
//! - the mapping (job file) and the policy in force, byte for byte when the
//!   run kept them (`audit_blobs`), with their SHA-256;
//! - every finding on it (and on its file) and its disposition with reasons;
//! - whether the run's outputs still have the SHA-256 the trail recorded;
//! - every filing message and response from the ledger;
//! - every audit event about it, and the result of verifying the whole chain.
//!
//! For a period (`--from D --to D`): every audit event in it and the runs.
//! `index.md` explains the pack; `MANIFEST.sha256` lists every file's hash.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{NaiveDate, TimeZone, Utc};
use polars::prelude::*;
use serde_json::json;

use crate::app::App;
use crate::outputs::read::{self, RunRef, strs};
use crate::state::audit::{EventFilter, StoredEvent};
use crate::state::audit_query::{Blob, HistoryRow};
use crate::state::types::RunKind;

/// What a pack is about.
#[derive(Debug, Clone)]
pub enum Subject {
    HouseBill {
        house_bill: String,
        carrier: Option<String>,
    },
    Entry(String),
    Period {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// Files of a pack being assembled.
struct Pack {
    files: BTreeMap<String, Vec<u8>>,
}

impl Pack {
    fn add(&mut self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.files.insert(name.to_owned(), bytes.into());
    }
}

fn events_jsonl(events: &[StoredEvent]) -> String {
    let mut out = String::new();
    for e in events {
        let _ = writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default());
    }
    out
}

fn chain_status(ctx: &App) -> anyhow::Result<(String, bool)> {
    let v = ctx.db(|s| s.audit_verify())?;
    Ok(match &v.broken {
        None => (
            format!(
                "verified: {} events, head event {} hash {}",
                v.events, v.head.0, v.head.1
            ),
            true,
        ),
        Some(b) => (
            format!("BROKEN at {b}; {} events before it verified", v.events),
            false,
        ),
    })
}

/// Writes the pack for `subject` to `out` (a folder, or `out` with `.zip`
/// when `zip`). Returns the path written.
pub async fn export(
    ctx: &App,
    subject: &Subject,
    out: &Path,
    zip: bool,
) -> anyhow::Result<PathBuf> {
    let mut pack = Pack {
        files: BTreeMap::new(),
    };
    let mut index = String::new();
    let (chain, chain_ok) = chain_status(ctx)?;
    let generated = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match subject {
        Subject::Period { from, to } => period(ctx, *from, *to, &mut pack, &mut index)?,
        Subject::Entry(number) => {
            let f = ctx
                .db(|s| s.filing(number))?
                .with_context(|| format!("no filing with entry number {number} in the ledger"))?;
            let mut bills = ctx.db(|s| s.bills_of(number))?;
            if bills.is_empty() {
                bills.push((f.carrier.clone(), f.house_bill.clone()));
            }
            let names: Vec<String> = bills.iter().map(|(c, hb)| format!("{c} {hb}")).collect();
            let _ = writeln!(
                index,
                "Entry {number} was filed for {} house bill(s): {}.\n",
                bills.len(),
                names.join(", ")
            );
            for (carrier, hb) in &bills {
                house_bill(ctx, hb, Some(carrier), &mut pack, &mut index).await?;
            }
        }
        Subject::HouseBill {
            house_bill: hb,
            carrier,
        } => house_bill(ctx, hb, carrier.as_deref(), &mut pack, &mut index).await?,
    }
    let title = match subject {
        Subject::HouseBill {
            house_bill,
            carrier,
        } => format!(
            "house bill {house_bill}{}",
            carrier
                .as_ref()
                .map(|c| format!(" (carrier {c})"))
                .unwrap_or_default()
        ),
        Subject::Entry(n) => format!("entry {n}"),
        Subject::Period { from, to } => format!("the period {from} to {to}"),
    };
    let mut head = format!(
        "# s321d evidence pack: {title}\n\nGenerated {generated} by s321d {} from the state store {}.\n\n",
        env!("CARGO_PKG_VERSION"),
        ctx.config.paths.data_dir.join("state.db").display()
    );
    let _ = writeln!(
        head,
        "## Audit trail\n\nThe hash chain of the whole audit trail was checked when this pack was made: **{chain}**."
    );
    if !chain_ok {
        let _ = writeln!(
            head,
            "\nA broken chain means a row of the trail was changed or deleted after it was written; events from the broken one on cannot be relied on."
        );
    }
    let _ = writeln!(
        head,
        "Each event's hash is SHA-256 over the previous event's hash and the event's stored columns (see `audit-events.jsonl`; `s321d audit verify` repeats the check).\n"
    );
    index.insert_str(0, &head);
    index.push_str("\n## Files\n\nEvery file of this pack and its SHA-256 is in `MANIFEST.sha256` (`sha256sum -c MANIFEST.sha256`).\n");
    pack.add("index.md", index);
    let mut manifest = String::new();
    for (name, bytes) in &pack.files {
        use sha2::Digest as _;
        let _ = writeln!(
            manifest,
            "{}  {name}",
            hex::encode(sha2::Sha256::digest(bytes))
        );
    }
    pack.add("MANIFEST.sha256", manifest);
    write(&pack, out, zip)
}

fn write(pack: &Pack, out: &Path, zip: bool) -> anyhow::Result<PathBuf> {
    if zip {
        let path = if out.extension().is_some_and(|e| e == "zip") {
            out.to_owned()
        } else {
            out.with_extension("zip")
        };
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("zip.tmp");
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut z = ::zip::ZipWriter::new(file);
        let options = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Deflated);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "evidence".into());
        for (name, bytes) in &pack.files {
            z.start_file(format!("{stem}/{name}"), options)?;
            std::io::Write::write_all(&mut z, bytes)?;
        }
        z.finish()?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    } else {
        for (name, bytes) in &pack.files {
            let p = out.join(name);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
            }
            std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(out.to_owned())
    }
}

fn period(
    ctx: &App,
    from: NaiveDate,
    to: NaiveDate,
    pack: &mut Pack,
    index: &mut String,
) -> anyhow::Result<()> {
    let start = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).expect("midnight"));
    let end = Utc.from_utc_datetime(
        &(to + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let filter = EventFilter {
        from: Some(start.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        to: Some(end.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        ..EventFilter::default()
    };
    let events = ctx.db(|s| s.audit_events(&filter))?;
    pack.add("audit-events.jsonl", events_jsonl(&events));
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &events {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let runs = read::runs_between(ctx, start, end, &[])?;
    let mut csv = String::from(
        "run_id,job,kind,status,started_at,output,lines,shipments,policy_sha256,job_file_sha256\n",
    );
    for r in &runs {
        let s = r.summary.as_ref();
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            r.run_id,
            r.job,
            r.kind,
            r.status,
            r.started_at.to_rfc3339(),
            r.output.as_deref().unwrap_or(""),
            s.map_or(0, |s| s.lines),
            s.map_or(0, |s| s.shipments),
            s.map_or("", |s| s.policy_sha256.as_str()),
            s.map_or("", |s| s.job_file_sha256.as_str())
        );
    }
    pack.add("runs.csv", csv);
    let _ = writeln!(
        index,
        "## What happened from {from} to {to} (UTC)\n\n{} audit events (`audit-events.jsonl`), {} runs (`runs.csv`).\n",
        events.len(),
        runs.len()
    );
    let _ = writeln!(index, "| event kind | events |\n|---|---|");
    for (k, n) in kinds {
        let _ = writeln!(index, "| {k} | {n} |");
    }
    Ok(())
}

/// Rows of a frame as CSV text.
fn frame_csv(df: &DataFrame) -> anyhow::Result<String> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let cols: Vec<Vec<String>> = names
        .iter()
        .map(|n| strs(df, n))
        .collect::<anyhow::Result<_>>()?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&names)?;
    for i in 0..df.height() {
        w.write_record(cols.iter().map(|c| c[i].as_str()))?;
    }
    Ok(String::from_utf8(
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?,
    )?)
}

async fn house_bill(
    ctx: &App,
    hb: &str,
    carrier: Option<&str>,
    pack: &mut Pack,
    index: &mut String,
) -> anyhow::Result<()> {
    // Where it was first seen (history) and its filings (ledger).
    let seen: Vec<HistoryRow> = ctx.db(|s| s.history_of_bill(hb, carrier))?;
    // Every bill of a filed entry, not only its first (an entry holds several).
    let filing_carriers: Vec<String> = ctx
        .db(|s| s.filing_carriers(hb))?
        .into_iter()
        .filter(|c| carrier.is_none_or(|want| want == c))
        .collect();

    // Every run whose dispositions name it.
    let first_seen = {
        let mut earliest = None;
        for s in &seen {
            if let Some(r) = read::run(ctx, &s.run_id)? {
                earliest = Some(
                    earliest.map_or(r.started_at, |e: chrono::DateTime<Utc>| e.min(r.started_at)),
                );
            }
        }
        earliest
    };
    let from = first_seen.map_or_else(
        || Utc.timestamp_opt(0, 0).single().expect("epoch"),
        |t| t - chrono::Duration::seconds(1),
    );
    let mut runs = read::runs_between(ctx, from, Utc::now() + chrono::Duration::days(1), &[])?;
    // Replays are evidence too (re-evaluations); runs_between leaves them out.
    runs.extend(replays_since(ctx, from)?);
    let mut found_runs: Vec<RunRef> = Vec::new();
    let mut dispositions = Vec::new();
    let mut findings = Vec::new();
    let mut sections = String::new();
    for run in runs.iter().filter(|r| r.complete()) {
        let Some(dpath) = read::output_file(ctx, run, "dispositions.csv").await? else {
            continue;
        };
        let mut cond = col("house_bill").eq(lit(hb.to_owned()));
        if let Some(c) = carrier {
            cond = cond.and(col("carrier").eq(lit(c.to_owned())));
        }
        let d = read::scan_dispositions(&dpath)?
            .filter(cond)
            .select(crate::engine::output::DISPOSITIONS_HEADER.map(col))
            .collect()?;
        if d.height() == 0 {
            read::forget_scratch(ctx, &run.run_id);
            continue;
        }
        let files = strs(&d, "source_file")?;
        let carriers = strs(&d, "carrier")?;
        let mut d = d;
        d.insert_column(
            0,
            Column::new("run_id".into(), vec![run.run_id.as_str(); d.height()]),
        )?;
        dispositions.push(d.clone());
        let mut f_rows = None;
        if let Some(fpath) = read::output_file(ctx, run, "findings.parquet").await? {
            let mut cond = lit(false);
            for (file, car) in files.iter().zip(&carriers) {
                let on_it = col("source_file")
                    .eq(lit(file.clone()))
                    .and(col("carrier").eq(lit(car.clone())))
                    .and(col("house_bill").eq(lit(hb.to_owned())));
                let on_file = col("source_file")
                    .eq(lit(file.clone()))
                    .and(col("house_bill").eq(lit("")));
                cond = cond.or(on_it).or(on_file);
            }
            let f = read::scan_findings(&fpath)?.filter(cond).collect()?;
            let mut f = f;
            f.insert_column(
                0,
                Column::new("run_id".into(), vec![run.run_id.as_str(); f.height()]),
            )?;
            f_rows = Some(f.height());
            findings.push(f);
        }
        // Outputs against the hashes the trail recorded.
        let recorded = recorded_outputs(ctx, &run.run_id)?;
        let mut checks = Vec::new();
        for name in [
            "dispositions.csv",
            "findings.parquet",
            "findings.csv",
            "summary.json",
        ] {
            let Some(expected) = recorded.get(name) else {
                continue;
            };
            let now = match read::output_file(ctx, run, name).await? {
                Some(p) => Some(super::sha256_file(&p)?),
                None => None,
            };
            checks.push(match now {
                Some(h) if &h == expected => format!("{name}: unchanged (sha256 {h})"),
                Some(h) => format!("{name}: CHANGED since the run (recorded {expected}, now {h})"),
                None => format!("{name}: missing (recorded {expected})"),
            });
        }
        let _ = writeln!(
            sections,
            "### Run {} (job {}, {}, started {})\n",
            run.run_id,
            run.job,
            run.kind,
            run.started_at.to_rfc3339()
        );
        if let Some(s) = &run.summary {
            let _ = writeln!(
                sections,
                "- s321d {}; policy {} sha256 `{}`; mapping (job file) sha256 `{}`",
                s.s321d_version, s.policy_source, s.policy_sha256, s.job_file_sha256
            );
            for (digest, kind) in [
                (&s.policy_sha256, "policy"),
                (&s.job_file_sha256, "mapping"),
            ] {
                match ctx.db(|s| s.audit_blob(digest))? {
                    Some(Blob { name, content, .. }) => {
                        let file = format!("{kind}-{}.toml", &digest[..12.min(digest.len())]);
                        let _ =
                            writeln!(sections, "- the {kind} in force is `{file}` (from {name})");
                        pack.add(&file, content);
                    }
                    None => {
                        let _ = writeln!(
                            sections,
                            "- the {kind} text was not kept for this run (runs before the audit trail); only its sha256 is known"
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            sections,
            "- disposition(s): {} row(s) in `dispositions.csv`; finding(s): {} row(s) in `findings.csv`",
            d.height(),
            f_rows.unwrap_or(0)
        );
        for c in &checks {
            let _ = writeln!(sections, "- output {c}");
        }
        // Source records from the archived file(s).
        let recs = source_records(ctx, run, &files, hb, &mut sections).await?;
        if let Some((name, text)) = recs {
            pack.add(&name, text);
        }
        sections.push('\n');
        read::forget_scratch(ctx, &run.run_id);
        found_runs.push(run.clone());
    }
    if !dispositions.is_empty() {
        let all = concat(
            dispositions
                .iter()
                .map(|d| d.clone().lazy())
                .collect::<Vec<_>>(),
            UnionArgs::default(),
        )?
        .collect()?;
        pack.add("dispositions.csv", frame_csv(&all)?);
    }
    if !findings.is_empty() {
        let all = concat(
            findings
                .iter()
                .map(|d| d.clone().lazy())
                .collect::<Vec<_>>(),
            UnionArgs {
                to_supertypes: true,
                ..UnionArgs::default()
            },
        )?
        .collect()?;
        pack.add("findings.csv", frame_csv(&all)?);
    }

    // Filings.
    let mut entries = Vec::new();
    let mut filing_text = String::new();
    let mut carriers_to_check: Vec<String> = filing_carriers;
    if let Some(c) = carrier
        && !carriers_to_check.iter().any(|x| x == c)
    {
        carriers_to_check.push(c.to_owned());
    }
    for c in &carriers_to_check {
        let Some(f) = ctx.db(|s| s.filing_for(c, hb))? else {
            continue;
        };
        let events = ctx.db(|s| s.events(&f.entry_number))?;
        let _ = writeln!(
            filing_text,
            "- entry **{}** (type {}, carrier {c}, run {}, {} via {}): now **{}**{}{}",
            f.entry_number,
            f.entry_type,
            f.run_id,
            f.created_at.to_rfc3339(),
            f.transport,
            f.state.as_str(),
            f.code
                .as_ref()
                .map(|c| format!(", code {c}"))
                .unwrap_or_default(),
            f.narrative
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        let file = format!("filing-{}.json", f.entry_number);
        let body = json!({
            "entry_number": f.entry_number, "carrier": f.carrier, "house_bill": f.house_bill, "entry_type": f.entry_type,
            "job": f.job, "run_id": f.run_id, "transport": f.transport, "batch": f.batch, "state": f.state.as_str(),
            "code": f.code, "narrative": f.narrative, "created_at": f.created_at.to_rfc3339(), "updated_at": f.updated_at.to_rfc3339(),
            "payload": f.payload,
            "events": events.iter().map(|e| json!({"at": e.at.to_rfc3339(), "from": e.from.map(|s| s.as_str()), "to": e.to.as_str(), "message": e.message})).collect::<Vec<_>>(),
        });
        pack.add(&file, serde_json::to_vec_pretty(&body)?);
        let _ = writeln!(
            filing_text,
            "  every message and response: `{file}` ({} event(s))",
            events.len()
        );
        entries.push(f.entry_number.clone());
    }

    // Audit events.
    let filter = EventFilter {
        house_bill: Some(hb.to_owned()),
        entry_numbers: entries.clone(),
        run_ids: found_runs.iter().map(|r| r.run_id.clone()).collect(),
        ..EventFilter::default()
    };
    let mut events = ctx.db(|s| s.audit_events(&filter))?;
    // File receipts of the files it came in (matched by SHA-256 in their bodies).
    let shas: Vec<String> = seen.iter().map(|s| s.file_sha256.clone()).collect();
    if !shas.is_empty() {
        let more = ctx.db(|s| s.audit_receipts(&shas))?;
        events.extend(more);
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
    }
    pack.add("audit-events.jsonl", events_jsonl(&events));

    let _ = writeln!(index, "## House bill {hb}\n");
    if seen.is_empty() && found_runs.is_empty() && entries.is_empty() {
        let _ = writeln!(
            index,
            "s321d has no record of this house bill (not in history, no run output, no filing).\n"
        );
    }
    for s in &seen {
        let day = s
            .arrival_date
            .and_then(|d| crate::dates::from_epoch_days(d as i32))
            .map_or_else(|| "unknown".into(), |d| d.to_string());
        let _ = writeln!(
            index,
            "- first seen for carrier {} in file {} (sha256 `{}`), run {}: arrival {day}, total USD {}",
            s.carrier, s.source_file, s.file_sha256, s.run_id, s.total_usd
        );
    }
    let _ = writeln!(
        index,
        "\n{} run(s) named it: every disposition with its reasons is in `dispositions.csv`, every finding on it or its file in `findings.csv`, the source records in `source-*.csv`.\n",
        found_runs.len()
    );
    index.push_str(&sections);
    let _ = writeln!(index, "## Filings\n");
    if filing_text.is_empty() {
        let _ = writeln!(index, "No filing in the ledger.\n");
    } else {
        index.push_str(&filing_text);
        index.push('\n');
    }
    let _ = writeln!(
        index,
        "## Audit events\n\n{} event(s) about it, its files, its runs and its entries are in `audit-events.jsonl` (with their hashes).\n",
        events.len()
    );
    let _ = writeln!(index, "| seq | at | kind |\n|---|---|---|");
    for e in events.iter().take(200) {
        let _ = writeln!(index, "| {} | {} | {} |", e.seq, e.at, e.kind);
    }
    Ok(())
}

/// Replay runs started since `from`.
fn replays_since(ctx: &App, from: chrono::DateTime<Utc>) -> anyhow::Result<Vec<RunRef>> {
    // No replay starts in the future: a day ahead bounds them all.
    let to = Utc::now() + chrono::Duration::days(1);
    let runs = ctx.db(|s| s.runs_between(from, to, &[], &[RunKind::Replay]))?;
    Ok(runs.into_iter().map(read::run_ref).collect())
}

/// The output hashes `run.finished` recorded for a run (the latest event).
fn recorded_outputs(ctx: &App, run_id: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let body: Option<String> = ctx.db(|s| s.last_run_finished(run_id))?;
    let mut out = BTreeMap::new();
    if let Some(v) = body.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()) {
        for o in v["outputs"].as_array().into_iter().flatten() {
            if let (Some(n), Some(h)) = (o["name"].as_str(), o["sha256"].as_str()) {
                out.insert(n.to_owned(), h.to_owned());
            }
        }
    }
    Ok(out)
}

/// The records of `hb` in the archived file(s) of a run, as the mapping read them.
async fn source_records(
    ctx: &App,
    run: &RunRef,
    files: &[String],
    hb: &str,
    notes: &mut String,
) -> anyhow::Result<Option<(String, String)>> {
    let records = ctx.db(|s| s.files_of_run(&run.run_id))?;
    let job_text = run
        .summary
        .as_ref()
        .and_then(|s| {
            ctx.db(|st| st.audit_blob(&s.job_file_sha256))
                .ok()
                .flatten()
        })
        .map(|b| b.content);
    let job = match job_text {
        Some(t) => crate::job::Job::from_toml(&t, Path::new(&format!("{}.toml", run.job))).ok(),
        None => ctx.job(&run.job).map(|j| (*j).clone()),
    };
    let Some(job) = job else {
        let _ = writeln!(
            notes,
            "- source records: the job {} is not known any more; cannot read its files",
            run.job
        );
        return Ok(None);
    };
    let archive = ctx.source(&ctx.config.archive.source)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = vec!["source_file".into(), "file_sha256".into(), "record".into()];
    header.extend(crate::columns::CANONICAL.iter().map(|c| (*c).to_owned()));
    let mut seen_files: Vec<&String> = Vec::new();
    for name in files {
        if seen_files.contains(&name) {
            continue;
        }
        seen_files.push(name);
        let Some(f) = records.iter().find(|f| &f.name == name) else {
            let _ = writeln!(
                notes,
                "- source file {name}: not in the intake records of this run (a `validate` run?)"
            );
            continue;
        };
        let Some(path) = &f.archive else {
            let _ = writeln!(
                notes,
                "- source file {name} (sha256 `{}`): no archived copy",
                f.sha256
            );
            continue;
        };
        let local = match archive.local_path(path) {
            Some(p) => p,
            None => {
                let tmp = ctx
                    .staging()
                    .join("reports")
                    .join(&run.run_id)
                    .join(format!("archive-{}", f.id));
                archive
                    .download(path, &tmp)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot fetch the archived {path}: {e}"))?;
                tmp
            }
        };
        let hash = super::sha256_file(&local)?;
        let state = if hash == f.sha256 {
            "matches".to_owned()
        } else {
            format!("DOES NOT MATCH (now {hash})")
        };
        let _ = writeln!(
            notes,
            "- source file {name}: {} bytes, sha256 `{}`, taken {}; archived copy {path}: its hash {state}",
            f.size,
            f.sha256,
            f.taken_at.to_rfc3339()
        );
        let format = job.format.clone();
        let hb_owned = hb.to_owned();
        let (name_owned, sha) = (name.clone(), f.sha256.clone());
        let found = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Vec<String>>> {
            let mut out = Vec::new();
            crate::manifest::read(
                &format,
                crate::manifest::Input::Path(&local),
                0,
                crate::manifest::DEFAULT_CHUNK_ROWS,
                &mut |chunk| {
                    let hits = chunk
                        .lazy()
                        .filter(
                            col(crate::columns::HOUSE_BILL)
                                .str()
                                .strip_chars(lit(NULL))
                                .eq(lit(hb_owned.clone())),
                        )
                        .collect()?;
                    let rec: Vec<u64> = hits
                        .column(crate::columns::RECORD)?
                        .cast(&DataType::UInt64)?
                        .u64()?
                        .iter()
                        .map(|v| v.unwrap_or(0))
                        .collect();
                    let cols: Vec<Vec<String>> = crate::columns::CANONICAL
                        .iter()
                        .map(|c| strs(&hits, c))
                        .collect::<anyhow::Result<_>>()?;
                    for i in 0..hits.height() {
                        let mut row = vec![name_owned.clone(), sha.clone(), rec[i].to_string()];
                        row.extend(cols.iter().map(|c| c[i].clone()));
                        out.push(row);
                    }
                    Ok(())
                },
            )?;
            Ok(out)
        })
        .await
        .context("reading a source file panicked")??;
        let _ = writeln!(notes, "  {} record(s) of the house bill in it", found.len());
        rows.extend(found);
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    for r in &rows {
        w.write_record(r)?;
    }
    let text = String::from_utf8(
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?,
    )?;
    Ok(Some((format!("source-{}.csv", run.run_id), text)))
}
