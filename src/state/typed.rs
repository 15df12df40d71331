//! The typed tables that replaced the `kv` table (scale-out section 3), their
//! store methods, and migration 8, which moves the old `kv` rows into them.
//!
//! | was (`kv` key)                    | now                                   |
//! |-----------------------------------|---------------------------------------|
//! | `received:{job}:{sha256}`         | `file_receipts`                       |
//! | `filing:{run}` = pending/done     | `run_duties` (`filing`, due/done)     |
//! | `exceptions-due:{run}`            | `run_duties` (`exceptions`)           |
//! | `exceptions:{run}:{carrier}`      | `exception_reports`                   |
//! | `report:run:{run}`                | `run_aggregates`                      |
//! | `http_notifications_cursor`       | `cursors` (`http_notifications`)      |

use chrono::Utc;
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::sqlite::SqliteStore;
use super::types::{Cursor, Duty, DutyState};
use crate::dates::ts_millis;

const DDL: &str = r#"
CREATE TABLE file_receipts (
    job           TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    first_file_id INTEGER NOT NULL,   -- the file whose receipt is in the audit trail
    PRIMARY KEY (job, sha256)
) WITHOUT ROWID;
CREATE TABLE run_duties (
    run_id     TEXT NOT NULL,
    duty       TEXT NOT NULL CHECK (duty IN ('filing', 'exceptions')),
    state      TEXT NOT NULL CHECK (state IN ('due', 'done', 'off')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, duty)
) WITHOUT ROWID;
CREATE INDEX run_duties_due ON run_duties (duty, state);
CREATE TABLE exception_reports (
    run_id    TEXT NOT NULL,
    carrier   TEXT NOT NULL,
    email_id  TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    PRIMARY KEY (run_id, carrier)
) WITHOUT ROWID;
CREATE TABLE run_aggregates (
    run_id      TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    aggregate   TEXT NOT NULL,      -- JSON
    computed_at TEXT NOT NULL
);
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY CHECK (name IN ('http_notifications')),
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO run_duties (run_id, duty, state, updated_at)
    SELECT substr(key, 8), 'filing', CASE value WHEN 'pending' THEN 'due' ELSE 'done' END, ?1
    FROM kv WHERE key LIKE 'filing:%';
INSERT INTO run_duties (run_id, duty, state, updated_at)
    SELECT substr(key, 16), 'exceptions', value, ?1 FROM kv WHERE key LIKE 'exceptions-due:%';
INSERT INTO run_aggregates (run_id, version, aggregate, computed_at)
    SELECT substr(key, 12), COALESCE(json_extract(value, '$.version'), 0), value, ?1
    FROM kv WHERE key LIKE 'report:run:%' AND json_valid(value);
INSERT INTO cursors (name, position, updated_at)
    SELECT 'http_notifications', CAST(value AS INTEGER), ?1 FROM kv WHERE key = 'http_notifications_cursor';
"#;

/// The outbox id `reports::outbox::queue_once` gave the report queued under
/// `key` (`exceptions:{run}:{carrier}` for exception reports).
pub fn once_id(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// The key an exception report is queued under (its outbox id is [`once_id`] of it).
pub fn exception_report_key(run_id: &str, carrier: &str) -> String {
    format!("exceptions:{run_id}:{carrier}")
}

fn refused(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        Some(message),
    )
}

