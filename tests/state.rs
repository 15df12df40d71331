//! The state store conformance suite (scale-out design, section 6.1): each
//! case asserts one guarantee of the store against a real database, with
//! several handles on it from several OS threads where the guarantee is about
//! concurrency (to SQLite, that is what two processes or replicas look like).
//!
//! Every case opens its handles through [`open`] and nothing else: the one
//! place a second backend (PostgreSQL, `Store`) joins.
//!
//! Cases that join when PostgreSQL/replicas land (they need what the store
//! does not have yet):
//! - `audit_is_append_only`: needs the test-only `Store::execute_raw`.
//! - `a_path_is_claimed_once`: needs file claims (`claim_file`).
//! - `duplicate_by_bytes`, its "taken at once" half: two names with the same
//!   bytes taken before either is archived are two `New` today (the duplicate
//!   check skips `taken` rows, which a crash may have left); `Busy` comes with
//!   claims and leases. The half that holds today is below; the other is
//!   `duplicate_by_bytes_taken_at_once`, ignored until then.
//! - `leases_expire_and_are_taken_over`, `heartbeat_keeps_leases`: leases and heartbeats.
//! - `named_lease_is_exclusive`: named leases (`acquire_lease`).
//! - `schedule_tick_claimed_once`: tick claims.
//! - `email_claimed_once`: the outbox in the store (email claims).
//! - `migrate_sqlite_to_postgres`: PostgreSQL itself.
//! - `history_round_trip`'s "200k rows COPY in under 5 s" is PostgreSQL's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::*;
use s321d::config::state::StateLocation;
use s321d::state::intake::{FileState, Take};
use s321d::state::ledger::{Applied, EntryRecord, FilingState, Intent, NewFiling, Transition};
use s321d::state::pg::testing::ScratchDb;
use s321d::state::sqlite::history_frame;
use s321d::state::summary::{NewSummary, SummaryState, SummaryTransition};
use s321d::state::types::{Cursor, Duty, DutyState};
use s321d::state::{StateStore, StoreError};

/// One handle on the store under test.
type Handle = Box<dyn StateStore>;

/// The store under test, shared by a case's handles: a SQLite file in a
/// temporary folder, or a scratch PostgreSQL database (dropped with the last
/// clone). The one place a second backend changes.
#[derive(Clone)]
enum Db {
    Sqlite(Arc<tempfile::TempDir>),
    Postgres(Arc<ScratchDb>),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(Arc::new(tempfile::tempdir().unwrap()))
    }

    fn postgres() -> Db {
        Db::Postgres(Arc::new(ScratchDb::new()))
    }

    fn location(&self) -> StateLocation {
        match self {
            Db::Sqlite(dir) => StateLocation::Sqlite(dir.path().join("state.db")),
            Db::Postgres(db) => StateLocation::Postgres {
                url: db.url.clone(),
                password: std::env::var("PGPASSWORD").ok(),
            },
        }
    }

    // The store's schema as the backend records it (migrations_versioned).

    /// The schema version the store records.
    fn version(&self) -> i64 {
        match self {
            Db::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("state.db"))
                .unwrap()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap(),
            Db::Postgres(db) => db
                .admin(|c| c.query_one("SELECT version FROM s321d_schema", &[]))
                .get(0),
        }
    }

    /// Records `version` as the store's schema version (what a newer s321d leaves).
    fn set_version(&self, version: i64) {
        match self {
            Db::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("state.db"))
                .unwrap()
                .pragma_update(None, "user_version", version)
                .unwrap(),
            Db::Postgres(db) => {
                db.admin(|c| c.execute("UPDATE s321d_schema SET version = $1", &[&version]));
            }
        }
    }

    /// Every table, index and column with its definition.
    fn schema(&self) -> Vec<(String, String)> {
        match self {
            Db::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
                let mut stmt = conn
                    .prepare("SELECT name, COALESCE(sql, '') FROM sqlite_master ORDER BY name")
                    .unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap()
            }
            Db::Postgres(db) => db
                .admin(|c| {
                    c.query(
                        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns \
                         WHERE table_schema = 'public' \
                         UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' \
                         ORDER BY 1",
                        &[],
                    )
                })
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        }
    }
}

/// Opens a handle on the store under test.
fn open(db: &Db) -> Handle {
    try_open(db).unwrap_or_else(|e| panic!("opening the store {:?}: {e}", db.location()))
}

fn try_open(db: &Db) -> Result<Handle, StoreError> {
    s321d::state::open(&db.location())
}

