//! The embedded state store: one SQLite file under the data directory.
//!
//! Shipments are keyed by (carrier, house_bill) in a `WITHOUT ROWID` table, with
//! a second index on (arrival_date, consignee_key), so both history questions a
//! run asks are index range scans over only the keys and days it brings: the
//! table can hold years of shipments without slowing a run down. The run's keys
//! go into a temporary table and are joined in one statement.

use super::types::{RunKind, RunStatus};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use rusqlite::{Connection, OptionalExtension, params};

use super::intake::{FileRecord, FileState, IntakeStore, JobState, RunRecord, Take};
use super::ledger::{
    Adopted, Applied, EntryRecord, Filing, FilingEvent, FilingState, HeadingMatch, Intent,
    LedgerLine, LedgerStore, NewFiling, NotFiled, Transition,
};
use super::*;
use crate::dates::{epoch_days, from_epoch_days, parse_ts, ts_millis as ts};
use crate::money;

/// One schema migration: SQL, or a Rust step where rows must be split in code.
pub(super) enum Migration {
    Sql(&'static str),
    Rust(fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>),
}

impl Migration {
    pub(super) fn apply(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        match self {
            Migration::Sql(sql) => tx.execute_batch(sql),
            Migration::Rust(step) => step(tx),
        }
    }
}

/// Schema migrations, applied in order, each in one transaction;
/// `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration::Sql(
        r#"
CREATE TABLE shipments (
    carrier       TEXT NOT NULL,
    house_bill    TEXT NOT NULL,
    consignee_key TEXT NOT NULL,
    arrival_date  INTEGER,          -- days since 1970-01-01, NULL if unknown
    total_usd     TEXT NOT NULL,    -- exact decimal
    source_file   TEXT NOT NULL,
    file_sha256   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (carrier, house_bill)
) WITHOUT ROWID;
CREATE INDEX shipments_by_day ON shipments (arrival_date, consignee_key);
"#,
    ),
    Migration::Sql(
        r#"
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    job          TEXT NOT NULL,
    source       TEXT NOT NULL,
    path         TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    modified     TEXT,
    sha256       TEXT NOT NULL,
    state        TEXT NOT NULL,
    staging      TEXT,
    archive      TEXT,
    run_id       TEXT,
    duplicate_of INTEGER REFERENCES files (id),
    note         TEXT,
    taken_at     TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX files_by_sha ON files (job, sha256);
CREATE INDEX files_by_state ON files (job, state);
CREATE INDEX files_by_run ON files (run_id);
CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    job         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    output      TEXT,
    summary     TEXT
);
CREATE TABLE job_state (
    job          TEXT PRIMARY KEY,
    last_started TEXT,
    last_success TEXT,
    last_failure TEXT,
    last_error   TEXT
);
"#,
    ),
    Migration::Sql(
        r#"
CREATE TABLE entry_serials (
    filer_code  TEXT PRIMARY KEY,
    next_serial INTEGER NOT NULL
);
CREATE TABLE filings (
    id           INTEGER PRIMARY KEY,
    carrier      TEXT NOT NULL,
    house_bill   TEXT NOT NULL,
    entry_number TEXT NOT NULL UNIQUE,
    entry_type   TEXT NOT NULL,
    job          TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    transport    TEXT NOT NULL,
    batch        TEXT,
    state        TEXT NOT NULL,
    code         TEXT,
    narrative    TEXT,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (carrier, house_bill)
);
CREATE INDEX filings_by_state ON filings (state);
CREATE INDEX filings_by_run ON filings (run_id);
CREATE TABLE filing_events (
    id        INTEGER PRIMARY KEY,
    filing_id INTEGER NOT NULL REFERENCES filings (id),
    at        TEXT NOT NULL,
    from_state TEXT,
    to_state  TEXT NOT NULL,
    applied   INTEGER NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX filing_events_by_filing ON filing_events (filing_id);
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    ),
    Migration::Sql(
        r#"
-- Entries (contract v2 section 10): a filing is one entry, which may carry
-- several house bills. A house bill is on at most one filed entry: the
-- primary key below is what enforces it, written in the intent's transaction.
CREATE TABLE filing_bills (
    carrier    TEXT NOT NULL,
    house_bill TEXT NOT NULL,
    filing_id  INTEGER NOT NULL REFERENCES filings (id),
    PRIMARY KEY (carrier, house_bill)
) WITHOUT ROWID;
CREATE INDEX filing_bills_by_filing ON filing_bills (filing_id);
INSERT INTO filing_bills (carrier, house_bill, filing_id) SELECT carrier, house_bill, id FROM filings;
CREATE TABLE ledger_entries (
    filing_id         INTEGER PRIMARY KEY REFERENCES filings (id),
    run_id            TEXT NOT NULL,
    entry_ref         TEXT,            -- the run's R000001; NULL for type 86
    ior_number        TEXT NOT NULL,
    arrival_date      TEXT NOT NULL,   -- ISO 8601; the entry date of the estimates
    port_of_entry     TEXT NOT NULL,
    conveyance        TEXT NOT NULL,
    consignee_key     TEXT NOT NULL,
    basis             TEXT NOT NULL,
    entered_value_usd TEXT NOT NULL,   -- exact decimal
    duty_usd          TEXT,            -- NULL: unknown
    mpf_usd           TEXT,
    hmf_usd           TEXT,
    total_usd         TEXT,
    duty_status       TEXT NOT NULL,
    rates_as_of       TEXT NOT NULL,
    liquidation_date  TEXT,            -- estimated: entry date + 314 days; NULL for type 86
    protest_deadline  TEXT,            -- estimated: liquidation + 180 days
    UNIQUE (run_id, entry_ref)
);
CREATE INDEX ledger_entries_by_date ON ledger_entries (arrival_date);
CREATE TABLE ledger_lines (
    filing_id         INTEGER NOT NULL REFERENCES filings (id),
    line              INTEGER NOT NULL,
    source_file       TEXT NOT NULL,
    record            INTEGER NOT NULL,
    carrier           TEXT NOT NULL,
    house_bill        TEXT NOT NULL,
    line_no           TEXT NOT NULL,
    hts_code          TEXT NOT NULL,
    country_of_origin TEXT NOT NULL,
    entered_value_usd TEXT NOT NULL,
    rate_column       TEXT NOT NULL,
    rate              TEXT NOT NULL,
    hts_duty_usd      TEXT,
    duty_usd          TEXT,            -- NULL: unknown
    duty_status       TEXT NOT NULL,
    PRIMARY KEY (filing_id, line)
) WITHOUT ROWID;
CREATE TABLE ledger_ch99 (
    filing_id      INTEGER NOT NULL REFERENCES filings (id),
    line           INTEGER NOT NULL,
    pos            INTEGER NOT NULL,   -- order on the line
    heading        TEXT NOT NULL,      -- as the policy writes it: 9903.01.25
    heading_digits TEXT NOT NULL,      -- 99030125: what heading searches match on
    amount_usd     TEXT NOT NULL,
    PRIMARY KEY (filing_id, line, pos)
) WITHOUT ROWID;
CREATE INDEX ledger_ch99_by_heading ON ledger_ch99 (heading_digits, filing_id);
"#,
    ),
    Migration::Sql(
        r#"
-- How many engine runs a file was handed to that never returned (the process
-- died meanwhile): at 2 the file is quarantined as a poison file.
ALTER TABLE files ADD COLUMN engine_attempts INTEGER NOT NULL DEFAULT 0;
"#,
    ),
    Migration::Sql(
        r#"
-- Entries s321d would file but did not, with the reason (a mandatory CATAIR
-- field without a value, no IOR, a house bill on another entry, ...): the
-- ledger's record of them beside the filings. A run's rows are replaced
-- whole each time the run is filed, as its not_filed.csv is.
CREATE TABLE not_filed (
    run_id      TEXT NOT NULL,
    pos         INTEGER NOT NULL,   -- order in the run's not_filed.csv
    entry_ref   TEXT NOT NULL,      -- '' for a type 86
    entry_type  TEXT NOT NULL,
    carrier     TEXT NOT NULL,
    house_bills TEXT NOT NULL,      -- space-separated, sorted
    reason      TEXT NOT NULL,      -- shown as "not filed: <reason>"
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, pos)
) WITHOUT ROWID;
"#,
    ),
    Migration::Sql(super::summary::MIGRATION),
    // 8: `kv` split into typed tables (scale-out section 3).
    Migration::Rust(super::typed::migrate_kv_to_typed_tables),
    // 9: the highest file id ever forgotten. `files` has no AUTOINCREMENT,
    // so SQLite would hand a forgotten top id out again while the audit
    // trail still names it; `take_file` numbers past this floor.
    Migration::Sql(
        r#"
CREATE TABLE file_id_floor (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    floor INTEGER NOT NULL
);
"#,
    ),
];

/// What a quick write probe of the store found (readiness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Writable,
    /// Another connection holds the write lock past the probe's wait.
    Locked,
    /// It cannot be opened or written at all.
    Unreachable(String),
}

