//! The state store: every shipment s321d has seen (the "history" that D003,
//! L001 and L002 consult), behind one trait so the embedded SQLite store and a
//! shared PostgreSQL store are interchangeable.
//!
//! The interface speaks polars frames, not rows: a run hands over millions of
//! shipments at once, and a store must answer "which of these keys / days have
//! you seen" in one set-based query, reading only the keys and dates the run
//! needs. Frames use the `H_*` column names below.

pub mod audit;
pub mod audit_query;
pub mod cluster;
pub mod copy;
pub mod intake;
pub mod ledger;
pub mod outputs;
pub mod pg;
pub mod sqlite;
pub mod summary;
pub mod typed;
pub mod types;

use std::path::Path;

use polars::prelude::*;

/// Carrier code (`String`).
pub const H_CARRIER: &str = "carrier";
/// House bill (`String`).
pub const H_HOUSE_BILL: &str = "house_bill";
/// Consignee key (`String`).
pub const H_CONSIGNEE_KEY: &str = "consignee_key";
/// Arrival date (`Date`, nullable).
pub const H_ARRIVAL_DATE: &str = "arrival_date";
/// USD total, fixed point (`Int128`, see [`crate::money`]).
pub const H_TOTAL_USD: &str = "total_usd";
/// File name the shipment was first seen in (`String`).
pub const H_SOURCE_FILE: &str = "source_file";
/// SHA-256 of that file (`String`).
pub const H_FILE_SHA256: &str = "file_sha256";
/// Run that first saw it (`String`).
pub const H_RUN_ID: &str = "run_id";

/// Errors of a state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {location}: {source}")]
    Sqlite {
        location: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state store {location}: {source}")]
    Postgres {
        location: String,
        #[source]
        source: postgres::Error,
    },
    #[error("state store: {0}")]
    Frame(#[from] PolarsError),
    #[error("state store {location}: {message}")]
    Other { location: String, message: String },
}

/// What kind of failure a [`StoreError`] is, for callers that decide by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A uniqueness or other constraint refused the write, or a concurrent
    /// writer won (serialisation failure, deadlock): retry or re-read.
    Conflict,
    /// The store cannot be reached or is busy: retry later.
    Unavailable,
    /// The stored data is damaged or not a store at all: an operator must look.
    Corrupt,
    /// Anything else (a bug, a bad argument, a frame error).
    Other,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Sqlite { source, .. } => sqlite_kind(source),
            StoreError::Postgres { source, .. } => postgres_kind(source),
            StoreError::Frame(_) | StoreError::Other { .. } => ErrorKind::Other,
        }
    }
}

fn sqlite_kind(e: &rusqlite::Error) -> ErrorKind {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::ConstraintViolation) => ErrorKind::Conflict,
        Some(C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::SystemIoFailure) => {
            ErrorKind::Unavailable
        }
        Some(C::DatabaseCorrupt | C::NotADatabase) => ErrorKind::Corrupt,
        _ => ErrorKind::Other,
    }
}

fn postgres_kind(e: &postgres::Error) -> ErrorKind {
    use postgres::error::SqlState;
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection failed or closed.
        return ErrorKind::Unavailable;
    };
    let class = &code.code()[..2];
    if class == "23"
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        ErrorKind::Conflict
    } else if matches!(class, "08" | "53" | "57") {
        ErrorKind::Unavailable
    } else if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        ErrorKind::Corrupt
    } else {
        ErrorKind::Other
    }
}

/// Where shipments seen in earlier runs live.
pub trait HistoryStore: Send {
    /// Shipments with these (`carrier`, `house_bill`) keys, as first seen.
    /// Returns every `H_*` column. Every row comes back, whatever file it came
    /// from: which of them a run's occurrences may count (a file re-validated
    /// must not find itself) is the engine's decision, made per occurrence.
    fn seen_by_key(&mut self, keys: &DataFrame) -> Result<DataFrame, StoreError>;

    /// Shipments on these (`consignee_key`, `arrival_date`) days. Returns
    /// every `H_*` column.
    fn seen_on_days(&mut self, days: &DataFrame) -> Result<DataFrame, StoreError>;

    /// Records shipments seen for the first time (every `H_*` column). Keys
    /// already present keep their first sighting. Ends the critical section
    /// [`HistoryStore::lock_history`] began.
    fn record_shipments(&mut self, shipments: &DataFrame) -> Result<u64, StoreError>;

    /// Begins the history critical section: until `record_shipments` returns
    /// or the store is dropped (a process that dies included), no other run,
    /// in this process or another, gets past its own `lock_history`. A run
    /// reads a consignee's day and records its own shipments as one step, or
    /// two concurrent runs would both see room under the daily limit.
    fn lock_history(&mut self) -> Result<(), StoreError>;

    /// Number of shipments held, for summaries and health checks.
    fn shipment_count(&mut self) -> Result<u64, StoreError>;
}

/// The whole state seam: every question and write s321d asks of its store,
/// implemented by the embedded SQLite store and the shared PostgreSQL store.
/// `App::db` hands one out; engine runs open their own with [`open`].
pub trait StateStore:
    HistoryStore
    + intake::IntakeStore
    + ledger::LedgerStore
    + summary::SummaryStore
    + typed::TypedStore
    + outputs::RunQueries
    + audit_query::AuditStore
    + cluster::ClusterStore
    + Send
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Where it is, for messages (a file, or `postgres host:port/db`; never a password).
    fn describe(&self) -> String;
}

/// The closed set of backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl StateStore for sqlite::SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
    fn describe(&self) -> String {
        self.location().display().to_string()
    }
}

/// Opens (creating and migrating if needed) the store `location` names.
pub fn open(
    location: &crate::config::state::StateLocation,
) -> Result<Box<dyn StateStore>, StoreError> {
    use crate::config::state::StateLocation;
    Ok(match location {
        StateLocation::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
        StateLocation::Postgres { url, password } => {
            Box::new(pg::PgStore::connect(url, password.as_deref())?)
        }
    })
}

/// Probes the store on a connection of its own, waiting at most `wait`
/// (readiness): SQLite takes and drops the write lock; PostgreSQL connects and
/// asks whether the server accepts writes (a standby does not).
pub fn probe(
    location: &crate::config::state::StateLocation,
    wait: std::time::Duration,
) -> sqlite::Probe {
    use crate::config::state::StateLocation;
    match location {
        StateLocation::Sqlite(path) => sqlite::probe(path, wait),
        StateLocation::Postgres { url, password } => pg::probe(url, password.as_deref(), wait),
    }
}

/// Opens the embedded store at `<data_dir>/state.db`.
pub fn open_sqlite(data_dir: &Path) -> Result<sqlite::SqliteStore, StoreError> {
    sqlite::SqliteStore::open(&data_dir.join("state.db"))
}

/// An empty frame with the history schema.
pub fn empty_history() -> DataFrame {
    DataFrame::new(
        0,
        vec![
            Column::new_empty(H_CARRIER.into(), &DataType::String),
            Column::new_empty(H_HOUSE_BILL.into(), &DataType::String),
            Column::new_empty(H_CONSIGNEE_KEY.into(), &DataType::String),
            Column::new_empty(H_ARRIVAL_DATE.into(), &DataType::Date),
            Column::new_empty(H_TOTAL_USD.into(), &DataType::Int128),
            Column::new_empty(H_SOURCE_FILE.into(), &DataType::String),
            Column::new_empty(H_FILE_SHA256.into(), &DataType::String),
            Column::new_empty(H_RUN_ID.into(), &DataType::String),
        ],
    )
    .expect("empty columns")
}
