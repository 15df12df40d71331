//! Versioned schema migrations of the PostgreSQL store. Each runs in one
//! transaction; `s321d_schema` records how many ran. Replicas starting at once
//! migrate one at a time (a transaction-scoped advisory lock), and a schema
//! newer than this binary knows is refused, as on SQLite.

use super::{PgStore, lock_keys};
use crate::state::StoreError;

/// One migration: a name for messages and its SQL.
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// In order; never edit a released one, add the next.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "history, files, runs, job state, typed tables",
        sql: include_str!("sql/001_intake.sql"),
    },
    Migration {
        name: "filings, entry numbers, entries, not filed, summaries",
        sql: include_str!("sql/002_ledger.sql"),
    },
    Migration {
        name: "audit chain",
        sql: include_str!("sql/003_audit.sql"),
    },
];

/// Migrations applied so far.
pub fn version(store: &PgStore) -> Result<i64, StoreError> {
    store.with(|c| {
        c.batch_execute("CREATE TABLE IF NOT EXISTS s321d_schema (version BIGINT NOT NULL)")?;
        let row = c.query_opt("SELECT version FROM s321d_schema", &[])?;
        Ok(row.map_or(0, |r| r.get(0)))
    })
}

pub(super) fn migrate(store: &PgStore) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let done = store.with(|c| {
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_keys::MIGRATE])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS s321d_schema (version BIGINT NOT NULL)")?;
        let version: i64 = match tx.query_opt("SELECT version FROM s321d_schema", &[])? {
            Some(r) => r.get(0),
            None => {
                tx.execute("INSERT INTO s321d_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        if version > known {
            return Ok(Err(version));
        }
        for step in MIGRATIONS.iter().skip(version as usize) {
            tx.batch_execute(step.sql)?;
        }
        tx.execute("UPDATE s321d_schema SET version = $1", &[&known])?;
        tx.commit()?;
        Ok(Ok(()))
    })?;
    done.map_err(|version| {
        store.other(format!(
            "schema version {version} is newer than this s321d knows (version {known}): run the s321d that migrated it, or a newer one"
        ))
    })
}