/// Probes the store at `path` on a connection of its own, waiting at most
/// `wait` for a lock: `BEGIN IMMEDIATE` (the write lock a run would need),
/// then `ROLLBACK`. Never waits on the connections runs use.
pub fn probe(path: &Path, wait: std::time::Duration) -> Probe {
    use rusqlite::{ErrorCode, OpenFlags};
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => return Probe::Unreachable(format!("{}: {e}", path.display())),
    };
    let result = conn
        .busy_timeout(wait)
        .and_then(|()| conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;"));
    match result {
        Ok(()) => Probe::Writable,
        Err(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            Probe::Locked
        }
        Err(e) => Probe::Unreachable(format!("{}: {e}", path.display())),
    }
}

/// The SQLite state store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// The history lock file while this connection is in the history
    /// critical section: an OS lock (flock), released on drop or process death.
    history_lock: Option<std::fs::File>,
    /// Named leases held (`cluster`): a locked file beside the database each.
    leases: std::collections::BTreeMap<String, std::fs::File>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Other {
                location: path.display().to_string(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| sql_err(path, e))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_owned(),
            history_lock: None,
            leases: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        sql_err(&self.path, e)
    }

    /// The connection, for the store's other files (`state::*`).
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for transactions in the store's other files.
    pub(super) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;")
            .map_err(|e| self.err(e))?;
        // One step per immediate transaction, the version read inside it:
        // processes opening a fresh store at once migrate it one at a time,
        // and each finds the steps another already applied.
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| sql_err(&self.path, e))?;
            let version: usize = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| sql_err(&self.path, e))?;
            // A newer s321d migrated it: this code cannot know what changed.
            if version > MIGRATIONS.len() {
                return Err(StoreError::Other {
                    location: self.path.display().to_string(),
                    message: format!(
                        "schema version {version} is newer than this s321d knows (version {}): run the s321d that migrated it, or a newer one",
                        MIGRATIONS.len()
                    ),
                });
            }
            let Some(step) = MIGRATIONS.get(version) else {
                break;
            };
            step.apply(&tx).map_err(|e| sql_err(&self.path, e))?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(|e| sql_err(&self.path, e))?;
            tx.commit().map_err(|e| sql_err(&self.path, e))?;
        }
        // The audit trail's tables live outside the numbered migrations.
        super::audit::ensure_schema(&self.conn).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The store's file.
    pub fn location(&self) -> &Path {
        &self.path
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let any: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM shipments LIMIT 1", [], |r| r.get(0))
            .map(Some)
            .or_else(|e| {
                if e == rusqlite::Error::QueryReturnedNoRows {
                    Ok(None)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| self.err(e))?;
        Ok(any.is_none())
    }

    fn select_history(&self, sql: &str) -> Result<DataFrame, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut carrier = Vec::new();
        let mut house_bill = Vec::new();
        let mut consignee_key = Vec::new();
        let mut arrival: Vec<Option<i32>> = Vec::new();
        let mut total: Vec<Option<i128>> = Vec::new();
        let mut source_file = Vec::new();
        let mut sha = Vec::new();
        let mut run = Vec::new();
        while let Some(r) = rows.next().map_err(|e| sql_err(&self.path, e))? {
            let get = |i| r.get::<_, String>(i).map_err(|e| sql_err(&self.path, e));
            carrier.push(get(0)?);
            house_bill.push(get(1)?);
            consignee_key.push(get(2)?);
            arrival.push(
                r.get::<_, Option<i64>>(3)
                    .map_err(|e| sql_err(&self.path, e))?
                    .map(|d| d as i32),
            );
            total.push(money::parse_decimal(&get(4)?).ok());
            source_file.push(get(5)?);
            sha.push(get(6)?);
            run.push(get(7)?);
        }
        let height = carrier.len();
        let dates =
            Int32Chunked::from_iter_options(H_ARRIVAL_DATE.into(), arrival.into_iter()).into_date();
        Ok(DataFrame::new(
            height,
            vec![
                Column::new(H_CARRIER.into(), carrier),
                Column::new(H_HOUSE_BILL.into(), house_bill),
                Column::new(H_CONSIGNEE_KEY.into(), consignee_key),
                dates.into_column(),
                Int128Chunked::from_iter_options(H_TOTAL_USD.into(), total.into_iter())
                    .into_column(),
                Column::new(H_SOURCE_FILE.into(), source_file),
                Column::new(H_FILE_SHA256.into(), sha),
                Column::new(H_RUN_ID.into(), run),
            ],
        )?)
    }
}

impl super::cluster::ClusterStore for SqliteStore {
    fn try_lease(&mut self, name: &str) -> Result<bool, StoreError> {
        if self.leases.contains_key(name) {
            return Ok(true);
        }
        // The name hashed, so any name makes a safe file name.
        let mut file = self.path.as_os_str().to_owned();
        file.push(format!(
            ".lease-{}",
            &crate::state::typed::once_id(name)[..16]
        ));
        let other = |e: std::io::Error| StoreError::Other {
            location: self.path.display().to_string(),
            message: format!("lease {name} ({}): {e}", Path::new(&file).display()),
        };
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&file)
            .map_err(other)?;
        match f.try_lock() {
            Ok(()) => {
                self.leases.insert(name.to_owned(), f);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(other(e)),
        }
    }

    fn release_lease(&mut self, name: &str) -> Result<(), StoreError> {
        // Closing the file releases its lock.
        self.leases.remove(name);
        Ok(())
    }

    fn leases_held(&self) -> Vec<String> {
        self.leases.keys().cloned().collect()
    }
}

/// The closed sets stored as text, read back; text no s321d wrote is an error.
macro_rules! closed_set_from_sql {
    ($($t:ty),*) => {$(
        impl rusqlite::types::FromSql for $t {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                <$t>::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("{s:?} is not a {}", stringify!($t)).into(),
                    )
                })
            }
        }
    )*};
}
closed_set_from_sql!(super::types::RunKind, super::types::RunStatus);

pub(super) fn sql_err(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        location: path.display().to_string(),
        source,
    }
}

const COLUMNS: &str = "s.carrier, s.house_bill, s.consignee_key, s.arrival_date, s.total_usd, s.source_file, s.file_sha256, s.run_id";

impl HistoryStore for SqliteStore {
    fn lock_history(&mut self) -> Result<(), StoreError> {
        if self.history_lock.is_some() {
            return Ok(());
        }
        // A file beside the database, not a write transaction: the section
        // spans the engine's rules, and a transaction held that long would
        // block every other writer (and the readiness probe) meanwhile.
        let mut name = self.path.as_os_str().to_owned();
        name.push(".history-lock");
        let other = |e: std::io::Error| StoreError::Other {
            location: self.path.display().to_string(),
            message: format!("history lock {}: {e}", Path::new(&name).display()),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&name)
            .map_err(other)?;
        file.lock().map_err(other)?;
        self.history_lock = Some(file);
        Ok(())
    }

    fn seen_by_key(&mut self, keys: &DataFrame) -> Result<DataFrame, StoreError> {
        if keys.height() == 0 || self.is_empty()? {
            return Ok(empty_history());
        }
        self.conn
            .execute_batch("CREATE TEMP TABLE IF NOT EXISTS run_keys (carrier TEXT, house_bill TEXT); DELETE FROM temp.run_keys;")
            .map_err(|e| self.err(e))?;
        let carriers = keys.column(H_CARRIER)?.str()?;
        let bills = keys.column(H_HOUSE_BILL)?.str()?;
        {
            let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
            let mut stmt = tx
                .prepare_cached("INSERT INTO temp.run_keys VALUES (?1, ?2)")
                .map_err(|e| sql_err(&self.path, e))?;
            for (c, h) in carriers.iter().zip(bills.iter()) {
                stmt.execute(params![c.unwrap_or(""), h.unwrap_or("")])
                    .map_err(|e| sql_err(&self.path, e))?;
            }
            drop(stmt);
            tx.commit().map_err(|e| self.err(e))?;
        }
        self.select_history(&format!(
            "SELECT {COLUMNS} FROM temp.run_keys k JOIN shipments s ON s.carrier = k.carrier AND s.house_bill = k.house_bill"
        ))
    }

