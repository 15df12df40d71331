//! The audit trail: an append-only, hash-chained event log in the state store.
//!
//! Every event is one row of `audit_events`: a gapless sequence number, the
//! time, a kind (`file.received`, `run.finished`, `filing.response`,
//! `email.sent`, ...), the keys it concerns (run, carrier and house bill,
//! entry number) and a JSON body. Its `hash` is SHA-256 over the previous
//! event's hash (32 raw bytes; all zeros before the first event) followed by
//! the event's canonical bytes ([`canonical_bytes`]): every column as stored,
//! length-prefixed, in a fixed order. Changing, inserting or deleting any row
//! therefore breaks the chain at that row, and [`verify`] names it.
//!
//! Append-only is also enforced by triggers that refuse `UPDATE` and `DELETE`
//! (an operator with write access to the file can drop them; the chain still
//! gives the edit away). What the chain cannot show on its own is a cut-off
//! tail: the head (last sequence number and hash) is printed by
//! `s321d audit verify` and carried in every daily report email, so a copy
//! outside the store exists; `verify --head SEQ:HASH` checks against one.
//!
//! Exact texts the events refer to by digest (job files, policies) are kept
//! once each in `audit_blobs`, so an evidence pack can show the mapping and the
//! policy that were in force, byte for byte.
//!
//! This module owns the tables and the chain. What is recorded, and when, is
//! decided by the callers (intake, ledger, daemon, reports); appends that must
//! be atomic with a state change take the caller's transaction.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::dates::ts_micros;

/// The tables, created on open (independent of the numbered migrations).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit_events (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    run_id       TEXT,
    carrier      TEXT,
    house_bill   TEXT,
    entry_number TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_house_bill ON audit_events (house_bill);
CREATE INDEX IF NOT EXISTS audit_by_entry ON audit_events (entry_number);
CREATE INDEX IF NOT EXISTS audit_by_run ON audit_events (run_id);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_events (at);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_blobs (
    digest  TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    content TEXT NOT NULL,
    at      TEXT NOT NULL
);
"#;

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Creates the tables if they are missing.
pub fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Dotted kind, e.g. `file.received`.
    pub kind: String,
    pub run_id: Option<String>,
    pub carrier: Option<String>,
    pub house_bill: Option<String>,
    pub entry_number: Option<String>,
    /// Details; stored as compact JSON text.
    pub body: serde_json::Value,
}

impl AuditEvent {
    pub fn new(kind: &str, body: serde_json::Value) -> AuditEvent {
        AuditEvent {
            kind: kind.to_owned(),
            run_id: None,
            carrier: None,
            house_bill: None,
            entry_number: None,
            body,
        }
    }

    pub fn run(mut self, run_id: &str) -> AuditEvent {
        self.run_id = Some(run_id.to_owned());
        self
    }

    pub fn shipment(mut self, carrier: &str, house_bill: &str) -> AuditEvent {
        self.carrier = Some(carrier.to_owned());
        self.house_bill = Some(house_bill.to_owned());
        self
    }

    pub fn entry(mut self, entry_number: &str) -> AuditEvent {
        self.entry_number = Some(entry_number.to_owned());
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub run_id: Option<String>,
    pub carrier: Option<String>,
    pub house_bill: Option<String>,
    pub entry_number: Option<String>,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The bytes an event's hash covers (besides the previous hash): a version
/// tag, then each column as stored, as an 8-byte little-endian length and the
/// bytes (`u64::MAX` and nothing for NULL), in this order: seq (decimal), at,
/// kind, run_id, carrier, house_bill, entry_number, body.
#[allow(clippy::too_many_arguments)]
pub fn canonical_bytes(
    seq: i64,
    at: &str,
    kind: &str,
    run_id: Option<&str>,
    carrier: Option<&str>,
    house_bill: Option<&str>,
    entry_number: Option<&str>,
    body: &str,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(b"s321d-audit-v1\0");
    let mut field = |v: Option<&[u8]>| match v {
        Some(b) => {
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&u64::MAX.to_le_bytes()),
    };
    field(Some(seq.to_string().as_bytes()));
    field(Some(at.as_bytes()));
    field(Some(kind.as_bytes()));
    field(run_id.map(str::as_bytes));
    field(carrier.map(str::as_bytes));
    field(house_bill.map(str::as_bytes));
    field(entry_number.map(str::as_bytes));
    field(Some(body.as_bytes()));
}

/// SHA-256 over the previous hash (raw) and the canonical bytes, as hex.
pub fn chain_hash(prev_hash_hex: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    let mut prev = [0u8; 32];
    // A malformed previous hash hashes as zeros; verify reports it anyway.
    let _ = hex::decode_to_slice(prev_hash_hex, &mut prev);
    h.update(prev);
    h.update(canonical);
    hex::encode(h.finalize())
}

fn stored_hash(e: &StoredEvent, buf: &mut Vec<u8>) -> String {
    canonical_bytes(
        e.seq,
        &e.at,
        &e.kind,
        e.run_id.as_deref(),
        e.carrier.as_deref(),
        e.house_bill.as_deref(),
        e.entry_number.as_deref(),
        &e.body,
        buf,
    );
    chain_hash(&e.prev_hash, buf)
}

/// The last event's (seq, hash), or (0, GENESIS).
pub fn head(conn: &Connection) -> rusqlite::Result<(i64, String)> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_owned())))
}

