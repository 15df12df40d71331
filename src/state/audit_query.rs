//! The audit trail's questions and appends as store methods: the SQL that
//! `audit`, `audit::export`, `reports::dashboard` and `commands::audit` ran
//! on the store's connection before (scale-out section 2.7).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::StoreError;
use super::audit::{self, AuditEvent, EventFilter, StoredEvent, Verification};
use super::sqlite::{SqliteStore, sql_err};

/// A text kept under its digest with an event (`audit_blobs`): a job file or
/// a policy, byte for byte.
#[derive(Debug, Clone, Copy)]
pub struct NewBlob<'a> {
    pub digest: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub content: &'a str,
}

/// A kept text, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub kind: String,
    pub name: String,
    pub content: String,
}

/// A shipment as first seen (`shipments`), for evidence packs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub carrier: String,
    pub consignee_key: String,
    /// Days since 1970-01-01.
    pub arrival_date: Option<i64>,
    pub total_usd: String,
    pub source_file: String,
    pub file_sha256: String,
    pub run_id: String,
}

/// The audit chain: appends (gapless, one writer at a time), verification
/// and the questions evidence packs and dashboards ask of it.
pub trait AuditStore {
    /// Appends one event in its own immediate transaction. Returns its sequence number.
    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError>;

    /// Keeps `blobs` (once each, under their digest) and appends `event`, in
    /// one immediate transaction.
    fn append_audit_with_blobs(
        &mut self,
        event: &AuditEvent,
        blobs: &[NewBlob<'_>],
    ) -> Result<i64, StoreError>;

    /// Appends many events in one immediate transaction (bulk loads,
    /// benchmarks). Returns the last sequence number.
    fn append_audit_many(&mut self, events: Vec<AuditEvent>) -> Result<i64, StoreError>;

    /// Verifies the whole chain.
    fn audit_verify(&self) -> Result<Verification, StoreError>;

    /// The last event's (seq, hash), or (0, GENESIS).
    fn audit_head(&self) -> Result<(i64, String), StoreError>;

    /// Whether event `seq` still has `hash` (`None`: there is no such event).
    fn audit_has_hash(&self, seq: i64, hash: &str) -> Result<Option<bool>, StoreError>;

    /// Events matching `filter`, in order.
    fn audit_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError>;

    /// The receipts (`file.received`, `file.received_again`, `file.duplicate`)
    /// of files with these SHA-256s, in order.
    fn audit_receipts(&self, shas: &[String]) -> Result<Vec<StoredEvent>, StoreError>;

    /// A kept text by digest.
    fn audit_blob(&self, digest: &str) -> Result<Option<Blob>, StoreError>;

    /// The body of the latest `run.finished` event of a run.
    fn last_run_finished(&self, run_id: &str) -> Result<Option<String>, StoreError>;

    /// Where a house bill was first seen (of one carrier, or all).
    fn history_of_bill(
        &self,
        house_bill: &str,
        carrier: Option<&str>,
    ) -> Result<Vec<HistoryRow>, StoreError>;
}

impl AuditStore for SqliteStore {
    /// Appends one event in its own immediate transaction. Returns its sequence number.
    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        self.append_audit_with_blobs(event, &[])
    }

    /// Keeps `blobs` (once each, under their digest) and appends `event`, in
    /// one immediate transaction.
    fn append_audit_with_blobs(
        &mut self,
        event: &AuditEvent,
        blobs: &[NewBlob<'_>],
    ) -> Result<i64, StoreError> {
        let path = self.location().to_owned();
        let e = |e| sql_err(&path, e);
        let tx = self
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        for b in blobs {
            audit::store_blob(&tx, b.digest, b.kind, b.name, b.content).map_err(e)?;
        }
        let seq = audit::append(&tx, event).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(seq)
    }

    /// Appends many events in one immediate transaction (bulk loads,
    /// benchmarks). Returns the last sequence number.
    fn append_audit_many(&mut self, events: Vec<AuditEvent>) -> Result<i64, StoreError> {
        let path = self.location().to_owned();
        audit::append_many(self.conn_mut(), events).map_err(|e| sql_err(&path, e))
    }

    /// Verifies the whole chain.
    fn audit_verify(&self) -> Result<Verification, StoreError> {
        audit::verify(self.conn()).map_err(|e| self.err(e))
    }

    /// The last event's (seq, hash), or (0, GENESIS).
    fn audit_head(&self) -> Result<(i64, String), StoreError> {
        audit::head(self.conn()).map_err(|e| self.err(e))
    }

    /// Whether event `seq` still has `hash` (`None`: there is no such event).
    fn audit_has_hash(&self, seq: i64, hash: &str) -> Result<Option<bool>, StoreError> {
        audit::has_event_hash(self.conn(), seq, hash).map_err(|e| self.err(e))
    }

    /// Events matching `filter`, in order.
    fn audit_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        audit::events_where(self.conn(), filter).map_err(|e| self.err(e))
    }

