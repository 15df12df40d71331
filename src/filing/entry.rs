//! The entry s321d files for one shipment, built from a finished run: the run's
//! `dispositions.csv` says which shipments to file (`86` and `11`; `01` goes to
//! the formal-entry list; `hold` and `duplicate` never), and the run's archived
//! files supply each shipment's lines. The same entry becomes JSON for the
//! HTTP gateway and CATAIR records for batch files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catair::{self, CatairError, Record};
use crate::engine::normalize;
use crate::job::Job;
use crate::manifest::{self, columns as c};
use crate::money;
use crate::policy::Policy;

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
}

/// One entry: one shipment (one house bill, as type 86 requires).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub entry_number: String,
    /// `86` or `11`.
    pub entry_type: String,
    pub filer_code: String,
    pub carrier: String,
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
}

/// A shipment that needs a formal (type 01) entry: listed, not filed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FormalEntry {
    pub source_file: String,
    pub carrier: String,
    pub house_bill: String,
    pub arrival_date: String,
    pub total_usd: String,
    pub reasons: String,
}

/// Settings that every entry carries.
#[derive(Debug, Clone)]
pub struct EntryDefaults {
    pub filer_code: String,
    pub mode_of_transport: String,
    pub ior_type: String,
    pub ior_number: String,
}

/// Which shipments of a run to file, from its `dispositions.csv`.
pub struct Selection {
    /// (source file, carrier, house bill) -> (entry type, total USD fixed point).
    pub to_file: HashMap<(String, String, String), (String, i128)>,
    pub formal: Vec<FormalEntry>,
}

/// Reads a run's `dispositions.csv`.
pub fn select(dispositions_csv: &[u8]) -> anyhow::Result<Selection> {
    let mut reader = csv::Reader::from_reader(dispositions_csv);
    let mut to_file = HashMap::new();
    let mut formal = Vec::new();
    for row in reader.records() {
        let row = row?;
        let get = |i: usize| row.get(i).unwrap_or("").to_owned();
        match row.get(7).unwrap_or("") {
            d @ ("86" | "11") => {
                let total = money::parse_decimal(&get(6)).unwrap_or(0);
                to_file.insert((get(0), get(1), get(2)), (d.to_owned(), total));
            }
            "01" => formal.push(FormalEntry {
                source_file: get(0),
                carrier: get(1),
                house_bill: get(2),
                arrival_date: get(3),
                total_usd: get(6),
                reasons: get(8),
            }),
            _ => {}
        }
    }
    Ok(Selection { to_file, formal })
}