/// Appends one event on `conn` (pass the caller's transaction to make it
/// atomic with the change it records). Returns its sequence number.
pub fn append(conn: &Connection, event: &AuditEvent) -> rusqlite::Result<i64> {
    let (last, prev) = head(conn)?;
    let mut buf = Vec::with_capacity(512);
    insert(conn, last + 1, &prev, Utc::now(), event, &mut buf).map(|(seq, _)| seq)
}

fn insert(
    conn: &Connection,
    seq: i64,
    prev: &str,
    at: DateTime<Utc>,
    e: &AuditEvent,
    buf: &mut Vec<u8>,
) -> rusqlite::Result<(i64, String)> {
    let at = ts_micros(at);
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
        buf,
    );
    let hash = chain_hash(prev, buf);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit_events (seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    stmt.execute(params![
        seq,
        at,
        e.kind,
        e.run_id,
        e.carrier,
        e.house_bill,
        e.entry_number,
        body,
        prev,
        hash
    ])?;
    Ok((seq, hash))
}

/// Appends many events in one immediate transaction (bulk loads, benchmarks).
pub fn append_many(
    conn: &mut Connection,
    events: impl IntoIterator<Item = AuditEvent>,
) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (mut seq, mut prev) = head(&tx)?;
    let mut buf = Vec::with_capacity(512);
    let now = Utc::now();
    for e in events {
        let (s, h) = insert(&tx, seq + 1, &prev, now, &e, &mut buf)?;
        seq = s;
        prev = h;
    }
    tx.commit()?;
    Ok(seq)
}

/// Appends one event in its own immediate transaction (takes the write lock
/// first, so two processes never read the same head).
pub fn append_now(conn: &mut Connection, event: &AuditEvent) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let seq = append(&tx, event)?;
    tx.commit()?;
    Ok(seq)
}

/// Keeps an exact text (a job file, a policy) under its digest, once.
pub fn store_blob(
    conn: &Connection,
    digest: &str,
    kind: &str,
    name: &str,
    content: &str,
) -> rusqlite::Result<()> {
    let sha = hex::encode(Sha256::digest(content.as_bytes()));
    conn.execute(
        "INSERT OR IGNORE INTO audit_blobs (digest, kind, name, sha256, content, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![digest, kind, name, sha, content, ts_micros(Utc::now())],
    )
    .map(|_| ())
}

/// A kept text: (kind, name, content).
pub fn blob(conn: &Connection, digest: &str) -> rusqlite::Result<Option<(String, String, String)>> {
    conn.query_row(
        "SELECT kind, name, content FROM audit_blobs WHERE digest = ?1",
        [digest],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// Why the chain is broken at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content no longer matches its hash: the row was changed.
    Altered,
    /// Its `prev_hash` is not the previous event's hash: an event before it
    /// was changed, removed or inserted.
    Relinked { expected: String },
    /// Sequence numbers jump: events were deleted.
    Missing { expected_seq: i64 },
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub why: Break,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event {} ({}, {}): ", self.seq, self.kind, self.at)?;
        match &self.why {
            Break::Altered => write!(
                f,
                "its content does not match its hash (the row was changed)"
            ),
            Break::Relinked { expected } => write!(
                f,
                "its prev_hash is not the hash of the event before it ({}...): an earlier event was changed, removed or inserted",
                &expected[..expected.len().min(16)]
            ),
            Break::Missing { expected_seq } => {
                write!(
                    f,
                    "events {expected_seq} to {} are missing (deleted)",
                    self.seq - 1
                )
            }
        }
    }
}