    fn seen_on_days(&mut self, days: &DataFrame) -> Result<DataFrame, StoreError> {
        if days.height() == 0 || self.is_empty()? {
            return Ok(empty_history());
        }
        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS run_days (arrival_date INTEGER, consignee_key TEXT); DELETE FROM temp.run_days;",
            )
            .map_err(|e| self.err(e))?;
        let dates = days
            .column(H_ARRIVAL_DATE)?
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let dates = dates.i32()?;
        let keys = days.column(H_CONSIGNEE_KEY)?.str()?;
        {
            let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
            let mut stmt = tx
                .prepare_cached("INSERT INTO temp.run_days VALUES (?1, ?2)")
                .map_err(|e| sql_err(&self.path, e))?;
            for (d, k) in dates.iter().zip(keys.iter()) {
                if let (Some(d), Some(k)) = (d, k) {
                    stmt.execute(params![d, k])
                        .map_err(|e| sql_err(&self.path, e))?;
                }
            }
            drop(stmt);
            tx.commit().map_err(|e| self.err(e))?;
        }
        self.select_history(&format!(
            "SELECT {COLUMNS} FROM temp.run_days d JOIN shipments s ON s.arrival_date = d.arrival_date AND s.consignee_key = d.consignee_key"
        ))
    }

    fn record_shipments(&mut self, shipments: &DataFrame) -> Result<u64, StoreError> {
        let col = |name| shipments.column(name).map_err(StoreError::from);
        let carrier = col(H_CARRIER)?.str()?;
        let bill = col(H_HOUSE_BILL)?.str()?;
        let ckey = col(H_CONSIGNEE_KEY)?.str()?;
        let dates = col(H_ARRIVAL_DATE)?
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let dates = dates.i32()?;
        let total = col(H_TOTAL_USD)?.i128()?;
        let file = col(H_SOURCE_FILE)?.str()?;
        let sha = col(H_FILE_SHA256)?.str()?;
        let run = col(H_RUN_ID)?.str()?;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_err(&self.path, e))?;
        let mut inserted = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO shipments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(|e| sql_err(&self.path, e))?;
            let mut buf = String::new();
            for i in 0..shipments.height() {
                buf.clear();
                money::write_to(&mut buf, total.get(i).unwrap_or(0));
                inserted += stmt
                    .execute(params![
                        carrier.get(i).unwrap_or(""),
                        bill.get(i).unwrap_or(""),
                        ckey.get(i).unwrap_or(""),
                        dates.get(i),
                        buf,
                        file.get(i).unwrap_or(""),
                        sha.get(i).unwrap_or(""),
                        run.get(i).unwrap_or(""),
                    ])
                    .map_err(|e| sql_err(&self.path, e))? as u64;
            }
        }
        tx.commit().map_err(|e| sql_err(&self.path, e))?;
        self.history_lock = None;
        Ok(inserted)
    }

    fn shipment_count(&mut self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM shipments", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

const FILE_COLUMNS: &str = "id, job, source, path, name, size, sha256, state, staging, archive, run_id, duplicate_of, note, taken_at, modified, engine_attempts";

fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRecord> {
    let state: String = r.get(7)?;
    Ok(FileRecord {
        id: r.get(0)?,
        job: r.get(1)?,
        source: r.get(2)?,
        path: r.get(3)?,
        name: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        sha256: r.get(6)?,
        state: FileState::parse(&state).unwrap_or(FileState::Taken),
        staging: r.get(8)?,
        archive: r.get(9)?,
        run_id: r.get(10)?,
        duplicate_of: r.get(11)?,
        note: r.get(12)?,
        taken_at: r
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(parse_ts)
            .unwrap_or_default(),
        modified: r
            .get::<_, Option<String>>(14)?
            .as_deref()
            .and_then(parse_ts),
        engine_attempts: r.get::<_, i64>(15)?.max(0) as u32,
    })
}

impl SqliteStore {
    fn query_files(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, file_row)
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }
}

