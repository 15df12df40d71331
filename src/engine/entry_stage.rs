//! The entry stage (contract v2 sections 8-9): after routing, put the run's
//! shipments routed 11, 01 or 03 on entries, give each its `entry_ref`, fire
//! V010, total duty and fees per entry, and write `entries.csv` and
//! `entry_lines.csv`.
//!
//! Lines are not kept in memory for the whole run: the file stage appends
//! each file's distinct lines to a spill file beside the outputs
//! ([`LineSpill`]), and [`write_entry_lines`] streams it back once the
//! entries are known, writing `entry_lines.csv` and T001 for the lines of
//! entered shipments. Memory stays bounded by one file's lines plus the run's
//! shipments.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::*;

use super::file_rules::{
    CHECKOUT, CONVEYANCE, DISTINCT_LINES, DUTY_SUM, DUTY_UNKNOWN, FIRST_RECORD, IOR, MODE, PORT,
};
use super::kernels;
use super::output::Staged;
use super::rules::Rule;
use crate::columns as c;
use crate::duty::fees::FeeEntryType;
use crate::entries::{self, EntryType, TransportMode, group};
use crate::fsutil::sync_dir;
use crate::money;
use crate::policy::Policy;

/// `entries.csv` columns (contract section 8).
pub const ENTRIES_HEADER: [&str; 20] = [
    "entry_ref",
    "entry_type",
    "basis",
    "carrier",
    "arrival_date",
    "port_of_entry",
    "conveyance",
    "consignee_key",
    "ior_number",
    "house_bills",
    "lines",
    "entered_value_usd",
    "duty_usd",
    "mpf_usd",
    "hmf_usd",
    "total_usd",
    "duty_status",
    "rates_as_of",
    "checkout_duty_usd",
    "checkout_gap_usd",
];

/// `entry_lines.csv` columns (contract section 9).
pub const ENTRY_LINES_HEADER: [&str; 15] = [
    "entry_ref",
    "source_file",
    "record",
    "carrier",
    "house_bill",
    "line_no",
    "hts_code",
    "country_of_origin",
    "entered_value_usd",
    "rate_column",
    "rate",
    "hts_duty_usd",
    "ch99",
    "duty_usd",
    "duty_status",
];

/// One entry of the run, with its totals.
#[derive(Debug, Clone)]
pub struct Entry {
    pub entry_ref: String,
    pub entry_type: EntryType,
    pub basis: entries::Basis,
    pub carrier: String,
    pub arrival_date: String,
    pub port: String,
    pub conveyance: String,
    pub consignee_key: String,
    pub ior_number: String,
    pub house_bills: Vec<String>,
    pub lines: u64,
    pub entered_value: i128,
    /// None: some line's duty is unknown (or no `[[duty.hts]]`).
    pub duty: Option<i128>,
    /// None: no fee table covers the date (or no `[[duty.hts]]`).
    pub mpf: Option<i128>,
    pub hmf: Option<i128>,
    pub rates_as_of: String,
    pub checkout: Option<i128>,
    /// The MPF its shipments would owe on one entry per house bill (what
    /// grouping saves, for reports); None when unknown.
    pub mpf_per_bill: Option<i128>,
}

impl Entry {
    pub fn total(&self) -> Option<i128> {
        Some(self.duty? + self.mpf? + self.hmf?)
    }

    pub fn known(&self) -> bool {
        self.total().is_some()
    }
}

/// What the entry stage hands back to the run.
pub struct EntryOutput {
    /// The routed frame with the final `disposition` and `entry_ref`.
    pub dispositions: DataFrame,
    /// V010 findings (findings schema).
    pub findings: DataFrame,
    pub entries: Vec<Entry>,
    /// Entry index per shipment occurrence key (file, ship_hi, ship_lo).
    pub by_shipment: HashMap<(u32, u64, u64), usize>,
}

