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
            Some(i) if i > base.find("://").map_or(0, |s| s + 2) => {
                format!("{}/{name}", &base[..i])
            }
            _ => format!("{base}/{name}"),
        };
        ScratchDb { name, url }
    }

    /// A new connection (migrated) to this database.
    pub fn open(&self) -> PgStore {
        PgStore::connect(&self.url, password().as_deref()).expect("connect to the scratch database")
    }

    /// Runs `f` on a plain connection to this database (not a store's).
    pub fn admin<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> T {
        on_plain_connection(&self.url, f)
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        admin(move |c| c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
    }
}

/// `PGPASSWORD`, which CI sets when it had to install PostgreSQL itself.
fn password() -> Option<String> {
    std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty())
}

fn admin(f: impl FnOnce(&mut Client) -> Result<(), postgres::Error> + Send) {
    on_plain_connection(&server_url(), f)
}

fn on_plain_connection<T: Send>(
    url: &str,
    f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
) -> T {
    let run = move || {
        let mut config: postgres::Config = url.parse().expect("a PostgreSQL URL");
        if let Some(p) = password() {
            config.password(p);
        }
        let mut c = config
            .connect(NoTls)
            .expect("connect to the test PostgreSQL server");
        f(&mut c).expect("a statement on the test PostgreSQL server")
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(run).join().expect("scratch database thread"))
    } else {
        run()
    }
}