/// How long a case waits for something that must happen before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `f(i, handle)` on `n` OS threads, each with its own handle, all
/// released at once by a barrier; returns their results in thread order.
fn on_threads<T: Send + 'static>(
    db: &Db,
    n: usize,
    f: impl Fn(usize, Handle) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (f, start, db) = (f.clone(), start.clone(), db.clone());
            std::thread::spawn(move || {
                let h = open(&db);
                start.wait();
                f(i, h)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a thread of the case panicked"))
        .collect()
}

fn make_number(serial: u64) -> Option<String> {
    Some(format!("TST-{serial:07}-0"))
}

fn serial_of(number: &str) -> u64 {
    number
        .strip_prefix("TST-")
        .and_then(|s| s.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("entry number {number:?} is not TST-nnnnnnn-0"))
}

fn payload(n: &str) -> String {
    format!("{{\"entry_number\":\"{n}\"}}")
}

/// Files each bill list as one entry, in batches of `batch`, under filer
/// code TST with first serial `first`.
fn file_bills(
    h: &mut Handle,
    run: &str,
    first: u64,
    batch: usize,
    lists: &[Vec<(String, String)>],
    make: &dyn Fn(u64) -> Option<String>,
) -> Result<Vec<Intent>, StoreError> {
    let record = EntryRecord::default();
    let filings: Vec<NewFiling<'_>> = lists
        .iter()
        .map(|bills| NewFiling {
            carrier: &bills[0].0,
            house_bill: &bills[0].1,
            bills,
            entry_type: "86",
            job: "j",
            run_id: run,
            transport: "catair",
            batch: None,
            payload: &payload,
            record: &record,
        })
        .collect();
    let mut out = Vec::new();
    for chunk in filings.chunks(batch) {
        out.extend(h.record_intents("TST", first, make, chunk)?);
    }
    Ok(out)
}

fn bill(n: usize) -> (String, String) {
    ("CARR".to_owned(), format!("H{n:05}"))
}

fn file_one(h: &mut Handle, n: usize) -> String {
    let intents = file_bills(h, "r", 1, 1, &[vec![bill(n)]], &make_number).unwrap();
    match intents.into_iter().next() {
        Some(Intent::New(f)) => f.entry_number,
        other => panic!("bill {n}: expected a new filing, got {other:?}"),
    }
}

fn assert_chain_whole(h: &Handle, expected_events: u64) {
    let v = h.audit_verify().unwrap();
    assert!(v.broken.is_none(), "audit chain broken: {:?}", v.broken);
    assert_eq!(v.events, expected_events, "audit events");
    // verify checks seq == 1, 2, ... for every row: with no break, seq is 1..N.
    assert_eq!(v.head.0, expected_events as i64, "last seq");
    assert_eq!(h.audit_head().unwrap(), v.head, "head is the last event");
}

fn intents_are_exactly_once(db: Db) {
    open(&db);
    // Thread t files bills 10t .. 10t+30 (each bill wanted by up to 3
    // threads), one bill per entry, in batches of 5, then one entry of
    // bill 10t with a fresh bill of its own (a conflict: 10t is filed).
    let results = on_threads(&db, 8, |t, mut h| {
        let mut lists: Vec<Vec<(String, String)>> =
            (10 * t..10 * t + 30).map(|n| vec![bill(n)]).collect();
        lists.push(vec![bill(10 * t), bill(1000 + t)]);
        file_bills(&mut h, &format!("run{t}"), 1, 5, &lists, &make_number).map(|i| (lists, i))
    });
    let mut new_by_bill: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut numbers = BTreeSet::new();
    let mut wanted: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut already = BTreeMap::<(String, String), usize>::new();
    for (t, r) in results.into_iter().enumerate() {
        let (lists, intents) = r.unwrap_or_else(|e| panic!("thread {t}: {e}"));
        assert_eq!(
            intents.len(),
            lists.len(),
            "thread {t}: one answer per filing"
        );
        for (bills, intent) in lists.iter().zip(intents) {
            match intent {
                Intent::New(f) => {
                    assert!(
                        numbers.insert(f.entry_number.clone()),
                        "number {} twice",
                        f.entry_number
                    );
                    for b in bills {
                        new_by_bill
                            .entry(b.clone())
                            .or_default()
                            .push(f.entry_number.clone());
                    }
                }
                Intent::AlreadyFiled(n) => {
                    assert_eq!(
                        bills.len(),
                        1,
                        "thread {t}: {bills:?} already filed as {n:?}"
                    );
                    *already.entry(bills[0].clone()).or_default() += 1;
                }
                Intent::Conflict(filed) => {
                    assert_eq!(
                        bills.len(),
                        2,
                        "thread {t}: {bills:?} in conflict with {filed:?}"
                    );
                    assert_eq!(filed.len(), 1);
                    assert_eq!((filed[0].0.clone(), filed[0].1.clone()), bills[0]);
                }
            }
            if bills.len() == 1 {
                *wanted.entry(bills[0].clone()).or_default() += 1;
            }
        }
    }
    let mut h = open(&db);
    assert_eq!(wanted.len(), 100, "bills 0..100 were wanted");
    for (b, times) in &wanted {
        let on = new_by_bill.get(b).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(on.len(), 1, "bill {b:?} is on {on:?}: exactly one filing");
        assert_eq!(
            already.get(b).copied().unwrap_or(0),
            times - 1,
            "{b:?}: the others were told AlreadyFiled"
        );
        let filed = h.filing_for(&b.0, &b.1).unwrap().expect("filed");
        assert_eq!(filed.entry_number, on[0]);
        assert_eq!(h.bills_of(&on[0]).unwrap(), vec![b.clone()]);
    }
    for t in 0..8 {
        let fresh = bill(1000 + t);
        assert!(
            h.filing_for(&fresh.0, &fresh.1).unwrap().is_none(),
            "{fresh:?} of a conflicting entry is not filed"
        );
    }
    assert_eq!(numbers.len(), 100);
    assert_eq!(h.filings_in(&[FilingState::Pending]).unwrap().len(), 100);
    // One audit event per recorded intent, and nothing else.
    assert_chain_whole(&h, 100);
}

fn entry_numbers_never_collide(db: Db) {
    open(&db);
    const FIRST: u64 = 5000;
    // 8 x 50 intents of distinct bills, in batches of 5 so threads interleave.
    let results = on_threads(&db, 8, |t, mut h| {
        let lists: Vec<Vec<(String, String)>> = (0..50).map(|k| vec![bill(t * 100 + k)]).collect();
        file_bills(&mut h, &format!("run{t}"), FIRST, 5, &lists, &make_number)
    });
    let mut serials = Vec::new();
    for (t, r) in results.into_iter().enumerate() {
        for i in r.unwrap_or_else(|e| panic!("thread {t}: {e}")) {
            match i {
                Intent::New(f) => serials.push(serial_of(&f.entry_number)),
                other => panic!("thread {t}: distinct bills, yet {other:?}"),
            }
        }
    }
    serials.sort_unstable();
    let distinct: BTreeSet<_> = serials.iter().copied().collect();
    assert_eq!(distinct.len(), 400, "400 distinct numbers");
    // The counter starts at the first serial and moves by one per filing.
    assert_eq!(serials, (FIRST..FIRST + 400).collect::<Vec<_>>());

    // Used-up serials fail the whole batch and leave nothing behind.
    let mut h = open(&db);
    let (events_before, _) = h.audit_head().unwrap();
    let limit = FIRST + 402;
    let short = move |s: u64| if s < limit { make_number(s) } else { None };
    let lists: Vec<_> = (0..3).map(|k| vec![bill(900 + k)]).collect();
    let err = file_bills(&mut h, "short", FIRST, 3, &lists, &short).expect_err("serials used up");
    assert!(err.to_string().contains("used up"), "{err}");
    for b in lists.iter().flatten() {
        assert!(
            h.filing_for(&b.0, &b.1).unwrap().is_none(),
            "{b:?} left behind by a failed batch"
        );
    }
    assert_eq!(
        h.audit_head().unwrap().0,
        events_before,
        "no audit event of a failed batch"
    );
    // Nor did it move the counter: the next number is the next serial.
    let n = file_one(&mut h, 950);
    assert_eq!(serial_of(&n), FIRST + 400);
    // A first serial given later never moves the counter back.
    let intents = file_bills(&mut h, "again", 1, 1, &[vec![bill(951)]], &make_number).unwrap();
    let f = intents
        .into_iter()
        .next()
        .and_then(Intent::new_filing)
        .unwrap();
    assert_eq!(serial_of(&f.entry_number), FIRST + 401);
}

fn filing_states_move_forward_only(db: Db) {
    use FilingState::*;
    let mut h = open(&db);
    let n = file_one(&mut h, 1);
    let t = |to| Transition {
        entry_number: &n,
        to,
        code: None,
        narrative: None,
        message: "test",
    };
    let steps = [
        (Submitted, Applied::Moved),
        (Submitted, Applied::Ignored), // duplicate
        (Released, Applied::Moved),    // a release overtaking the acceptance
        (Accepted, Applied::Ignored),  // late
        (Pending, Applied::Ignored),   // backward
        (Held, Applied::Moved),
        (Rejected, Applied::Ignored), // backward
        (Released, Applied::Moved),
    ];
    let list: Vec<_> = steps.iter().map(|(to, _)| t(*to)).collect();
    let applied = h.transitions(&list).unwrap();
    assert_eq!(applied, steps.iter().map(|(_, a)| *a).collect::<Vec<_>>());
    assert_eq!(h.filing(&n).unwrap().unwrap().state, Released);
    // Every transition is recorded, applied or not, after the intent.
    let events = h.events(&n).unwrap();
    assert_eq!(events.len(), 1 + steps.len());
    let tos: Vec<_> = events[1..].iter().map(|e| e.to).collect();
    assert_eq!(tos, steps.iter().map(|(to, _)| *to).collect::<Vec<_>>());
    let unknown = Transition {
        entry_number: "TST-9999999-0",
        ..t(Accepted)
    };
    assert_eq!(h.transitions(&[unknown]).unwrap(), [Applied::Unknown]);

    // Concurrently: 8 handles send the same notifications in different
    // orders; the filing ends where the forward moves lead, and every
    // notification is recorded.
    let m = file_one(&mut h, 2);
    let order = [Submitted, Accepted, Rejected, Pending, Submitted];
    let mm = m.clone();
    let results = on_threads(&db, 8, move |i, mut h| {
        let mut list: Vec<FilingState> = order.to_vec();
        list.rotate_left(i % order.len());
        for to in list {
            h.transition(&mm, to, None, None, "race")
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    });
    for r in results {
        r.unwrap();
    }
    let end = h.filing(&m).unwrap().unwrap().state;
    assert!(matches!(end, Accepted | Rejected), "ended in {end:?}");
    assert_eq!(h.events(&m).unwrap().len(), 1 + 8 * order.len());
    let moved = h
        .transitions(&[Transition {
            entry_number: &m,
            ..t(Submitted)
        }])
        .unwrap();
    assert_eq!(moved, [Applied::Ignored], "never back to submitted");

    // The same for entry summaries.
    assert!(h.transition(&n, Accepted, None, None, "x").is_ok());
    let s = NewSummary {
        entry_number: &n,
        transport: "catair",
        batch: None,
        certified: false,
        state: SummaryState::Pending,
        message: None,
        duty_usd: "1.00",
        fees_usd: "2.00",
        payload: "10A\n",
    };
    assert_eq!(
        h.record_summaries(std::slice::from_ref(&s)).unwrap(),
        [true]
    );
    assert_eq!(
        h.record_summaries(&[s]).unwrap(),
        [false],
        "never two per entry"
    );
    let st = |to| SummaryTransition {
        entry_number: &n,
        to,
        code: None,
        narrative: None,
        message: "AX",
    };
    use SummaryState as S;
    assert_eq!(
        h.summary_transitions(&[
            st(S::Submitted),
            st(S::Submitted),
            st(S::Accepted),
            st(S::Rejected),
            st(S::Pending),
            st(S::Submitted)
        ])
        .unwrap(),
        [
            Applied::Moved,
            Applied::Ignored,
            Applied::Moved,
            Applied::Ignored,
            Applied::Ignored,
            Applied::Ignored
        ]
    );
    assert_eq!(h.summary(&n).unwrap().unwrap().state, S::Accepted);
    assert_eq!(
        h.summary_transitions(&[SummaryTransition {
            entry_number: "TST-9999999-0",
            ..st(S::Accepted)
        }])
        .unwrap(),
        [Applied::Unknown]
    );
}

fn audit_chain_is_gapless_under_concurrency(db: Db) {
    open(&db);
    // 8 threads, each 40 steps: plain appends, and appends inside takes,
    // intents and transitions. Each step appends exactly one event.
    let results = on_threads(&db, 8, |t, mut h| -> Result<u64, StoreError> {
        let mut n = 0;
        for k in 0..40 {
            match k % 4 {
                0 => {
                    h.append_audit(&s321d::state::audit::AuditEvent::new(
                        "test.plain",
                        serde_json::json!({ "t": t, "k": k }),
                    ))?;
                }
                1 => {
                    let sha = format!("{t:02}{k:062}");
                    h.take_file("j", "in", &format!("in/{t}-{k}.csv"), 1, None, &sha, "st")?;
                }
                2 => {
                    let lists = [vec![bill(t * 100 + k)]];
                    file_bills(&mut h, "r", 1, 1, &lists, &make_number)?;
                }
                _ => {
                    let n = h
                        .filing_for("CARR", &bill(t * 100 + k - 1).1)?
                        .expect("filed a step ago")
                        .entry_number;
                    h.transition(&n, FilingState::Submitted, None, None, "sent")?;
                }
            }
            n += 1;
        }
        Ok(n)
    });
    let total: u64 = results.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(total, 320);
    assert_chain_whole(&open(&db), total);
}

fn sha_of(c: char) -> String {
    c.to_string().repeat(64)
}

fn duplicate_by_bytes(db: Db) {
    let mut h = open(&db);
    let sha = sha_of('a');
    let first = match h
        .take_file("j", "in", "in/a.csv", 10, None, &sha, "st")
        .unwrap()
    {
        Take::New(id) => id,
        other => panic!("{other:?}"),
    };
    h.set_file_state(
        first,
        FileState::Archived,
        Some("archive/a.csv"),
        None,
        None,
    )
    .unwrap();
    // 8 names with the same bytes taken at once: every one a duplicate of
    // the archived file, none new.
    let results = on_threads(&db, 8, move |t, mut h| {
        h.take_file(
            "j",
            "in",
            &format!("in/copy-{t}.csv"),
            10,
            None,
            &sha_of('a'),
            "st",
        )
    });
    let mut ids = BTreeSet::new();
    for r in results {
        match r.unwrap() {
            Take::Duplicate { id, of } => {
                assert_eq!(of.id, first, "a duplicate of the archived file");
                assert!(ids.insert(id));
                assert_eq!(
                    h.file(id).unwrap().unwrap().state,
                    FileState::DuplicatePending
                );
            }
            Take::New(id) => panic!("same bytes as archived file {first}, yet new ({id})"),
        }
    }
    // Another job's file with those bytes is its own.
    assert!(matches!(
        h.take_file("k", "in", "in/a.csv", 10, None, &sha, "st")
            .unwrap(),
        Take::New(_)
    ));
    let receipts = h.audit_receipts(&[sha]).unwrap();
    let kinds: Vec<_> = receipts.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "file.duplicate").count(),
        8,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "file.received").count(),
        2,
        "{kinds:?}"
    );
}

