//! What a finished run files, read from its outputs (contract v2 sections
//! 7-9): `dispositions.csv` names the shipments routed `86`, filed one house
//! bill per entry; `entries.csv` and `entry_lines.csv` hold the run's
//! customs entries, one row per entry and per line.
//!
//! Of the entries, type 11 are filed, one entry number each with all their
//! house bills and lines; type 01 and 03 go to `formal_entries.csv` for a
//! broker; a type 11 that cannot be filed (no IOR number, V010; a house bill
//! already on another filed entry; lines missing from the archive; a run
//! older than entries) goes to `not_filed.csv` with the reason. Both lists
//! have the same columns, one row per entry.
//!
//! Columns are found by their header names, so outputs that gain columns
//! (the contract adds, never renames) still read.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;

use crate::engine::entry_stage::ENTRIES_HEADER;
use crate::money;

/// The broker lists' columns (`formal_entries.csv`, `not_filed.csv`): an
/// entry's `entries.csv` columns through `duty_status`, then why it is listed.
pub fn list_header() -> Vec<&'static str> {
    let through_status = ENTRIES_HEADER
        .iter()
        .position(|c| *c == "duty_status")
        .expect("entries.csv has duty_status");
    ENTRIES_HEADER[..=through_status]
        .iter()
        .copied()
        .chain(["reasons", "why"])
        .collect()
}

/// One row of `entries.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryRow {
    pub entry_ref: String,
    pub entry_type: String,
    pub basis: String,
    pub carrier: String,
    pub arrival_date: String,
    pub port_of_entry: String,
    pub conveyance: String,
    pub consignee_key: String,
    pub ior_number: String,
    /// Sorted, as `entries.csv` lists them.
    pub house_bills: Vec<String>,
    pub lines: String,
    pub entered_value_usd: String,
    pub duty_usd: String,
    pub mpf_usd: String,
    pub hmf_usd: String,
    pub total_usd: String,
    pub duty_status: String,
    pub rates_as_of: String,
}

/// One row of `entry_lines.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineRow {
    pub entry_ref: String,
    pub source_file: String,
    /// 1-based data row in `source_file`.
    pub record: u32,
    pub carrier: String,
    pub house_bill: String,
    pub line_no: String,
    pub hts_code: String,
    pub country_of_origin: String,
    pub entered_value_usd: String,
    pub rate_column: String,
    pub rate: String,
    pub hts_duty_usd: String,
    /// (heading, amount), in the order `ch99` lists them.
    pub ch99: Vec<(String, String)>,
    pub duty_usd: String,
    pub duty_status: String,
}

/// An entry to file: its row and its lines, in `entry_lines.csv` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Informal {
    pub entry: EntryRow,
    pub lines: Vec<LineRow>,
}

/// An entry listed for a broker, with the rule codes of its shipments and
/// why s321d does not file it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub entry: EntryRow,
    pub reasons: String,
    pub why: String,
}

/// A shipment routed 86: filed alone, one house bill per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type86 {
    /// USD total, fixed point.
    pub total: i128,
    pub total_text: String,
    pub consignee_key: String,
}

/// What a run files and lists.
#[derive(Debug, Default)]
pub struct Plan {
    /// (source file, carrier, house bill) -> the shipment.
    pub type86: HashMap<(String, String, String), Type86>,
    /// Type 11 entries to file, in `entries.csv` order.
    pub informal: Vec<Informal>,
    /// Type 01 and 03 entries, for a broker.
    pub formal: Vec<Listed>,
    /// Entries s321d would file but cannot.
    pub not_filed: Vec<Listed>,
}

/// A CSV read by header names.
struct Table {
    index: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(bytes: &[u8], what: &str) -> anyhow::Result<Table> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let index = r
            .headers()
            .with_context(|| format!("{what} has no header"))?
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_owned(), i))
            .collect();
        let rows = r
            .records()
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{what} is not valid CSV"))?;
        Ok(Table { index, rows })
    }

    fn has(&self, column: &str) -> bool {
        self.index.contains_key(column)
    }

    fn get<'a>(&self, row: &'a csv::StringRecord, column: &str) -> &'a str {
        self.index
            .get(column)
            .and_then(|&i| row.get(i))
            .unwrap_or("")
    }
}

/// Reads `ch99` (`heading=amount;...`).
pub fn parse_ch99(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(h, a)| (h.trim().to_owned(), a.trim().to_owned()))
        .filter(|(h, _)| !h.is_empty())
        .collect()
}