/// Builds the run's entries from the routed shipments.
pub fn evaluate(routed: DataFrame, policy: &Policy) -> anyhow::Result<EntryOutput> {
    let n = routed.height();
    let s = |name: &str| -> PolarsResult<StringChunked> {
        routed.column(name)?.cast(&DataType::String)?.str().cloned()
    };
    let disposition = s("disposition")?;
    let carrier = s("carrier")?;
    let house_bill = s("house_bill")?;
    let date_text = s("arrival_date")?;
    let ckey = s("consignee_key")?;
    let port = s(PORT)?;
    let conveyance = s(CONVEYANCE)?;
    let ior = s(IOR)?;
    let mode = s(MODE)?;
    let days = routed
        .column(c::DATE)?
        .as_materialized_series()
        .to_physical_repr()
        .into_owned();
    let days = days.i32()?;
    let total = routed.column("_total_units")?.i128()?;
    let e003 = routed.column(c::E003)?.bool()?;
    let e004 = routed.column(c::E004)?.bool()?;
    let duty_sum = routed.column(DUTY_SUM)?.i128()?;
    let duty_unknown = routed.column(DUTY_UNKNOWN)?.bool()?;
    let checkout = routed.column(CHECKOUT)?.i128()?;
    let distinct = routed.column(DISTINCT_LINES)?.u32()?;
    let files = routed.column(c::FILE)?.u32()?;
    let ship_hi = routed.column(c::SHIP_HI)?.u64()?;
    let ship_lo = routed.column(c::SHIP_LO)?.u64()?;

    // Shipments routed to an entry, in run order.
    let mut rows = Vec::new();
    let mut candidates = Vec::new();
    for i in 0..n {
        let routed_to = disposition.get(i).and_then(EntryType::from_code);
        let Some(day) = days.get(i).filter(|_| routed_to.is_some()) else {
            continue;
        };
        rows.push(i);
        candidates.push(group::Candidate {
            carrier: carrier.get(i).unwrap_or("").to_owned(),
            arrival_day: day,
            port: port.get(i).unwrap_or("").to_owned(),
            conveyance: conveyance.get(i).unwrap_or("").to_owned(),
            consignee_key: ckey.get(i).unwrap_or("").to_owned(),
            house_bill: house_bill.get(i).unwrap_or("").to_owned(),
            total: total.get(i).unwrap_or(0),
            adcvd: e004.get(i).unwrap_or(false),
            restricted: e003.get(i).unwrap_or(false),
        });
    }
    let built = group::build(&candidates, policy.informal_limit_usd, policy.over_limit);

    let duty = &policy.duty;
    let mut new_disposition: Vec<Option<String>> =
        disposition.iter().map(|d| d.map(str::to_owned)).collect();
    let mut entry_refs: Vec<Option<String>> = vec![None; n];
    let mut by_shipment = HashMap::with_capacity(rows.len());
    let mut entries = Vec::with_capacity(built.len());
    for (k, b) in built.iter().enumerate() {
        let entry_ref = entries::entry_ref(k + 1);
        let first = rows[b.members[0]];
        let mut e = Entry {
            entry_ref: entry_ref.clone(),
            entry_type: b.entry_type,
            basis: b.basis,
            carrier: carrier.get(first).unwrap_or("").to_owned(),
            arrival_date: date_text.get(first).unwrap_or("").to_owned(),
            port: port.get(first).unwrap_or("").to_owned(),
            conveyance: conveyance.get(first).unwrap_or("").to_owned(),
            consignee_key: ckey.get(first).unwrap_or("").to_owned(),
            ior_number: String::new(),
            house_bills: Vec::with_capacity(b.members.len()),
            lines: 0,
            entered_value: 0,
            duty: Some(0),
            mpf: None,
            hmf: None,
            rates_as_of: String::new(),
            checkout: None,
            mpf_per_bill: None,
        };
        for &m in &b.members {
            let i = rows[m];
            new_disposition[i] = Some(b.entry_type.code().to_owned());
            entry_refs[i] = Some(entry_ref.clone());
            by_shipment.insert(
                (
                    files.get(i).unwrap_or(0),
                    ship_hi.get(i).unwrap_or(0),
                    ship_lo.get(i).unwrap_or(0),
                ),
                k,
            );
            let own_ior = ior.get(i).unwrap_or("");
            if e.ior_number.is_empty() && entries::ior::is_valid(own_ior) {
                e.ior_number = own_ior.trim().to_owned();
            }
            e.house_bills
                .push(house_bill.get(i).unwrap_or("").to_owned());
            e.lines += u64::from(distinct.get(i).unwrap_or(0));
            e.entered_value += total.get(i).unwrap_or(0);
            e.duty = match (e.duty, duty_unknown.get(i).unwrap_or(true)) {
                (Some(d), false) => Some(d + duty_sum.get(i).unwrap_or(0)),
                _ => None,
            };
            if let Some(v) = checkout.get(i) {
                e.checkout = Some(e.checkout.unwrap_or(0) + v);
            }
        }
        e.house_bills.sort();
        let date = days.get(first).and_then(crate::dates::from_epoch_days);
        match date.filter(|_| duty.has_hts()) {
            Some(date) => {
                let kind = if e.entry_type.is_formal() {
                    FeeEntryType::Formal
                } else {
                    FeeEntryType::Informal
                };
                let ocean =
                    mode.get(first).and_then(TransportMode::parse) == Some(TransportMode::Ocean);
                let fees = duty.fees.fees(kind, date, &e.port, e.entered_value, ocean);
                e.mpf = fees.mpf;
                e.hmf = Some(fees.hmf);
                e.rates_as_of = rates_as_of(policy, date);
                // One entry per house bill: each pays its own MPF, by its own type.
                e.mpf_per_bill = b.members.iter().try_fold(0i128, |sum, &m| {
                    let c = &candidates[m];
                    let alone = if c.adcvd || c.restricted || c.total > policy.informal_limit_usd {
                        FeeEntryType::Formal
                    } else {
                        FeeEntryType::Informal
                    };
                    Some(sum + duty.fees.fees(alone, date, &e.port, c.total, ocean).mpf?)
                });
            }
            None => e.duty = None,
        }
        entries.push(e);
    }

    let findings = v010_findings(&routed, &new_disposition, &ior)?;
    let mut dispositions = routed;
    dispositions.with_column(Column::new("disposition".into(), new_disposition))?;
    dispositions.with_column(Column::new("entry_ref".into(), entry_refs))?;
    Ok(EntryOutput {
        dispositions,
        findings,
        entries,
        by_shipment,
    })
}