/// The outcome of a walk over the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events checked.
    pub events: u64,
    /// The last event's (seq, hash) reached, or (0, GENESIS).
    pub head: (i64, String),
    /// The first broken link, if any (the walk stops there).
    pub broken: Option<BrokenLink>,
}

/// Walks the whole chain in order, recomputing every hash.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash FROM audit_events ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let e = row_event(r)?;
        let broken = |why| BrokenLink {
            seq: e.seq,
            kind: e.kind.clone(),
            at: e.at.clone(),
            why,
        };
        if e.seq != expected_seq {
            return Ok(Verification {
                events: n,
                head: (expected_seq - 1, prev),
                broken: Some(broken(Break::Missing { expected_seq })),
            });
        }
        if e.prev_hash != prev {
            return Ok(Verification {
                events: n,
                head: (expected_seq - 1, prev.clone()),
                broken: Some(broken(Break::Relinked { expected: prev })),
            });
        }
        if stored_hash(&e, &mut buf) != e.hash {
            return Ok(Verification {
                events: n,
                head: (expected_seq - 1, prev),
                broken: Some(broken(Break::Altered)),
            });
        }
        n += 1;
        expected_seq += 1;
        prev = e.hash;
    }
    Ok(Verification {
        events: n,
        head: (expected_seq - 1, prev),
        broken: None,
    })
}

/// Whether a stored event still carries the hash it had when a head was
/// noted (`verify --head SEQ:HASH`): detects a chain cut off or rewritten
/// after that point.
pub fn has_event_hash(conn: &Connection, seq: i64, hash: &str) -> rusqlite::Result<Option<bool>> {
    Ok(conn
        .query_row("SELECT hash FROM audit_events WHERE seq = ?1", [seq], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .map(|h| h.eq_ignore_ascii_case(hash)))
}

fn row_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        run_id: r.get(3)?,
        carrier: r.get(4)?,
        house_bill: r.get(5)?,
        entry_number: r.get(6)?,
        body: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

const EVENT_COLUMNS: &str =
    "seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash";

/// Events matching a filter, in order.
pub fn events_where(conn: &Connection, filter: &EventFilter) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut clauses = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut any_of = Vec::new();
    if let Some(hb) = &filter.house_bill {
        values.push(hb.clone());
        any_of.push(format!("house_bill = ?{}", values.len()));
    }
    for e in &filter.entry_numbers {
        values.push(e.clone());
        any_of.push(format!("entry_number = ?{}", values.len()));
    }
    for r in &filter.run_ids {
        values.push(r.clone());
        any_of.push(format!(
            "(run_id = ?{} AND house_bill IS NULL)",
            values.len()
        ));
    }
    if !any_of.is_empty() {
        clauses.push(format!("({})", any_of.join(" OR ")));
    }
    if let Some(from) = &filter.from {
        values.push(from.clone());
        clauses.push(format!("at >= ?{}", values.len()));
    }
    if let Some(to) = &filter.to {
        values.push(to.clone());
        clauses.push(format!("at < ?{}", values.len()));
    }
    let wh = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events{wh} ORDER BY seq"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), row_event)?;
    rows.collect()
}

/// Which events [`events_where`] returns: any of the keys, within the times.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub house_bill: Option<String>,
    pub entry_numbers: Vec<String>,
    /// Run-level events (no house bill) of these runs.
    pub run_ids: Vec<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
}

/// The events the state store itself records, built here so the store's
/// transactions only make one call each.
pub mod events {
    use super::AuditEvent;
    use serde_json::json;

    /// A file taken from an inbox (or recognised as a duplicate of `duplicate_of`).
    pub fn file_received(
        id: i64,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        sha256: &str,
        duplicate_of: Option<i64>,
    ) -> AuditEvent {
        let name = crate::paths::file_name(path);
        let kind = if duplicate_of.is_some() {
            "file.duplicate"
        } else {
            "file.received"
        };
        AuditEvent::new(
            kind,
            json!({ "file_id": id, "job": job, "source": source, "path": path, "name": name, "size": size, "sha256": sha256, "duplicate_of": duplicate_of }),
        )
    }