impl IntakeStore for SqliteStore {
    fn take_file(
        &mut self,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        modified: Option<DateTime<Utc>>,
        sha256: &str,
        staging: &str,
    ) -> Result<Take, StoreError> {
        let now = ts(Utc::now());
        let name = crate::paths::file_name(path).to_owned();
        // Immediate: the audit append below must not race another writer.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&self.path, e))?;
        let earlier: Option<FileRecord> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE job = ?1 AND sha256 = ?2 \
                     AND state NOT IN ('taken', 'duplicate', 'duplicate-pending') ORDER BY id LIMIT 1"
                ))
                .map_err(|e| sql_err(&self.path, e))?;
            let mut rows = stmt
                .query_map(params![job, sha256], file_row)
                .map_err(|e| sql_err(&self.path, e))?;
            rows.next()
                .transpose()
                .map_err(|e| sql_err(&self.path, e))?
        };
        let (state, dup) = match &earlier {
            Some(e) => (FileState::DuplicatePending, Some(e.id)),
            None => (FileState::Taken, None),
        };
        tx.execute(
            "INSERT INTO files (id, job, source, path, name, size, modified, sha256, state, staging, duplicate_of, taken_at, updated_at) \
             VALUES (max(coalesce((SELECT max(id) FROM files), 0), coalesce((SELECT floor FROM file_id_floor), 0)) + 1, \
             ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            params![job, source, path, name, size as i64, modified.map(ts), sha256, state.as_str(), staging, dup, now],
        )
        .map_err(|e| sql_err(&self.path, e))?;
        let id = tx.last_insert_rowid();
        // Taken before, but forgotten when a stop cut the take short: the
        // audit trail says so instead of recording a second plain receipt.
        let first: Option<i64> = if dup.is_none() {
            tx.query_row(
                "SELECT first_file_id FROM file_receipts WHERE job = ?1 AND sha256 = ?2",
                [job, sha256],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(|e| sql_err(&self.path, e))?
        } else {
            None
        };
        let event = match first {
            Some(first) => super::audit::events::file_received_again(
                id, job, source, path, size, sha256, first,
            ),
            None => super::audit::events::file_received(id, job, source, path, size, sha256, dup),
        };
        super::audit::append(&tx, &event).map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))?;
        Ok(match earlier {
            Some(of) => Take::Duplicate { id, of },
            None => Take::New(id),
        })
    }

    fn set_file_state(
        &mut self,
        id: i64,
        state: FileState,
        archive: Option<&str>,
        run_id: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE files SET state = ?2, archive = COALESCE(?3, archive), run_id = COALESCE(?4, run_id), \
                 note = COALESCE(?5, note), updated_at = ?6 WHERE id = ?1",
                params![id, state.as_str(), archive, run_id, note, ts(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn forget_file(&mut self, id: i64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_err(&self.path, e))?;
        // Remember that its receipt is in the audit trail (see `take_file`).
        tx.execute(
            "INSERT INTO file_receipts (job, sha256, first_file_id) SELECT job, sha256, id FROM files WHERE id = ?1 \
             ON CONFLICT (job, sha256) DO NOTHING",
            [id],
        )
        .map_err(|e| sql_err(&self.path, e))?;
        // Its id is never handed out again (the audit trail names it).
        tx.execute(
            "INSERT INTO file_id_floor (one, floor) VALUES (1, ?1) \
             ON CONFLICT (one) DO UPDATE SET floor = max(floor, excluded.floor)",
            [id],
        )
        .map_err(|e| sql_err(&self.path, e))?;
        tx.execute("DELETE FROM files WHERE id = ?1", [id])
            .map_err(|e| sql_err(&self.path, e))?;
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    fn engine_started(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_err(&self.path, e))?;
        for id in ids {
            tx.execute(
                "UPDATE files SET engine_attempts = engine_attempts + 1 WHERE id = ?1",
                [id],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        }
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    fn engine_returned(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_err(&self.path, e))?;
        for id in ids {
            tx.execute("UPDATE files SET engine_attempts = 0 WHERE id = ?1", [id])
                .map_err(|e| sql_err(&self.path, e))?;
        }
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    fn files_in(&mut self, job: &str, states: &[FileState]) -> Result<Vec<FileRecord>, StoreError> {
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        self.query_files(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE job = ?1 AND state IN ({list}) ORDER BY id"
            ),
            [job],
        )
    }

    fn file(&mut self, id: i64) -> Result<Option<FileRecord>, StoreError> {
        Ok(self
            .query_files(
                &format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?1"),
                [id],
            )?
            .pop())
    }

    fn files_of_run(&mut self, run_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        self.query_files(
            &format!("SELECT {FILE_COLUMNS} FROM files WHERE run_id = ?1 ORDER BY id"),
            [run_id],
        )
    }

    fn archived_between(
        &mut self,
        job: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.query_files(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE job = ?1 AND archive IS NOT NULL AND state <> 'duplicate' \
                 AND taken_at >= ?2 AND taken_at < ?3 ORDER BY id"
            ),
            params![job, ts(from), ts(to)],
        )
    }

    fn start_run(
        &mut self,
        run_id: &str,
        job: &str,
        kind: RunKind,
        output: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO runs (run_id, job, kind, status, started_at, output) VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                params![run_id, job, kind.as_str(), ts(Utc::now()), output],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        summary: &str,
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_err(&self.path, e))?;
        tx.execute(
            "UPDATE runs SET status = ?2, summary = ?3, finished_at = ?4 WHERE run_id = ?1",
            params![run_id, status.as_str(), summary, now],
        )
        .map_err(|e| sql_err(&self.path, e))?;
        if status == RunStatus::Split {
            // Its runs of one file each took over what it owed (`copy_duties`):
            // it owes nothing itself, and leaves no duty due behind.
            tx.execute(
                "UPDATE run_duties SET state = 'off', updated_at = ?2 WHERE run_id = ?1 AND state = 'due'",
                params![run_id, now],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        }
        tx.commit().map_err(|e| sql_err(&self.path, e))
    }

    fn run(&mut self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT run_id, job, kind, status, started_at, finished_at, output, summary FROM runs WHERE run_id = ?1")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map([run_id], |r| {
                Ok(RunRecord {
                    run_id: r.get(0)?,
                    job: r.get(1)?,
                    kind: r.get(2)?,
                    status: r.get(3)?,
                    started_at: r
                        .get::<_, Option<String>>(4)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                    finished_at: r.get::<_, Option<String>>(5)?.as_deref().and_then(parse_ts),
                    output: r.get(6)?,
                    summary: r.get(7)?,
                })
            })
            .map_err(|e| sql_err(&self.path, e))?;
        rows.next().transpose().map_err(|e| sql_err(&self.path, e))
    }

    fn job_state(&mut self, job: &str) -> Result<JobState, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT last_started, last_success, last_failure, last_error FROM job_state WHERE job = ?1")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map([job], |r| {
                Ok(JobState {
                    last_started: r.get::<_, Option<String>>(0)?.as_deref().and_then(parse_ts),
                    last_success: r.get::<_, Option<String>>(1)?.as_deref().and_then(parse_ts),
                    last_failure: r.get::<_, Option<String>>(2)?.as_deref().and_then(parse_ts),
                    last_error: r.get(3)?,
                })
            })
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(rows
            .next()
            .transpose()
            .map_err(|e| sql_err(&self.path, e))?
            .unwrap_or_default())
    }

    fn job_started(&mut self, job: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO job_state (job, last_started) VALUES (?1, ?2) ON CONFLICT (job) DO UPDATE SET last_started = ?2",
                params![job, ts(at)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn job_finished(
        &mut self,
        job: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = if error.is_none() {
            "INSERT INTO job_state (job, last_success) VALUES (?1, ?2) ON CONFLICT (job) DO UPDATE SET last_success = ?2, last_error = NULL"
        } else {
            "INSERT INTO job_state (job, last_failure, last_error) VALUES (?1, ?2, ?3) \
             ON CONFLICT (job) DO UPDATE SET last_failure = ?2, last_error = ?3"
        };
        if error.is_none() {
            self.conn.execute(sql, params![job, ts(at)])
        } else {
            self.conn.execute(sql, params![job, ts(at), error])
        }
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM job_state", [], |r| r.get::<_, i64>(0))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

pub(super) const FILING_COLUMNS: &str = "id, carrier, house_bill, entry_number, entry_type, job, run_id, transport, batch, state, code, narrative, payload, created_at, updated_at";

pub(super) fn filing_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Filing> {
    let state: String = r.get(9)?;
    Ok(Filing {
        id: r.get(0)?,
        carrier: r.get(1)?,
        house_bill: r.get(2)?,
        entry_number: r.get(3)?,
        entry_type: r.get(4)?,
        job: r.get(5)?,
        run_id: r.get(6)?,
        transport: r.get(7)?,
        batch: r.get(8)?,
        state: FilingState::parse(&state).unwrap_or(FilingState::Pending),
        code: r.get(10)?,
        narrative: r.get(11)?,
        payload: r.get(12)?,
        created_at: r
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(parse_ts)
            .unwrap_or_default(),
        updated_at: r
            .get::<_, Option<String>>(14)?
            .as_deref()
            .and_then(parse_ts)
            .unwrap_or_default(),
    })
}

impl SqliteStore {
    fn query_filings(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Filing>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, filing_row)
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    /// Filings matching an SQL condition on `filings`, oldest first.
    pub(super) fn query_filings_where(&self, condition: &str) -> Result<Vec<Filing>, StoreError> {
        self.query_filings(
            &format!("SELECT {FILING_COLUMNS} FROM filings WHERE {condition} ORDER BY id"),
            [],
        )
    }
}

impl SqliteStore {
    /// [`LedgerStore::record_intents`] and [`LedgerStore::adopt`]: `adopted`
    /// is empty, or has one entry per filing (`None`: allocate a number).
    fn record(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
        adopted: &[Option<Adopted<'_>>],
    ) -> Result<Vec<Intent>, StoreError> {
        let now = Utc::now();
        let at = ts(now);
        let path = self.path.clone();
        let err = |e| sql_err(&path, e);
        // Immediate: the audit appends below must not race another writer.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO entry_serials (filer_code, next_serial) VALUES (?1, ?2) ON CONFLICT (filer_code) DO NOTHING",
            params![filer_code, first_serial as i64],
        )
        .map_err(err)?;
        let mut out = Vec::with_capacity(filings.len());
        {
            let mut on_entry = tx
                .prepare_cached(
                    "SELECT f.entry_number FROM filing_bills b JOIN filings f ON f.id = b.filing_id WHERE b.carrier = ?1 AND b.house_bill = ?2",
                )
                .map_err(err)?;
            let mut next = tx
                .prepare_cached("UPDATE entry_serials SET next_serial = next_serial + 1 WHERE filer_code = ?1 RETURNING next_serial - 1")
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO filings ({FILING_COLUMNS}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, NULL, NULL, ?9, ?10, ?10)"
                ))
                .map_err(err)?;
            // The primary key (carrier, house_bill) refuses a bill on a second
            // entry even if the check above were ever bypassed.
            let mut bill = tx
                .prepare_cached(
                    "INSERT INTO filing_bills (carrier, house_bill, filing_id) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            let mut entry = tx
                .prepare_cached(
                    "INSERT INTO ledger_entries (filing_id, run_id, entry_ref, ior_number, arrival_date, port_of_entry, conveyance, \
                     consignee_key, basis, entered_value_usd, duty_usd, mpf_usd, hmf_usd, total_usd, duty_status, rates_as_of, \
                     liquidation_date, protest_deadline) \
                     VALUES (?1, ?2, NULLIF(?3, ''), ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULLIF(?11, ''), NULLIF(?12, ''), NULLIF(?13, ''), \
                     NULLIF(?14, ''), ?15, ?16, ?17, ?18)",
                )
                .map_err(err)?;
            let mut line = tx
                .prepare_cached(
                    "INSERT INTO ledger_lines (filing_id, line, source_file, record, carrier, house_bill, line_no, hts_code, \
                     country_of_origin, entered_value_usd, rate_column, rate, hts_duty_usd, duty_usd, duty_status) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULLIF(?13, ''), NULLIF(?14, ''), ?15)",
                )
                .map_err(err)?;
            let mut ch99 = tx
                .prepare_cached(
                    "INSERT INTO ledger_ch99 (filing_id, line, pos, heading, heading_digits, amount_usd) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            let mut event = tx
                .prepare_cached("INSERT INTO filing_events (filing_id, at, from_state, to_state, applied, message) VALUES (?1, ?2, NULL, ?4, 1, ?3)")
                .map_err(err)?;
            let mut same_entry = tx
                .prepare_cached(
                    "SELECT f.entry_number FROM ledger_entries e JOIN filings f ON f.id = e.filing_id WHERE e.run_id = ?1 AND e.entry_ref = ?2",
                )
                .map_err(err)?;
            // An adopted number of this filer code moves the counter past it.
            let mut past = tx
                .prepare_cached("UPDATE entry_serials SET next_serial = max(next_serial, ?2) WHERE filer_code = ?1")
                .map_err(err)?;
            'filings: for (k, f) in filings.iter().enumerate() {
                let adopt = adopted.get(k).copied().flatten();
                // The run's entry was filed already (whatever its bills now).
                if !f.record.entry_ref.is_empty() {
                    let number: Option<String> = same_entry
                        .query_row([f.run_id, &f.record.entry_ref], |r| r.get(0))
                        .optional()
                        .map_err(err)?;
                    if let Some(n) = number {
                        out.push(Intent::AlreadyFiled(vec![n]));
                        continue 'filings;
                    }
                }
                let mut filed = Vec::new();
                for (carrier, house_bill) in f.bills {
                    let number: Option<String> = on_entry
                        .query_row([carrier, house_bill], |r| r.get(0))
                        .optional()
                        .map_err(err)?;
                    if let Some(n) = number {
                        filed.push((carrier.clone(), house_bill.clone(), n));
                    }
                }
                if !filed.is_empty() {
                    out.push(if filed.len() == f.bills.len() {
                        let mut numbers: Vec<String> =
                            filed.into_iter().map(|(_, _, n)| n).collect();
                        numbers.sort();
                        numbers.dedup();
                        Intent::AlreadyFiled(numbers)
                    } else {
                        Intent::Conflict(filed)
                    });
                    continue 'filings;
                }
                let (number, state) = match adopt {
                    Some(a) => {
                        if let Some(serial) = a.own_serial {
                            past.execute(params![filer_code, serial as i64 + 1])
                                .map_err(err)?;
                        }
                        (a.entry_number.to_owned(), a.state)
                    }
                    None => {
                        let serial: i64 =
                            next.query_row([filer_code], |r| r.get(0)).map_err(err)?;
                        let number = make_number(serial as u64).ok_or_else(|| StoreError::Other {
                            location: path.display().to_string(),
                            message: format!("entry serial {serial} of filer code {filer_code} has no entry number: the serials are used up"),
                        })?;
                        (number, FilingState::Pending)
                    }
                };
                let payload = (f.payload)(&number);
                insert
                    .execute(params![
                        f.carrier,
                        f.house_bill,
                        number,
                        f.entry_type,
                        f.job,
                        f.run_id,
                        f.transport,
                        f.batch,
                        payload,
                        at,
                        state.as_str()
                    ])
                    .map_err(err)?;
                let id = tx.last_insert_rowid();
                for (carrier, house_bill) in f.bills {
                    bill.execute(params![carrier, house_bill, id])
                        .map_err(err)?;
                }
                let r = f.record;
                let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string());
                entry
                    .execute(params![
                        id,
                        f.run_id,
                        r.entry_ref,
                        r.ior_number,
                        r.arrival_date.to_string(),
                        r.port_of_entry,
                        r.conveyance,
                        r.consignee_key,
                        r.basis,
                        r.entered_value_usd,
                        r.duty_usd,
                        r.mpf_usd,
                        r.hmf_usd,
                        r.total_usd,
                        r.duty_status,
                        r.rates_as_of,
                        date(r.liquidation_date),
                        date(r.protest_deadline),
                    ])
                    .map_err(err)?;
                for l in &r.lines {
                    line.execute(params![
                        id,
                        l.line,
                        l.source_file,
                        l.record,
                        l.carrier,
                        l.house_bill,
                        l.line_no,
                        l.hts_code,
                        l.country_of_origin,
                        l.entered_value_usd,
                        l.rate_column,
                        l.rate,
                        l.hts_duty_usd,
                        l.duty_usd,
                        l.duty_status,
                    ])
                    .map_err(err)?;
                    for (pos, (heading, amount)) in l.ch99.iter().enumerate() {
                        let digits: String = heading.chars().filter(char::is_ascii_digit).collect();
                        ch99.execute(params![id, l.line, pos as i64, heading, digits, amount])
                            .map_err(err)?;
                    }
                }
                let bills = f
                    .bills
                    .iter()
                    .map(|(c, h)| format!("{c} {h}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = match adopt {
                    Some(a) => format!(
                        "entry number {number} adopted from ACE for {bills}: {}",
                        a.message
                    ),
                    None => format!("entry number {number} allocated for {bills}"),
                };
                event
                    .execute(params![id, at, message, state.as_str()])
                    .map_err(err)?;
                let filing = Filing {
                    id,
                    carrier: f.carrier.to_owned(),
                    house_bill: f.house_bill.to_owned(),
                    entry_number: number,
                    entry_type: f.entry_type.to_owned(),
                    job: f.job.to_owned(),
                    run_id: f.run_id.to_owned(),
                    transport: f.transport.to_owned(),
                    batch: f.batch.map(str::to_owned),
                    state,
                    code: None,
                    narrative: None,
                    payload,
                    created_at: now,
                    updated_at: now,
                };
                // The audit trail records the intent in the same transaction.
                super::audit::append(&tx, &super::audit::events::filing_intent(&filing, f.bills))
                    .map_err(err)?;
                out.push(Intent::New(Box::new(filing)));
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

impl LedgerStore for SqliteStore {
    fn record_intents(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
    ) -> Result<Vec<Intent>, StoreError> {
        self.record(filer_code, first_serial, make_number, filings, &[])
    }

    fn adopt(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        filings: &[(NewFiling<'_>, Adopted<'_>)],
    ) -> Result<Vec<Intent>, StoreError> {
        let (list, adopted): (Vec<NewFiling<'_>>, Vec<Option<Adopted<'_>>>) =
            filings.iter().map(|(f, a)| (f.clone(), Some(*a))).unzip();
        self.record(filer_code, first_serial, &|_| None, &list, &adopted)
    }

    fn transitions(&mut self, list: &[Transition<'_>]) -> Result<Vec<Applied>, StoreError> {
        let at = ts(Utc::now());
        let path = self.path.clone();
        let err = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut out = Vec::with_capacity(list.len());
        {
            let mut find = tx
                .prepare_cached(
                    "SELECT id, state, carrier, house_bill FROM filings WHERE entry_number = ?1",
                )
                .map_err(err)?;
            let mut update = tx
                .prepare_cached("UPDATE filings SET state = ?2, code = COALESCE(?3, code), narrative = COALESCE(?4, narrative), updated_at = ?5 WHERE id = ?1")
                .map_err(err)?;
            let mut event = tx
                .prepare_cached("INSERT INTO filing_events (filing_id, at, from_state, to_state, applied, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(err)?;
            for t in list {
                let found: Option<(i64, String, String, String)> = find
                    .query_row([t.entry_number], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                    .map_err(err)?;
                let Some((id, from, carrier, house_bill)) = found else {
                    out.push(Applied::Unknown);
                    continue;
                };
                let from = FilingState::parse(&from).unwrap_or(FilingState::Pending);
                let moved = from.can_become(t.to);
                if moved {
                    update
                        .execute(params![id, t.to.as_str(), t.code, t.narrative, at])
                        .map_err(err)?;
                }
                event
                    .execute(params![
                        id,
                        at,
                        from.as_str(),
                        t.to.as_str(),
                        moved,
                        t.message
                    ])
                    .map_err(err)?;
                let audit = super::audit::events::filing_response(
                    &carrier,
                    &house_bill,
                    t.entry_number,
                    from.as_str(),
                    t.to.as_str(),
                    moved,
                    t.code,
                    t.narrative,
                    t.message,
                );
                super::audit::append(&tx, &audit).map_err(err)?;
                out.push(if moved {
                    Applied::Moved
                } else {
                    Applied::Ignored
                });
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    fn filing(&mut self, entry_number: &str) -> Result<Option<Filing>, StoreError> {
        Ok(self
            .query_filings(
                &format!("SELECT {FILING_COLUMNS} FROM filings WHERE entry_number = ?1"),
                [entry_number],
            )?
            .pop())
    }

    fn filing_for(
        &mut self,
        carrier: &str,
        house_bill: &str,
    ) -> Result<Option<Filing>, StoreError> {
        Ok(self
            .query_filings(
                &format!(
                    "SELECT {FILING_COLUMNS} FROM filings WHERE id = \
                     (SELECT filing_id FROM filing_bills WHERE carrier = ?1 AND house_bill = ?2)"
                ),
                [carrier, house_bill],
            )?
            .pop())
    }

    fn filing_carriers(&mut self, house_bill: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT carrier FROM filing_bills WHERE house_bill = ?1 ORDER BY carrier",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([house_bill], |r| r.get(0))
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    fn bills_of(&mut self, entry_number: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.carrier, b.house_bill FROM filing_bills b JOIN filings f ON f.id = b.filing_id \
                 WHERE f.entry_number = ?1 ORDER BY b.carrier, b.house_bill",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([entry_number], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    fn entry_record(&mut self, entry_number: &str) -> Result<Option<EntryRecord>, StoreError> {
        let path = self.path.clone();
        let err = |e| sql_err(&path, e);
        let day = |s: Option<String>| {
            s.and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
        };
        let head = self
            .conn
            .prepare_cached(
                "SELECT e.filing_id, COALESCE(e.entry_ref, ''), e.ior_number, e.arrival_date, e.port_of_entry, e.conveyance, \
                 e.consignee_key, e.basis, e.entered_value_usd, COALESCE(e.duty_usd, ''), COALESCE(e.mpf_usd, ''), \
                 COALESCE(e.hmf_usd, ''), COALESCE(e.total_usd, ''), e.duty_status, e.rates_as_of, e.liquidation_date, \
                 e.protest_deadline FROM ledger_entries e JOIN filings f ON f.id = e.filing_id WHERE f.entry_number = ?1",
            )
            .map_err(err)?
            .query_row([entry_number], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    EntryRecord {
                        entry_ref: r.get(1)?,
                        ior_number: r.get(2)?,
                        arrival_date: day(r.get(3)?).unwrap_or_default(),
                        port_of_entry: r.get(4)?,
                        conveyance: r.get(5)?,
                        consignee_key: r.get(6)?,
                        basis: r.get(7)?,
                        entered_value_usd: r.get(8)?,
                        duty_usd: r.get(9)?,
                        mpf_usd: r.get(10)?,
                        hmf_usd: r.get(11)?,
                        total_usd: r.get(12)?,
                        duty_status: r.get(13)?,
                        rates_as_of: r.get(14)?,
                        liquidation_date: day(r.get(15)?),
                        protest_deadline: day(r.get(16)?),
                        lines: Vec::new(),
                    },
                ))
            })
            .optional()
            .map_err(err)?;
        let Some((id, mut record)) = head else {
            return Ok(None);
        };
        let mut lines = self
            .conn
            .prepare_cached(
                "SELECT line, source_file, record, carrier, house_bill, line_no, hts_code, country_of_origin, entered_value_usd, \
                 rate_column, rate, COALESCE(hts_duty_usd, ''), COALESCE(duty_usd, ''), duty_status FROM ledger_lines \
                 WHERE filing_id = ?1 ORDER BY line",
            )
            .map_err(err)?
            .query_map([id], |r| {
                Ok(LedgerLine {
                    line: r.get(0)?,
                    source_file: r.get(1)?,
                    record: r.get(2)?,
                    carrier: r.get(3)?,
                    house_bill: r.get(4)?,
                    line_no: r.get(5)?,
                    hts_code: r.get(6)?,
                    country_of_origin: r.get(7)?,
                    entered_value_usd: r.get(8)?,
                    rate_column: r.get(9)?,
                    rate: r.get(10)?,
                    hts_duty_usd: r.get(11)?,
                    ch99: Vec::new(),
                    duty_usd: r.get(12)?,
                    duty_status: r.get(13)?,
                })
            })
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(err)?;
        let ch99 = self
            .conn
            .prepare_cached("SELECT line, heading, amount_usd FROM ledger_ch99 WHERE filing_id = ?1 ORDER BY line, pos")
            .map_err(err)?
            .query_map([id], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(err)?;
        for (n, heading, amount) in ch99 {
            if let Some(l) = lines.iter_mut().find(|l| l.line == n) {
                l.ch99.push((heading, amount));
            }
        }
        record.lines = lines;
        Ok(Some(record))
    }

    fn entries_with_heading(
        &mut self,
        heading_digits: &[String],
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<HeadingMatch>, StoreError> {
        if heading_digits.is_empty() {
            return Ok(Vec::new());
        }
        // Prefixes as range scans on the index: digits >= p AND digits < p + ':'
        // (':' follows '9' in ASCII), so no LIKE escaping is needed.
        let ranges = (0..heading_digits.len()).map(|i| {
            format!(
                "(c.heading_digits >= ?{a} AND c.heading_digits < ?{b})",
                a = 3 + 2 * i,
                b = 4 + 2 * i
            )
        });
        let sql = format!(
            "SELECT f.entry_number, f.state, e.ior_number, e.arrival_date FROM filings f JOIN ledger_entries e ON e.filing_id = f.id \
             WHERE e.arrival_date >= ?1 AND e.arrival_date <= ?2 \
             AND EXISTS (SELECT 1 FROM ledger_ch99 c WHERE c.filing_id = f.id AND ({})) ORDER BY f.entry_number",
            ranges.collect::<Vec<_>>().join(" OR ")
        );
        let mut values: Vec<String> = vec![from.to_string(), to.to_string()];
        for p in heading_digits {
            values.push(p.clone());
            values.push(format!("{p}:"));
        }
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                let state: String = r.get(1)?;
                let date: String = r.get(3)?;
                Ok(HeadingMatch {
                    entry_number: r.get(0)?,
                    state: FilingState::parse(&state).unwrap_or(FilingState::Pending),
                    ior_number: r.get(2)?,
                    arrival_date: chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                        .unwrap_or_default(),
                })
            })
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    fn filings_in(&mut self, states: &[FilingState]) -> Result<Vec<Filing>, StoreError> {
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        self.query_filings(
            &format!("SELECT {FILING_COLUMNS} FROM filings WHERE state IN ({list}) ORDER BY id"),
            [],
        )
    }

    fn filings_of_run(&mut self, run_id: &str) -> Result<Vec<Filing>, StoreError> {
        self.query_filings(
            &format!("SELECT {FILING_COLUMNS} FROM filings WHERE run_id = ?1 ORDER BY id"),
            [run_id],
        )
    }

    fn events(&mut self, entry_number: &str) -> Result<Vec<FilingEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.at, e.from_state, e.to_state, e.message, e.applied FROM filing_events e JOIN filings f ON f.id = e.filing_id \
                 WHERE f.entry_number = ?1 ORDER BY e.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([entry_number], |r| {
                let from: Option<String> = r.get(1)?;
                let to: String = r.get(2)?;
                let applied: bool = r.get(4)?;
                let message: String = r.get(3)?;
                Ok(FilingEvent {
                    at: r
                        .get::<_, Option<String>>(0)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                    from: from.as_deref().and_then(FilingState::parse),
                    to: FilingState::parse(&to).unwrap_or(FilingState::Pending),
                    message: if applied {
                        message
                    } else {
                        format!("ignored (out of order): {message}")
                    },
                })
            })
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    fn record_not_filed(&mut self, run_id: &str, list: &[NotFiled]) -> Result<(), StoreError> {
        let at = ts(Utc::now());
        let path = self.path.clone();
        let err = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute("DELETE FROM not_filed WHERE run_id = ?1", [run_id])
            .map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO not_filed (run_id, pos, entry_ref, entry_type, carrier, house_bills, reason, recorded_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for (pos, n) in list.iter().enumerate() {
                insert
                    .execute(params![
                        run_id,
                        pos as i64,
                        n.entry_ref,
                        n.entry_type,
                        n.carrier,
                        n.house_bills.join(" "),
                        n.reason,
                        at
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn not_filed(
        &mut self,
        run_id: Option<&str>,
        house_bill: Option<&str>,
    ) -> Result<Vec<NotFiled>, StoreError> {
        // The bill is matched as a whole word of the space-separated list.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT run_id, entry_ref, entry_type, carrier, house_bills, reason, recorded_at FROM not_filed \
                 WHERE (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR instr(' ' || house_bills || ' ', ' ' || ?2 || ' ') > 0) \
                 ORDER BY run_id, pos",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![run_id, house_bill], |r| {
                Ok(NotFiled {
                    run_id: r.get(0)?,
                    entry_ref: r.get(1)?,
                    entry_type: r.get(2)?,
                    carrier: r.get(3)?,
                    house_bills: r
                        .get::<_, String>(4)?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    reason: r.get(5)?,
                    recorded_at: r
                        .get::<_, Option<String>>(6)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                })
            })
            .map_err(|e| sql_err(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| sql_err(&self.path, e))
    }

    fn not_filed_count(&mut self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM not_filed", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    fn filing_counts(&mut self) -> Result<Vec<(FilingState, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM filings GROUP BY state")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| sql_err(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, n) = row.map_err(|e| sql_err(&self.path, e))?;
            if let Some(s) = FilingState::parse(&s) {
                out.push((s, n as u64));
            }
        }
        Ok(out)
    }
}

/// One history row as plain values, in [`history_frame`]'s column order
/// (the arrival date fourth, the USD total fifth).
pub type HistoryRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<chrono::NaiveDate>,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// Builds a history frame from plain values (tests and tools).
pub fn history_frame(rows: &[HistoryRow<'_>]) -> DataFrame {
    let height = rows.len();
    let s = |f: for<'a> fn(&HistoryRow<'a>) -> &'a str| {
        rows.iter().map(f).map(str::to_owned).collect::<Vec<_>>()
    };
    let dates = Int32Chunked::from_iter_options(
        H_ARRIVAL_DATE.into(),
        rows.iter().map(|r| r.3.map(epoch_days)),
    )
    .into_date();
    let totals = Int128Chunked::from_iter_options(
        H_TOTAL_USD.into(),
        rows.iter().map(|r| money::parse_decimal(r.4).ok()),
    );
    DataFrame::new(
        height,
        vec![
            Column::new(H_CARRIER.into(), s(|r| r.0)),
            Column::new(H_HOUSE_BILL.into(), s(|r| r.1)),
            Column::new(H_CONSIGNEE_KEY.into(), s(|r| r.2)),
            dates.into_column(),
            totals.into_column(),
            Column::new(H_SOURCE_FILE.into(), s(|r| r.5)),
            Column::new(H_FILE_SHA256.into(), s(|r| r.6)),
            Column::new(H_RUN_ID.into(), s(|r| r.7)),
        ],
    )
    .expect("equal lengths")
}

#[allow(dead_code)]
fn date_of(days: Option<i32>) -> Option<chrono::NaiveDate> {
    days.and_then(from_epoch_days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn records_and_finds_by_key_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let rows = history_frame(&[
            (
                "DHLX",
                "HB1",
                "ann|1 main st|10001",
                day("2026-11-02"),
                "500.00",
                "a.csv",
                "sha-a",
                "run1",
            ),
            (
                "DHLX",
                "HB2",
                "ann|1 main st|10001",
                day("2026-11-02"),
                "350.25",
                "a.csv",
                "sha-a",
                "run1",
            ),
            (
                "UPSN",
                "HB1",
                "bob|2 elm st|90210",
                day("2026-11-03"),
                "10.00",
                "b.csv",
                "sha-b",
                "run1",
            ),
        ]);
        assert_eq!(store.record_shipments(&rows).unwrap(), 3);
        // A second sighting keeps the first.
        let again = history_frame(&[(
            "DHLX",
            "HB1",
            "other",
            day("2026-11-09"),
            "1.00",
            "c.csv",
            "sha-c",
            "run2",
        )]);
        assert_eq!(store.record_shipments(&again).unwrap(), 0);
        assert_eq!(store.shipment_count().unwrap(), 3);

        let keys =
            df! { H_CARRIER => ["DHLX", "DHLX", "FEDX"], H_HOUSE_BILL => ["HB1", "HB9", "HB1"] }
                .unwrap();
        let seen = store.seen_by_key(&keys).unwrap();
        assert_eq!(seen.height(), 1);
        assert_eq!(
            seen.column(H_SOURCE_FILE).unwrap().str().unwrap().get(0),
            Some("a.csv")
        );
        assert_eq!(
            seen.column(H_TOTAL_USD).unwrap().i128().unwrap().get(0),
            Some(500 * money::ONE)
        );
        // The file it came from comes back with it, for the engine to judge.
        assert_eq!(
            seen.column(H_FILE_SHA256).unwrap().str().unwrap().get(0),
            Some("sha-a")
        );

        let days = DataFrame::new(
            1,
            vec![
                Column::new(H_CONSIGNEE_KEY.into(), ["ann|1 main st|10001"]),
                Int32Chunked::from_iter_options(
                    H_ARRIVAL_DATE.into(),
                    [day("2026-11-02").map(epoch_days)].into_iter(),
                )
                .into_date()
                .into_column(),
            ],
        )
        .unwrap();
        let on_day = store.seen_on_days(&days).unwrap();
        assert_eq!(on_day.height(), 2);
        let dates: Vec<Option<i32>> = on_day
            .column(H_ARRIVAL_DATE)
            .unwrap()
            .as_materialized_series()
            .to_physical_repr()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert!(dates.iter().all(|d| date_of(*d) == day("2026-11-02")));
    }

    #[test]
    fn files_move_through_their_states_and_duplicates_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let Take::New(a) = store
            .take_file("j", "src", "inbox/a.csv", 10, None, "sha1", "/stage/a")
            .unwrap()
        else {
            panic!()
        };
        // Bytes only taken (not yet archived) do not make a later copy a duplicate.
        let Take::New(b) = store
            .take_file("j", "src", "inbox/b.csv", 10, None, "sha1", "/stage/b")
            .unwrap()
        else {
            panic!()
        };
        store.forget_file(b).unwrap();
        store
            .set_file_state(
                a,
                FileState::Archived,
                Some("raw/2026/11/25/a.csv"),
                None,
                None,
            )
            .unwrap();
        match store
            .take_file(
                "j",
                "src",
                "inbox/copy-of-a.csv",
                10,
                None,
                "sha1",
                "/stage/c",
            )
            .unwrap()
        {
            Take::Duplicate { of, .. } => assert_eq!((of.id, of.name.as_str()), (a, "a.csv")),
            other => panic!("{other:?}"),
        }
        // Another job may take the same bytes.
        assert!(matches!(
            store
                .take_file("other", "src", "inbox/a.csv", 10, None, "sha1", "/s")
                .unwrap(),
            Take::New(_)
        ));
        store
            .set_file_state(a, FileState::Evaluating, None, Some("run-1"), None)
            .unwrap();
        let archived = store.files_in("j", &[FileState::Evaluating]).unwrap();
        assert_eq!(archived.len(), 1);
        assert_eq!(archived[0].archive.as_deref(), Some("raw/2026/11/25/a.csv"));
        assert_eq!(store.files_of_run("run-1").unwrap().len(), 1);
        store
            .start_run(
                "run-1",
                "j",
                crate::state::types::RunKind::Scheduled,
                "data:runs/j/run-1",
            )
            .unwrap();
        store
            .finish_run("run-1", crate::state::types::RunStatus::Succeeded, "{}")
            .unwrap();
        assert_eq!(
            store.run("run-1").unwrap().unwrap().status,
            crate::state::types::RunStatus::Succeeded
        );
        store.job_started("j", Utc::now()).unwrap();
        store.job_finished("j", Utc::now(), None).unwrap();
        let st = store.job_state("j").unwrap();
        assert!(st.last_success.is_some() && st.last_error.is_none());
        store
            .job_finished("j", Utc::now(), Some("sftp down"))
            .unwrap();
        let st = store.job_state("j").unwrap();
        assert_eq!(st.last_error.as_deref(), Some("sftp down"));
        assert!(
            st.last_success.is_some(),
            "a failure keeps the last success"
        );
    }

    fn make(s: u64) -> Option<String> {
        crate::entry_number::EntryNumber::new("K9Q", s)
            .ok()
            .map(|n| n.to_string())
    }

    fn bills(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|h| ("DHLX".to_owned(), (*h).to_owned()))
            .collect()
    }

    /// A filing of `bills` (the first names it) with `record`.
    fn new_filing<'a>(
        bills: &'a [(String, String)],
        payload: &'a dyn Fn(&str) -> String,
        record: &'a EntryRecord,
    ) -> NewFiling<'a> {
        NewFiling {
            carrier: &bills[0].0,
            house_bill: &bills[0].1,
            bills,
            entry_type: if bills.len() > 1 { "11" } else { "86" },
            job: "j",
            run_id: "r1",
            transport: "http",
            batch: None,
            payload,
            record,
        }
    }

    #[test]
    fn the_ledger_allocates_each_number_once_and_files_each_shipment_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let payload = |n: &str| format!("payload for {n}");
        let record = EntryRecord::default();
        let (h1, h2) = (bills(&["H1"]), bills(&["H2"]));
        let first = {
            let mut store = SqliteStore::open(&path).unwrap();
            let a = store
                .record_intent("K9Q", 1000, &make, &new_filing(&h1, &payload, &record))
                .unwrap()
                .new_filing()
                .unwrap();
            assert_eq!(a.state, FilingState::Pending);
            assert_eq!(a.payload, format!("payload for {}", a.entry_number));
            let again = store
                .record_intent("K9Q", 1000, &make, &new_filing(&h1, &payload, &record))
                .unwrap();
            assert_eq!(
                again,
                Intent::AlreadyFiled(vec![a.entry_number.clone()]),
                "never twice"
            );
            a
        };
        // Reopened (a restart): the counter continues; no number is reused.
        let mut store = SqliteStore::open(&path).unwrap();
        let b = store
            .record_intent("K9Q", 1000, &make, &new_filing(&h2, &payload, &record))
            .unwrap()
            .new_filing()
            .unwrap();
        assert_eq!(Some(first.entry_number), make(1000));
        assert_eq!(Some(b.entry_number.clone()), make(1001));
        assert!(
            store
                .transition(&b.entry_number, FilingState::Submitted, None, None, "sent")
                .unwrap()
        );
        assert!(
            store
                .transition(
                    &b.entry_number,
                    FilingState::Accepted,
                    Some("02"),
                    Some("ACCEPTED"),
                    "SE90 02"
                )
                .unwrap()
        );
        assert!(
            store
                .transition(
                    &b.entry_number,
                    FilingState::Released,
                    Some("98"),
                    Some("RELEASED"),
                    "SO60 98"
                )
                .unwrap()
        );
        // A late duplicate of the acceptance changes nothing but is recorded.
        assert!(
            !store
                .transition(
                    &b.entry_number,
                    FilingState::Accepted,
                    Some("02"),
                    None,
                    "SE90 02 again"
                )
                .unwrap()
        );
        let f = store.filing(&b.entry_number).unwrap().unwrap();
        assert_eq!(
            (f.state, f.code.as_deref()),
            (FilingState::Released, Some("98"))
        );
        let events = store.events(&b.entry_number).unwrap();
        assert_eq!(events.len(), 5);
        assert!(events[4].message.starts_with("ignored (out of order)"));
        let counts = store.filing_counts().unwrap();
        assert!(
            counts.contains(&(FilingState::Pending, 1))
                && counts.contains(&(FilingState::Released, 1))
        );
    }

    #[test]
    fn a_house_bill_is_on_one_entry_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let payload = |n: &str| n.to_owned();
        let record = EntryRecord::default();
        let abc = bills(&["A", "B", "C"]);
        let e = store
            .record_intent("K9Q", 1, &make, &new_filing(&abc, &payload, &record))
            .unwrap()
            .new_filing()
            .unwrap();
        assert_eq!((e.house_bill.as_str(), e.entry_type.as_str()), ("A", "11"));
        assert_eq!(store.bills_of(&e.entry_number).unwrap(), abc);
        // Every bill finds its entry, not only the first.
        assert_eq!(
            store.filing_for("DHLX", "C").unwrap().unwrap().entry_number,
            e.entry_number
        );
        assert_eq!(store.filing_carriers("B").unwrap(), ["DHLX"]);
        // The same bills again, or some of them: already filed.
        let bc = bills(&["C", "B"]);
        assert_eq!(
            store
                .record_intent("K9Q", 1, &make, &new_filing(&bc, &payload, &record))
                .unwrap(),
            Intent::AlreadyFiled(vec![e.entry_number.clone()])
        );
        // A new bill together with a filed one: not filed at all.
        let cd = bills(&["C", "D"]);
        let outcome = store
            .record_intent("K9Q", 1, &make, &new_filing(&cd, &payload, &record))
            .unwrap();
        assert_eq!(
            outcome,
            Intent::Conflict(vec![("DHLX".into(), "C".into(), e.entry_number.clone())])
        );
        assert!(
            store.filing_for("DHLX", "D").unwrap().is_none(),
            "D was not filed with C"
        );
        assert_eq!(
            store.filing_counts().unwrap(),
            [(FilingState::Pending, 1)],
            "no number was used for it"
        );
        // The key itself refuses a second entry for a bill.
        let c = store.conn_mut();
        assert!(c.execute("INSERT INTO filing_bills (carrier, house_bill, filing_id) VALUES ('DHLX', 'B', 99)", []).is_err());
    }

    #[test]
    fn the_ledger_keeps_each_entrys_lines_duty_and_dates_and_finds_them_by_heading() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let payload = |n: &str| n.to_owned();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (liquidation, protest) = crate::state::ledger::estimated_dates(day("2025-05-01"));
        assert_eq!(
            (liquidation, protest),
            (day("2026-03-11"), day("2026-09-07")),
            "314 days, then 180"
        );
        let line = |n: u32, hb: &str, ch99: &[(&str, &str)]| LedgerLine {
            line: n,
            source_file: "a.csv".into(),
            record: n + 1,
            carrier: "DHLX".into(),
            house_bill: hb.into(),
            line_no: "1".into(),
            hts_code: "8518302000".into(),
            country_of_origin: "CN".into(),
            entered_value_usd: "250.00".into(),
            rate_column: "general".into(),
            rate: "Free".into(),
            hts_duty_usd: "0.00".into(),
            ch99: ch99
                .iter()
                .map(|(h, a)| ((*h).to_owned(), (*a).to_owned()))
                .collect(),
            duty_usd: "87.50".into(),
            duty_status: "known".into(),
        };
        let record = EntryRecord {
            entry_ref: "R000001".into(),
            ior_number: "12-345678900".into(),
            arrival_date: day("2025-05-01"),
            port_of_entry: "4701".into(),
            conveyance: "157-12345675".into(),
            consignee_key: "maria garcia|221 baker st|11201".into(),
            basis: "141.51".into(),
            entered_value_usd: "500.00".into(),
            duty_usd: "112.50".into(),
            mpf_usd: "2.62".into(),
            hmf_usd: "0.00".into(),
            total_usd: "115.12".into(),
            duty_status: "known".into(),
            rates_as_of: "hts.csv".into(),
            liquidation_date: Some(liquidation),
            protest_deadline: Some(protest),
            lines: vec![
                line(1, "A", &[("9903.88.03", "62.50"), ("9903.01.25", "25.00")]),
                line(2, "B", &[("9903.01.25", "25.00")]),
            ],
        };
        let ab = bills(&["A", "B"]);
        let e = store
            .record_intent("K9Q", 1, &make, &new_filing(&ab, &payload, &record))
            .unwrap()
            .new_filing()
            .unwrap();
        assert_eq!(
            store.entry_record(&e.entry_number).unwrap().unwrap(),
            record,
            "kept as given, lines and headings in order"
        );
        // Unknown amounts stay unknown (empty), never 0.
        let unknown = EntryRecord {
            entry_ref: "R000002".into(),
            duty_usd: String::new(),
            total_usd: String::new(),
            duty_status: "unknown".into(),
            lines: vec![],
            arrival_date: day("2025-06-01"),
            ..record.clone()
        };
        let c = bills(&["C"]);
        let u = store
            .record_intent("K9Q", 1, &make, &new_filing(&c, &payload, &unknown))
            .unwrap()
            .new_filing()
            .unwrap();
        let back = store.entry_record(&u.entry_number).unwrap().unwrap();
        assert_eq!(
            (
                back.duty_usd.as_str(),
                back.total_usd.as_str(),
                back.mpf_usd.as_str()
            ),
            ("", "", "2.62")
        );
        let nulls: i64 = store
            .conn_mut()
            .query_row(
                "SELECT count(*) FROM ledger_entries WHERE duty_usd IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(nulls, 1);

        // The run's entry R000001 again, whatever bills it names now: filed already.
        let d = bills(&["D"]);
        assert_eq!(
            store
                .record_intent("K9Q", 1, &make, &new_filing(&d, &payload, &record))
                .unwrap(),
            Intent::AlreadyFiled(vec![e.entry_number.clone()])
        );

        let find =
            |store: &mut SqliteStore, prefixes: &[&str], from: &str, to: &str| -> Vec<String> {
                let p: Vec<String> = prefixes.iter().map(|s| (*s).to_owned()).collect();
                store
                    .entries_with_heading(&p, day(from), day(to))
                    .unwrap()
                    .into_iter()
                    .map(|m| m.entry_number)
                    .collect()
            };
        assert_eq!(
            find(&mut store, &["990301"], "2025-05-01", "2025-05-01"),
            std::slice::from_ref(&e.entry_number),
            "once, though two lines match"
        );
        assert_eq!(
            find(&mut store, &["990388"], "2025-01-01", "2025-12-31"),
            std::slice::from_ref(&e.entry_number)
        );
        assert!(find(&mut store, &["990302"], "2025-01-01", "2025-12-31").is_empty());
        assert!(
            find(&mut store, &["990301"], "2025-05-02", "2025-12-31").is_empty(),
            "dates bound the period"
        );
        assert!(
            find(&mut store, &["9903012"], "2025-04-30", "2025-05-01").len() == 1,
            "any prefix of the digits"
        );
        assert!(find(&mut store, &[], "2025-01-01", "2025-12-31").is_empty());
        assert!(store.entry_record("K9Q-0000099-0").unwrap().is_none());
    }

    #[test]
    fn migrating_a_ledger_of_shipments_keeps_every_bill_on_its_filing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            // A store at schema 3 (before entries) with one filing.
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for step in &MIGRATIONS[..3] {
                step.apply(&tx).unwrap();
            }
            tx.commit().unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO filings (carrier, house_bill, entry_number, entry_type, job, run_id, transport, state, payload, created_at, updated_at) \
                 VALUES ('DHLX', 'OLD1', 'K9Q-0000001-4', '86', 'j', 'r0', 'http', 'released', '{}', 't', 't')",
                [],
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store
                .filing_for("DHLX", "OLD1")
                .unwrap()
                .unwrap()
                .entry_number,
            "K9Q-0000001-4"
        );
        let payload = |n: &str| n.to_owned();
        let record = EntryRecord::default();
        let old = bills(&["OLD1"]);
        assert_eq!(
            store
                .record_intent("K9Q", 5, &make, &new_filing(&old, &payload, &record))
                .unwrap(),
            Intent::AlreadyFiled(vec!["K9Q-0000001-4".into()])
        );
        assert!(
            store.entry_record("K9Q-0000001-4").unwrap().is_none(),
            "filed before the ledger kept entries"
        );
    }

    #[test]
    fn used_up_serials_fail_the_batch_and_record_nothing_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let payload = |n: &str| n.to_owned();
        let record = EntryRecord::default();
        let (h1, h2, h3) = (bills(&["H1"]), bills(&["H2"]), bills(&["H3"]));
        let last = store
            .record_intent("K9Q", 9_999_999, &make, &new_filing(&h1, &payload, &record))
            .unwrap()
            .new_filing()
            .unwrap();
        assert_eq!(last.entry_number, make(9_999_999).unwrap());
        let err = store
            .record_intents(
                "K9Q",
                9_999_999,
                &make,
                &[
                    new_filing(&h2, &payload, &record),
                    new_filing(&h3, &payload, &record),
                ],
            )
            .unwrap_err();
        assert!(err.to_string().contains("used up"), "{err}");
        assert!(
            store.filing_for("DHLX", "H2").unwrap().is_none(),
            "the failed batch left nothing behind"
        );
        assert_eq!(store.filing_counts().unwrap(), [(FilingState::Pending, 1)]);
    }

    #[test]
    fn reopening_keeps_data_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.db");
        {
            let mut store = SqliteStore::open(&path).unwrap();
            store
                .record_shipments(&history_frame(&[(
                    "A", "1", "k", None, "1.00", "f", "s", "r",
                )]))
                .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.shipment_count().unwrap(), 1);
    }

    #[test]
    fn entries_not_filed_are_kept_per_run_and_replaced_when_the_run_is_filed_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let nf = |run: &str, bills: &[&str], reason: &str| NotFiled {
            run_id: run.into(),
            entry_ref: "R000001".into(),
            entry_type: "11".into(),
            carrier: "ABCD".into(),
            house_bills: bills.iter().map(|b| b.to_string()).collect(),
            reason: reason.into(),
            recorded_at: Utc::now(),
        };
        store
            .record_not_filed(
                "r1",
                &[
                    nf("r1", &["HB1", "HB12"], "SE36 city has no value"),
                    nf("r1", &["HB2"], "no IOR"),
                ],
            )
            .unwrap();
        store
            .record_not_filed("r2", &[nf("r2", &["HB3"], "no IOR")])
            .unwrap();
        assert_eq!(store.not_filed_count().unwrap(), 3);
        let of_r1 = store.not_filed(Some("r1"), None).unwrap();
        assert_eq!(
            of_r1.iter().map(|n| n.reason.as_str()).collect::<Vec<_>>(),
            ["SE36 city has no value", "no IOR"]
        );
        assert_eq!(of_r1[0].state(), "not filed: SE36 city has no value");
        // A bill matches whole, not as a prefix of another.
        let hb1 = store.not_filed(None, Some("HB1")).unwrap();
        assert_eq!(hb1.len(), 1);
        assert_eq!(hb1[0].house_bills, ["HB1", "HB12"]);
        // Filing r1 again, with the city fixed: only what is still left out stays.
        store
            .record_not_filed("r1", &[nf("r1", &["HB2"], "no IOR")])
            .unwrap();
        assert!(store.not_filed(None, Some("HB1")).unwrap().is_empty());
        assert_eq!(store.not_filed_count().unwrap(), 2);
    }
}