/// `rates_as_of`: the HTS revision file used and `duty.reviewed_through`.
fn rates_as_of(policy: &Policy, date: chrono::NaiveDate) -> String {
    let file = policy
        .duty
        .revisions
        .iter()
        .rev()
        .find(|(from, _, _)| *from <= date)
        .map(|(_, file, _)| file.as_str())
        .unwrap_or("no HTS revision");
    match policy.duty.reviewed_through {
        Some(d) => format!("{file}; reviewed_through {d}"),
        None => file.to_owned(),
    }
}

/// V010 on every shipment put on an entry whose IOR number is missing or of
/// none of the three shapes.
fn v010_findings(
    routed: &DataFrame,
    disposition: &[Option<String>],
    ior: &StringChunked,
) -> PolarsResult<DataFrame> {
    let mask: BooleanChunked = disposition
        .iter()
        .zip(ior.iter())
        .map(|(d, ior)| {
            Some(
                d.as_deref().and_then(EntryType::from_code).is_some()
                    && !entries::ior::is_valid(ior.unwrap_or("")),
            )
        })
        .collect();
    let hits = routed.filter(&mask)?;
    let message = hits
        .column(IOR)?
        .str()?
        .iter()
        .map(|v| match v.map(str::trim) {
            None | Some("") => {
                Some("the shipment has no ior_number; its entry cannot be filed until it has one".to_owned())
            }
            Some(v) => Some(format!(
                "ior_number '{v}' is not an EIN (NN-NNNNNNNSS), CBP-assigned (YYDDPP-NNNNN) or SSN (NNN-NN-NNNN) number; its entry cannot be filed until it has one"
            )),
        })
        .collect::<StringChunked>();
    let h = hits.height();
    DataFrame::new(
        h,
        vec![
            hits.column(c::FILE)?.clone(),
            hits.column(FIRST_RECORD)?
                .clone()
                .with_name("record".into()),
            hits.column("carrier")?.clone(),
            hits.column("house_bill")?.clone(),
            Column::new_scalar("line_no".into(), Scalar::from(PlSmallStr::EMPTY), h),
            Column::new_scalar(
                "rule".into(),
                Scalar::from(PlSmallStr::from(Rule::V010.code())),
                h,
            ),
            Column::new_scalar(
                "severity".into(),
                Scalar::from(PlSmallStr::from(Rule::V010.severity().as_str())),
                h,
            ),
            Column::new_scalar(
                "field".into(),
                Scalar::from(PlSmallStr::from(c::IOR_NUMBER)),
                h,
            ),
            message.with_name("message".into()).into_column(),
        ],
    )
}