    /// A file taken again after a stop cut its first take short (before it
    /// was archived): the same receipt as `first_file_id`'s, not a new one.
    pub fn file_received_again(
        id: i64,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        sha256: &str,
        first_file_id: i64,
    ) -> AuditEvent {
        let name = crate::paths::file_name(path);
        AuditEvent::new(
            "file.received_again",
            json!({ "file_id": id, "job": job, "source": source, "path": path, "name": name, "size": size, "sha256": sha256,
                    "first_file_id": first_file_id, "note": "received again after restart" }),
        )
    }

    /// An entry number allocated and a filing recorded before it is sent.
    pub fn filing_intent(
        f: &crate::state::ledger::Filing,
        bills: &[(String, String)],
    ) -> AuditEvent {
        use sha2::Digest as _;
        let payload_sha256 = hex::encode(sha2::Sha256::digest(f.payload.as_bytes()));
        let house_bills: Vec<serde_json::Value> = bills
            .iter()
            .map(|(c, h)| json!({"carrier": c, "house_bill": h}))
            .collect();
        AuditEvent::new(
            "filing.intent",
            json!({
                "entry_number": f.entry_number, "entry_type": f.entry_type, "job": f.job, "transport": f.transport,
                "batch": f.batch, "payload_sha256": payload_sha256, "payload_bytes": f.payload.len(),
                "house_bills": house_bills,
            }),
        )
        .run(&f.run_id)
        .shipment(&f.carrier, &f.house_bill)
        .entry(&f.entry_number)
    }

    /// A filing message sent or a response received (applied or not).
    #[allow(clippy::too_many_arguments)]
    pub fn filing_response(
        carrier: &str,
        house_bill: &str,
        entry_number: &str,
        from: &str,
        to: &str,
        applied: bool,
        code: Option<&str>,
        narrative: Option<&str>,
        message: &str,
    ) -> AuditEvent {
        AuditEvent::new(
            if to == "submitted" { "filing.sent" } else { "filing.response" },
            json!({ "from": from, "to": to, "applied": applied, "code": code, "narrative": narrative, "message": message }),
        )
        .shipment(carrier, house_bill)
        .entry(entry_number)
    }
}