/// Migration 8: creates the typed tables, copies every `kv` row into them
/// with the same meaning, and drops `kv`, in the migration's transaction. A
/// key of no known kind stops it (nothing is dropped unread).
pub(super) fn migrate_kv_to_typed_tables(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let now = ts_millis(Utc::now());
    // `execute_batch` takes no parameters: the time goes in as a literal.
    tx.execute_batch(&DDL.replace("?1", &format!("'{now}'")))?;
    let rows: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT key, value FROM kv WHERE key LIKE 'received:%' OR key LIKE 'exceptions:%' ORDER BY key",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (key, value) in rows {
        if let Some(rest) = key.strip_prefix("received:") {
            // The job may hold ':'; the SHA-256 is the last 64 characters.
            let split = rest.len().checked_sub(65);
            let (job, sha) = match split {
                Some(at) if rest.as_bytes()[at] == b':' && rest.is_char_boundary(at) => {
                    (&rest[..at], &rest[at + 1..])
                }
                _ => return Err(refused(format!("kv key {key:?}: no job and SHA-256 in it"))),
            };
            let first: i64 = value
                .parse()
                .map_err(|_| refused(format!("kv key {key:?}: file id {value:?}")))?;
            tx.execute(
                "INSERT INTO file_receipts (job, sha256, first_file_id) VALUES (?1, ?2, ?3)",
                params![job, sha, first],
            )?;
        } else if let Some(rest) = key.strip_prefix("exceptions:") {
            // Run ids hold no ':'; the carrier may.
            let Some((run, carrier)) = rest.split_once(':') else {
                return Err(refused(format!("kv key {key:?}: no run and carrier in it")));
            };
            tx.execute(
                "INSERT INTO exception_reports (run_id, carrier, email_id, queued_at) VALUES (?1, ?2, ?3, ?4)",
                params![run, carrier, once_id(&key), now],
            )?;
        }
    }
    let unknown: Option<String> = tx
        .query_row(
            "SELECT key FROM kv WHERE NOT (key LIKE 'received:%' OR key LIKE 'exceptions:%' \
             OR key LIKE 'filing:%' OR key LIKE 'exceptions-due:%' OR key LIKE 'report:run:%' \
             OR key = 'http_notifications_cursor') LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(key) = unknown {
        return Err(refused(format!(
            "kv key {key:?} is of no kind this s321d knows; not migrating"
        )));
    }
    tx.execute_batch("DROP TABLE kv;")
}

fn corrupt(store: &SqliteStore, what: &str, text: &str) -> StoreError {
    StoreError::Other {
        location: store.location().display().to_string(),
        message: format!("unknown {what} {text:?}"),
    }
}

/// The typed tables that replaced `kv`: run duties, queued exception
/// reports, run aggregates and cursors.
pub trait TypedStore {
    /// Records where a run stands with a duty.
    fn set_run_duty(&self, run_id: &str, duty: Duty, state: DutyState) -> Result<(), StoreError>;

    /// Where a run stands with a duty (`None`: it never had it).
    fn run_duty(&self, run_id: &str, duty: Duty) -> Result<Option<DutyState>, StoreError>;

    /// A job's complete runs (evaluated or succeeded, not replays) whose
    /// `duty` is in `state`, oldest first.
    fn runs_with_duty(
        &self,
        job: &str,
        duty: Duty,
        state: DutyState,
    ) -> Result<Vec<String>, StoreError>;

    /// Gives `to` the duties `from` has, as they stand (a run split into
    /// runs of one file each: each still owes what the whole run owed).
    fn copy_duties(&self, from: &str, to: &str) -> Result<(), StoreError>;

    /// Whether that carrier's exception report of that run is queued.
    fn exception_report_queued(&self, run_id: &str, carrier: &str) -> Result<bool, StoreError>;

    /// Records that carrier's exception report of the run as queued under
    /// the outbox id `email_id` (the first record stays).
    fn set_exception_report_queued(
        &self,
        run_id: &str,
        carrier: &str,
        email_id: &str,
    ) -> Result<(), StoreError>;

    /// A run's cached dashboard aggregate (JSON), if one of at least
    /// `min_version` is kept.
    fn run_aggregate(&self, run_id: &str, min_version: u32) -> Result<Option<String>, StoreError>;

    /// Keeps a run's dashboard aggregate (JSON) of `version`, replacing the one kept.
    fn set_run_aggregate(&self, run_id: &str, version: u32, json: &str) -> Result<(), StoreError>;

    /// A cursor's position (0 before it ever moved).
    fn cursor(&self, cursor: Cursor) -> Result<u64, StoreError>;

    /// Moves a cursor forward to `position`; never back.
    fn advance_cursor(&self, cursor: Cursor, position: u64) -> Result<(), StoreError>;
}

