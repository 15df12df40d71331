//! The shared state store: one PostgreSQL database that several replicas use
//! at once (scale-out section 4).
//!
//! Driver: `postgres`, the blocking client of the `tokio-postgres` project
//! (the async driver runs underneath, on a runtime of its own). The state seam
//! is synchronous because SQLite, the engine and intake are: one blocking API
//! for both backends keeps every caller unchanged. A call made on a thread that
//! is inside a tokio runtime is run on a scoped thread of its own, because the
//! blocking client must not block a runtime's thread on its own runtime.
//!
//! Column encodings are SQLite's (timestamps as ISO 8601 text, money as exact
//! decimal text, dates as days since 1970-01-01), so `s321d state migrate`
//! copies rows verbatim and both backends answer byte for byte alike.
//! Concurrency: every write that SQLite serialised by its single writer takes
//! a row lock or a transaction-scoped advisory lock here (see each module).
//!
//! - [`history`]: shipments seen ([`super::HistoryStore`]); the history
//!   critical section is a session advisory lock.
//! - [`intake`]: files, runs, job state ([`super::intake::IntakeStore`]).
//! - [`typed`]: run duties, exception reports, aggregates, cursors.
//! - [`ledger`]: filings, entry numbers, entries ([`super::ledger::LedgerStore`]).
//! - [`summary`]: entry summaries ([`super::summary::SummaryStore`]).
//! - [`outputs`]: what reports ask about runs ([`super::outputs::RunQueries`]).
//! - [`audit`]: the audit chain, one head row ([`super::audit_query::AuditStore`]).

pub mod audit;
pub mod cluster;
pub mod history;
pub mod intake;
pub mod ledger;
pub mod migrations;
pub mod outputs;
pub mod summary;
pub mod typed;

pub mod testing;

use std::cell::RefCell;

use postgres::{Client, NoTls};

use super::StoreError;

/// Advisory lock keys (`pg_advisory_lock`): one namespace per purpose.
pub(super) mod lock_keys {
    /// Migrations: replicas starting at once migrate one at a time.
    pub const MIGRATE: i64 = 0x5332_1d00_0001;
    /// The history critical section (`HistoryStore::lock_history`).
    pub const HISTORY: i64 = 0x5332_1d00_0002;
}

/// The PostgreSQL state store: one connection, like one SQLite connection.
pub struct PgStore {
    /// `None` only while being dropped (see `Drop`).
    client: RefCell<Option<Client>>,
    /// `host:port/db` for messages; never the password.
    location: String,
    /// Whether this session holds the history advisory lock.
    pub(super) history_locked: bool,
    /// Named leases this session holds (`cluster`).
    pub(super) leases: std::collections::BTreeSet<String>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with `password` if
    /// given, and migrates the schema.
    pub fn connect(url: &str, password: Option<&str>) -> Result<PgStore, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Other {
            location: redact(url),
            message: format!("not a PostgreSQL URL: {e}"),
        })?;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_application_name().is_none() {
            config.application_name("s321d");
        }
        config.connect_timeout(std::time::Duration::from_secs(10));
        // A replica's host that vanishes must not hold its leases for hours:
        // keepalives make the client notice a dead server (the server's own
        // tcp_keepalives_* settings free a dead client's locks; docs/scale-out.md).
        config.keepalives(true);
        config.keepalives_idle(std::time::Duration::from_secs(30));
        let location = describe(&config);
        let client = outside_runtime(|| config.connect(NoTls)).map_err(|e| pg_err(&location, e))?;
        let store = PgStore {
            client: RefCell::new(Some(client)),
            location,
            history_locked: false,
            leases: Default::default(),
        };
        migrations::migrate(&store)?;
        Ok(store)
    }

    /// `host:port/db`, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `f` on the connection (see the module comment on runtimes).
    pub(super) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError> {
        let mut guard = self.client.borrow_mut();
        let client: &mut Client = guard
            .as_mut()
            .expect("the client lives as long as the store");
        outside_runtime(|| f(client)).map_err(|e| pg_err(&self.location, e))
    }

    /// An error of this store that is not the driver's.
    pub(super) fn other(&self, message: impl Into<String>) -> StoreError {
        StoreError::Other {
            location: self.location.clone(),
            message: message.into(),
        }
    }
}

impl super::StateStore for PgStore {
    fn backend(&self) -> super::Backend {
        super::Backend::Postgres
    }
    fn describe(&self) -> String {
        self.location.clone()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the client blocks on its own runtime: never on a tokio thread.
        if let Some(client) = self.client.get_mut().take() {
            outside_runtime(move || drop(client));
        }
    }
}

/// The closed sets stored as text, read back; text no s321d wrote is an error.
macro_rules! closed_set_from_sql {
    ($($t:ty),*) => {$(
        impl<'a> postgres::types::FromSql<'a> for $t {
            fn from_sql(
                ty: &postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                let s = <&str as postgres::types::FromSql>::from_sql(ty, raw)?;
                <$t>::parse(s).ok_or_else(|| format!("{s:?} is not a {}", stringify!($t)).into())
            }

            fn accepts(ty: &postgres::types::Type) -> bool {
                <&str as postgres::types::FromSql>::accepts(ty)
            }
        }
    )*};
}
closed_set_from_sql!(super::types::RunKind, super::types::RunStatus);

/// Readiness probe: a connection of its own (never the runs'), at most
/// `wait` to connect, and the question whether this server takes writes.
pub fn probe(url: &str, password: Option<&str>, wait: std::time::Duration) -> super::sqlite::Probe {
    use super::sqlite::Probe;
    let mut config: postgres::Config = match url.parse() {
        Ok(c) => c,
        Err(e) => return Probe::Unreachable(format!("{}: {e}", redact(url))),
    };
    if let Some(p) = password {
        config.password(p);
    }
    config.connect_timeout(wait.max(std::time::Duration::from_millis(500)));
    let location = describe(&config);
    outside_runtime(|| {
        let mut c = match config.connect(NoTls) {
            Ok(c) => c,
            Err(e) => return Probe::Unreachable(format!("{location}: {e}")),
        };
        match c.query_one("SELECT pg_is_in_recovery()", &[]) {
            Ok(r) if r.get::<_, bool>(0) => {
                Probe::Unreachable(format!("{location}: a read-only standby (in recovery)"))
            }
            Ok(_) => Probe::Writable,
            Err(e) => Probe::Unreachable(format!("{location}: {e}")),
        }
    })
}

/// Runs `f` here, or on a scoped thread when this thread is inside a tokio
/// runtime (the blocking client would panic there).
fn outside_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

pub(super) fn pg_err(location: &str, source: postgres::Error) -> StoreError {
    StoreError::Postgres {
        location: location.to_owned(),
        source,
    }
}

/// `host:port/db` of a parsed config.
fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgres {host}:{port}/{db}")
}

/// A URL for a message: everything between `://` and `@` dropped.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_in_a_message_never_carries_its_userinfo() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/s"),
            "postgres://db:5432/s"
        );
        assert_eq!(redact("postgres://db/s"), "postgres://db/s");
    }

    #[test]
    fn a_store_connects_and_migrates_once() {
        let db = testing::ScratchDb::new();
        let a = db.open();
        let v1 = migrations::version(&a).unwrap();
        drop(a);
        let b = db.open();
        assert_eq!(migrations::version(&b).unwrap(), v1);
        assert_eq!(v1, migrations::MIGRATIONS.len() as i64);
    }
}