fn entry_row(t: &Table, r: &csv::StringRecord) -> EntryRow {
    let g = |c: &str| t.get(r, c).to_owned();
    EntryRow {
        entry_ref: g("entry_ref"),
        entry_type: g("entry_type"),
        basis: g("basis"),
        carrier: g("carrier"),
        arrival_date: g("arrival_date"),
        port_of_entry: g("port_of_entry"),
        conveyance: g("conveyance"),
        consignee_key: g("consignee_key"),
        ior_number: g("ior_number").trim().to_owned(),
        house_bills: t
            .get(r, "house_bills")
            .split(';')
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect(),
        lines: g("lines"),
        entered_value_usd: g("entered_value_usd"),
        duty_usd: g("duty_usd"),
        mpf_usd: g("mpf_usd"),
        hmf_usd: g("hmf_usd"),
        total_usd: g("total_usd"),
        duty_status: g("duty_status"),
        rates_as_of: g("rates_as_of"),
    }
}

fn line_row(t: &Table, r: &csv::StringRecord) -> LineRow {
    let g = |c: &str| t.get(r, c).to_owned();
    LineRow {
        entry_ref: g("entry_ref"),
        source_file: g("source_file"),
        record: t.get(r, "record").parse().unwrap_or(0),
        carrier: g("carrier"),
        house_bill: g("house_bill"),
        line_no: g("line_no"),
        hts_code: g("hts_code"),
        country_of_origin: g("country_of_origin"),
        entered_value_usd: g("entered_value_usd"),
        rate_column: g("rate_column"),
        rate: g("rate"),
        hts_duty_usd: g("hts_duty_usd"),
        ch99: parse_ch99(t.get(r, "ch99")),
        duty_usd: g("duty_usd"),
        duty_status: g("duty_status"),
    }
}

/// Why a type 01 or 03 entry is listed and not filed.
fn formal_why(entry_type: &str, has_ior: bool) -> String {
    let what = match entry_type {
        "03" => "type 03 (AD/CVD): a broker files it with the AD/CVD case and a bond",
        _ => "type 01 (formal): a broker files it with a bond",
    };
    if has_ior {
        what.to_owned()
    } else {
        format!("{what}; V010: no importer of record number yet")
    }
}

/// The reason a type 11 entry without an IOR number is not filed.
pub const WHY_V010: &str = "V010: none of its shipments has an importer of record number (ior_number); an entry cannot be filed without one";

/// Builds the plan from a run's `dispositions.csv` and, when the run has
/// entries, its `entries.csv` and `entry_lines.csv`.
pub fn plan(
    dispositions: &[u8],
    entries: Option<&[u8]>,
    entry_lines: Option<&[u8]>,
) -> anyhow::Result<Plan> {
    plan_with_ior(dispositions, entries, entry_lines, "")
}

/// [`plan`], with the configured importer of record (`[filing] ior_number`)
/// standing in for a type 11 entry whose shipments name none.
pub fn plan_with_ior(
    dispositions: &[u8],
    entries: Option<&[u8]>,
    entry_lines: Option<&[u8]>,
    configured_ior: &str,
) -> anyhow::Result<Plan> {
    plan_filing(dispositions, entries, entry_lines, configured_ior, false)
}