impl TypedStore for SqliteStore {
    /// Records where a run stands with a duty.
    fn set_run_duty(&self, run_id: &str, duty: Duty, state: DutyState) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO run_duties (run_id, duty, state, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (run_id, duty) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                params![run_id, duty.as_str(), state.as_str(), ts_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Where a run stands with a duty (`None`: it never had it).
    fn run_duty(&self, run_id: &str, duty: Duty) -> Result<Option<DutyState>, StoreError> {
        let state: Option<String> = self
            .conn()
            .query_row(
                "SELECT state FROM run_duties WHERE run_id = ?1 AND duty = ?2",
                params![run_id, duty.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        state
            .map(|s| DutyState::parse(&s).ok_or_else(|| corrupt(self, "duty state", &s)))
            .transpose()
    }

    /// A job's complete runs (evaluated or succeeded, not replays) whose
    /// `duty` is in `state`, oldest first.
    fn runs_with_duty(
        &self,
        job: &str,
        duty: Duty,
        state: DutyState,
    ) -> Result<Vec<String>, StoreError> {
        let q = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.conn().prepare_cached(
                "SELECT r.run_id FROM runs r JOIN run_duties d ON d.run_id = r.run_id \
                 WHERE r.job = ?1 AND r.kind <> 'replay' AND r.status IN ('evaluated', 'succeeded') \
                 AND d.duty = ?2 AND d.state = ?3 ORDER BY r.started_at",
            )?;
            let rows = stmt.query_map(params![job, duty.as_str(), state.as_str()], |r| r.get(0))?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))
    }

    /// Gives `to` the duties `from` has, as they stand (a run split into
    /// runs of one file each: each still owes what the whole run owed).
    fn copy_duties(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO run_duties (run_id, duty, state, updated_at) \
                 SELECT ?2, duty, state, ?3 FROM run_duties WHERE run_id = ?1 \
                 ON CONFLICT (run_id, duty) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                params![from, to, ts_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Whether that carrier's exception report of that run is queued.
    fn exception_report_queued(&self, run_id: &str, carrier: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT 1 FROM exception_reports WHERE run_id = ?1 AND carrier = ?2",
                params![run_id, carrier],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records that carrier's exception report of the run as queued under
    /// the outbox id `email_id` (the first record stays).
    fn set_exception_report_queued(
        &self,
        run_id: &str,
        carrier: &str,
        email_id: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO exception_reports (run_id, carrier, email_id, queued_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (run_id, carrier) DO NOTHING",
                params![run_id, carrier, email_id, ts_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A run's cached dashboard aggregate (JSON), if one of at least
    /// `min_version` is kept.
    fn run_aggregate(&self, run_id: &str, min_version: u32) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT aggregate FROM run_aggregates WHERE run_id = ?1 AND version >= ?2",
                params![run_id, min_version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Keeps a run's dashboard aggregate (JSON) of `version`, replacing the one kept.
    fn set_run_aggregate(&self, run_id: &str, version: u32, json: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO run_aggregates (run_id, version, aggregate, computed_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (run_id) DO UPDATE SET version = excluded.version, aggregate = excluded.aggregate, \
                 computed_at = excluded.computed_at",
                params![run_id, version, json, ts_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A cursor's position (0 before it ever moved).
    fn cursor(&self, cursor: Cursor) -> Result<u64, StoreError> {
        self.conn()
            .query_row(
                "SELECT position FROM cursors WHERE name = ?1",
                [cursor.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|p| p.unwrap_or(0).max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// Moves a cursor forward to `position`; never back.
    fn advance_cursor(&self, cursor: Cursor, position: u64) -> Result<(), StoreError> {
        let position = i64::try_from(position).map_err(|_| StoreError::Other {
            location: self.location().display().to_string(),
            message: format!(
                "cursor {} position {position} is out of range",
                cursor.as_str()
            ),
        })?;
        self.conn()
            .execute(
                "INSERT INTO cursors (name, position, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position), \
                 updated_at = excluded.updated_at",
                params![cursor.as_str(), position, ts_millis(Utc::now())],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::intake::IntakeStore;
    use super::super::sqlite::MIGRATIONS;
    use super::*;
    use rusqlite::Connection;

    /// A store at schema 7 (with `kv`) holding `rows`.
    fn old_store(path: &std::path::Path, rows: &[(&str, &str)]) {
        let mut conn = Connection::open(path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..7] {
            step.apply(&tx).unwrap();
        }
        for (k, v) in rows {
            tx.execute("INSERT INTO kv (key, value) VALUES (?1, ?2)", [k, v])
                .unwrap();
        }
        tx.commit().unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
    }

    fn count(s: &SqliteStore, table: &str) -> i64 {
        s.conn()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn migration_8_moves_every_kind_of_kv_row_into_the_typed_tables_and_drops_kv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let sha = "ab".repeat(32);
        let received = format!("received:job:with:colons:{sha}");
        old_store(
            &path,
            &[
                (received.as_str(), "42"),
                ("filing:r1", "pending"),
                ("filing:r2", "done"),
                ("exceptions-due:r1", "due"),
                ("exceptions-due:r2", "done"),
                ("exceptions-due:r3", "off"),
                ("exceptions:r1:DH:LX", "queued"),
                ("report:run:r1", r#"{"run_id":"r1","version":2}"#),
                ("report:run:r0", r#"{"run_id":"r0"}"#),
                ("http_notifications_cursor", "17"),
            ],
        );
        let mut s = SqliteStore::open(&path).unwrap();
        let version: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let kv: Option<String> = s
            .conn()
            .query_row(
                "SELECT name FROM sqlite_master WHERE name = 'kv'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        assert_eq!(kv, None, "kv is dropped");

        // Duties: pending is due, done is done; exceptions keep their word.
        assert_eq!(
            s.run_duty("r1", Duty::Filing).unwrap(),
            Some(DutyState::Due)
        );
        assert_eq!(
            s.run_duty("r2", Duty::Filing).unwrap(),
            Some(DutyState::Done)
        );
        assert_eq!(s.run_duty("r3", Duty::Filing).unwrap(), None);
        assert_eq!(
            s.run_duty("r1", Duty::Exceptions).unwrap(),
            Some(DutyState::Due)
        );
        assert_eq!(
            s.run_duty("r2", Duty::Exceptions).unwrap(),
            Some(DutyState::Done)
        );
        assert_eq!(
            s.run_duty("r3", Duty::Exceptions).unwrap(),
            Some(DutyState::Off)
        );
        // The exception report, split at the run (carriers may hold ':'),
        // under the outbox id queue_once gave it.
        assert!(s.exception_report_queued("r1", "DH:LX").unwrap());
        assert!(!s.exception_report_queued("r1", "DHLX").unwrap());
        let email: String = s
            .conn()
            .query_row("SELECT email_id FROM exception_reports", [], |r| r.get(0))
            .unwrap();
        assert_eq!(email, once_id("exceptions:r1:DH:LX"));
        // Aggregates with their version (0 before versions), the cursor.
        assert!(s.run_aggregate("r1", 2).unwrap().is_some());
        assert!(s.run_aggregate("r0", 2).unwrap().is_none());
        assert!(s.run_aggregate("r0", 0).unwrap().is_some());
        assert_eq!(s.cursor(Cursor::HttpNotifications).unwrap(), 17);
        // The receipt, split at the SHA-256 (jobs may hold ':'): taking the
        // same bytes again says the first receipt is file 42.
        let receipt: (String, String, i64) = s
            .conn()
            .query_row(
                "SELECT job, sha256, first_file_id FROM file_receipts",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(receipt, ("job:with:colons".into(), sha.clone(), 42));
        s.take_file("job:with:colons", "in", "a.csv", 1, None, &sha, "st")
            .unwrap();
        let (kind, body): (String, String) = s
            .conn()
            .query_row(
                "SELECT kind, body FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kind, "file.received_again");
        assert!(body.contains("42"), "{body}");
        assert_eq!(count(&s, "run_duties"), 5);
        assert_eq!(count(&s, "run_aggregates"), 2);
    }

    #[test]
    fn migration_8_refuses_a_kv_key_it_does_not_know_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        old_store(&path, &[("filing:r1", "pending"), ("mystery", "x")]);
        let e = SqliteStore::open(&path).err().expect("refused");
        assert!(e.to_string().contains("mystery"), "{e}");
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 7, "rolled back");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn duties_are_found_per_job_duty_and_state_and_pass_to_split_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        for (run, job) in [("r1", "a"), ("r2", "a"), ("r3", "b"), ("replay-r4", "a")] {
            let kind = if run.starts_with("replay") {
                crate::state::types::RunKind::Replay
            } else {
                crate::state::types::RunKind::Scheduled
            };
            s.start_run(run, job, kind, "out:x").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(3));
            s.set_run_duty(run, Duty::Filing, DutyState::Due).unwrap();
        }
        for run in ["r1", "r2", "r3", "replay-r4"] {
            s.finish_run(run, crate::state::types::RunStatus::Evaluated, "{}")
                .unwrap();
        }
        s.set_run_duty("r2", Duty::Exceptions, DutyState::Due)
            .unwrap();
        assert_eq!(
            s.runs_with_duty("a", Duty::Filing, DutyState::Due).unwrap(),
            ["r1", "r2"],
            "oldest first, not replays, not other jobs"
        );
        assert_eq!(
            s.runs_with_duty("a", Duty::Exceptions, DutyState::Due)
                .unwrap(),
            ["r2"]
        );
        s.set_run_duty("r1", Duty::Filing, DutyState::Done).unwrap();
        assert_eq!(
            s.runs_with_duty("a", Duty::Filing, DutyState::Due).unwrap(),
            ["r2"]
        );
        assert_eq!(
            s.runs_with_duty("a", Duty::Filing, DutyState::Done)
                .unwrap(),
            ["r1"]
        );

        // A run still running is not due yet; split, it hands its duties on
        // and owes nothing itself.
        s.start_run("r5", "a", crate::state::types::RunKind::Scheduled, "out:x")
            .unwrap();
        s.set_run_duty("r5", Duty::Filing, DutyState::Due).unwrap();
        assert_eq!(
            s.runs_with_duty("a", Duty::Filing, DutyState::Due).unwrap(),
            ["r2"]
        );
        s.start_run("r6", "a", crate::state::types::RunKind::Scheduled, "out:x")
            .unwrap();
        s.copy_duties("r5", "r6").unwrap();
        s.finish_run("r5", crate::state::types::RunStatus::Split, "")
            .unwrap();
        s.finish_run("r6", crate::state::types::RunStatus::Evaluated, "{}")
            .unwrap();
        assert_eq!(
            s.run_duty("r5", Duty::Filing).unwrap(),
            Some(DutyState::Off)
        );
        assert_eq!(
            s.run_duty("r6", Duty::Filing).unwrap(),
            Some(DutyState::Due)
        );
        assert_eq!(s.run_duty("r6", Duty::Exceptions).unwrap(), None);
        assert_eq!(
            s.runs_with_duty("a", Duty::Filing, DutyState::Due).unwrap(),
            ["r2", "r6"]
        );
        // A run without duties copies none.
        s.copy_duties("nothing", "r7").unwrap();
        assert_eq!(s.run_duty("r7", Duty::Filing).unwrap(), None);
    }

    #[test]
    fn exception_reports_aggregates_and_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        assert!(!s.exception_report_queued("r1", "DHLX").unwrap());
        s.set_exception_report_queued("r1", "DHLX", "id1").unwrap();
        s.set_exception_report_queued("r1", "DHLX", "id2").unwrap();
        assert!(s.exception_report_queued("r1", "DHLX").unwrap());
        assert!(!s.exception_report_queued("r2", "DHLX").unwrap());
        let id: String = s
            .conn()
            .query_row("SELECT email_id FROM exception_reports", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, "id1", "the first record stays");

        assert_eq!(s.run_aggregate("r1", 0).unwrap(), None);
        s.set_run_aggregate("r1", 1, "{\"a\":1}").unwrap();
        assert_eq!(
            s.run_aggregate("r1", 1).unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(s.run_aggregate("r1", 2).unwrap(), None, "too old a version");
        s.set_run_aggregate("r1", 2, "{\"a\":2}").unwrap();
        assert_eq!(
            s.run_aggregate("r1", 2).unwrap().as_deref(),
            Some("{\"a\":2}")
        );

        assert_eq!(s.cursor(Cursor::HttpNotifications).unwrap(), 0);
        s.advance_cursor(Cursor::HttpNotifications, 10).unwrap();
        s.advance_cursor(Cursor::HttpNotifications, 4).unwrap();
        assert_eq!(
            s.cursor(Cursor::HttpNotifications).unwrap(),
            10,
            "never back"
        );
        s.advance_cursor(Cursor::HttpNotifications, 11).unwrap();
        assert_eq!(s.cursor(Cursor::HttpNotifications).unwrap(), 11);
    }

    #[test]
    fn a_forgotten_files_receipt_is_remembered_in_file_receipts() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let sha = "c".repeat(64);
        let first = match s
            .take_file("j", "in", "a.csv", 1, None, &sha, "st")
            .unwrap()
        {
            super::super::intake::Take::New(id) => id,
            other => panic!("{other:?}"),
        };
        s.forget_file(first).unwrap();
        s.take_file("j", "in", "a.csv", 1, None, &sha, "st")
            .unwrap();
        let kind: String = s
            .conn()
            .query_row(
                "SELECT kind FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kind, "file.received_again");
    }

    #[test]
    fn the_closed_sets_read_back_what_they_write() {
        for d in Duty::ALL {
            assert_eq!(Duty::parse(d.as_str()), Some(d));
        }
        for d in DutyState::ALL {
            assert_eq!(DutyState::parse(d.as_str()), Some(d));
        }
        for c in Cursor::ALL {
            assert_eq!(Cursor::parse(c.as_str()), Some(c));
        }
        assert_eq!(Duty::parse("pending"), None);
    }
}
