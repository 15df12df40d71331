//! Scratch databases for tests: each test gets a database of its own on the
//! PostgreSQL server named by `S321D_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when it ends.

use postgres::{Client, NoTls};

use super::PgStore;

/// The server tests use.
pub fn server_url() -> String {
    std::env::var("S321D_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test and dropped with this value.
pub struct ScratchDb {
    pub name: String,
    pub url: String,
}

impl ScratchDb {
    #[allow(clippy::new_without_default)]
    pub fn new() -> ScratchDb {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "s321d_t{}_{}_{n}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros() % 1_000_000_000
        );
        admin(|c| c.batch_execute(&format!("CREATE DATABASE {name}")));
        let base = server_url();
        let url = match base.rfind('/') {
            Some(i) if i > base.find("://").map_or(0, |s| s + 2) => format!("{}/{name}", &base[..i]),
            _ => format!("{base}/{name}"),
        };
        ScratchDb { name, url }
    }

    /// A new connection (migrated) to this database.
    pub fn open(&self) -> PgStore {
        PgStore::connect(&self.url, None).expect("connect to the scratch database")
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        admin(move |c| c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
    }
}

fn admin(f: impl FnOnce(&mut Client) -> Result<(), postgres::Error> + Send) {
    let url = server_url();
    let run = move || {
        let mut c = Client::connect(&url, NoTls).expect("connect to the test PostgreSQL server");
        f(&mut c).expect("administer a scratch database");
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(run).join().expect("scratch database thread"));
    } else {
        run();
    }
}
