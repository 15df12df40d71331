//! `s321d ledger ...`: questions to the filing ledger.
//!
//! - `ledger cape --heading 9903.01 [--heading ...] --from DATE --to DATE
//!   --out DIR [--ior NUMBER]` writes CBP CAPE refund request files
//!   (`filing::cape`).
//! - `ledger show ENTRY` prints one entry's story (`filing::story`);
//!   `ledger show HOUSE_BILL` the story of the entry the bill is on, or, for
//!   a bill s321d did not file, `not filed: <reason>` with its run.

use std::path::Path;
use std::process::ExitCode;

use chrono::NaiveDate;

use crate::entry_number::EntryNumber;
use crate::filing::cape;

/// Arguments of `ledger cape`.
pub struct CapeArgs {
    pub headings: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub out: std::path::PathBuf,
    pub ior: Option<String>,
}

pub fn cape(config: Option<&Path>, args: CapeArgs) -> ExitCode {
    let query = cape::Query {
        headings: args.headings,
        from: args.from,
        to: args.to,
        ior: args.ior,
    };
    let digits = match query.heading_digits() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = (|| -> anyhow::Result<()> {
        let matches = ctx.db(|s| s.entries_with_heading(&digits, query.from, query.to))?;
        let chosen = cape::select(&matches, query.ior.as_deref());
        let written = cape::write(&args.out, &chosen.numbers, cape::MAX_ROWS).map_err(|e| {
            anyhow::anyhow!("cannot write the CAPE files in {}: {e}", args.out.display())
        })?;
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        println!(
            "s321d ledger cape: {} entr(ies) in {} file(s){} in {}; headings {}; arrivals {} to {}{}",
            chosen.numbers.len(),
            written.len(),
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            },
            args.out.display(),
            query.headings.join(", "),
            query.from,
            query.to,
            query
                .ior
                .as_ref()
                .map(|i| format!("; importer of record {i}"))
                .unwrap_or_default()
        );
        if !chosen.left_out.is_empty() {
            let left: Vec<String> = chosen
                .left_out
                .iter()
                .map(|(s, n)| format!("{n} {}", s.as_str()))
                .collect();
            println!(
                "  left out (ACE does not hold them as entries): {}",
                left.join(", ")
            );
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

pub fn show(config: Option<&Path>, entry: &str) -> ExitCode {
    let parsed = EntryNumber::parse(entry).map(|n| n.to_string());
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = (|| -> anyhow::Result<bool> {
        let number = match &parsed {
            Ok(n) => n.clone(),
            // Not an entry number: a house bill.
            Err(_) => match ctx.db(|s| s.filing_carriers(entry))?.first() {
                Some(carrier) => match ctx.db(|s| s.filing_for(carrier, entry))? {
                    Some(f) => f.entry_number,
                    None => return Ok(false),
                },
                None => {
                    let list = ctx.db(|s| s.not_filed(None, Some(entry)))?;
                    for n in &list {
                        print!("{}", not_filed_story(entry, n));
                    }
                    return Ok(!list.is_empty());
                }
            },
        };
        let Some(filing) = ctx.db(|s| s.filing(&number))? else {
            return Ok(false);
        };
        let bills = ctx.db(|s| s.bills_of(&number))?;
        let record = ctx.db(|s| s.entry_record(&number))?;
        let events = ctx.db(|s| s.events(&number))?;
        let summary = ctx.db(|s| crate::state::summary::SummaryStore::summary(s, &number))?;
        print!(
            "{}",
            crate::filing::story::render_with_summary(
                &filing,
                &bills,
                record.as_ref(),
                summary.as_ref(),
                &events
            )
        );
        Ok(true)
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            match parsed {
                Ok(number) => eprintln!("error: no entry {number} in the ledger"),
                Err(e) => eprintln!(
                    "error: no house bill {entry} in the ledger, filed or not, and not an entry number ({e})"
                ),
            }
            ExitCode::from(super::EXIT_FAILED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

/// A house bill s321d did not file, as `ledger show` prints it.
fn not_filed_story(bill: &str, n: &crate::state::ledger::NotFiled) -> String {
    let entry = if n.entry_ref.is_empty() {
        String::new()
    } else {
        format!(", entry {}", n.entry_ref)
    };
    format!(
        "House bill {bill} (carrier {})\n  state: {}\n  run {}{entry}, type {}, house bills {}\n  recorded {}\n",
        n.carrier,
        n.state(),
        n.run_id,
        n.entry_type,
        n.house_bills.join(", "),
        n.recorded_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_not_filed_shows_its_reason_run_and_entry() {
        let n = crate::state::ledger::NotFiled {
            run_id: "20261203T140000Z-abcdef".into(),
            entry_ref: "R000002".into(),
            entry_type: "11".into(),
            carrier: "ABCD".into(),
            house_bills: vec!["HB1".into(), "HB2".into()],
            reason: "SE36 city of the consignee has no value".into(),
            recorded_at: chrono::DateTime::parse_from_rfc3339("2026-12-03T14:00:00Z")
                .unwrap()
                .into(),
        };
        assert_eq!(
            not_filed_story("HB2", &n),
            "House bill HB2 (carrier ABCD)\n  state: not filed: SE36 city of the consignee has no value\n  \
             run 20261203T140000Z-abcdef, entry R000002, type 11, house bills HB1, HB2\n  recorded 2026-12-03T14:00:00Z\n"
        );
    }
}
