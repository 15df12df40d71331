//! Shipments seen ([`HistoryStore`]) on PostgreSQL.
//!
//! A run's keys and days go to the server as arrays (`unnest`) and are joined
//! in one statement per chunk, as SQLite joins its temporary table: only the
//! rows the run asks about are read. Answers come in the order SQLite's join
//! gives them (the run's keys in order; on a day, by carrier and house bill).
//!
//! The critical section is a session advisory lock on [`lock_keys::HISTORY`]:
//! held across calls (it spans the engine's rules, as SQLite's flock does),
//! released by `record_shipments`, or by the server when the connection closes
//! (a process that dies included).

use polars::prelude::*;

use super::{PgStore, lock_keys};
use crate::money;
use crate::state::*;

/// Keys or rows per statement: bounds one statement's arrays.
const CHUNK: usize = 50_000;

const COLUMNS: &str = "s.carrier, s.house_bill, s.consignee_key, s.arrival_date, s.total_usd, s.source_file, s.file_sha256, s.run_id";

/// The history columns as read, in [`COLUMNS`] order.
#[derive(Default)]
struct Rows {
    carrier: Vec<String>,
    house_bill: Vec<String>,
    consignee_key: Vec<String>,
    arrival: Vec<Option<i32>>,
    total: Vec<Option<i128>>,
    source_file: Vec<String>,
    sha: Vec<String>,
    run: Vec<String>,
}

impl Rows {
    fn push(&mut self, r: &postgres::Row) -> Result<(), postgres::Error> {
        self.carrier.push(r.try_get(0)?);
        self.house_bill.push(r.try_get(1)?);
        self.consignee_key.push(r.try_get(2)?);
        let day: Option<i64> = r.try_get(3)?;
        self.arrival.push(day.map(|d| d as i32));
        let total: String = r.try_get(4)?;
        self.total.push(money::parse_decimal(&total).ok());
        self.source_file.push(r.try_get(5)?);
        self.sha.push(r.try_get(6)?);
        self.run.push(r.try_get(7)?);
        Ok(())
    }

    /// The frame SQLite's `select_history` builds.
    fn frame(self) -> Result<DataFrame, StoreError> {
        let height = self.carrier.len();
        let dates =
            Int32Chunked::from_iter_options(H_ARRIVAL_DATE.into(), self.arrival.into_iter())
                .into_date();
        Ok(DataFrame::new(
            height,
            vec![
                Column::new(H_CARRIER.into(), self.carrier),
                Column::new(H_HOUSE_BILL.into(), self.house_bill),
                Column::new(H_CONSIGNEE_KEY.into(), self.consignee_key),
                dates.into_column(),
                Int128Chunked::from_iter_options(H_TOTAL_USD.into(), self.total.into_iter())
                    .into_column(),
                Column::new(H_SOURCE_FILE.into(), self.source_file),
                Column::new(H_FILE_SHA256.into(), self.sha),
                Column::new(H_RUN_ID.into(), self.run),
            ],
        )?)
    }
}

/// A frame's `Date` column as days since 1970-01-01.
fn days_of(frame: &DataFrame, name: &str) -> Result<Vec<Option<i64>>, StoreError> {
    let dates = frame
        .column(name)?
        .as_materialized_series()
        .to_physical_repr()
        .into_owned();
    Ok(dates.i32()?.iter().map(|d| d.map(i64::from)).collect())
}

/// A frame's string column, NULL as "" (as SQLite binds it).
fn texts(frame: &DataFrame, name: &str) -> Result<Vec<String>, StoreError> {
    Ok(frame
        .column(name)?
        .str()?
        .iter()
        .map(|s| s.unwrap_or("").to_owned())
        .collect())
}