/// Builds the entries of the selected shipments from one archived file, read
/// with its job's format. Exact copies of a line (D001) are filed once.
pub fn build_from_file(
    job: &Job,
    name: &str,
    path: &Path,
    selection: &Selection,
    policy: &Policy,
    defaults: &EntryDefaults,
) -> anyhow::Result<Vec<Entry>> {
    let wanted: HashSet<(String, String)> = selection
        .to_file
        .keys()
        .filter(|(f, _, _)| f == name)
        .map(|(_, carrier, hb)| (carrier.clone(), hb.clone()))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut entries: BTreeMap<(String, String), Entry> = BTreeMap::new();
    let mut seen_rows: HashSet<(u64, u64)> = HashSet::new();
    manifest::read(&job.format, manifest::Input::Path(path), 0, manifest::DEFAULT_CHUNK_ROWS, &mut |chunk| {
        let col = |n: &str| chunk.column(n).and_then(|c| c.str().cloned());
        let cols: HashMap<&str, polars::prelude::StringChunked> =
            c::CANONICAL.iter().map(|n| Ok((*n, col(n)?))).collect::<polars::prelude::PolarsResult<_>>()?;
        let hi = chunk.column(c::ROW_HASH_HI)?.u64()?.clone();
        let lo = chunk.column(c::ROW_HASH_LO)?.u64()?.clone();
        let v = |n: &str, i: usize| cols[n].get(i).unwrap_or("").trim().to_owned();
        for i in 0..chunk.height() {
            let key = (v(c::CARRIER, i), v(c::HOUSE_BILL, i));
            if !wanted.contains(&key) {
                continue;
            }
            if !seen_rows.insert((hi.get(i).unwrap_or(0), lo.get(i).unwrap_or(0))) {
                continue; // an exact copy of an earlier line: filed once
            }
            let (entry_type, total) = selection.to_file[&(name.to_owned(), key.0.clone(), key.1.clone())].clone();
            // The job's format; a typed (Parquet) date the format cannot print
            // reaches here as ISO 8601.
            let text = v(c::ARRIVAL_DATE, i);
            let date = NaiveDate::parse_from_str(&text, &job.format.date_format)
                .or_else(|_| NaiveDate::parse_from_str(&text, "%Y-%m-%d"))
                .unwrap_or_default();
            let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
                entry_number: String::new(),
                entry_type,
                filer_code: defaults.filer_code.clone(),
                carrier: key.0.clone(),
                house_bill: key.1.clone(),
                master_bill: v(c::MASTER_BILL, i),
                arrival_date: date,
                port_of_entry: v(c::PORT_OF_ENTRY, i),
                mode_of_transport: defaults.mode_of_transport.clone(),
                ior_type: defaults.ior_type.clone(),
                ior_number: defaults.ior_number.clone(),
                bond_type: "0".into(),
                entry_value_usd: money::whole_dollars(total).max(0) as u64,
                consignee: Party {
                    name: v(c::CONSIGNEE_NAME, i),
                    address: v(c::CONSIGNEE_ADDRESS, i),
                    city: v(c::CONSIGNEE_CITY, i),
                    state: v(c::CONSIGNEE_STATE, i),
                    postal_code: v(c::CONSIGNEE_ZIP, i),
                    country: "US".into(),
                },
                shipper: Party { name: v(c::SHIPPER_NAME, i), country: normalize::country(&v(c::SHIPPER_COUNTRY, i)), ..Party::default() },
                seller: Some(v(c::SELLER_NAME, i)).filter(|s| !s.is_empty()),
                lines: Vec::new(),
            });
            let value = money::parse_declared_value(&v(c::DECLARED_VALUE, i)).unwrap_or(0);
            let currency = normalize::currency(&v(c::CURRENCY, i));
            let rate = if currency == "USD" { Some(money::Rate::ONE) } else { policy.fx_rates.get(&currency).copied() };
            let usd = rate.and_then(|r| money::convert(value, r)).unwrap_or(0);
            let line = entry.lines.len() as u32 + 1;
            entry.lines.push(EntryLine {
                line,
                description: v(c::DESCRIPTION, i),
                hts: normalize::hts(&v(c::HTS_CODE, i)),
                origin: normalize::country(&v(c::COUNTRY_OF_ORIGIN, i)),
                value_usd: money::whole_dollars(usd).max(0) as u64,
            });
        }
        Ok(())
    })?;
    Ok(entries.into_values().collect())
}