    /// The receipts (`file.received`, `file.received_again`, `file.duplicate`)
    /// of files with these SHA-256s, in order.
    fn audit_receipts(&self, shas: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let q = || -> rusqlite::Result<Vec<StoredEvent>> {
            let mut stmt = self.conn().prepare_cached(
                "SELECT seq, at, kind, run_id, carrier, house_bill, entry_number, body, prev_hash, hash FROM audit_events \
                 WHERE kind IN ('file.received', 'file.received_again', 'file.duplicate') \
                 AND json_extract(body, '$.sha256') IN (SELECT value FROM json_each(?1)) ORDER BY seq",
            )?;
            let shas = serde_json::to_string(shas).unwrap_or_else(|_| "[]".into());
            let rows = stmt.query_map([shas], |r| {
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
            })?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))
    }

    /// A kept text by digest.
    fn audit_blob(&self, digest: &str) -> Result<Option<Blob>, StoreError> {
        audit::blob(self.conn(), digest)
            .map(|b| {
                b.map(|(kind, name, content)| Blob {
                    kind,
                    name,
                    content,
                })
            })
            .map_err(|e| self.err(e))
    }

    /// The body of the latest `run.finished` event of a run.
    fn last_run_finished(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT body FROM audit_events WHERE run_id = ?1 AND kind = 'run.finished' \
                 ORDER BY seq DESC LIMIT 1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Where a house bill was first seen (of one carrier, or all).
    fn history_of_bill(
        &self,
        house_bill: &str,
        carrier: Option<&str>,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let q = || -> rusqlite::Result<Vec<HistoryRow>> {
            let mut stmt = self.conn().prepare_cached(
                "SELECT carrier, consignee_key, arrival_date, total_usd, source_file, file_sha256, run_id \
                 FROM shipments WHERE house_bill = ?1 AND (?2 IS NULL OR carrier = ?2)",
            )?;
            let rows = stmt.query_map(params![house_bill, carrier], |r| {
                Ok(HistoryRow {
                    carrier: r.get(0)?,
                    consignee_key: r.get(1)?,
                    arrival_date: r.get(2)?,
                    total_usd: r.get(3)?,
                    source_file: r.get(4)?,
                    file_sha256: r.get(5)?,
                    run_id: r.get(6)?,
                })
            })?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn appends_with_blobs_verify_and_are_found_again() {
        let (_d, mut s) = store();
        assert_eq!(s.audit_head().unwrap().0, 0);
        let blob = NewBlob {
            digest: "d1",
            kind: "job",
            name: "jobs/a.toml",
            content: "name = 'a'",
        };
        let ev = AuditEvent::new("run.started", serde_json::json!({"job": "a"})).run("r1");
        let seq = s.append_audit_with_blobs(&ev, &[blob, blob]).unwrap();
        assert_eq!(seq, 1);
        let done = AuditEvent::new("run.finished", serde_json::json!({"outputs": []})).run("r1");
        assert_eq!(s.append_audit(&done).unwrap(), 2);
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
        assert!(v.broken.is_none());
        assert_eq!(v.events, 2);
        let (seq, hash) = s.audit_head().unwrap();
        assert_eq!(seq, 2);
        assert_eq!(s.audit_has_hash(2, &hash).unwrap(), Some(true));
        assert_eq!(s.audit_has_hash(2, "00").unwrap(), Some(false));
        assert_eq!(s.audit_has_hash(3, &hash).unwrap(), None);
        assert_eq!(
            s.last_run_finished("r1").unwrap().as_deref(),
            Some(r#"{"outputs":[]}"#)
        );
        assert_eq!(s.last_run_finished("r2").unwrap(), None);
        let filter = EventFilter {
            run_ids: vec!["r1".into()],
            ..EventFilter::default()
        };
        assert_eq!(s.audit_events(&filter).unwrap().len(), 2);
    }

    #[test]
    fn receipts_are_found_by_the_files_sha256() {
        use super::super::intake::IntakeStore;
        let (_d, mut s) = store();
        let sha = "a".repeat(64);
        s.take_file("j", "in", "x.csv", 3, None, &sha, "st")
            .unwrap();
        s.take_file("j", "in", "y.csv", 3, None, &"b".repeat(64), "st")
            .unwrap();
        let got = s.audit_receipts(std::slice::from_ref(&sha)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, "file.received");
        assert!(s.audit_receipts(&[]).unwrap().is_empty());
        assert!(s.history_of_bill("H1", None).unwrap().is_empty());
    }
}