/// The guarantee of section 6.1 that needs claims: two names with the same
/// bytes taken at once, before either is archived, are never both `New`.
fn duplicate_by_bytes_taken_at_once(db: Db) {
    open(&db);
    let results = on_threads(&db, 2, |t, mut h| {
        h.take_file(
            "j",
            "in",
            &format!("in/{t}.csv"),
            10,
            None,
            &sha_of('b'),
            "st",
        )
        .unwrap()
    });
    let new = results.iter().filter(|r| matches!(r, Take::New(_))).count();
    assert_eq!(new, 1, "two names with the same bytes: {results:?}");
}

fn received_again_after_forget(db: Db) {
    let mut h = open(&db);
    let sha = sha_of('c');
    let first = match h
        .take_file("j", "in", "in/c.csv", 3, None, &sha, "st")
        .unwrap()
    {
        Take::New(id) => id,
        other => panic!("{other:?}"),
    };
    h.forget_file(first).unwrap();
    assert!(h.file(first).unwrap().is_none(), "forgotten");
    // Taken again from another handle (a restarted process).
    let mut again = open(&db);
    let second = match again
        .take_file("j", "in", "in/c.csv", 3, None, &sha, "st")
        .unwrap()
    {
        Take::New(id) => id,
        other => panic!("{other:?}"),
    };
    // A forgotten id is never handed out again: the audit trail names it.
    assert!(second > first, "{second} reuses or precedes {first}");
    // Forgotten and taken once more: still the first receipt's.
    again.forget_file(second).unwrap();
    let third = match again
        .take_file("j", "in", "in/c.csv", 3, None, &sha, "st")
        .unwrap()
    {
        Take::New(id) => id,
        other => panic!("{other:?}"),
    };
    assert!(third > second, "{third} reuses or precedes {second}");
    let receipts = h.audit_receipts(std::slice::from_ref(&sha)).unwrap();
    let kinds: Vec<_> = receipts.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "file.received",
            "file.received_again",
            "file.received_again"
        ]
    );
    for e in &receipts[1..] {
        let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["first_file_id"], first, "{}", e.body);
    }
    // Another job taking the same bytes gets a plain receipt.
    h.take_file("other", "in", "in/c.csv", 3, None, &sha, "st")
        .unwrap();
    let last = h.audit_receipts(&[sha]).unwrap().pop().unwrap();
    assert_eq!(last.kind, "file.received");
    assert_chain_whole(&h, 4);
}

