//! The audit chain on PostgreSQL (scale-out 4.4): the same rows, hashes and
//! answers as SQLite's (`state::audit`, `state::audit_query`), with appends
//! from several replicas serialised by one head row.
//!
//! SQLite made "read the head, insert the next event" atomic with its single
//! writer lock (`BEGIN IMMEDIATE`). Here every append locks the one row of
//! `audit_head` (`SELECT ... FOR UPDATE`) first, chains from it and moves it
//! forward in the same transaction: appenders wait for each other, sequence
//! numbers stay gapless (a rollback undoes the head too) and the chain
//! verifies. The append is the last thing a transaction does before COMMIT,
//! so the head row is held briefly and never while waiting for another lock.

use chrono::Utc;
use postgres::Transaction;
use postgres::types::ToSql;
use sha2::{Digest, Sha256};

use crate::dates::ts_micros;
use crate::state::StoreError;
use crate::state::audit::{
    AuditEvent, Break, BrokenLink, EventFilter, GENESIS, StoredEvent, Verification,
    canonical_bytes, chain_hash,
};
use crate::state::audit_query::*;

use super::PgStore;

const EVENT_COLUMNS: &str =
    "seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash";

/// Rows per INSERT of a bulk append (bounds one statement's size).
const INSERT_CHUNK: usize = 1000;

/// Rows fetched at a time while verifying (the chain can be long); small in
/// tests, so they walk across batches.
#[cfg(not(test))]
const VERIFY_BATCH: i32 = 10_000;
#[cfg(test)]
const VERIFY_BATCH: i32 = 1000;

/// Appends `events` in the caller's transaction, chained from the head, and
/// returns the last sequence number (the head's if `events` is empty). Call
/// it last before COMMIT (see the module comment). Other store modules that
/// record an event atomically with a change use this (on a `Transaction`, or
/// on a `Client` inside its own BEGIN).
pub(super) fn append_in(
    tx: &mut impl postgres::GenericClient,
    events: &[AuditEvent],
) -> Result<i64, postgres::Error> {
    // The head row lock: held until this transaction ends.
    let head = tx.query_one("SELECT seq, hash FROM audit_head FOR UPDATE", &[])?;
    let (mut seq, mut prev): (i64, String) = (head.get(0), head.get(1));
    if events.is_empty() {
        return Ok(seq);
    }
    // Taken once the lock is held, so `at` follows `seq` on one clock.
    let at = ts_micros(Utc::now());
    let mut buf = Vec::with_capacity(512);
    for chunk in events.chunks(INSERT_CHUNK) {
        let mut rows = Rows::default();
        for e in chunk {
            seq += 1;
            let body = serde_json::to_string(&e.body).unwrap_or_else(|_| "null".into());
            canonical_bytes(
                seq,
                &at,
                &e.kind,
                e.run_id.as_deref(),
                e.carrier.as_deref(),
                e.house_bill.as_deref(),
                e.entry_number.as_deref(),
                &body,
                &mut buf,
            );
            let hash = chain_hash(&prev, &buf);
            rows.push(
                seq,
                &at,
                e,
                body,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            );
        }
        tx.execute(
            "INSERT INTO audit_events (seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::text[])",
            &[
                &rows.seq,
                &rows.at,
                &rows.kind,
                &rows.run_id,
                &rows.carrier,
                &rows.house_bill,
                &rows.entry_number,
                &rows.body,
                &rows.prev_hash,
                &rows.hash,
            ],
        )?;
    }
    tx.execute("UPDATE audit_head SET seq = $1, hash = $2", &[&seq, &prev])?;
    Ok(seq)
}

/// Keeps an exact text under its digest, once (the first one kept wins, as
/// SQLite's `INSERT OR IGNORE`).
pub(super) fn store_blob_in(
    tx: &mut Transaction<'_>,
    blob: &NewBlob<'_>,
) -> Result<(), postgres::Error> {
    let sha = hex::encode(Sha256::digest(blob.content.as_bytes()));
    tx.execute(
        "INSERT INTO audit_blobs (digest, kind, name, sha256, content, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (digest) DO NOTHING",
        &[
            &blob.digest,
            &blob.kind,
            &blob.name,
            &sha,
            &blob.content,
            &ts_micros(Utc::now()),
        ],
    )?;
    Ok(())
}