impl HistoryStore for PgStore {
    fn seen_by_key(&mut self, keys: &DataFrame) -> Result<DataFrame, StoreError> {
        if keys.height() == 0 {
            return Ok(empty_history());
        }
        let carriers = texts(keys, H_CARRIER)?;
        let bills = texts(keys, H_HOUSE_BILL)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (carrier, house_bill, ord) \
             JOIN shipments s ON s.carrier = k.carrier AND s.house_bill = k.house_bill ORDER BY k.ord"
        );
        let rows = self.with(|c| {
            let stmt = c.prepare(&sql)?;
            let mut rows = Rows::default();
            for (cs, bs) in carriers.chunks(CHUNK).zip(bills.chunks(CHUNK)) {
                for r in c.query(&stmt, &[&cs, &bs])? {
                    rows.push(&r)?;
                }
            }
            Ok(rows)
        })?;
        rows.frame()
    }

    fn seen_on_days(&mut self, days: &DataFrame) -> Result<DataFrame, StoreError> {
        if days.height() == 0 {
            return Ok(empty_history());
        }
        let dates = days_of(days, H_ARRIVAL_DATE)?;
        let keys = days.column(H_CONSIGNEE_KEY)?.str()?;
        // A row without a day or a consignee matches nothing (SQLite skips it).
        let (dates, keys): (Vec<i64>, Vec<String>) = dates
            .into_iter()
            .zip(keys.iter())
            .filter_map(|(d, k)| Some((d?, k?.to_owned())))
            .unzip();
        if dates.is_empty() {
            return Ok(empty_history());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS d (arrival_date, consignee_key, ord) \
             JOIN shipments s ON s.arrival_date = d.arrival_date AND s.consignee_key = d.consignee_key \
             ORDER BY d.ord, s.carrier, s.house_bill"
        );
        let rows = self.with(|c| {
            let stmt = c.prepare(&sql)?;
            let mut rows = Rows::default();
            for (ds, ks) in dates.chunks(CHUNK).zip(keys.chunks(CHUNK)) {
                for r in c.query(&stmt, &[&ds, &ks])? {
                    rows.push(&r)?;
                }
            }
            Ok(rows)
        })?;
        rows.frame()
    }

    fn record_shipments(&mut self, shipments: &DataFrame) -> Result<u64, StoreError> {
        let carrier = texts(shipments, H_CARRIER)?;
        let bill = texts(shipments, H_HOUSE_BILL)?;
        let ckey = texts(shipments, H_CONSIGNEE_KEY)?;
        let dates = days_of(shipments, H_ARRIVAL_DATE)?;
        let total: Vec<String> = shipments
            .column(H_TOTAL_USD)?
            .i128()?
            .iter()
            .map(|t| money::format(t.unwrap_or(0)))
            .collect();
        let file = texts(shipments, H_SOURCE_FILE)?;
        let sha = texts(shipments, H_FILE_SHA256)?;
        let run = texts(shipments, H_RUN_ID)?;
        let n = shipments.height();
        // In frame order, so that of two rows with one key the first is kept
        // (SQLite's INSERT OR IGNORE, row by row); a key already held keeps
        // its first sighting. Writers are in the history section; ON CONFLICT
        // keeps one row per key even for one that is not.
        let inserted = self.with(|c| {
            let mut tx = c.transaction()?;
            let stmt = tx.prepare(
                "INSERT INTO shipments (carrier, house_bill, consignee_key, arrival_date, total_usd, source_file, file_sha256, run_id) \
                 SELECT carrier, house_bill, consignee_key, arrival_date, total_usd, source_file, file_sha256, run_id \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[]) \
                 WITH ORDINALITY AS n (carrier, house_bill, consignee_key, arrival_date, total_usd, source_file, file_sha256, run_id, ord) \
                 ORDER BY ord ON CONFLICT (carrier, house_bill) DO NOTHING",
            )?;
            let mut inserted = 0;
            let mut at = 0;
            while at < n {
                let to = (at + CHUNK).min(n);
                inserted += tx.execute(
                    &stmt,
                    &[
                        &&carrier[at..to],
                        &&bill[at..to],
                        &&ckey[at..to],
                        &&dates[at..to],
                        &&total[at..to],
                        &&file[at..to],
                        &&sha[at..to],
                        &&run[at..to],
                    ],
                )?;
                at = to;
            }
            tx.commit()?;
            Ok(inserted)
        })?;
        // The section ends with the write that finished it.
        if self.history_locked {
            self.with(|c| c.execute("SELECT pg_advisory_unlock($1)", &[&lock_keys::HISTORY]))?;
            self.history_locked = false;
        }
        Ok(inserted)
    }

    fn lock_history(&mut self) -> Result<(), StoreError> {
        if self.history_locked {
            return Ok(());
        }
        // A session lock, not a transaction's: the section spans the engine's
        // rules, and a transaction held that long would pin old row versions.
        // The server frees it when this connection closes.
        self.with(|c| c.execute("SELECT pg_advisory_lock($1)", &[&lock_keys::HISTORY]))?;
        self.history_locked = true;
        Ok(())
    }

    fn shipment_count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self.with(|c| {
            c.query_one("SELECT count(*) FROM shipments", &[])?
                .try_get(0)
        })?;
        Ok(n as u64)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use chrono::NaiveDate;
    use postgres::{Client, NoTls};

    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::sqlite::{SqliteStore, history_frame};

    fn day(s: &str) -> Option<NaiveDate> {
        Some(s.parse().unwrap())
    }

    /// A store on `url` opened as `ScratchDb::open` does, for other threads.
    pub(in super::super) fn connect(url: &str) -> PgStore {
        let password = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty());
        PgStore::connect(url, password.as_deref()).unwrap()
    }

    /// A plain connection to the scratch database (not a store's).
    pub(in super::super) fn raw(db: &ScratchDb) -> Client {
        let mut config: postgres::Config = db.url.parse().unwrap();
        if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            config.password(p);
        }
        config.connect(NoTls).unwrap()
    }

    /// Advisory locks in this database: (granted, waiting).
    pub(in super::super) fn advisory_locks(raw: &mut Client) -> (i64, i64) {
        let r = raw
            .query_one(
                "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks \
                 WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    }

    /// Returns once a session waits for an advisory lock in this database.
    pub(in super::super) fn until_someone_waits(raw: &mut Client) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while advisory_locks(raw).1 == 0 {
            assert!(Instant::now() < deadline, "no session waited for the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn bills(frame: &DataFrame) -> Vec<String> {
        frame
            .column(H_HOUSE_BILL)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|b| b.unwrap_or_default().to_owned())
            .collect()
    }

    fn history() -> DataFrame {
        history_frame(&[
            (
                "DHLX",
                "HB2",
                "ann",
                day("2026-11-02"),
                "350.25",
                "a.csv",
                "sha-a",
                "run1",
            ),
            (
                "DHLX",
                "HB1",
                "ann",
                day("2026-11-02"),
                "500.00",
                "a.csv",
                "sha-a",
                "run1",
            ),
            (
                "UPSN",
                "HB1",
                "bob",
                day("2026-11-03"),
                "-10.5",
                "b.csv",
                "sha-b",
                "run1",
            ),
            (
                "FEDX", "HB7", "cy", None, "0.000001", "b.csv", "sha-b", "run1",
            ),
            // The same key twice in one frame: the first row is kept.
            (
                "DHLX",
                "HB1",
                "zed",
                day("2026-12-01"),
                "1.00",
                "c.csv",
                "sha-c",
                "run1",
            ),
        ])
    }

    #[test]
    fn records_the_first_sighting_and_finds_by_key_and_day() {
        let db = ScratchDb::new();
        let mut s = db.open();
        assert_eq!(
            s.seen_by_key(&history()).unwrap().height(),
            0,
            "nothing yet"
        );
        assert_eq!(s.record_shipments(&history()).unwrap(), 4);
        let again = history_frame(&[
            (
                "DHLX",
                "HB1",
                "other",
                day("2026-11-09"),
                "1.00",
                "c.csv",
                "sha-c",
                "run2",
            ),
            (
                "DHLX",
                "HB3",
                "ann",
                day("2026-11-02"),
                "2.00",
                "c.csv",
                "sha-c",
                "run2",
            ),
        ]);
        assert_eq!(s.record_shipments(&again).unwrap(), 1, "only HB3 is new");
        assert_eq!(s.shipment_count().unwrap(), 5);

        let keys = df! {
            H_CARRIER => ["UPSN", "DHLX", "FEDX", "DHLX"],
            H_HOUSE_BILL => ["HB1", "HB1", "HB1", "HB9"],
        }
        .unwrap();
        let seen = s.seen_by_key(&keys).unwrap();
        assert_eq!(bills(&seen), ["HB1", "HB1"], "the keys' order");
        let first = seen.slice(1, 1);
        let text = |c: &str| {
            first
                .column(c)
                .unwrap()
                .str()
                .unwrap()
                .get(0)
                .map(str::to_owned)
        };
        assert_eq!(
            text(H_CONSIGNEE_KEY).as_deref(),
            Some("ann"),
            "first sighting kept"
        );
        assert_eq!(text(H_SOURCE_FILE).as_deref(), Some("a.csv"));
        assert_eq!(text(H_RUN_ID).as_deref(), Some("run1"));
        assert_eq!(
            first.column(H_TOTAL_USD).unwrap().i128().unwrap().get(0),
            Some(500 * money::ONE)
        );
        assert_eq!(
            seen.column(H_TOTAL_USD).unwrap().i128().unwrap().get(0),
            money::parse_decimal("-10.5").ok()
        );

        // Rows without a consignee or a day match nothing.
        let days = DataFrame::new(
            4,
            vec![
                Column::new(
                    H_CONSIGNEE_KEY.into(),
                    [Some("ann"), Some("bob"), None, Some("cy")],
                ),
                Int32Chunked::from_iter_options(
                    H_ARRIVAL_DATE.into(),
                    [
                        day("2026-11-02"),
                        day("2026-11-04"),
                        day("2026-11-02"),
                        None,
                    ]
                    .into_iter()
                    .map(|d| d.map(crate::dates::epoch_days)),
                )
                .into_date()
                .into_column(),
            ],
        )
        .unwrap();
        let on_day = s.seen_on_days(&days).unwrap();
        assert_eq!(
            bills(&on_day),
            ["HB1", "HB2", "HB3"],
            "by carrier and bill on a day"
        );
        assert_eq!(on_day.schema(), empty_history().schema());
        assert_eq!(
            on_day
                .column(H_ARRIVAL_DATE)
                .unwrap()
                .get(0)
                .unwrap()
                .to_string(),
            "2026-11-02"
        );
    }

    #[test]
    fn answers_frame_for_frame_as_sqlite_does() {
        let db = ScratchDb::new();
        let mut pg = db.open();
        let dir = tempfile::tempdir().unwrap();
        let mut lite = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let keys = history_frame(&[
            ("DHLX", "HB1", "", None, "0", "", "", ""),
            ("FEDX", "HB7", "", None, "0", "", "", ""),
            ("DHLX", "HB1", "", None, "0", "", "", ""),
            ("NONE", "HB1", "", None, "0", "", "", ""),
            ("UPSN", "HB1", "", None, "0", "", "", ""),
        ]);
        let days = history_frame(&[
            ("", "", "bob", day("2026-11-03"), "0", "", "", ""),
            ("", "", "ann", day("2026-11-02"), "0", "", "", ""),
            ("", "", "cy", None, "0", "", "", ""),
            ("", "", "bob", day("2026-11-03"), "0", "", "", ""),
        ]);
        for store in [&mut pg as &mut dyn HistoryStore, &mut lite] {
            store.lock_history().unwrap();
            assert_eq!(store.record_shipments(&history()).unwrap(), 4);
        }
        let by_key = (
            pg.seen_by_key(&keys).unwrap(),
            lite.seen_by_key(&keys).unwrap(),
        );
        assert_eq!(by_key.0.height(), 4);
        assert!(by_key.0.equals_missing(&by_key.1), "{by_key:?}");
        let on_days = (
            pg.seen_on_days(&days).unwrap(),
            lite.seen_on_days(&days).unwrap(),
        );
        assert_eq!(on_days.0.height(), 4, "a day asked twice answers twice");
        assert!(on_days.0.equals_missing(&on_days.1), "{on_days:?}");
        let none = (
            pg.seen_by_key(&keys.slice(0, 0)).unwrap(),
            lite.seen_by_key(&keys.slice(0, 0)).unwrap(),
        );
        assert!(none.0.equals_missing(&none.1));
    }

    #[test]
    fn a_second_connection_waits_in_lock_history_until_the_first_records() {
        let db = ScratchDb::new();
        let mut raw = raw(&db);
        let mut a = db.open();
        let mine = history_frame(&[
            (
                "CARR",
                "A1",
                "c1",
                day("2026-03-01"),
                "500.00",
                "a.csv",
                "sha-a",
                "run-a",
            ),
            (
                "CARR",
                "A2",
                "c1",
                day("2026-03-01"),
                "300.00",
                "a.csv",
                "sha-a",
                "run-a",
            ),
        ]);
        a.lock_history().unwrap();
        // Again in the same section: still one lock, which one record ends.
        a.lock_history().unwrap();
        assert_eq!(advisory_locks(&mut raw), (1, 0));
        assert_eq!(a.seen_on_days(&mine).unwrap().height(), 0);

        let entered = Arc::new(AtomicBool::new(false));
        let b = std::thread::spawn({
            // One row per day asked about (each row asks again).
            let probe = mine.slice(0, 1);
            let (url, entered) = (db.url.clone(), entered.clone());
            move || {
                let mut b = connect(&url);
                b.lock_history().unwrap();
                entered.store(true, Ordering::SeqCst);
                let seen = b.seen_on_days(&probe).unwrap();
                b.record_shipments(&history_frame(&[])).unwrap();
                seen
            }
        });
        until_someone_waits(&mut raw);
        assert!(
            !entered.load(Ordering::SeqCst),
            "B entered the history section while A held it"
        );
        assert_eq!(a.record_shipments(&mine).unwrap(), 2);
        let seen = b.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert_eq!(bills(&seen), ["A1", "A2"], "B sees A's shipments");
        assert_eq!(advisory_locks(&mut raw), (0, 0), "both sections ended");
    }

    #[test]
    fn a_connection_that_closes_releases_the_history_lock() {
        let db = ScratchDb::new();
        let mut raw = raw(&db);
        let mut a = db.open();
        a.lock_history().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let url = db.url.clone();
        std::thread::spawn(move || {
            let mut b = connect(&url);
            b.lock_history().unwrap();
            tx.send(b.history_locked).unwrap();
        });
        until_someone_waits(&mut raw);
        assert!(rx.try_recv().is_err(), "B entered while A held the section");
        // A dies without recording.
        drop(a);
        assert!(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("B entered once A's connection closed")
        );
    }
}