fn day(s: &str) -> Option<NaiveDate> {
    Some(s.parse().unwrap())
}

fn bills_in(frame: &DataFrame) -> BTreeSet<String> {
    frame
        .column(s321d::state::H_HOUSE_BILL)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|b| b.unwrap_or_default().to_owned())
        .collect()
}

fn history_critical_section(db: Db) {
    let mut a = open(&db);
    let mine = history_frame(&[
        (
            "CARR",
            "A1",
            "consignee-1",
            day("2026-03-01"),
            "500.00",
            "a.csv",
            "sha-a",
            "run-a",
        ),
        (
            "CARR",
            "A2",
            "consignee-1",
            day("2026-03-01"),
            "300.00",
            "a.csv",
            "sha-a",
            "run-a",
        ),
    ]);
    a.lock_history().unwrap();
    assert_eq!(a.seen_on_days(&mine).unwrap().height(), 0);

    let (tx, rx) = mpsc::channel();
    let b_db = db.clone();
    let probe = mine.clone();
    let b = std::thread::spawn(move || {
        let mut b = open(&b_db);
        tx.send("locking").unwrap();
        b.lock_history().unwrap();
        tx.send("locked").unwrap();
        let seen = b.seen_on_days(&probe).unwrap();
        b.record_shipments(&history_frame(&[])).unwrap();
        seen
    });
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "locking");
    // B must not get in while A is in the section.
    match rx.recv_timeout(Duration::from_millis(500)) {
        Err(mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("B entered the history section while A held it: {other:?}"),
    }
    assert_eq!(a.record_shipments(&mine).unwrap(), 2);
    assert_eq!(
        rx.recv_timeout(PATIENCE)
            .expect("B entered once A recorded"),
        "locked"
    );
    let seen = b.join().unwrap();
    assert_eq!(
        bills_in(&seen),
        BTreeSet::from(["A1".to_owned(), "A2".to_owned()]),
        "B sees A's shipments"
    );
}