/// One INSERT's columns, as arrays for `unnest`.
#[derive(Default)]
struct Rows<'a> {
    seq: Vec<i64>,
    at: Vec<&'a str>,
    kind: Vec<&'a str>,
    run_id: Vec<Option<&'a str>>,
    carrier: Vec<Option<&'a str>>,
    house_bill: Vec<Option<&'a str>>,
    entry_number: Vec<Option<&'a str>>,
    body: Vec<String>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl<'a> Rows<'a> {
    fn push(
        &mut self,
        seq: i64,
        at: &'a str,
        e: &'a AuditEvent,
        body: String,
        prev: String,
        hash: String,
    ) {
        self.seq.push(seq);
        self.at.push(at);
        self.kind.push(&e.kind);
        self.run_id.push(e.run_id.as_deref());
        self.carrier.push(e.carrier.as_deref());
        self.house_bill.push(e.house_bill.as_deref());
        self.entry_number.push(e.entry_number.as_deref());
        self.body.push(body);
        self.prev_hash.push(prev);
        self.hash.push(hash);
    }
}

fn row_event(r: &postgres::Row) -> Result<StoredEvent, postgres::Error> {
    Ok(StoredEvent {
        seq: r.try_get(0)?,
        at: r.try_get(1)?,
        kind: r.try_get(2)?,
        run_id: r.try_get(3)?,
        carrier: r.try_get(4)?,
        house_bill: r.try_get(5)?,
        entry_number: r.try_get(6)?,
        body: r.try_get(7)?,
        prev_hash: r.try_get(8)?,
        hash: r.try_get(9)?,
    })
}

fn row_events(rows: Vec<postgres::Row>) -> Result<Vec<StoredEvent>, postgres::Error> {
    rows.iter().map(row_event).collect()
}

/// The walk of `state::audit::verify`, one event at a time, in seq order.
struct Walk {
    expected_seq: i64,
    prev: String,
    events: u64,
    buf: Vec<u8>,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            expected_seq: 1,
            prev: GENESIS.to_owned(),
            events: 0,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The first broken link at `e`, if it is one; otherwise moves past it.
    fn step(&mut self, e: StoredEvent) -> Option<Break> {
        if e.seq != self.expected_seq {
            return Some(Break::Missing {
                expected_seq: self.expected_seq,
            });
        }
        if e.prev_hash != self.prev {
            return Some(Break::Relinked {
                expected: self.prev.clone(),
            });
        }
        canonical_bytes(
            e.seq,
            &e.at,
            &e.kind,
            e.run_id.as_deref(),
            e.carrier.as_deref(),
            e.house_bill.as_deref(),
            e.entry_number.as_deref(),
            &e.body,
            &mut self.buf,
        );
        if chain_hash(&e.prev_hash, &self.buf) != e.hash {
            return Some(Break::Altered);
        }
        self.events += 1;
        self.expected_seq += 1;
        self.prev = e.hash;
        None
    }

    fn outcome(self, broken: Option<BrokenLink>) -> Verification {
        Verification {
            events: self.events,
            head: (self.expected_seq - 1, self.prev),
            broken,
        }
    }
}

