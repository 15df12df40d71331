//! The entries s321d files, built from a finished run ([`super::plan`] says
//! which): a type 86 for each shipment routed `86` (one house bill, as type
//! 86 requires), and a type 11 for each informal entry of the run's
//! `entries.csv`, carrying every house bill of the consignee's conveyance and
//! every line of `entry_lines.csv`, with their chapter 99 headings. Parties,
//! descriptions and the master bill come from the run's archived files (a
//! type 11 line is found by its source file and record). The same entry
//! becomes JSON for the HTTP gateway and an SE transaction for CATAIR batch
//! files ([`super::release`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::plan::{Informal, Plan};
use crate::columns as c;
use crate::job::Job;
use crate::manifest;
use crate::money;
use crate::normalize;
use crate::policy::Policy;
use crate::state::ledger::{EntryRecord, LedgerLine, estimated_dates};

/// A party on the entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Party {
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub postal_code: String,
    pub country: String,
}

/// One bill of lading on the entry: a house bill under its master.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Bill {
    #[serde(default)]
    pub master_bill: String,
    pub house_bill: String,
    /// Packages, counted as the bill's lines (the manifest has no package count).
    #[serde(default)]
    pub quantity: u64,
}

/// A chapter 99 heading reported on a line, with its estimated amount.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ch99 {
    /// As the policy writes it: `9903.01.25`.
    pub heading: String,
    /// Exact decimal USD; empty where ACE sent it back (CATAIR has no amount).
    #[serde(default)]
    pub amount_usd: String,
}

/// One commercial line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryLine {
    /// 1..n within the entry.
    pub line: u32,
    pub description: String,
    /// Ten digits.
    pub hts: String,
    /// ISO 3166-1 alpha-2.
    pub origin: String,
    /// Whole US dollars.
    pub value_usd: u64,
    /// The house bill the line came under.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub house_bill: String,
    /// The seller (marketplace seller, else the shipper) and its country.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seller: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seller_country: String,
    /// Chapter 99 headings, reported before the line's HTS number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ch99: Vec<Ch99>,
    /// Estimated duty of the line (exact decimal USD; empty: unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duty_usd: String,
}

/// The estimated duty and fees of an entry (contract section 9), as the
/// run computed them; empty amounts are unknown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Estimate {
    pub entered_value_usd: String,
    pub duty_usd: String,
    pub mpf_usd: String,
    pub hmf_usd: String,
    pub total_usd: String,
    pub duty_status: String,
    pub rates_as_of: String,
}

/// One entry: a type 86 of one house bill, or a type 11 of several.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub entry_number: String,
    /// `86` or `11`.
    pub entry_type: String,
    pub filer_code: String,
    pub carrier: String,
    /// The first bill's house and master bill (every bill is in `bills`).
    pub house_bill: String,
    pub master_bill: String,
    pub arrival_date: NaiveDate,
    pub port_of_entry: String,
    pub mode_of_transport: String,
    pub ior_type: String,
    pub ior_number: String,
    pub bond_type: String,
    /// Whole US dollars.
    pub entry_value_usd: u64,
    pub consignee: Party,
    pub shipper: Party,
    pub seller: Option<String>,
    pub lines: Vec<EntryLine>,
    /// Every bill of the entry, sorted by house bill. Empty in entries filed
    /// before entries had several bills: then `house_bill` is the one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bills: Vec<Bill>,
    /// Flight, voyage or trip number, when the manifest gave one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub conveyance: String,
    /// The run's `entry_ref` (type 11).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entry_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

impl Entry {
    /// Every bill of the entry.
    pub fn all_bills(&self) -> Vec<Bill> {
        if self.bills.is_empty() {
            vec![Bill {
                master_bill: self.master_bill.clone(),
                house_bill: self.house_bill.clone(),
                quantity: self.lines.len() as u64,
            }]
        } else {
            self.bills.clone()
        }
    }
}

/// Settings that every entry carries.
#[derive(Debug, Clone)]
pub struct EntryDefaults {
    pub filer_code: String,
    pub mode_of_transport: String,
    /// The IOR of type 86 entries (a type 11 names its own).
    pub ior_type: String,
    pub ior_number: String,
}

