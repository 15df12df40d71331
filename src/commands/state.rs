//! `s321d state migrate --from sqlite:PATH --to postgres://...`: moves a single
//! node's state into PostgreSQL before it becomes one of several replicas
//! (`state::copy`). The password comes from `[state] password_file` or
//! PGPASSWORD, as for the daemon.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::config::state::{StateConfig, StateLocation};
use crate::state::pg::PgStore;
use crate::state::sqlite::SqliteStore;

pub fn migrate(config: Option<&Path>, from: &str, to: &str) -> ExitCode {
    let cfg = match Config::load(config) {
        Ok(c) => c,
        Err(p) => return super::report_problems(&p),
    };
    let resolve = |url: &str| {
        StateConfig {
            url: url.to_owned(),
            password_file: cfg.state.password_file.clone(),
        }
        .location(&cfg.paths.data_dir)
    };
    let (source, target) = match (resolve(from), resolve(to)) {
        (Ok(StateLocation::Sqlite(path)), Ok(StateLocation::Postgres { url, password })) => {
            (path, (url, password))
        }
        (Err((_, why)), _) => return usage(&format!("--from {why}")),
        (_, Err((_, why))) => return usage(&format!("--to {why}")),
        _ => return usage("--from must be sqlite:PATH and --to postgres://user@host:port/db"),
    };
    if !source.is_file() {
        return usage(&format!("--from: no SQLite store at {}", source.display()));
    }
    let started = std::time::Instant::now();
    let result = SqliteStore::open(&source).and_then(|mut s| {
        let mut pg = PgStore::connect(&target.0, target.1.as_deref())?;
        crate::state::copy::copy(&mut s, &mut pg)
    });
    match result {
        Ok(copied) => {
            let rows: u64 = copied.tables.values().sum();
            for (table, n) in &copied.tables {
                println!("{table:<20} {n:>12} rows");
            }
            println!(
                "s321d state migrate: {rows} rows in {} tables copied from {} to {} and verified \
                 (row counts, audit head {}:{}, whole chain) in {:.1} s",
                copied.tables.len(),
                source.display(),
                crate::state::pg::redact(&target.0),
                copied.head.0,
                copied.head.1,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: s321d state migrate: {e}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: s321d state migrate: {message}");
    ExitCode::from(super::EXIT_USAGE)
}
