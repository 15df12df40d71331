//! `s321d ledger ...`: questions to the filing ledger.
//!
//! - `ledger cape --heading 9903.01 [--heading ...] --from DATE --to DATE
//!   --out DIR [--ior NUMBER]` writes CBP CAPE refund request files
//!   (`filing::cape`).
//! - `ledger show ENTRY` prints one entry's story (`filing::story`).

use std::path::Path;
use std::process::ExitCode;

use chrono::NaiveDate;

use crate::filing::cape;
use crate::filing::entry_number::EntryNumber;
use crate::state::ledger::LedgerStore;

/// Arguments of `ledger cape`.
pub struct CapeArgs {
    pub headings: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub out: std::path::PathBuf,
    pub ior: Option<String>,
}

pub fn cape(config: Option<&Path>, args: CapeArgs) -> ExitCode {
    let query = cape::Query { headings: args.headings, from: args.from, to: args.to, ior: args.ior };
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
        let written = cape::write(&args.out, &chosen.numbers, cape::MAX_ROWS)
            .map_err(|e| anyhow::anyhow!("cannot write the CAPE files in {}: {e}", args.out.display()))?;
        let names: Vec<String> = written.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
        println!(
            "s321d ledger cape: {} entr(ies) in {} file(s){} in {}; headings {}; arrivals {} to {}{}",
            chosen.numbers.len(),
            written.len(),
            if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) },
            args.out.display(),
            query.headings.join(", "),
            query.from,
            query.to,
            query.ior.as_ref().map(|i| format!("; importer of record {i}")).unwrap_or_default()
        );
        if !chosen.left_out.is_empty() {
            let left: Vec<String> = chosen.left_out.iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect();
            println!("  left out (ACE does not hold them as entries): {}", left.join(", "));
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
    let number = match EntryNumber::parse(entry) {
        Ok(n) => n.to_string(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = (|| -> anyhow::Result<bool> {
        let Some(filing) = ctx.db(|s| s.filing(&number))? else { return Ok(false) };
        let bills = ctx.db(|s| s.bills_of(&number))?;
        let record = ctx.db(|s| s.entry_record(&number))?;
        let events = ctx.db(|s| s.events(&number))?;
        print!("{}", crate::filing::story::render(&filing, &bills, record.as_ref(), &events));
        Ok(true)
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: no entry {number} in the ledger");
            ExitCode::from(super::EXIT_FAILED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