/// An entry ready to be recorded and sent: what goes on the wire and what
/// the ledger keeps.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub entry: Entry,
    pub bills: Vec<(String, String)>,
    pub record: EntryRecord,
}

/// A type 11 that could not be built (its lines are not in the archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbuilt {
    pub entry_ref: String,
    pub why: String,
}

/// The CATAIR IOR type of an IOR number's shape: `EI` (EIN with suffix),
/// `ANI` (CBP-assigned), `34` (SSN); None for anything else.
pub fn ior_type_of(number: &str) -> Option<&'static str> {
    let n = number.trim();
    if !crate::entries::ior::is_valid(n) {
        return None;
    }
    match (n.len(), n.find('-')) {
        (12, Some(2)) => Some("EI"),
        (12, Some(6)) => Some("ANI"),
        (11, Some(3)) => Some("34"),
        _ => None,
    }
}

/// What a manifest row supplies that the run's outputs do not.
#[derive(Debug, Clone, Default)]
struct RowInfo {
    master_bill: String,
    description: String,
    consignee: Party,
    shipper_name: String,
    shipper_country: String,
    seller: String,
    conveyance: String,
}

/// The rows of one archived file that the plan needs.
#[derive(Default)]
struct FileRows {
    /// (carrier, house bill) of 86 shipments -> entry under construction.
    type86: BTreeMap<(String, String), (Entry, EntryRecord)>,
    /// Record -> the row (type 11 lines).
    by_record: HashMap<u32, RowInfo>,
}

fn row_info(v: &dyn Fn(&str) -> String) -> RowInfo {
    RowInfo {
        master_bill: v(c::MASTER_BILL),
        description: v(c::DESCRIPTION),
        consignee: Party {
            name: v(c::CONSIGNEE_NAME),
            address: v(c::CONSIGNEE_ADDRESS),
            city: v(c::CONSIGNEE_CITY),
            state: v(c::CONSIGNEE_STATE),
            postal_code: v(c::CONSIGNEE_ZIP),
            country: "US".into(),
        },
        shipper_name: v(c::SHIPPER_NAME),
        shipper_country: normalize::country(&v(c::SHIPPER_COUNTRY)),
        seller: v(c::SELLER_NAME),
        conveyance: v(c::CONVEYANCE),
    }
}

