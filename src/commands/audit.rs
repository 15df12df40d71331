//! `s321d audit verify` and `s321d audit export`.
//!
//! `verify` walks the whole hash chain, recomputing every hash, and names the
//! first broken link (exit 1), or prints the head (exit 0); `--head SEQ:HASH`
//! also checks that an event noted earlier (in a report email, say) is still
//! there with that hash, which catches a chain cut off or rewritten after it.
//! `export` writes an evidence pack (see `audit::export`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::audit::export::{self, Subject};
use crate::config::Config;

/// `audit verify` arguments.
pub struct VerifyArgs {
    pub head: Option<String>,
}

/// `audit export` arguments.
pub struct ExportArgs {
    pub house_bill: Option<String>,
    pub carrier: Option<String>,
    pub entry: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub out: PathBuf,
    pub zip: bool,
}

fn open_store(
    config: Option<&Path>,
) -> Result<(Config, Box<dyn crate::state::StateStore>), ExitCode> {
    let cfg = Config::load(config).map_err(|p| super::report_problems(&p))?;
    let location = cfg
        .state_location()
        .map_err(|p| super::report_problems(&crate::problem::Problems(vec![p])))?;
    let store = crate::state::open(&location).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(super::EXIT_FAILED)
    })?;
    Ok((cfg, store))
}

pub fn verify(config: Option<&Path>, args: VerifyArgs) -> ExitCode {
    let (cfg, store) = match open_store(config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let v = match store.audit_verify() {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "error: cannot read the audit trail in {}: {e}",
                cfg.paths.data_dir.join("state.db").display()
            );
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    if let Some(b) = &v.broken {
        println!("s321d audit verify: BROKEN at {b}");
        println!(
            "  {} event(s) before it verified; the last good one is event {} with hash {}",
            v.events, v.head.0, v.head.1
        );
        return ExitCode::from(super::EXIT_FAILED);
    }
    if let Some(head) = &args.head {
        let Some((seq, hash)) = head
            .split_once(':')
            .and_then(|(s, h)| s.parse::<i64>().ok().map(|s| (s, h)))
        else {
            eprintln!(
                "error: --head takes SEQ:HASH (as printed by a previous verify or a report email)"
            );
            return ExitCode::from(super::EXIT_USAGE);
        };
        match store.audit_has_hash(seq, hash) {
            Ok(Some(true)) => println!("s321d audit verify: event {seq} still has hash {hash}"),
            Ok(Some(false)) => {
                println!(
                    "s321d audit verify: BROKEN: event {seq} no longer has hash {hash}: the chain was rewritten after it was noted"
                );
                return ExitCode::from(super::EXIT_FAILED);
            }
            Ok(None) => {
                println!(
                    "s321d audit verify: BROKEN: event {seq} (noted with hash {hash}) is gone: the chain was cut off"
                );
                return ExitCode::from(super::EXIT_FAILED);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::EXIT_FAILED);
            }
        }
    }
    println!(
        "s321d audit verify: ok: {} event(s) in {secs:.2}s; head event {} hash {}",
        v.events, v.head.0, v.head.1
    );
    ExitCode::SUCCESS
}

pub fn export(config: Option<&Path>, args: ExportArgs) -> ExitCode {
    let ctx = match super::load_context(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let subject = match (&args.house_bill, &args.entry, args.from, args.to) {
        (Some(hb), None, None, None) => Subject::HouseBill {
            house_bill: hb.clone(),
            carrier: args.carrier.clone(),
        },
        (None, Some(e), None, None) => Subject::Entry(e.clone()),
        (None, None, Some(from), Some(to)) if from <= to => Subject::Period { from, to },
        (None, None, Some(_), Some(_)) => {
            eprintln!("error: --to is before --from");
            return ExitCode::from(super::EXIT_USAGE);
        }
        _ => {
            eprintln!(
                "error: give one of --house-bill HB [--carrier C], --entry NUMBER, or --from DATE --to DATE"
            );
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(export::export(&ctx, &subject, &args.out, args.zip)) {
        Ok(path) => {
            println!(
                "s321d audit export: evidence pack written to {} (start with index.md)",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