fn money_or_empty(v: Option<i128>) -> String {
    v.map(money::format).unwrap_or_default()
}

/// Writes `entries.csv`.
pub fn write_entries(dir: &Path, run_id: &str, entries: &[Entry]) -> anyhow::Result<PathBuf> {
    let staged = Staged::new(dir, "entries.csv", run_id);
    let mut w = csv::Writer::from_writer(BufWriter::new(staged.create()?));
    w.write_record(ENTRIES_HEADER)?;
    for e in entries {
        let known = e.known();
        let total = e.total();
        let gap = match (e.checkout, total) {
            (Some(c), Some(t)) => Some(c - t),
            _ => None,
        };
        w.write_record([
            e.entry_ref.as_str(),
            e.entry_type.code(),
            e.basis.as_str(),
            &e.carrier,
            &e.arrival_date,
            &e.port,
            &e.conveyance,
            &e.consignee_key,
            &e.ior_number,
            &e.house_bills.join(";"),
            &e.lines.to_string(),
            &money::format(e.entered_value),
            &money_or_empty(e.duty),
            &money_or_empty(e.mpf),
            &money_or_empty(e.hmf),
            &money_or_empty(total),
            if known { "known" } else { "unknown" },
            &e.rates_as_of,
            &money_or_empty(e.checkout),
            &money_or_empty(gap),
        ])?;
    }
    finish_csv(w, staged, dir, "entries.csv")
}

fn finish_csv(
    w: csv::Writer<BufWriter<File>>,
    staged: Staged,
    dir: &Path,
    name: &str,
) -> anyhow::Result<PathBuf> {
    let mut buf = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {name}: {}", e.error()))?;
    buf.flush()?;
    let file = buf
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {name}: {}", e.error()))?;
    let path = staged.commit(file)?;
    sync_dir(dir).ok();
    Ok(path)
}

/// The run's distinct lines, appended file by file while the run reads, for
/// [`write_entry_lines`]. A hidden file beside the outputs, removed when the
/// run's outputs are written (or on drop).
pub struct LineSpill {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl LineSpill {
    pub fn create(dir: &Path, run_id: &str) -> anyhow::Result<LineSpill> {
        let path = dir.join(format!(".entry-lines.{run_id}.spill"));
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(LineSpill {
            path,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Appends one file's distinct lines (`file_rules::ENTRY_LINE_COLUMNS`).
    pub fn append(&mut self, lines: &DataFrame) -> anyhow::Result<()> {
        if lines.height() == 0 {
            return Ok(());
        }
        let mut frame = lines
            .clone()
            .lazy()
            .with_columns([
                kernels::money_text(col(c::USD)),
                kernels::money_text(col(super::duty_lines::HTS_DUTY)),
                kernels::money_text(col(super::duty_lines::DUTY)),
            ])
            .collect()?;
        let writer = self.writer.as_mut().expect("spill open until read");
        CsvWriter::new(writer)
            .include_header(false)
            .finish(&mut frame)?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
        }
        Ok(())
    }
}

impl Drop for LineSpill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Chapter 99 totals per heading, for reports.
pub type Ch99Totals = BTreeMap<String, i128>;

/// Streams the spill into `entry_lines.csv` (lines of entered shipments only,
/// in file and record order) and hands T001 findings to `t001` in batches.
pub fn write_entry_lines(
    dir: &Path,
    run_id: &str,
    spill: &mut LineSpill,
    out: &EntryOutput,
    names: &[String],
    t001_enabled: bool,
    t001: &mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
) -> anyhow::Result<(PathBuf, Ch99Totals)> {
    spill.finish()?;
    let staged = Staged::new(dir, "entry_lines.csv", run_id);
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, staged.create()?));
    w.write_record(ENTRY_LINES_HEADER)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&spill.path)
        .with_context(|| format!("cannot read {}", spill.path.display()))?;
    let mut record = csv::StringRecord::new();
    let mut batch = T001Batch::default();
    let mut ch99_totals = Ch99Totals::new();
    while reader.read_record(&mut record)? {
        let field = |i: usize| record.get(i).unwrap_or("");
        let parse = |i: usize| field(i).parse::<u64>().unwrap_or(0);
        let key = (parse(0) as u32, parse(1), parse(2));
        let Some(&k) = out.by_shipment.get(&key) else {
            continue;
        };
        let entry = &out.entries[k];
        let file = key.0 as usize;
        let unknown = field(15);
        let status = if unknown.is_empty() {
            "known".to_owned()
        } else {
            format!("unknown: {unknown}")
        };
        for part in field(13).split(';').filter(|p| !p.is_empty()) {
            if let Some((heading, amount)) = part.split_once('=') {
                *ch99_totals.entry(heading.to_owned()).or_insert(0) +=
                    money::parse_decimal(amount).unwrap_or(0);
            }
        }
        w.write_record([
            entry.entry_ref.as_str(),
            names.get(file).map_or("", String::as_str),
            field(3),
            field(4),
            field(5),
            field(6),
            field(7),
            field(8),
            field(9),
            field(10),
            field(11),
            field(12),
            field(13),
            field(14),
            &status,
        ])?;
        if t001_enabled && !unknown.is_empty() {
            batch.push(key.0, field(3), field(4), field(5), field(6), unknown);
            if batch.len() >= 65_536 {
                t001(std::mem::take(&mut batch).frame()?)?;
            }
        }
    }
    if batch.len() > 0 {
        t001(batch.frame()?)?;
    }
    let path = finish_csv(w, staged, dir, "entry_lines.csv")?;
    Ok((path, ch99_totals))
}