impl AuditStore for PgStore {
    /// Appends one event in its own transaction. Returns its sequence number.
    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        self.append_audit_with_blobs(event, &[])
    }

    /// Keeps `blobs` (once each, under their digest) and appends `event`, in
    /// one transaction: the blobs first, the append last (it takes the head row).
    fn append_audit_with_blobs(
        &mut self,
        event: &AuditEvent,
        blobs: &[NewBlob<'_>],
    ) -> Result<i64, StoreError> {
        // In digest order, so two appenders keeping the same blobs wait for
        // each other's unique-index entries in one order (no deadlock); the
        // sort is stable, so the first of equal digests is still kept.
        let mut blobs = blobs.to_vec();
        blobs.sort_by(|a, b| a.digest.cmp(b.digest));
        self.with(|c| {
            let mut tx = c.transaction()?;
            for b in &blobs {
                store_blob_in(&mut tx, b)?;
            }
            let seq = append_in(&mut tx, std::slice::from_ref(event))?;
            tx.commit()?;
            Ok(seq)
        })
    }

    /// Appends many events in one transaction (bulk loads, benchmarks).
    /// Returns the last sequence number.
    fn append_audit_many(&mut self, events: Vec<AuditEvent>) -> Result<i64, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let seq = append_in(&mut tx, &events)?;
            tx.commit()?;
            Ok(seq)
        })
    }

    /// Verifies the whole chain: one snapshot, read in batches.
    fn audit_verify(&self) -> Result<Verification, StoreError> {
        self.with(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let portal = tx.bind(
                &format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq"),
                &[],
            )?;
            let mut walk = Walk::new();
            loop {
                let rows = tx.query_portal(&portal, VERIFY_BATCH)?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let e = row_event(r)?;
                    let (seq, kind, at) = (e.seq, e.kind.clone(), e.at.clone());
                    if let Some(why) = walk.step(e) {
                        let link = BrokenLink { seq, kind, at, why };
                        return Ok(walk.outcome(Some(link)));
                    }
                }
            }
            tx.commit()?;
            Ok(walk.outcome(None))
        })
    }

    /// The last event's (seq, hash), or (0, GENESIS): read from the events,
    /// as SQLite does (the head row agrees unless rows were edited).
    fn audit_head(&self) -> Result<(i64, String), StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                &[],
            )?;
            Ok(match row {
                Some(r) => (r.try_get(0)?, r.try_get(1)?),
                None => (0, GENESIS.to_owned()),
            })
        })
    }

    /// Whether event `seq` still has `hash` (`None`: there is no such event).
    fn audit_has_hash(&self, seq: i64, hash: &str) -> Result<Option<bool>, StoreError> {
        self.with(|c| {
            let row = c.query_opt("SELECT hash FROM audit_events WHERE seq = $1", &[&seq])?;
            Ok(match row {
                Some(r) => Some(r.try_get::<_, String>(0)?.eq_ignore_ascii_case(hash)),
                None => None,
            })
        })
    }

    /// Events matching `filter`, in order (`state::audit::events_where`).
    fn audit_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| {
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
            let mut clauses = Vec::new();
            let mut any_of = Vec::new();
            if let Some(hb) = &filter.house_bill {
                params.push(hb);
                any_of.push(format!("house_bill = ${}", params.len()));
            }
            if !filter.entry_numbers.is_empty() {
                params.push(&filter.entry_numbers);
                any_of.push(format!("entry_number = ANY(${})", params.len()));
            }
            if !filter.run_ids.is_empty() {
                params.push(&filter.run_ids);
                any_of.push(format!(
                    "(run_id = ANY(${}) AND house_bill IS NULL)",
                    params.len()
                ));
            }
            if !any_of.is_empty() {
                clauses.push(format!("({})", any_of.join(" OR ")));
            }
            // `at` is COLLATE "C": byte order, as SQLite compares.
            if let Some(from) = &filter.from {
                params.push(from);
                clauses.push(format!("at >= ${}", params.len()));
            }
            if let Some(to) = &filter.to {
                params.push(to);
                clauses.push(format!("at < ${}", params.len()));
            }
            let wh = if clauses.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", clauses.join(" AND "))
            };
            let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events{wh} ORDER BY seq");
            row_events(c.query(&sql, &params)?)
        })
    }

    /// The receipts (`file.received`, `file.received_again`, `file.duplicate`)
    /// of files with these SHA-256s, in order. The body's `sha256` is read as
    /// SQLite's `json_extract` does; the expression is the receipts index's.
    fn audit_receipts(&self, shas: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events \
                     WHERE kind IN ('file.received', 'file.received_again', 'file.duplicate') \
                     AND (body::jsonb ->> 'sha256') = ANY($1) ORDER BY seq"
                ),
                &[&shas],
            )?;
            row_events(rows)
        })
    }

    /// A kept text by digest.
    fn audit_blob(&self, digest: &str) -> Result<Option<Blob>, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT kind, name, content FROM audit_blobs WHERE digest = $1",
                &[&digest],
            )?;
            Ok(match row {
                Some(r) => Some(Blob {
                    kind: r.try_get(0)?,
                    name: r.try_get(1)?,
                    content: r.try_get(2)?,
                }),
                None => None,
            })
        })
    }

    /// The body of the latest `run.finished` event of a run.
    fn last_run_finished(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT body FROM audit_events WHERE run_id = $1 AND kind = 'run.finished' \
                 ORDER BY seq DESC LIMIT 1",
                &[&run_id],
            )?;
            row.map(|r| r.try_get(0)).transpose()
        })
    }

    /// Where a house bill was first seen (of one carrier, or all), in
    /// carrier byte order: the order SQLite's (carrier, house_bill) key gives.
    fn history_of_bill(
        &self,
        house_bill: &str,
        carrier: Option<&str>,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT carrier, consignee_key, arrival_date, total_usd, source_file, file_sha256, run_id \
                 FROM shipments WHERE house_bill = $1 AND ($2::text IS NULL OR carrier = $2) \
                 ORDER BY carrier COLLATE \"C\"",
                &[&house_bill, &carrier],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(HistoryRow {
                        carrier: r.try_get(0)?,
                        consignee_key: r.try_get(1)?,
                        arrival_date: r.try_get(2)?,
                        total_usd: r.try_get(3)?,
                        source_file: r.try_get(4)?,
                        file_sha256: r.try_get(5)?,
                        run_id: r.try_get(6)?,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::sqlite::SqliteStore;

    fn ev(n: u32) -> AuditEvent {
        AuditEvent::new("test.event", serde_json::json!({ "n": n }))
            .shipment("DHLX", &format!("HB{n}"))
    }

    /// Runs SQL as the owner on a connection of its own (tampering, setup).
    fn sql(db: &ScratchDb, q: &str) -> Result<(), postgres::Error> {
        db.admin(|c| Ok(c.batch_execute(q)))
    }

    fn seqs(store: &PgStore) -> Vec<i64> {
        store
            .with(|c| {
                let rows = c.query("SELECT seq FROM audit_events ORDER BY seq", &[])?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
            .unwrap()
    }

    fn head_row(store: &PgStore) -> (i64, String) {
        store
            .with(|c| {
                let r = c.query_one("SELECT seq, hash FROM audit_head", &[])?;
                Ok((r.get(0), r.get(1)))
            })
            .unwrap()
    }

    #[test]
    fn appends_with_blobs_verify_and_are_found_again() {
        let db = ScratchDb::new();
        let mut s = db.open();
        assert_eq!(s.audit_head().unwrap(), (0, GENESIS.to_owned()));
        assert_eq!(s.audit_verify().unwrap().events, 0);
        let blob = NewBlob {
            digest: "d1",
            kind: "job",
            name: "jobs/a.toml",
            content: "name = 'a'",
        };
        let other = NewBlob {
            content: "changed",
            ..blob
        };
        let ev1 = AuditEvent::new("run.started", serde_json::json!({"job": "a"})).run("r1");
        assert_eq!(s.append_audit_with_blobs(&ev1, &[blob, other]).unwrap(), 1);
        let done = AuditEvent::new("run.finished", serde_json::json!({"outputs": []})).run("r1");
        assert_eq!(s.append_audit(&done).unwrap(), 2);
        // The first text kept under a digest stays.
        assert_eq!(s.append_audit_with_blobs(&done, &[other]).unwrap(), 3);
        assert_eq!(
            s.audit_blob("d1").unwrap(),
            Some(Blob {
                kind: "job".into(),
                name: "jobs/a.toml".into(),
                content: "name = 'a'".into()
            })
        );
        assert_eq!(s.audit_blob("nope").unwrap(), None);
        let v = s.audit_verify().unwrap();
        assert_eq!((v.events, v.broken.clone()), (3, None));
        let (seq, hash) = s.audit_head().unwrap();
        assert_eq!((seq, &hash), (v.head.0, &v.head.1));
        assert_eq!(head_row(&s), (3, hash.clone()));
        assert_eq!(s.audit_has_hash(3, &hash).unwrap(), Some(true));
        assert_eq!(
            s.audit_has_hash(3, &hash.to_uppercase()).unwrap(),
            Some(true)
        );
        assert_eq!(s.audit_has_hash(3, "00").unwrap(), Some(false));
        assert_eq!(s.audit_has_hash(4, &hash).unwrap(), None);
        assert_eq!(
            s.last_run_finished("r1").unwrap().as_deref(),
            Some(r#"{"outputs":[]}"#)
        );
        assert_eq!(s.last_run_finished("r2").unwrap(), None);
        let filter = EventFilter {
            run_ids: vec!["r1".into()],
            ..EventFilter::default()
        };
        let got = s.audit_events(&filter).unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(got[0].body, r#"{"job":"a"}"#);
        // An empty bulk append answers the head and appends nothing.
        assert_eq!(s.append_audit_many(Vec::new()).unwrap(), 3);
        assert_eq!(
            s.append_audit_many((4..=2500).map(ev).collect()).unwrap(),
            2500
        );
        let v = s.audit_verify().unwrap();
        assert_eq!((v.events, v.head.0, v.broken), (2500, 2500, None));
        assert_eq!(head_row(&s), s.audit_head().unwrap());
    }

    #[test]
    fn concurrent_appends_from_several_connections_are_gapless_and_verify() {
        const THREADS: usize = 3;
        const EACH: i64 = 200;
        let db = ScratchDb::new();
        let stores: Vec<PgStore> = (0..THREADS).map(|_| db.open()).collect();
        let start = std::sync::Barrier::new(THREADS);
        let got: Vec<Vec<i64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .into_iter()
                .enumerate()
                .map(|(t, mut s)| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        let mut mine = Vec::new();
                        let mut n = 0;
                        while n < EACH {
                            let e =
                                AuditEvent::new("test.race", serde_json::json!({"t": t, "n": n}));
                            // Every tenth append is a small bulk one.
                            if n % 10 == 8 {
                                let last = s.append_audit_many(vec![e.clone(), e]).unwrap();
                                mine.extend([last - 1, last]);
                                n += 2;
                            } else {
                                mine.push(s.append_audit(&e).unwrap());
                                n += 1;
                            }
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for mine in &got {
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        }
        let mut all: Vec<i64> = got.concat();
        all.sort_unstable();
        let n = THREADS as i64 * EACH;
        assert_eq!(all, (1..=n).collect::<Vec<_>>(), "each seq handed out once");
        let s = db.open();
        assert_eq!(seqs(&s), (1..=n).collect::<Vec<_>>(), "stored without gaps");
        let v = s.audit_verify().unwrap();
        assert_eq!((v.events, v.head.0, v.broken), (n as u64, n, None));
        assert_eq!(head_row(&s), v.head);
    }

    #[test]
    fn a_rolled_back_append_leaves_no_gap() {
        let db = ScratchDb::new();
        let mut s = db.open();
        s.append_audit(&ev(1)).unwrap();
        s.with(|c| {
            let mut tx = c.transaction()?;
            assert_eq!(append_in(&mut tx, &[ev(2), ev(3)])?, 3);
            tx.rollback()
        })
        .unwrap();
        assert_eq!(head_row(&s).0, 1);
        assert_eq!(s.append_audit(&ev(2)).unwrap(), 2);
        let v = s.audit_verify().unwrap();
        assert_eq!((v.events, v.broken), (2, None));
    }

    #[test]
    fn a_tampered_row_breaks_the_chain_at_that_seq() {
        let db = ScratchDb::new();
        let mut s = db.open();
        s.append_audit_many((1..=5).map(ev).collect()).unwrap();
        let good = s.audit_verify().unwrap();
        assert_eq!((good.events, good.broken.clone()), (5, None));
        // Append-only: the triggers refuse edits.
        for q in [
            "UPDATE audit_events SET body = '{}' WHERE seq = 3",
            "DELETE FROM audit_events WHERE seq = 3",
            "TRUNCATE audit_events",
            "DELETE FROM audit_head",
        ] {
            let e = sql(&db, q).unwrap_err();
            assert!(format!("{e:?}").contains("append-only"), "{q}: {e:?}");
        }
        // With them disabled, the chain still gives an edit away.
        sql(&db, "ALTER TABLE audit_events DISABLE TRIGGER USER").unwrap();
        let hash2 = s.audit_events(&EventFilter::default()).unwrap()[1]
            .hash
            .clone();
        sql(
            &db,
            r#"UPDATE audit_events SET body = '{"n":33}' WHERE seq = 3"#,
        )
        .unwrap();
        let v = s.audit_verify().unwrap();
        let b = v.broken.clone().unwrap();
        assert_eq!((b.seq, b.why.clone()), (3, Break::Altered));
        assert_eq!(b.kind, "test.event");
        assert!(b.to_string().contains("event 3 (test.event"), "{b}");
        assert_eq!((v.events, v.head), (2, (2, hash2)));

        // A deleted event is a gap.
        let db = ScratchDb::new();
        let mut s = db.open();
        s.append_audit_many((1..=5).map(ev).collect()).unwrap();
        sql(
            &db,
            "ALTER TABLE audit_events DISABLE TRIGGER USER; DELETE FROM audit_events WHERE seq = 2",
        )
        .unwrap();
        let b = s.audit_verify().unwrap().broken.unwrap();
        assert_eq!((b.seq, b.why), (3, Break::Missing { expected_seq: 2 }));

        // A rewritten event with a recomputed hash breaks the next link.
        let db = ScratchDb::new();
        let mut s = db.open();
        s.append_audit_many((1..=3).map(ev).collect()).unwrap();
        let e = s.audit_events(&EventFilter::default()).unwrap()[1].clone();
        let body = r#"{"n":99}"#;
        let mut buf = Vec::new();
        canonical_bytes(
            e.seq,
            &e.at,
            &e.kind,
            e.run_id.as_deref(),
            e.carrier.as_deref(),
            e.house_bill.as_deref(),
            e.entry_number.as_deref(),
            body,
            &mut buf,
        );
        let forged = chain_hash(&e.prev_hash, &buf);
        sql(
            &db,
            &format!(
                "ALTER TABLE audit_events DISABLE TRIGGER USER; \
                 UPDATE audit_events SET body = '{body}', hash = '{forged}' WHERE seq = 2"
            ),
        )
        .unwrap();
        let b = s.audit_verify().unwrap().broken.unwrap();
        assert_eq!(b.seq, 3);
        assert!(matches!(b.why, Break::Relinked { .. }), "{b}");
    }

    /// Rows copied verbatim into SQLite answer every question alike, and
    /// verify alike before and after the same edit.
    #[test]
    fn rows_copied_to_sqlite_answer_alike() {
        use crate::state::intake::IntakeStore;
        let dir = tempfile::tempdir().unwrap();
        let mut lite = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        // SQLite's own receipts, to copy in as they are.
        let sha = "a".repeat(64);
        lite.take_file("j", "in", "x.csv", 3, None, &sha, "st")
            .unwrap();
        lite.take_file("j", "in", "y.csv", 3, None, &"b".repeat(64), "st")
            .unwrap();
        let receipts = lite.audit_events(&EventFilter::default()).unwrap();
        lite.conn_mut()
            .execute_batch("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events;")
            .unwrap();

        let db = ScratchDb::new();
        let mut pg = db.open();
        // Receipts as the intake store records them, then a mix of keys.
        let mut events: Vec<AuditEvent> = receipts
            .iter()
            .map(|e| AuditEvent::new(&e.kind, serde_json::from_str(&e.body).unwrap()))
            .collect();
        events.push(ev(3).run("r1"));
        events.push(AuditEvent::new("run.finished", serde_json::json!({"ok": 1})).run("r1"));
        events.push(AuditEvent::new("run.finished", serde_json::json!({"ok": 2})).run("r1"));
        events.push(ev(4).entry("K9Q-0000001-0"));
        events.push(AuditEvent::new("x.y", serde_json::json!({"s": "é\"\\\n"})).run("r2"));
        for e in &events[..3] {
            pg.append_audit(e).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        pg.append_audit_many(events[3..].to_vec()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        pg.append_audit(&ev(5).entry("K9Q-0000002-0")).unwrap();

        let copy = |lite: &mut SqliteStore| {
            let tx = lite.conn_mut().transaction().unwrap();
            tx.execute("DELETE FROM audit_events", []).unwrap();
            for e in pg.audit_events(&EventFilter::default()).unwrap() {
                tx.execute(
                    &format!("INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                    rusqlite::params![e.seq, e.at, e.kind, e.run_id, e.carrier, e.house_bill, e.entry_number, e.body, e.prev_hash, e.hash],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        };
        copy(&mut lite);

        let all = pg.audit_events(&EventFilter::default()).unwrap();
        assert_eq!(all.len(), 8);
        let mid = all[4].at.clone();
        let filters = [
            EventFilter::default(),
            EventFilter {
                house_bill: Some("HB3".into()),
                ..Default::default()
            },
            EventFilter {
                entry_numbers: vec!["K9Q-0000001-0".into(), "K9Q-0000002-0".into()],
                ..Default::default()
            },
            EventFilter {
                run_ids: vec!["r1".into(), "r2".into()],
                ..Default::default()
            },
            EventFilter {
                house_bill: Some("HB4".into()),
                run_ids: vec!["r2".into()],
                from: Some(mid.clone()),
                ..Default::default()
            },
            EventFilter {
                from: Some(all[1].at.clone()),
                to: Some(mid.clone()),
                ..Default::default()
            },
            EventFilter {
                to: Some("2000-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        ];
        for f in &filters {
            let (p, l) = (pg.audit_events(f).unwrap(), lite.audit_events(f).unwrap());
            assert_eq!(p, l, "{f:?}");
        }
        assert!(!pg.audit_events(&filters[5]).unwrap().is_empty());
        for shas in [vec![sha.clone()], vec![sha.clone(), "b".repeat(64)], vec![]] {
            let p = pg.audit_receipts(&shas).unwrap();
            assert_eq!(p, lite.audit_receipts(&shas).unwrap());
            assert_eq!(p.len(), shas.len());
        }
        for run in ["r1", "r2"] {
            assert_eq!(
                pg.last_run_finished(run).unwrap(),
                lite.last_run_finished(run).unwrap()
            );
        }
        assert_eq!(
            pg.last_run_finished("r1").unwrap().as_deref(),
            Some(r#"{"ok":2}"#)
        );
        assert_eq!(pg.audit_head().unwrap(), lite.audit_head().unwrap());
        let v = pg.audit_verify().unwrap();
        assert_eq!(v, lite.audit_verify().unwrap());
        assert_eq!((v.events, v.broken), (8, None));

        // The same edit on both: the same break.
        sql(
            &db,
            "ALTER TABLE audit_events DISABLE TRIGGER USER; \
             UPDATE audit_events SET run_id = 'r9' WHERE seq = 6",
        )
        .unwrap();
        copy(&mut lite);
        let v = pg.audit_verify().unwrap();
        assert_eq!(v, lite.audit_verify().unwrap());
        assert_eq!(v.broken.map(|b| (b.seq, b.why)), Some((6, Break::Altered)));
    }

    #[test]
    fn the_history_of_a_bill_comes_in_carrier_order() {
        let db = ScratchDb::new();
        let s = db.open();
        // 001 creates `shipments`; made here only if it is not there yet.
        sql(
            &db,
            "CREATE TABLE IF NOT EXISTS shipments (carrier TEXT NOT NULL, house_bill TEXT NOT NULL, \
             consignee_key TEXT NOT NULL, arrival_date BIGINT, total_usd TEXT NOT NULL, source_file TEXT NOT NULL, \
             file_sha256 TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (carrier, house_bill))",
        )
        .unwrap();
        sql(
            &db,
            "INSERT INTO shipments VALUES \
             ('b', 'H1', 'k2', NULL, '7.00', 'f2.csv', 's2', 'r2'), \
             ('B', 'H1', 'k1', 19000, '12.50', 'f1.csv', 's1', 'r1'), \
             ('a', 'H2', 'k3', 19001, '1', 'f3.csv', 's3', 'r3')",
        )
        .unwrap();
        let got = s.history_of_bill("H1", None).unwrap();
        assert_eq!(
            got,
            [
                HistoryRow {
                    carrier: "B".into(),
                    consignee_key: "k1".into(),
                    arrival_date: Some(19000),
                    total_usd: "12.50".into(),
                    source_file: "f1.csv".into(),
                    file_sha256: "s1".into(),
                    run_id: "r1".into(),
                },
                HistoryRow {
                    carrier: "b".into(),
                    consignee_key: "k2".into(),
                    arrival_date: None,
                    total_usd: "7.00".into(),
                    source_file: "f2.csv".into(),
                    file_sha256: "s2".into(),
                    run_id: "r2".into(),
                },
            ]
        );
        let one = s.history_of_bill("H1", Some("b")).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].consignee_key, "k2");
        assert!(s.history_of_bill("H3", None).unwrap().is_empty());
        assert!(s.history_of_bill("H2", Some("b")).unwrap().is_empty());
    }
}