/// [`plan_with_ior`]; with `file_formal` (`[filing] formal_entries =
/// "file"`) a type 01 entry with an IOR number is filed like a type 11
/// instead of listed for a broker.
pub fn plan_filing(
    dispositions: &[u8],
    entries: Option<&[u8]>,
    entry_lines: Option<&[u8]>,
    configured_ior: &str,
    file_formal: bool,
) -> anyhow::Result<Plan> {
    let d = Table::read(dispositions, "dispositions.csv")?;
    let v2 = d.has("entry_ref");
    let mut plan = Plan::default();
    // Rule codes per entry, in order of first mention.
    let mut reasons: HashMap<String, Vec<String>> = HashMap::new();
    // Every entry the dispositions name, with a row to list it by should
    // entries.csv not have it.
    let mut named: BTreeMap<String, EntryRow> = BTreeMap::new();
    for r in &d.rows {
        let disposition = d.get(r, "disposition");
        let key = || {
            (
                d.get(r, "source_file").to_owned(),
                d.get(r, "carrier").to_owned(),
                d.get(r, "house_bill").to_owned(),
            )
        };
        match disposition {
            "86" => {
                let total_text = d.get(r, "total_usd").to_owned();
                let total = money::parse_decimal(&total_text).unwrap_or(0);
                plan.type86.insert(
                    key(),
                    Type86 {
                        total,
                        total_text,
                        consignee_key: d.get(r, "consignee_key").to_owned(),
                    },
                );
            }
            "11" | "01" | "03" if v2 => {
                let entry_ref = d.get(r, "entry_ref").to_owned();
                let row = named.entry(entry_ref.clone()).or_insert_with(|| EntryRow {
                    entry_ref: entry_ref.clone(),
                    entry_type: disposition.to_owned(),
                    carrier: d.get(r, "carrier").to_owned(),
                    arrival_date: d.get(r, "arrival_date").to_owned(),
                    consignee_key: d.get(r, "consignee_key").to_owned(),
                    ..EntryRow::default()
                });
                row.house_bills.push(d.get(r, "house_bill").to_owned());
                let list = reasons.entry(entry_ref).or_default();
                for code in d.get(r, "reasons").split(';').filter(|c| !c.is_empty()) {
                    if !list.iter().any(|c2| c2 == code) {
                        list.push(code.to_owned());
                    }
                }
            }
            "11" | "01" | "03" => {
                // A run written before entries existed: its shipments were
                // never put on entries, so there is nothing safe to file.
                let (_, carrier, house_bill) = key();
                plan.not_filed.push(Listed {
                    entry: EntryRow {
                        entry_type: disposition.to_owned(),
                        carrier,
                        arrival_date: d.get(r, "arrival_date").to_owned(),
                        consignee_key: d.get(r, "consignee_key").to_owned(),
                        house_bills: vec![house_bill],
                        lines: d.get(r, "lines").to_owned(),
                        entered_value_usd: d.get(r, "total_usd").to_owned(),
                        ..EntryRow::default()
                    },
                    reasons: d.get(r, "reasons").to_owned(),
                    why: "the run predates entries (contract v2): replay the files to put the shipment on an entry".into(),
                });
            }
            _ => {}
        }
    }
    let e = match entries {
        Some(bytes) => Table::read(bytes, "entries.csv")?,
        None => Table {
            index: HashMap::new(),
            rows: Vec::new(),
        },
    };
    let mut lines: BTreeMap<String, Vec<LineRow>> = BTreeMap::new();
    if let Some(bytes) = entry_lines {
        let l = Table::read(bytes, "entry_lines.csv")?;
        for r in &l.rows {
            let row = line_row(&l, r);
            lines.entry(row.entry_ref.clone()).or_default().push(row);
        }
    }
    let configured_ior = configured_ior.trim();
    for r in &e.rows {
        let mut entry = entry_row(&e, r);
        if entry.entry_type == "11"
            && !crate::entries::ior::is_valid(&entry.ior_number)
            && crate::entries::ior::is_valid(configured_ior)
        {
            entry.ior_number = configured_ior.to_owned();
        }
        named.remove(&entry.entry_ref);
        let codes = reasons
            .get(&entry.entry_ref)
            .map(|v| v.join(";"))
            .unwrap_or_default();
        let has_ior = crate::entries::ior::is_valid(&entry.ior_number);
        match entry.entry_type.as_str() {
            // Type 01 too when the filer files formal entries (issue 10 item 9).
            t @ ("11" | "01") if has_ior && (t == "11" || file_formal) => {
                let lines = lines.remove(&entry.entry_ref).unwrap_or_default();
                if lines.is_empty() {
                    plan.not_filed.push(Listed {
                        entry,
                        reasons: codes,
                        why: "entry_lines.csv has no line of it".into(),
                    });
                } else {
                    plan.informal.push(Informal { entry, lines });
                }
            }
            "11" => plan.not_filed.push(Listed {
                entry,
                reasons: codes,
                why: WHY_V010.into(),
            }),
            t => {
                let why = formal_why(t, has_ior);
                plan.formal.push(Listed {
                    entry,
                    reasons: codes,
                    why,
                });
            }
        }
    }
    // Shipments on an entry that entries.csv does not hold (an incomplete
    // run folder): nothing safe to file.
    for (entry_ref, mut entry) in named {
        entry.house_bills.sort();
        entry.house_bills.dedup();
        let codes = reasons
            .get(&entry_ref)
            .map(|v| v.join(";"))
            .unwrap_or_default();
        plan.not_filed.push(Listed {
            entry,
            reasons: codes,
            why: "entries.csv of the run has no row for this entry".into(),
        });
    }
    Ok(plan)
}