/// Reads one archived file with its job's format: builds the file's type 86
/// entries, and keeps the rows the plan's type 11 lines name. Exact copies of
/// a line (D001) are filed once.
fn read_file(
    job: &Job,
    name: &str,
    path: &Path,
    plan: &Plan,
    records: &HashSet<u32>,
    policy: &Policy,
    defaults: &EntryDefaults,
) -> anyhow::Result<FileRows> {
    let wanted86: HashSet<(String, String)> = plan
        .type86
        .keys()
        .filter(|(f, _, _)| f == name)
        .map(|(_, carrier, hb)| (carrier.clone(), hb.clone()))
        .collect();
    let mut out = FileRows::default();
    if wanted86.is_empty() && records.is_empty() {
        return Ok(out);
    }
    let mut seen_rows: HashSet<(u64, u64)> = HashSet::new();
    manifest::read(
        &job.format,
        manifest::Input::Path(path),
        0,
        manifest::DEFAULT_CHUNK_ROWS,
        &mut |chunk| {
            let col = |n: &str| chunk.column(n).and_then(|c| c.str().cloned());
            let cols: HashMap<&str, polars::prelude::StringChunked> = c::CANONICAL
                .iter()
                .map(|n| Ok((*n, col(n)?)))
                .collect::<polars::prelude::PolarsResult<_>>()?;
            let hi = chunk.column(c::ROW_HASH_HI)?.u64()?.clone();
            let lo = chunk.column(c::ROW_HASH_LO)?.u64()?.clone();
            let recs = chunk.column(c::RECORD)?.u32()?.clone();
            for i in 0..chunk.height() {
                let v = |n: &str| cols[n].get(i).unwrap_or("").trim().to_owned();
                let row_number = recs.get(i).unwrap_or(0);
                if records.contains(&row_number) {
                    out.by_record.insert(row_number, row_info(&v));
                }
                let key = (v(c::CARRIER), v(c::HOUSE_BILL));
                if !wanted86.contains(&key) {
                    continue;
                }
                if !seen_rows.insert((hi.get(i).unwrap_or(0), lo.get(i).unwrap_or(0))) {
                    continue; // an exact copy of an earlier line: filed once
                }
                let shipment = &plan.type86[&(name.to_owned(), key.0.clone(), key.1.clone())];
                // The job's format; a typed (Parquet) date the format cannot print
                // reaches here as ISO 8601.
                let text = v(c::ARRIVAL_DATE);
                let date = NaiveDate::parse_from_str(&text, &job.format.date_format)
                    .or_else(|_| NaiveDate::parse_from_str(&text, "%Y-%m-%d"))
                    .unwrap_or_default();
                let info = row_info(&v);
                let (entry, record) = out.type86.entry(key.clone()).or_insert_with(|| {
                    let conveyance = if info.conveyance.is_empty() {
                        info.master_bill.clone()
                    } else {
                        info.conveyance.clone()
                    };
                    (
                        Entry {
                            entry_number: String::new(),
                            entry_type: "86".into(),
                            filer_code: defaults.filer_code.clone(),
                            carrier: key.0.clone(),
                            house_bill: key.1.clone(),
                            master_bill: info.master_bill.clone(),
                            arrival_date: date,
                            port_of_entry: v(c::PORT_OF_ENTRY),
                            mode_of_transport: defaults.mode_of_transport.clone(),
                            ior_type: defaults.ior_type.clone(),
                            ior_number: defaults.ior_number.clone(),
                            bond_type: "0".into(),
                            entry_value_usd: money::whole_dollars(shipment.total).max(0) as u64,
                            consignee: info.consignee.clone(),
                            shipper: Party {
                                name: info.shipper_name.clone(),
                                country: info.shipper_country.clone(),
                                ..Party::default()
                            },
                            seller: Some(info.seller.clone()).filter(|s| !s.is_empty()),
                            lines: Vec::new(),
                            bills: Vec::new(),
                            conveyance: info.conveyance.clone(),
                            entry_ref: String::new(),
                            estimate: None,
                        },
                        // Type 86 owes no duty and no fee (contract section 9)
                        // and has no entry summary to liquidate.
                        EntryRecord {
                            ior_number: defaults.ior_number.clone(),
                            arrival_date: date,
                            port_of_entry: v(c::PORT_OF_ENTRY),
                            conveyance,
                            consignee_key: shipment.consignee_key.clone(),
                            entered_value_usd: shipment.total_text.clone(),
                            duty_usd: "0.00".into(),
                            mpf_usd: "0.00".into(),
                            hmf_usd: "0.00".into(),
                            total_usd: "0.00".into(),
                            duty_status: "known".into(),
                            ..EntryRecord::default()
                        },
                    )
                });
                let value = money::parse_declared_value(&v(c::DECLARED_VALUE)).unwrap_or(0);
                let currency = normalize::currency(&v(c::CURRENCY));
                let rate = if currency == "USD" {
                    Some(money::Rate::ONE)
                } else {
                    policy.fx_rates.get(&currency).copied()
                };
                let usd = rate.and_then(|r| money::convert(value, r)).unwrap_or(0);
                let line = entry.lines.len() as u32 + 1;
                let hts = normalize::hts(&v(c::HTS_CODE));
                let origin = normalize::country(&v(c::COUNTRY_OF_ORIGIN));
                entry.lines.push(EntryLine {
                    line,
                    description: info.description.clone(),
                    hts: hts.clone(),
                    origin: origin.clone(),
                    value_usd: money::whole_dollars(usd).max(0) as u64,
                    house_bill: key.1.clone(),
                    seller: if info.seller.is_empty() {
                        info.shipper_name.clone()
                    } else {
                        info.seller.clone()
                    },
                    seller_country: info.shipper_country.clone(),
                    ch99: Vec::new(),
                    duty_usd: String::new(),
                });
                record.lines.push(LedgerLine {
                    line,
                    source_file: name.to_owned(),
                    record: row_number,
                    carrier: key.0.clone(),
                    house_bill: key.1.clone(),
                    line_no: v(c::LINE_NO),
                    hts_code: hts,
                    country_of_origin: origin,
                    entered_value_usd: money::format(usd),
                    duty_usd: "0.00".into(),
                    duty_status: "known".into(),
                    ..LedgerLine::default()
                });
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// Whole dollars of an exact decimal text (0 when it does not parse).
fn whole(text: &str) -> u64 {
    money::parse_decimal(text)
        .map(money::whole_dollars)
        .unwrap_or(0)
        .max(0) as u64
}

/// Builds a type 11 entry from its plan and the manifest rows of its lines.
fn build_informal(
    i: &Informal,
    rows: &HashMap<(String, u32), RowInfo>,
    defaults: &EntryDefaults,
) -> Result<Prepared, Unbuilt> {
    let e = &i.entry;
    let unbuilt = |why: String| Unbuilt {
        entry_ref: e.entry_ref.clone(),
        why,
    };
    let arrival = NaiveDate::parse_from_str(&e.arrival_date, "%Y-%m-%d")
        .map_err(|_| unbuilt(format!("arrival_date {:?} is not a date", e.arrival_date)))?;
    let ior_type = ior_type_of(&e.ior_number).ok_or_else(|| {
        unbuilt(format!(
            "ior_number {:?} has none of the three shapes",
            e.ior_number
        ))
    })?;
    let mut lines = Vec::with_capacity(i.lines.len());
    let mut ledger = Vec::with_capacity(i.lines.len());
    let mut first: HashMap<&str, &RowInfo> = HashMap::new();
    let mut per_bill: HashMap<&str, u64> = HashMap::new();
    for (n, l) in i.lines.iter().enumerate() {
        let row = rows
            .get(&(l.source_file.clone(), l.record))
            .ok_or_else(|| {
                unbuilt(format!(
                    "record {} of {} (house bill {}) is not in the run's archived files",
                    l.record, l.source_file, l.house_bill
                ))
            })?;
        first.entry(&l.house_bill).or_insert(row);
        *per_bill.entry(&l.house_bill).or_insert(0) += 1;
        let line = n as u32 + 1;
        lines.push(EntryLine {
            line,
            description: row.description.clone(),
            hts: l.hts_code.clone(),
            origin: l.country_of_origin.clone(),
            value_usd: whole(&l.entered_value_usd),
            house_bill: l.house_bill.clone(),
            seller: if row.seller.is_empty() {
                row.shipper_name.clone()
            } else {
                row.seller.clone()
            },
            seller_country: row.shipper_country.clone(),
            ch99: l
                .ch99
                .iter()
                .map(|(heading, amount)| Ch99 {
                    heading: heading.clone(),
                    amount_usd: amount.clone(),
                })
                .collect(),
            duty_usd: l.duty_usd.clone(),
        });
        ledger.push(LedgerLine {
            line,
            source_file: l.source_file.clone(),
            record: l.record,
            carrier: l.carrier.clone(),
            house_bill: l.house_bill.clone(),
            line_no: l.line_no.clone(),
            hts_code: l.hts_code.clone(),
            country_of_origin: l.country_of_origin.clone(),
            entered_value_usd: l.entered_value_usd.clone(),
            rate_column: l.rate_column.clone(),
            rate: l.rate.clone(),
            hts_duty_usd: l.hts_duty_usd.clone(),
            ch99: l.ch99.clone(),
            duty_usd: l.duty_usd.clone(),
            duty_status: l.duty_status.clone(),
        });
    }
    let bills: Vec<Bill> = e
        .house_bills
        .iter()
        .map(|hb| Bill {
            master_bill: first
                .get(hb.as_str())
                .map(|r| r.master_bill.clone())
                .unwrap_or_default(),
            house_bill: hb.clone(),
            quantity: per_bill.get(hb.as_str()).copied().unwrap_or(0),
        })
        .collect();
    if let Some(b) = bills.iter().find(|b| b.quantity == 0) {
        return Err(unbuilt(format!(
            "house bill {} has no line in entry_lines.csv",
            b.house_bill
        )));
    }
    let head = first
        .get(e.house_bills[0].as_str())
        .copied()
        .cloned()
        .unwrap_or_default();
    let (liquidation, protest) = estimated_dates(arrival);
    let entry = Entry {
        entry_number: String::new(),
        entry_type: e.entry_type.clone(),
        filer_code: defaults.filer_code.clone(),
        carrier: e.carrier.clone(),
        house_bill: bills[0].house_bill.clone(),
        master_bill: bills[0].master_bill.clone(),
        arrival_date: arrival,
        port_of_entry: e.port_of_entry.clone(),
        mode_of_transport: defaults.mode_of_transport.clone(),
        ior_type: ior_type.into(),
        ior_number: e.ior_number.clone(),
        bond_type: "0".into(),
        entry_value_usd: whole(&e.entered_value_usd),
        consignee: head.consignee.clone(),
        shipper: Party {
            name: head.shipper_name.clone(),
            country: head.shipper_country.clone(),
            ..Party::default()
        },
        seller: Some(head.seller.clone()).filter(|s| !s.is_empty()),
        lines,
        bills: bills.clone(),
        conveyance: head.conveyance.clone(),
        entry_ref: e.entry_ref.clone(),
        estimate: Some(Estimate {
            entered_value_usd: e.entered_value_usd.clone(),
            duty_usd: e.duty_usd.clone(),
            mpf_usd: e.mpf_usd.clone(),
            hmf_usd: e.hmf_usd.clone(),
            total_usd: e.total_usd.clone(),
            duty_status: e.duty_status.clone(),
            rates_as_of: e.rates_as_of.clone(),
        }),
    };
    let record = EntryRecord {
        entry_ref: e.entry_ref.clone(),
        ior_number: e.ior_number.clone(),
        arrival_date: arrival,
        port_of_entry: e.port_of_entry.clone(),
        conveyance: e.conveyance.clone(),
        consignee_key: e.consignee_key.clone(),
        basis: e.basis.clone(),
        entered_value_usd: e.entered_value_usd.clone(),
        duty_usd: e.duty_usd.clone(),
        mpf_usd: e.mpf_usd.clone(),
        hmf_usd: e.hmf_usd.clone(),
        total_usd: e.total_usd.clone(),
        duty_status: e.duty_status.clone(),
        rates_as_of: e.rates_as_of.clone(),
        liquidation_date: Some(liquidation),
        protest_deadline: Some(protest),
        lines: ledger,
    };
    let bills = bills
        .iter()
        .map(|b| (e.carrier.clone(), b.house_bill.clone()))
        .collect();
    Ok(Prepared {
        entry,
        bills,
        record,
    })
}

/// One archived file of the run: its name in the run and a local path.
pub struct ArchivedFile<'a> {
    pub name: &'a str,
    pub path: &'a Path,
}

/// Builds every entry of the plan from the run's archived files: the type 86
/// entries file by file, then the type 11 entries in `entries.csv` order.
pub fn build(
    job: &Job,
    files: &[ArchivedFile<'_>],
    plan: &Plan,
    policy: &Policy,
    defaults: &EntryDefaults,
) -> anyhow::Result<(Vec<Prepared>, Vec<Unbuilt>)> {
    let mut records_of: HashMap<&str, HashSet<u32>> = HashMap::new();
    for i in &plan.informal {
        for l in &i.lines {
            records_of
                .entry(l.source_file.as_str())
                .or_default()
                .insert(l.record);
        }
    }
    let mut out = Vec::new();
    let mut rows: HashMap<(String, u32), RowInfo> = HashMap::new();
    let empty = HashSet::new();
    for f in files {
        let records = records_of.get(f.name).unwrap_or(&empty);
        let read = read_file(job, f.name, f.path, plan, records, policy, defaults)?;
        for ((carrier, house_bill), (entry, record)) in read.type86 {
            out.push(Prepared {
                entry,
                bills: vec![(carrier, house_bill)],
                record,
            });
        }
        for (record, info) in read.by_record {
            rows.entry((f.name.to_owned(), record)).or_insert(info);
        }
    }
    let mut unbuilt = Vec::new();
    for i in &plan.informal {
        match build_informal(i, &rows, defaults) {
            Ok(p) => out.push(p),
            Err(u) => unbuilt.push(u),
        }
    }
    Ok((out, unbuilt))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A valid type 86 entry for tests.
    pub fn sample() -> Entry {
        Entry {
            entry_number: "ABC-1234567-6".into(),
            entry_type: "86".into(),
            filer_code: "ABC".into(),
            carrier: "DHLX".into(),
            house_bill: "DX1001".into(),
            master_bill: "157-12345675".into(),
            arrival_date: NaiveDate::from_ymd_opt(2025, 5, 1).unwrap(),
            port_of_entry: "4701".into(),
            mode_of_transport: "40".into(),
            ior_type: "EI".into(),
            ior_number: "".into(),
            bond_type: "0".into(),
            entry_value_usd: 45,
            consignee: Party {
                name: "Chen Wei".into(),
                address: "88 Ocean Avenue, Apt 5".into(),
                city: "San Francisco".into(),
                state: "CA".into(),
                postal_code: "94121".into(),
                country: "US".into(),
            },
            shipper: Party {
                name: "Hanoi Silk Co".into(),
                country: "VN".into(),
                ..Party::default()
            },
            seller: None,
            lines: vec![EntryLine {
                line: 1,
                description: "Silk scarf".into(),
                hts: "6214101000".into(),
                origin: "VN".into(),
                value_usd: 45,
                house_bill: String::new(),
                seller: String::new(),
                seller_country: String::new(),
                ch99: Vec::new(),
                duty_usd: String::new(),
            }],
            bills: Vec::new(),
            conveyance: String::new(),
            entry_ref: String::new(),
            estimate: None,
        }
    }

    /// A valid type 11 entry of three house bills (one consignee, one
    /// flight), with chapter 99 headings, for tests.
    pub fn sample11() -> Entry {
        let mut e = sample();
        e.entry_number = "ABC-1234568-4".into();
        e.entry_type = "11".into();
        e.ior_type = "EI".into();
        e.ior_number = "12-345678900".into();
        e.arrival_date = NaiveDate::from_ymd_opt(2025, 9, 2).unwrap();
        e.entry_value_usd = 800;
        e.conveyance = "DL1234".into();
        e.house_bill = "DX2001".into();
        e.bills = ["DX2001", "DX2002", "DX2003"]
            .iter()
            .map(|hb| Bill {
                master_bill: "157-12345675".into(),
                house_bill: (*hb).into(),
                quantity: 1,
            })
            .collect();
        e.bills[1].quantity = 2;
        let line =
            |n: u32, hb: &str, hts: &str, origin: &str, value: u64, ch99: &[(&str, &str)]| {
                EntryLine {
                    line: n,
                    description: format!("Item {n}"),
                    hts: hts.into(),
                    origin: origin.into(),
                    value_usd: value,
                    house_bill: hb.into(),
                    seller: format!("Seller {hb}"),
                    seller_country: "CN".into(),
                    ch99: ch99
                        .iter()
                        .map(|(h, a)| Ch99 {
                            heading: (*h).into(),
                            amount_usd: (*a).into(),
                        })
                        .collect(),
                    duty_usd: String::new(),
                }
            };
        e.lines = vec![
            line(
                1,
                "DX2001",
                "8518302000",
                "CN",
                250,
                &[("9903.88.03", "62.50"), ("9903.01.25", "25.00")],
            ),
            line(
                2,
                "DX2002",
                "3926909989",
                "CN",
                100,
                &[("9903.01.25", "10.00")],
            ),
            line(3, "DX2002", "6214101000", "VN", 300, &[]),
            line(
                4,
                "DX2003",
                "9113908000",
                "CN",
                150,
                &[("9903.01.25", "15.00")],
            ),
        ];
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sent_before_several_bills_still_read_and_write() {
        // A payload recorded by an older s321d (no bills, no line sellers).
        let old = r#"{"entry_number":"ABC-1234567-6","entry_type":"86","filer_code":"ABC","carrier":"DHLX","house_bill":"DX1001",
            "master_bill":"157-12345675","arrival_date":"2025-05-01","port_of_entry":"4701","mode_of_transport":"40","ior_type":"EI",
            "ior_number":"","bond_type":"0","entry_value_usd":45,"consignee":{"name":"Chen Wei","country":"US"},
            "shipper":{"name":"Hanoi Silk Co","country":"VN"},"seller":null,
            "lines":[{"line":1,"description":"Silk scarf","hts":"6214101000","origin":"VN","value_usd":45}]}"#;
        let e: Entry = serde_json::from_str(old).unwrap();
        assert_eq!(
            e.all_bills(),
            [Bill {
                master_bill: "157-12345675".into(),
                house_bill: "DX1001".into(),
                quantity: 1
            }]
        );
        let back: Entry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e, "and writes back the same");
    }

    #[test]
    fn ior_types_follow_the_number_shape() {
        assert_eq!(ior_type_of("12-345678900"), Some("EI"));
        assert_eq!(ior_type_of("251203-00042"), Some("ANI"));
        assert_eq!(ior_type_of("123-45-6789"), Some("34"));
        assert_eq!(ior_type_of(""), None);
        assert_eq!(ior_type_of("12345678900"), None);
    }

    #[test]
    fn a_type_11_is_built_from_its_lines_and_the_archived_rows() {
        use super::super::plan::{EntryRow, LineRow};
        let entry = EntryRow {
            entry_ref: "R000001".into(),
            entry_type: "11".into(),
            basis: "141.51".into(),
            carrier: "DHLX".into(),
            arrival_date: "2025-09-02".into(),
            port_of_entry: "4701".into(),
            conveyance: "157-12345675".into(),
            consignee_key: "k".into(),
            ior_number: "12-345678900".into(),
            house_bills: vec!["H1".into(), "H2".into()],
            lines: "3".into(),
            entered_value_usd: "800.01".into(),
            duty_usd: "10.00".into(),
            mpf_usd: "2.69".into(),
            hmf_usd: "0.00".into(),
            total_usd: "12.69".into(),
            duty_status: "known".into(),
            rates_as_of: "hts.csv".into(),
        };
        let line = |record: u32, hb: &str, value: &str| LineRow {
            entry_ref: "R000001".into(),
            source_file: "a.csv".into(),
            record,
            carrier: "DHLX".into(),
            house_bill: hb.into(),
            line_no: "1".into(),
            hts_code: "6109100012".into(),
            country_of_origin: "VN".into(),
            entered_value_usd: value.into(),
            ch99: vec![("9903.01.25".into(), "1.00".into())],
            ..LineRow::default()
        };
        let informal = Informal {
            entry,
            lines: vec![
                line(2, "H1", "500.00"),
                line(3, "H2", "299.50"),
                line(4, "H2", "0.51"),
            ],
        };
        let defaults = EntryDefaults {
            filer_code: "ABC".into(),
            mode_of_transport: "40".into(),
            ior_type: "".into(),
            ior_number: "".into(),
        };
        let info = |master: &str, seller: &str| RowInfo {
            master_bill: master.into(),
            description: "Shirt".into(),
            seller: seller.into(),
            shipper_name: "Mill".into(),
            shipper_country: "VN".into(),
            ..RowInfo::default()
        };
        let mut rows = HashMap::new();
        rows.insert(("a.csv".to_owned(), 2), info("M1", "S1"));
        rows.insert(("a.csv".to_owned(), 3), info("M2", ""));
        rows.insert(("a.csv".to_owned(), 4), info("M2", ""));
        let p = build_informal(&informal, &rows, &defaults).unwrap();
        assert_eq!(
            p.bills,
            [
                ("DHLX".to_owned(), "H1".to_owned()),
                ("DHLX".to_owned(), "H2".to_owned())
            ]
        );
        assert_eq!(
            p.entry
                .all_bills()
                .iter()
                .map(|b| (b.master_bill.as_str(), b.quantity))
                .collect::<Vec<_>>(),
            [("M1", 1), ("M2", 2)]
        );
        assert_eq!(
            (p.entry.entry_value_usd, p.entry.ior_type.as_str()),
            (800, "EI")
        );
        assert_eq!(
            p.entry
                .lines
                .iter()
                .map(|l| (l.value_usd, l.seller.as_str()))
                .collect::<Vec<_>>(),
            [(500, "S1"), (300, "Mill"), (1, "Mill")]
        );
        assert_eq!(p.record.lines.len(), 3);
        assert_eq!(
            p.record.liquidation_date,
            NaiveDate::from_ymd_opt(2026, 7, 13)
        );
        assert_eq!(
            p.record.protest_deadline,
            NaiveDate::from_ymd_opt(2027, 1, 9)
        );
        // A line the archive does not hold: not built, and why.
        rows.remove(&("a.csv".to_owned(), 4));
        let u = build_informal(&informal, &rows, &defaults).unwrap_err();
        assert!(u.why.contains("record 4 of a.csv"), "{}", u.why);
    }
}