fn history_lock_released_by_death(db: Db) {
    let mut a = open(&db);
    a.lock_history().unwrap();
    let (tx, rx) = mpsc::channel();
    let b_db = db.clone();
    let b = std::thread::spawn(move || {
        let mut b = open(&b_db);
        tx.send(Instant::now()).unwrap();
        b.lock_history().unwrap();
        tx.send(Instant::now()).unwrap();
    });
    rx.recv_timeout(PATIENCE).unwrap();
    match rx.recv_timeout(Duration::from_millis(300)) {
        Err(mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("B entered the history section while A held it: {other:?}"),
    }
    // A dies without recording.
    let died = Instant::now();
    drop(a);
    let entered = rx
        .recv_timeout(Duration::from_secs(1))
        .expect("B did not enter the history section within 1 s of A's death");
    assert!(entered.duration_since(died) < Duration::from_secs(1));
    b.join().unwrap();
}

fn history_round_trip(db: Db) {
    let mut h = open(&db);
    let first = history_frame(&[
        (
            "CARR",
            "B1",
            "c1",
            day("2026-01-02"),
            "10.50",
            "one.csv",
            "sha1",
            "run1",
        ),
        (
            "CARR",
            "B2",
            "c1",
            day("2026-01-02"),
            "20.00",
            "one.csv",
            "sha1",
            "run1",
        ),
        (
            "CARR",
            "B3",
            "c2",
            day("2026-01-03"),
            "30.00",
            "one.csv",
            "sha1",
            "run1",
        ),
        ("OTHR", "B1", "c3", None, "1.00", "one.csv", "sha1", "run1"),
    ]);
    h.lock_history().unwrap();
    assert_eq!(h.record_shipments(&first).unwrap(), 4);
    // Seen again elsewhere: the first sighting stays.
    let later = history_frame(&[
        (
            "CARR",
            "B1",
            "c9",
            day("2026-02-02"),
            "99.00",
            "two.csv",
            "sha2",
            "run2",
        ),
        (
            "CARR",
            "B4",
            "c1",
            day("2026-01-02"),
            "40.00",
            "two.csv",
            "sha2",
            "run2",
        ),
    ]);
    h.lock_history().unwrap();
    assert_eq!(h.record_shipments(&later).unwrap(), 1, "only B4 is new");
    assert_eq!(h.shipment_count().unwrap(), 5);

    let mut other = open(&db);
    let keys = history_frame(&[
        ("CARR", "B1", "", None, "0", "", "", ""),
        ("OTHR", "B1", "", None, "0", "", "", ""),
        ("CARR", "NOPE", "", None, "0", "", "", ""),
    ]);
    let by_key = other.seen_by_key(&keys).unwrap();
    assert_eq!(by_key.height(), 2);
    let b1 = by_key
        .clone()
        .lazy()
        .filter(col("carrier").eq(lit("CARR")))
        .collect()
        .unwrap();
    let get = |c: &str| b1.column(c).unwrap().get(0).unwrap().to_string();
    assert_eq!(get("consignee_key"), "\"c1\"", "first sighting kept");
    assert_eq!(get("source_file"), "\"one.csv\"");
    assert_eq!(get("run_id"), "\"run1\"");
    assert_eq!(
        b1.column("total_usd").unwrap().i128().unwrap().get(0),
        s321d::money::parse_decimal("10.50").ok()
    );
    assert_eq!(
        b1.column("arrival_date")
            .unwrap()
            .get(0)
            .unwrap()
            .to_string(),
        "2026-01-02"
    );

    let days = history_frame(&[
        ("", "", "c1", day("2026-01-02"), "0", "", "", ""),
        ("", "", "c2", day("2026-01-04"), "0", "", "", ""),
    ]);
    let on_day = other.seen_on_days(&days).unwrap();
    assert_eq!(
        bills_in(&on_day),
        BTreeSet::from(["B1".to_owned(), "B2".to_owned(), "B4".to_owned()])
    );
    assert_eq!(
        on_day.height(),
        3,
        "c2 on 2026-01-04: nothing; CARR B1 is c1's"
    );
}

fn typed_duties(db: Db) {
    let mut h = open(&db);
    for run in ["r1", "r2", "r3"] {
        h.start_run(run, "j", s321d::state::types::RunKind::Scheduled, "out:x")
            .unwrap();
        h.finish_run(run, s321d::state::types::RunStatus::Evaluated, "{}")
            .unwrap();
    }
    h.start_run("replay", "j", s321d::state::types::RunKind::Replay, "out:x")
        .unwrap();
    h.finish_run("replay", s321d::state::types::RunStatus::Evaluated, "{}")
        .unwrap();
    h.set_run_duty("r1", Duty::Filing, DutyState::Due).unwrap();
    h.set_run_duty("r2", Duty::Filing, DutyState::Done).unwrap();
    h.set_run_duty("replay", Duty::Filing, DutyState::Due)
        .unwrap();
    h.set_run_duty("r1", Duty::Exceptions, DutyState::Off)
        .unwrap();
    let other = open(&db);
    assert_eq!(
        other
            .runs_with_duty("j", Duty::Filing, DutyState::Due)
            .unwrap(),
        ["r1"],
        "not the replay"
    );
    assert_eq!(
        other
            .runs_with_duty("j", Duty::Filing, DutyState::Done)
            .unwrap(),
        ["r2"]
    );
    assert_eq!(
        other
            .runs_with_duty("k", Duty::Filing, DutyState::Due)
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(other.run_duty("r3", Duty::Filing).unwrap(), None);
    other.copy_duties("r1", "r3").unwrap();
    assert_eq!(
        other.run_duty("r3", Duty::Filing).unwrap(),
        Some(DutyState::Due)
    );
    assert_eq!(
        other.run_duty("r3", Duty::Exceptions).unwrap(),
        Some(DutyState::Off)
    );
    h.set_run_duty("r1", Duty::Filing, DutyState::Done).unwrap();
    assert_eq!(
        other
            .runs_with_duty("j", Duty::Filing, DutyState::Due)
            .unwrap(),
        ["r3"]
    );

    // The cursor only moves forward, whoever moves it and in whatever order.
    assert_eq!(h.cursor(Cursor::HttpNotifications).unwrap(), 0);
    let results = on_threads(&db, 8, |t, h| {
        for k in 0..50u64 {
            // Each thread climbs to its own top, with a step back each time.
            h.advance_cursor(Cursor::HttpNotifications, k * 10 + t as u64)?;
            h.advance_cursor(Cursor::HttpNotifications, k)?;
        }
        Ok::<_, StoreError>(())
    });
    for r in results {
        r.unwrap();
    }
    assert_eq!(h.cursor(Cursor::HttpNotifications).unwrap(), 49 * 10 + 7);
    h.advance_cursor(Cursor::HttpNotifications, 3).unwrap();
    assert_eq!(
        h.cursor(Cursor::HttpNotifications).unwrap(),
        497,
        "never back"
    );
}

fn migrations_versioned(db: Db) {
    let mut h = open(&db);
    file_one(&mut h, 1);
    drop(h);
    let version = db.version();
    assert!(version > 0, "a fresh store records its version");
    let tables = db.schema();
    // Reopening (and opening from several handles at once) changes nothing.
    for r in on_threads(&db, 4, |_, mut h| {
        h.filings_in(&[FilingState::Pending]).map(|f| f.len())
    }) {
        assert_eq!(r.unwrap(), 1);
    }
    assert_eq!(db.version(), version);
    assert_eq!(db.schema(), tables);
    assert_chain_whole(&open(&db), 1);

    // A store a newer s321d migrated is refused, naming both versions.
    let newer = version + 3;
    db.set_version(newer);
    let err = match try_open(&db) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a store at schema version {newer} opened by code that knows {version}"),
    };
    assert!(
        err.contains(&newer.to_string()) && err.contains(&version.to_string()),
        "{err}"
    );
    assert_eq!(db.version(), newer, "left as it was");
    assert_eq!(db.schema(), tables);
}

fn concurrent_writers_mix(db: Db) {
    open(&db);
    let run_for = Duration::from_secs(3);
    // Every kind of write, from 6 handles at once, for a few seconds. No
    // error is allowed: busy waits are the store's business (busy_timeout).
    let results = on_threads(&db, 6, move |t, mut h| -> Result<(u64, u64), String> {
        let start = Instant::now();
        let mut events = 0u64;
        let mut k = 0usize;
        let e =
            |what: &str, k: usize, err: StoreError| format!("thread {t} step {k} ({what}): {err}");
        while start.elapsed() < run_for {
            match k % 8 {
                0 => {
                    let id = match h
                        .take_file(
                            "j",
                            "in",
                            &format!("in/{t}-{k}.csv"),
                            1,
                            None,
                            &format!("{t:02}{k:062}"),
                            "st",
                        )
                        .map_err(|x| e("take", k, x))?
                    {
                        Take::New(id) => id,
                        other => return Err(format!("thread {t}: fresh bytes, yet {other:?}")),
                    };
                    h.set_file_state(id, FileState::Archived, Some("a"), None, None)
                        .map_err(|x| e("set state", k, x))?;
                }
                1 => {
                    h.append_audit(&s321d::state::audit::AuditEvent::new(
                        "test.mix",
                        serde_json::json!({ "t": t, "k": k }),
                    ))
                    .map_err(|x| e("append", k, x))?;
                }
                2 => {
                    // Shared bills: some threads get AlreadyFiled, never an error.
                    let lists = [vec![bill(k % 40)], vec![bill(100_000 + t * 100_000 + k)]];
                    for i in file_bills(&mut h, "mix", 1, 2, &lists, &make_number)
                        .map_err(|x| e("intents", k, x))?
                    {
                        if matches!(i, Intent::New(_)) {
                            events += 1;
                        }
                    }
                    events -= 1; // counted below with the others
                }
                3 => {
                    let n = h
                        .filing_for("CARR", &bill(100_000 + t * 100_000 + k - 1).1)
                        .map_err(|x| e("filing_for", k, x))?
                        .ok_or_else(|| format!("thread {t}: own filing of step {} missing", k - 1))?
                        .entry_number;
                    h.transition(&n, FilingState::Submitted, None, None, "mix")
                        .map_err(|x| e("transition", k, x))?;
                }
                4 => {
                    h.lock_history().map_err(|x| e("lock_history", k, x))?;
                    let b = format!("S{t}-{k}");
                    let rows = history_frame(&[(
                        "CARR",
                        &b,
                        "c",
                        day("2026-05-05"),
                        "1.00",
                        "f.csv",
                        "sha",
                        "run",
                    )]);
                    h.seen_on_days(&rows).map_err(|x| e("seen_on_days", k, x))?;
                    h.record_shipments(&rows)
                        .map_err(|x| e("record_shipments", k, x))?;
                    events -= 1; // no audit event
                }
                5 => {
                    let run = format!("run-{t}-{k}");
                    h.start_run(&run, "j", s321d::state::types::RunKind::Scheduled, "out")
                        .map_err(|x| e("start_run", k, x))?;
                    h.finish_run(&run, s321d::state::types::RunStatus::Evaluated, "{}")
                        .map_err(|x| e("finish_run", k, x))?;
                    h.set_run_duty(&run, Duty::Filing, DutyState::Due)
                        .map_err(|x| e("duty", k, x))?;
                    events -= 1;
                }
                6 => {
                    h.advance_cursor(Cursor::HttpNotifications, k as u64)
                        .map_err(|x| e("cursor", k, x))?;
                    h.job_started("j", chrono::Utc::now())
                        .map_err(|x| e("job_started", k, x))?;
                    events -= 1;
                }
                _ => {
                    let id = match h
                        .take_file(
                            "j",
                            "in",
                            &format!("in/f{t}-{k}.csv"),
                            1,
                            None,
                            &format!("f{t:02}{k:061}"),
                            "st",
                        )
                        .map_err(|x| e("take", k, x))?
                    {
                        Take::New(id) => id,
                        other => return Err(format!("thread {t}: fresh bytes, yet {other:?}")),
                    };
                    h.forget_file(id).map_err(|x| e("forget", k, x))?;
                }
            }
            events += 1;
            k += 1;
        }
        Ok((events, k as u64))
    });
    let mut events = 0;
    for r in results {
        let (e, steps) = r.unwrap();
        assert!(
            steps >= 8,
            "a thread made only {steps} steps in {run_for:?}"
        );
        events += e;
    }
    let h = open(&db);
    assert_chain_whole(&h, events);
}

/// A named lease (`state::cluster`) is held by one handle at a time; release
/// or the holder going away (a replica that dies) frees it at once.
fn leases_are_exclusive_and_die_with_their_holder(db: Db) {
    let results = on_threads(&db, 6, |_, mut h| {
        let got = h.try_lease("job:dhl").unwrap();
        // Hold it until every thread has tried.
        std::thread::sleep(Duration::from_millis(300));
        (got, h)
    });
    let holders = results.iter().filter(|(got, _)| *got).count();
    assert_eq!(holders, 1, "six handles tried one lease at once");
    let mut others: Vec<Handle> = Vec::new();
    let mut holder = None;
    for (got, h) in results {
        if got {
            holder = Some(h);
        } else {
            others.push(h);
        }
    }
    let mut holder = holder.unwrap();
    assert_eq!(holder.leases_held(), ["job:dhl"]);
    assert!(
        holder.try_lease("job:dhl").unwrap(),
        "the holder takes it again"
    );
    assert!(
        others[0].try_lease("job:ups").unwrap(),
        "another name is free"
    );
    assert!(!others[1].try_lease("job:ups").unwrap());
    holder.release_lease("job:dhl").unwrap();
    assert!(holder.leases_held().is_empty());
    assert!(others[1].try_lease("job:dhl").unwrap(), "released");
    // The holder of job:ups goes away without releasing.
    let dead = others.remove(0);
    drop(dead);
    assert!(
        others[0].try_lease("job:ups").unwrap(),
        "freed by its holder's end"
    );
}

/// Every case on both backends: `cargo test --test state sqlite::` or `postgres::`.
macro_rules! on_both_backends {
    ($($(#[$attr:meta])* $case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] $(#[$attr])* fn $case() { super::$case(super::Db::sqlite()) } )*
        }
        mod postgres {
            $( #[test] $(#[$attr])* fn $case() { super::$case(super::Db::postgres()) } )*
        }
    };
}

on_both_backends!(
    intents_are_exactly_once,
    entry_numbers_never_collide,
    filing_states_move_forward_only,
    audit_chain_is_gapless_under_concurrency,
    duplicate_by_bytes,
    #[ignore = "needs file claims (Take::Busy), which land with replicas"]
    duplicate_by_bytes_taken_at_once,
    received_again_after_forget,
    history_critical_section,
    history_lock_released_by_death,
    history_round_trip,
    typed_duties,
    migrations_versioned,
    concurrent_writers_mix,
    leases_are_exclusive_and_die_with_their_holder,
);