/// The CATAIR records of one entry (a transaction: SE10 ... SE60).
pub fn records(entry: &Entry) -> Result<Vec<Record>, CatairError> {
    let number = super::entry_number::EntryNumber::parse(&entry.entry_number)
        .map_err(|e| CatairError::Line { line: 0, message: e.to_string() })?;
    let mut out = Vec::new();
    let mut se10 = Record::new(&catair::SE10);
    se10.set("action", "A")?
        .set("filer_code", &entry.filer_code)?
        .set("entry_number", &number.serial_and_check())?
        .set("entry_type", &entry.entry_type)?
        .text("ior_type", &entry.ior_type)?
        .text("ior_number", &entry.ior_number)?
        .set("mode", &entry.mode_of_transport)?
        .set("bond_type", &entry.bond_type)?
        .num("entry_value", entry.entry_value_usd)?
        .text("port_of_entry", &entry.port_of_entry)?
        .text("port_of_unlading", &entry.port_of_entry)?;
    out.push(se10);
    // The bill of lading grouping: the master bill (if any) and the house bill,
    // the one master/house pair a type 86 may carry.
    let master: String = entry.master_bill.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if !master.is_empty() {
        let mut m = Record::new(&catair::SE15);
        m.set("bill_type", "M")?.text("issuer", &entry.carrier)?.text("bill", &master)?.num("quantity", 1)?;
        out.push(m);
    }
    let mut se15 = Record::new(&catair::SE15);
    se15.set("bill_type", "H")?
        .text("issuer", &entry.carrier)?
        .text("bill", &entry.house_bill)?
        .num("quantity", entry.lines.len() as u64)?;
    out.push(se15);
    let mut se16 = Record::new(&catair::SE16);
    se16.text("carrier", &entry.carrier)?
        .set("arrival_date", &entry.arrival_date.format("%m%d%y").to_string())?
        .num("quantity", entry.lines.len() as u64)?;
    out.push(se16);
    let mut eda = Record::new(&catair::SE20);
    eda.set("qualifier", "EDA")?.set("value", &entry.arrival_date.format("%m%d%y").to_string())?;
    out.push(eda);
    for (code, party) in [("CN", &entry.consignee), ("SH", &entry.shipper)] {
        let mut se30 = Record::new(&catair::SE30);
        se30.set("entity_code", code)?.text("name", &party.name)?;
        out.push(se30);
        if !party.address.is_empty() {
            let mut se35 = Record::new(&catair::SE35);
            se35.set("qualifier", "15")?.text("text", &party.address)?;
            out.push(se35);
        }
        let mut se36 = Record::new(&catair::SE36);
        se36.text("city", &party.city)?.text("subdivision", &party.state)?.text("postal_code", &party.postal_code)?;
        if party.country.len() == 2 && party.country.bytes().all(|b| b.is_ascii_uppercase()) {
            se36.set("country", &party.country)?;
        }
        out.push(se36);
    }
    for line in &entry.lines {
        let mut se40 = Record::new(&catair::SE40);
        se40.num("line", u64::from(line.line))?.text("description", &line.description)?;
        if line.origin.len() == 2 && line.origin.bytes().all(|b| b.is_ascii_uppercase()) {
            se40.set("origin", &line.origin)?;
        }
        out.push(se40);
        let seller = entry.seller.as_deref().unwrap_or(&entry.shipper.name);
        let mut se50 = Record::new(&catair::SE50);
        se50.set("entity_code", "SE")?.text("name", seller)?;
        out.push(se50);
        let mut se56 = Record::new(&catair::SE56);
        if entry.shipper.country.len() == 2 && entry.shipper.country.bytes().all(|b| b.is_ascii_uppercase()) {
            se56.set("country", &entry.shipper.country)?;
        }
        out.push(se56);
        let mut se60 = Record::new(&catair::SE60);
        if line.hts.len() == 10 && line.hts.bytes().all(|b| b.is_ascii_digit()) {
            se60.set("hts", &line.hts)?;
        }
        se60.num("value", line.value_usd)?;
        out.push(se60);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A valid entry for tests.
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
            consignee: Party { name: "Chen Wei".into(), address: "88 Ocean Avenue, Apt 5".into(), city: "San Francisco".into(), state: "CA".into(), postal_code: "94121".into(), country: "US".into() },
            shipper: Party { name: "Hanoi Silk Co".into(), country: "VN".into(), ..Party::default() },
            seller: None,
            lines: vec![EntryLine { line: 1, description: "Silk scarf".into(), hts: "6214101000".into(), origin: "VN".into(), value_usd: 45 }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::sample;
    use super::*;

    #[test]
    fn an_entry_becomes_a_valid_transaction() {
        let recs = records(&sample()).unwrap();
        let ids: Vec<&str> = recs.iter().map(Record::id).collect();
        assert_eq!(ids, ["SE10", "SE15", "SE15", "SE16", "SE20", "SE30", "SE35", "SE36", "SE30", "SE36", "SE40", "SE50", "SE56", "SE60"]);
        assert_eq!((recs[1].get("bill_type"), recs[1].get("bill")), ("M", "15712345675"));
        assert_eq!((recs[2].get("bill_type"), recs[2].get("bill")), ("H", "DX1001"));
        assert!(recs.iter().all(|r| r.line().len() == 80));
        assert_eq!(recs[0].get("entry_number"), "12345676");
        assert_eq!(recs[4].get("qualifier"), "EDA");
        assert_eq!(recs[4].get("value"), "050125");
        let se60 = recs.last().unwrap();
        assert_eq!((se60.get("hts"), se60.get("value")), ("6214101000", "0000000045"));
    }

    #[test]
    fn dispositions_select_what_is_filed() {
        let csv = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons\n\
                   a.csv,DHLX,H1,2025-05-01,k,1,45.00,86,\n\
                   a.csv,DHLX,H2,2025-05-01,k,1,900.00,11,L002;L003\n\
                   a.csv,DHLX,H3,2025-05-01,k,1,2899.00,01,L003\n\
                   a.csv,DHLX,H4,2025-05-01,k,1,10.00,hold,V002\n\
                   b.csv,DHLX,H1,2025-05-01,k,1,45.00,duplicate,D003\n";
        let s = select(csv.as_bytes()).unwrap();
        let mut filed: Vec<_> = s.to_file.keys().map(|k| k.2.clone()).collect();
        filed.sort();
        assert_eq!(filed, ["H1", "H2"]);
        assert_eq!(s.formal.len(), 1);
        assert_eq!((s.formal[0].house_bill.as_str(), s.formal[0].reasons.as_str()), ("H3", "L003"));
    }
}