/// Number of events.
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        ensure_schema(&c).unwrap();
        c
    }

    fn ev(n: u32) -> AuditEvent {
        AuditEvent::new("test.event", serde_json::json!({ "n": n }))
            .shipment("DHLX", &format!("HB{n}"))
    }

    #[test]
    fn a_chain_verifies_and_each_kind_of_tampering_is_named() {
        let mut c = conn();
        for n in 1..=5 {
            append_now(&mut c, &ev(n)).unwrap();
        }
        let v = verify(&c).unwrap();
        assert_eq!((v.events, v.head.0, v.broken.clone()), (5, 5, None));
        assert_eq!(has_event_hash(&c, 5, &v.head.1).unwrap(), Some(true));

        // Append-only: the triggers refuse edits ...
        assert!(
            c.execute("UPDATE audit_events SET body = '{}' WHERE seq = 3", [])
                .is_err()
        );
        assert!(
            c.execute("DELETE FROM audit_events WHERE seq = 3", [])
                .is_err()
        );
        // ... and with them dropped, the chain still gives an edit away.
        c.execute_batch(
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        )
        .unwrap();
        c.execute(
            "UPDATE audit_events SET body = '{\"n\":33}' WHERE seq = 3",
            [],
        )
        .unwrap();
        let v = verify(&c).unwrap();
        let b = v.broken.unwrap();
        assert_eq!((b.seq, b.why.clone()), (3, Break::Altered));
        assert!(b.to_string().contains("event 3 (test.event"), "{b}");
        assert_eq!(v.events, 2);

        // A deleted event is a gap.
        let mut c = conn();
        for n in 1..=5 {
            append_now(&mut c, &ev(n)).unwrap();
        }
        c.execute_batch("DROP TRIGGER audit_events_no_delete;")
            .unwrap();
        c.execute("DELETE FROM audit_events WHERE seq = 2", [])
            .unwrap();
        let b = verify(&c).unwrap().broken.unwrap();
        assert_eq!((b.seq, b.why), (3, Break::Missing { expected_seq: 2 }));

        // A rewritten event with a recomputed hash breaks the next link.
        let mut c = conn();
        for n in 1..=3 {
            append_now(&mut c, &ev(n)).unwrap();
        }
        c.execute_batch("DROP TRIGGER audit_events_no_update;")
            .unwrap();
        let e: StoredEvent = c
            .query_row(
                &format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq = 2"),
                [],
                row_event,
            )
            .unwrap();
        let forged = StoredEvent {
            body: "{\"n\":99}".into(),
            ..e
        };
        let mut buf = Vec::new();
        let h = stored_hash(&forged, &mut buf);
        c.execute(
            "UPDATE audit_events SET body = ?1, hash = ?2 WHERE seq = 2",
            params![forged.body, h],
        )
        .unwrap();
        let b = verify(&c).unwrap().broken.unwrap();
        assert_eq!(b.seq, 3);
        assert!(matches!(b.why, Break::Relinked { .. }));
    }

    #[test]
    fn canonical_bytes_tell_null_from_empty_and_bulk_appends_chain() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        canonical_bytes(1, "t", "k", None, Some(""), None, None, "{}", &mut a);
        canonical_bytes(1, "t", "k", Some(""), None, None, None, "{}", &mut b);
        assert_ne!(a, b);
        let mut c = conn();
        append_now(&mut c, &ev(1)).unwrap();
        assert_eq!(append_many(&mut c, (2..=100).map(ev)).unwrap(), 100);
        let v = verify(&c).unwrap();
        assert_eq!((v.events, v.broken), (100, None));
        let found = events_where(
            &c,
            &EventFilter {
                house_bill: Some("HB7".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].seq, 7);
        store_blob(&c, "d1", "job", "j.toml", "name = \"j\"").unwrap();
        store_blob(&c, "d1", "job", "j.toml", "other").unwrap();
        assert_eq!(blob(&c, "d1").unwrap().unwrap().2, "name = \"j\"");
    }

    #[test]
    fn the_store_chains_file_receipts_and_filings_in_their_own_transactions() {
        use crate::state::intake::{IntakeStore, Take};
        use crate::state::ledger::{FilingState, LedgerStore, NewFiling};
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            crate::state::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let Take::New(id) = store
            .take_file("j", "src", "inbox/a.csv", 10, None, "sha1", "/s")
            .unwrap()
        else {
            panic!()
        };
        store
            .set_file_state(
                id,
                crate::state::intake::FileState::Archived,
                Some("raw/a.csv"),
                None,
                None,
            )
            .unwrap();
        assert!(matches!(
            store
                .take_file("j", "src", "inbox/b.csv", 10, None, "sha1", "/s")
                .unwrap(),
            Take::Duplicate { .. }
        ));
        let make = |s: u64| Some(format!("K9Q-{s:07}-0"));
        let payload = |n: &str| format!("payload for {n}");
        let bills = [("DHLX".to_owned(), "H1".to_owned())];
        let record = crate::state::ledger::EntryRecord::default();
        let new = NewFiling {
            carrier: "DHLX",
            house_bill: "H1",
            bills: &bills,
            entry_type: "86",
            job: "j",
            run_id: "r1",
            transport: "http",
            batch: None,
            payload: &payload,
            record: &record,
        };
        let f = store
            .record_intent("K9Q", 1, &make, &new)
            .unwrap()
            .new_filing()
            .unwrap();
        store
            .transition(&f.entry_number, FilingState::Submitted, None, None, "sent")
            .unwrap();
        store
            .transition(
                &f.entry_number,
                FilingState::Rejected,
                Some("01"),
                Some("BAD DATA"),
                "SE90 01 BAD DATA",
            )
            .unwrap();
        store
            .transition(
                &f.entry_number,
                FilingState::Accepted,
                Some("02"),
                None,
                "SE90 02 late",
            )
            .unwrap();
        let c = store.conn_mut();
        let kinds: Vec<String> = c
            .prepare("SELECT kind FROM audit_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            kinds,
            [
                "file.received",
                "file.duplicate",
                "filing.intent",
                "filing.sent",
                "filing.response",
                "filing.response"
            ]
        );
        let v = verify(c).unwrap();
        assert_eq!((v.events, v.broken), (6, None));
        let about = events_where(
            c,
            &EventFilter {
                entry_numbers: vec![f.entry_number.clone()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(about.len(), 4);
        let last: serde_json::Value = serde_json::from_str(&about[3].body).unwrap();
        assert_eq!(
            (last["applied"].as_bool(), last["to"].as_str()),
            (Some(false), Some("accepted")),
            "an ignored late message is recorded too"
        );
        let intent: serde_json::Value = serde_json::from_str(&about[0].body).unwrap();
        use sha2::Digest as _;
        assert_eq!(
            intent["payload_sha256"],
            hex::encode(Sha256::digest(f.payload.as_bytes()))
        );
    }
}