/// A broker list as CSV bytes.
pub fn list_csv(rows: &[Listed]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(list_header())?;
    for l in rows {
        let e = &l.entry;
        w.write_record([
            e.entry_ref.as_str(),
            &e.entry_type,
            &e.basis,
            &e.carrier,
            &e.arrival_date,
            &e.port_of_entry,
            &e.conveyance,
            &e.consignee_key,
            &e.ior_number,
            &e.house_bills.join(";"),
            &e.lines,
            &e.entered_value_usd,
            &e.duty_usd,
            &e.mpf_usd,
            &e.hmf_usd,
            &e.total_usd,
            &e.duty_status,
            &l.reasons,
            &l.why,
        ])?;
    }
    Ok(w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISPOSITIONS: &str = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons,entry_ref\n\
        a.csv,DHLX,H1,2025-05-01,k1,1,45.00,86,,\n\
        a.csv,DHLX,H2,2025-09-01,k2,1,500.00,11,L001;L002,R000001\n\
        a.csv,DHLX,H3,2025-09-01,k2,1,400.00,11,L001;L002;E001,R000001\n\
        a.csv,DHLX,H4,2025-09-01,k3,1,2899.00,01,L003,R000002\n\
        a.csv,DHLX,H5,2025-09-01,k4,1,20.00,11,E001;V010,R000003\n\
        a.csv,DHLX,H6,2025-09-01,k5,1,10.00,hold,V002,\n\
        b.csv,DHLX,H1,2025-05-01,k1,1,45.00,duplicate,D003,\n";
    const ENTRIES: &str = "entry_ref,entry_type,basis,carrier,arrival_date,port_of_entry,conveyance,consignee_key,ior_number,house_bills,lines,entered_value_usd,duty_usd,mpf_usd,hmf_usd,total_usd,duty_status,rates_as_of,checkout_duty_usd,checkout_gap_usd\n\
        R000001,11,141.51,DHLX,2025-09-01,4701,M1,k2,12-345678900,H2;H3,2,900.00,90.00,2.62,0.00,92.62,known,hts.csv,,\n\
        R000002,01,141.51,DHLX,2025-09-01,4701,M1,k3,,H4,1,2899.00,,,,,unknown,,,\n\
        R000003,11,141.51,DHLX,2025-09-01,4701,M1,k4,,H5,1,20.00,,,,,unknown,,,\n";
    const LINES: &str = "entry_ref,source_file,record,carrier,house_bill,line_no,hts_code,country_of_origin,entered_value_usd,rate_column,rate,hts_duty_usd,ch99,duty_usd,duty_status\n\
        R000001,a.csv,2,DHLX,H2,1,8518302000,CN,500.00,general,Free,0.00,9903.88.03=125.00;9903.01.25=50.00,175.00,known\n\
        R000001,a.csv,3,DHLX,H3,1,6109100012,VN,400.00,general,16.5%,66.00,,66.00,known\n\
        R000002,a.csv,4,DHLX,H4,1,8471300100,TW,2899.00,,,,,,unknown: no HTS revision\n\
        R000003,a.csv,5,DHLX,H5,1,9503000073,CN,20.00,general,Free,0.00,9903.01.25=2.00,2.00,known\n";

    #[test]
    fn a_run_files_86_shipments_and_type_11_entries_and_lists_the_rest() {
        let p = plan(
            DISPOSITIONS.as_bytes(),
            Some(ENTRIES.as_bytes()),
            Some(LINES.as_bytes()),
        )
        .unwrap();
        let mut filed86: Vec<_> = p.type86.keys().map(|k| k.2.clone()).collect();
        filed86.sort();
        assert_eq!(filed86, ["H1"], "86 only; a duplicate or hold never");
        assert_eq!(
            p.type86[&("a.csv".into(), "DHLX".into(), "H1".into())].total,
            45 * money::ONE
        );
        // One type 11 entry with both house bills and both lines, in order.
        assert_eq!(p.informal.len(), 1);
        let e = &p.informal[0];
        assert_eq!(
            (e.entry.entry_ref.as_str(), e.entry.house_bills.clone()),
            ("R000001", vec!["H2".to_owned(), "H3".to_owned()])
        );
        assert_eq!(e.lines.iter().map(|l| l.record).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(
            e.lines[0].ch99,
            [
                ("9903.88.03".to_owned(), "125.00".to_owned()),
                ("9903.01.25".to_owned(), "50.00".to_owned())
            ]
        );
        // The formal entry is listed with its reasons and what a broker must do.
        assert_eq!(p.formal.len(), 1);
        assert_eq!(
            (
                p.formal[0].entry.entry_ref.as_str(),
                p.formal[0].reasons.as_str()
            ),
            ("R000002", "L003")
        );
        assert!(
            p.formal[0].why.contains("type 01") && p.formal[0].why.contains("V010"),
            "{}",
            p.formal[0].why
        );
        // The type 11 without an IOR is not filed, and says why.
        assert_eq!(p.not_filed.len(), 1);
        assert_eq!(p.not_filed[0].entry.entry_ref, "R000003");
        assert!(p.not_filed[0].why.starts_with("V010"));
        assert_eq!(p.not_filed[0].reasons, "E001;V010");
        let text = String::from_utf8(list_csv(&p.formal).unwrap()).unwrap();
        assert!(text.starts_with(&list_header().join(",")));
        assert!(
            text.contains("R000002,01,141.51,DHLX,2025-09-01,4701,M1,k3,,H4,1,2899.00"),
            "{text}"
        );
    }

    #[test]
    fn a_run_without_entries_files_its_86_and_an_old_run_lists_its_11() {
        let only86 = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons,entry_ref\na.csv,DHLX,H1,2025-05-01,k1,1,45.00,86,,\n";
        let p = plan(only86.as_bytes(), None, None).unwrap();
        assert_eq!(
            (p.type86.len(), p.informal.len(), p.not_filed.len()),
            (1, 0, 0)
        );
        // v1 dispositions (no entry_ref column): 11 was a shipment, not an entry.
        let v1 = "source_file,carrier,house_bill,arrival_date,consignee_key,lines,total_usd,disposition,reasons\na.csv,DHLX,H2,2025-05-01,k1,1,900.00,11,L003\n";
        let p = plan(v1.as_bytes(), None, None).unwrap();
        assert_eq!(p.not_filed.len(), 1);
        assert!(p.not_filed[0].why.contains("predates entries"));
        assert_eq!(p.not_filed[0].entry.house_bills, ["H2"]);
    }

    #[test]
    fn entries_the_dispositions_name_but_entries_csv_lacks_are_listed() {
        let p = plan(DISPOSITIONS.as_bytes(), None, None).unwrap();
        assert!(p.informal.is_empty() && p.formal.is_empty());
        let listed: Vec<(&str, Vec<String>)> = p
            .not_filed
            .iter()
            .map(|l| (l.entry.entry_ref.as_str(), l.entry.house_bills.clone()))
            .collect();
        assert_eq!(
            listed,
            [
                ("R000001", vec!["H2".to_owned(), "H3".to_owned()]),
                ("R000002", vec!["H4".to_owned()]),
                ("R000003", vec!["H5".to_owned()])
            ]
        );
        assert!(p.not_filed.iter().all(|l| l.why.contains("no row")));
    }

    #[test]
    fn the_configured_ior_stands_in_for_a_type_11_without_one() {
        let p = plan_with_ior(
            DISPOSITIONS.as_bytes(),
            Some(ENTRIES.as_bytes()),
            Some(LINES.as_bytes()),
            "98-765432100",
        )
        .unwrap();
        let r3 = p
            .informal
            .iter()
            .find(|i| i.entry.entry_ref == "R000003")
            .expect("filed with the configured IOR");
        assert_eq!(r3.entry.ior_number, "98-765432100");
        assert_eq!(
            p.informal
                .iter()
                .find(|i| i.entry.entry_ref == "R000001")
                .unwrap()
                .entry
                .ior_number,
            "12-345678900",
            "its own IOR first"
        );
        assert!(p.not_filed.is_empty());
        // A configured IOR that is not one is no stand-in.
        let p = plan_with_ior(
            DISPOSITIONS.as_bytes(),
            Some(ENTRIES.as_bytes()),
            Some(LINES.as_bytes()),
            "nope",
        )
        .unwrap();
        assert!(p.not_filed[0].why.starts_with("V010"));
    }

    #[test]
    fn ch99_cells_read_back() {
        assert_eq!(parse_ch99(""), Vec::<(String, String)>::new());
        assert_eq!(
            parse_ch99("9903.01.25=2.00"),
            [("9903.01.25".to_owned(), "2.00".to_owned())]
        );
        assert_eq!(
            parse_ch99("a=1;;b=2"),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
    }
}