/// The canonical column a T001 reason points at (contract section 7's
/// `field`): the date when no revision covers it, the quantity or weight a
/// specific rate lacks, else the HTS code. Reads the reasons `crate::duty`
/// writes.
fn t001_field(reason: &str) -> &'static str {
    if reason.starts_with("no HTS revision") {
        c::ARRIVAL_DATE
    } else if reason.contains("needs weight_kg but the line") {
        c::WEIGHT_KG
    } else if reason.contains("but the line has none")
        || reason.contains("but the line's quantity is 0")
    {
        c::QUANTITY
    } else {
        c::HTS_CODE
    }
}

/// T001 findings gathered while streaming lines.
#[derive(Default)]
struct T001Batch {
    file: Vec<u32>,
    record: Vec<u32>,
    carrier: Vec<String>,
    house_bill: Vec<String>,
    line_no: Vec<String>,
    field: Vec<&'static str>,
    message: Vec<String>,
}

impl T001Batch {
    fn len(&self) -> usize {
        self.file.len()
    }

    fn push(
        &mut self,
        file: u32,
        record: &str,
        carrier: &str,
        house_bill: &str,
        line_no: &str,
        reason: &str,
    ) {
        self.file.push(file);
        self.record.push(record.parse().unwrap_or(0));
        self.carrier.push(carrier.to_owned());
        self.house_bill.push(house_bill.to_owned());
        self.line_no.push(line_no.to_owned());
        self.field.push(t001_field(reason));
        self.message
            .push(format!("the line's duty cannot be established: {reason}"));
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let h = self.file.len();
        DataFrame::new(
            h,
            vec![
                Column::new(c::FILE.into(), self.file),
                Column::new("record".into(), self.record),
                Column::new("carrier".into(), self.carrier),
                Column::new("house_bill".into(), self.house_bill),
                Column::new("line_no".into(), self.line_no),
                Column::new_scalar(
                    "rule".into(),
                    Scalar::from(PlSmallStr::from(Rule::T001.code())),
                    h,
                ),
                Column::new_scalar(
                    "severity".into(),
                    Scalar::from(PlSmallStr::from(Rule::T001.severity().as_str())),
                    h,
                ),
                Column::new("field".into(), self.field),
                Column::new("message".into(), self.message),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::t001_field;

    #[test]
    fn t001_names_the_field_at_fault() {
        assert_eq!(
            t001_field("no HTS revision in force on 2025-05-01"),
            "arrival_date"
        );
        assert_eq!(
            t001_field("rate \"6.3¢/liter\" needs quantity in liter but the line has none"),
            "quantity"
        );
        assert_eq!(
            t001_field("rate \"6.3¢/liter\" needs quantity in liter but the line's quantity is 0"),
            "quantity"
        );
        assert_eq!(
            t001_field("rate \"4.4¢/kg\" needs weight_kg but the line has none"),
            "weight_kg"
        );
        assert_eq!(
            t001_field("rate \"3¢/doz.\" needs quantity in doz. but the code's unit is \"No.\""),
            "hts_code"
        );
        assert_eq!(
            t001_field("rate \"The rate applicable to each article\" is not computable"),
            "hts_code"
        );
    }
}
