//! Files, runs and job state ([`IntakeStore`]) on PostgreSQL.
//!
//! The same rows and answers as SQLite's. Taking a file decides "are these
//! bytes a duplicate" and records the receipt in the audit trail in one
//! transaction; several replicas may take at once, so that transaction first
//! takes an advisory lock on (job, SHA-256): takes of the same bytes queue,
//! takes of other bytes do not.

use crate::state::types::{RunKind, RunStatus};
use chrono::{DateTime, Utc};
use postgres::Row;

use super::PgStore;
use crate::dates::{parse_ts, ts_millis as ts};
use crate::state::StoreError;
use crate::state::audit::events;
use crate::state::intake::*;

const FILE_COLUMNS: &str = "id, job, source, path, name, size, sha256, state, staging, archive, run_id, duplicate_of, note, taken_at, modified, engine_attempts";

fn file_row(r: &Row) -> Result<FileRecord, postgres::Error> {
    let state: String = r.try_get(7)?;
    Ok(FileRecord {
        id: r.try_get(0)?,
        job: r.try_get(1)?,
        source: r.try_get(2)?,
        path: r.try_get(3)?,
        name: r.try_get(4)?,
        size: r.try_get::<_, i64>(5)? as u64,
        sha256: r.try_get(6)?,
        state: FileState::parse(&state).unwrap_or(FileState::Taken),
        staging: r.try_get(8)?,
        archive: r.try_get(9)?,
        run_id: r.try_get(10)?,
        duplicate_of: r.try_get(11)?,
        note: r.try_get(12)?,
        taken_at: ts_at(r, 13)?.unwrap_or_default(),
        modified: ts_at(r, 14)?,
        engine_attempts: r.try_get::<_, i64>(15)?.max(0) as u32,
    })
}

fn file_rows(rows: Vec<Row>) -> Result<Vec<FileRecord>, postgres::Error> {
    rows.iter().map(file_row).collect()
}

/// A stored timestamp, or `None` if NULL or not one.
fn ts_at(r: &Row, i: usize) -> Result<Option<DateTime<Utc>>, postgres::Error> {
    Ok(r.try_get::<_, Option<String>>(i)?
        .as_deref()
        .and_then(parse_ts))
}

impl IntakeStore for PgStore {
    fn take_file(
        &mut self,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        modified: Option<DateTime<Utc>>,
        sha256: &str,
        staging: &str,
    ) -> Result<Take, StoreError> {
        let now = ts(Utc::now());
        let name = crate::paths::file_name(path).to_owned();
        let size = size as i64;
        let modified = modified.map(ts);
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Takes of the same bytes by this job queue here until the one
            // before commits, so each decides against every earlier take
            // (SQLite's BEGIN IMMEDIATE). The key is a hash of (job, SHA-256);
            // a collision only makes two takes wait for each other.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
                &[&job, &sha256],
            )?;
            // A `taken` file is not yet an earlier copy: a stop before it is
            // archived forgets it (`intake::recover`).
            let earlier = tx
                .query_opt(
                    &format!(
                        "SELECT {FILE_COLUMNS} FROM files WHERE job = $1 AND sha256 = $2 \
                         AND state NOT IN ('taken', 'duplicate', 'duplicate-pending') ORDER BY id LIMIT 1"
                    ),
                    &[&job, &sha256],
                )?
                .map(|r| file_row(&r))
                .transpose()?;
            let (state, dup) = match &earlier {
                Some(e) => (FileState::DuplicatePending, Some(e.id)),
                None => (FileState::Taken, None),
            };
            let id: i64 = tx
                .query_one(
                    "INSERT INTO files (job, source, path, name, size, modified, sha256, state, staging, duplicate_of, taken_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                    &[
                        &job,
                        &source,
                        &path,
                        &name,
                        &size,
                        &modified,
                        &sha256,
                        &state.as_str(),
                        &staging,
                        &dup,
                        &now,
                    ],
                )?
                .try_get(0)?;
            // Taken before, but forgotten when a stop cut the take short: the
            // audit trail says so instead of recording a second plain receipt.
            let first: Option<i64> = match dup {
                Some(_) => None,
                None => tx
                    .query_opt(
                        "SELECT first_file_id FROM file_receipts WHERE job = $1 AND sha256 = $2",
                        &[&job, &sha256],
                    )?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            };
            let size = size as u64;
            let event = match first {
                Some(first) => {
                    events::file_received_again(id, job, source, path, size, sha256, first)
                }
                None => events::file_received(id, job, source, path, size, sha256, dup),
            };
            // Last before COMMIT: the audit head row is held only briefly.
            super::audit::append_in(&mut tx, std::slice::from_ref(&event))?;
            tx.commit()?;
            Ok(match earlier {
                Some(of) => Take::Duplicate { id, of },
                None => Take::New(id),
            })
        })
    }

    fn set_file_state(
        &mut self,
        id: i64,
        state: FileState,
        archive: Option<&str>,
        run_id: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        self.with(|c| {
            c.execute(
                "UPDATE files SET state = $2, archive = COALESCE($3, archive), run_id = COALESCE($4, run_id), \
                 note = COALESCE($5, note), updated_at = $6 WHERE id = $1",
                &[&id, &state.as_str(), &archive, &run_id, &note, &now],
            )
        })?;
        Ok(())
    }

    fn forget_file(&mut self, id: i64) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Remember that its receipt is in the audit trail (see `take_file`).
            tx.execute(
                "INSERT INTO file_receipts (job, sha256, first_file_id) SELECT job, sha256, id FROM files WHERE id = $1 \
                 ON CONFLICT (job, sha256) DO NOTHING",
                &[&id],
            )?;
            // Its id is never handed out again (the audit trail names it).
            // The identity sequence is past every id it gave; this draws it
            // past an id it did not give (a row copied in with its id), as
            // SQLite raises its floor. Drawing only moves it forward, so a
            // concurrent take can never be handed an id twice.
            tx.execute(
                "SELECT count(nextval(pg_get_serial_sequence('files', 'id'))) FROM generate_series(1, \
                 (SELECT $1 - last_value + CASE WHEN is_called THEN 0 ELSE 1 END FROM files_id_seq))",
                &[&id],
            )?;
            tx.execute("DELETE FROM files WHERE id = $1", &[&id])?;
            tx.commit()
        })
    }

    fn engine_started(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        // One more per time an id is listed, as SQLite's loop counts.
        self.with(|c| {
            c.execute(
                "UPDATE files f SET engine_attempts = f.engine_attempts + n.times \
                 FROM (SELECT id, count(*) AS times FROM unnest($1::bigint[]) AS u (id) GROUP BY id) n \
                 WHERE f.id = n.id",
                &[&ids],
            )
        })?;
        Ok(())
    }

    fn engine_returned(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE files SET engine_attempts = 0 WHERE id = ANY($1)",
                &[&ids],
            )
        })?;
        Ok(())
    }

    fn files_in(&mut self, job: &str, states: &[FileState]) -> Result<Vec<FileRecord>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        self.with(|c| {
            file_rows(c.query(
                &format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE job = $1 AND state = ANY($2) ORDER BY id"
                ),
                &[&job, &states],
            )?)
        })
    }

    fn file(&mut self, id: i64) -> Result<Option<FileRecord>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"),
                &[&id],
            )?
            .map(|r| file_row(&r))
            .transpose()
        })
    }

    fn files_of_run(&mut self, run_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        self.with(|c| {
            file_rows(c.query(
                &format!("SELECT {FILE_COLUMNS} FROM files WHERE run_id = $1 ORDER BY id"),
                &[&run_id],
            )?)
        })
    }

    fn archived_between(
        &mut self,
        job: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let (from, to) = (ts(from), ts(to));
        self.with(|c| {
            file_rows(c.query(
                &format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE job = $1 AND archive IS NOT NULL AND state <> 'duplicate' \
                     AND taken_at >= $2 AND taken_at < $3 ORDER BY id"
                ),
                &[&job, &from, &to],
            )?)
        })
    }

    fn start_run(
        &mut self,
        run_id: &str,
        job: &str,
        kind: RunKind,
        output: &str,
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        // A run started again (a redo under its id) keeps its first row.
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (run_id, job, kind, status, started_at, output) VALUES ($1, $2, $3, 'running', $4, $5) \
                 ON CONFLICT (run_id) DO NOTHING",
                &[&run_id, &job, &kind.as_str(), &now, &output],
            )
        })?;
        Ok(())
    }

    fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        summary: &str,
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "UPDATE runs SET status = $2, summary = $3, finished_at = $4 WHERE run_id = $1",
                &[&run_id, &status.as_str(), &summary, &now],
            )?;
            if status == RunStatus::Split {
                // Its runs of one file each took over what it owed (`copy_duties`):
                // it owes nothing itself, and leaves no duty due behind.
                tx.execute(
                    "UPDATE run_duties SET state = 'off', updated_at = $2 WHERE run_id = $1 AND state = 'due'",
                    &[&run_id, &now],
                )?;
            }
            tx.commit()
        })
    }

    fn run(&mut self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.with(|c| {
            let Some(r) = c.query_opt(
                "SELECT run_id, job, kind, status, started_at, finished_at, output, summary FROM runs WHERE run_id = $1",
                &[&run_id],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(RunRecord {
                run_id: r.try_get(0)?,
                job: r.try_get(1)?,
                kind: r.try_get(2)?,
                status: r.try_get(3)?,
                started_at: ts_at(&r, 4)?.unwrap_or_default(),
                finished_at: ts_at(&r, 5)?,
                output: r.try_get(6)?,
                summary: r.try_get(7)?,
            }))
        })
    }

    fn job_state(&mut self, job: &str) -> Result<JobState, StoreError> {
        self.with(|c| {
            let Some(r) = c.query_opt(
                "SELECT last_started, last_success, last_failure, last_error FROM job_state WHERE job = $1",
                &[&job],
            )?
            else {
                return Ok(JobState::default());
            };
            Ok(JobState {
                last_started: ts_at(&r, 0)?,
                last_success: ts_at(&r, 1)?,
                last_failure: ts_at(&r, 2)?,
                last_error: r.try_get(3)?,
            })
        })
    }

    fn job_started(&mut self, job: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let at = ts(at);
        self.with(|c| {
            c.execute(
                "INSERT INTO job_state (job, last_started) VALUES ($1, $2) \
                 ON CONFLICT (job) DO UPDATE SET last_started = EXCLUDED.last_started",
                &[&job, &at],
            )
        })?;
        Ok(())
    }

    fn job_finished(
        &mut self,
        job: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let at = ts(at);
        self.with(|c| match error {
            None => c.execute(
                "INSERT INTO job_state (job, last_success) VALUES ($1, $2) \
                 ON CONFLICT (job) DO UPDATE SET last_success = EXCLUDED.last_success, last_error = NULL",
                &[&job, &at],
            ),
            Some(error) => c.execute(
                "INSERT INTO job_state (job, last_failure, last_error) VALUES ($1, $2, $3) \
                 ON CONFLICT (job) DO UPDATE SET last_failure = EXCLUDED.last_failure, last_error = EXCLUDED.last_error",
                &[&job, &at, &error],
            ),
        })?;
        Ok(())
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        self.with(|c| c.query_one("SELECT count(*) FROM job_state", &[]))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use postgres::Client;

    use super::super::history::tests::{connect, raw, until_someone_waits};
    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::typed::TypedStore;
    use crate::state::types::{Duty, DutyState};

    /// The audit trail's (kind, body) in order.
    fn audit(raw: &mut Client) -> Vec<(String, serde_json::Value)> {
        raw.query("SELECT kind, body FROM audit_events ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| {
                let body: String = r.get(1);
                (r.get(0), serde_json::from_str(&body).unwrap())
            })
            .collect()
    }

    fn new_id(t: Take) -> i64 {
        match t {
            Take::New(id) => id,
            other => panic!("not new: {other:?}"),
        }
    }

    #[test]
    fn files_move_through_their_states_and_duplicates_are_recognised() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let modified = Utc::now() - chrono::Duration::minutes(5);
        let a = new_id(
            s.take_file(
                "j",
                "src",
                "inbox/a.csv",
                10,
                Some(modified),
                "sha1",
                "/stage/a",
            )
            .unwrap(),
        );
        // Bytes only taken (not yet archived) do not make a later copy a duplicate.
        let b = new_id(
            s.take_file("j", "src", "inbox/b.csv", 10, None, "sha1", "/stage/b")
                .unwrap(),
        );
        s.forget_file(b).unwrap();
        assert_eq!(s.file(b).unwrap(), None);
        s.set_file_state(a, FileState::Archived, Some("raw/a.csv"), None, None)
            .unwrap();
        let (c, of) = match s
            .take_file(
                "j",
                "src",
                "inbox/copy-of-a.csv",
                10,
                None,
                "sha1",
                "/stage/c",
            )
            .unwrap()
        {
            Take::Duplicate { id, of } => (id, of),
            other => panic!("{other:?}"),
        };
        assert_eq!((of.id, of.name.as_str()), (a, "a.csv"));
        assert_eq!(of.state, FileState::Archived);
        assert_eq!(of.archive.as_deref(), Some("raw/a.csv"));
        assert_eq!(of.staging.as_deref(), Some("/stage/a"));
        assert_eq!(
            of.modified.map(|m| m.timestamp_millis()),
            Some(modified.timestamp_millis())
        );
        let dup = s.file(c).unwrap().unwrap();
        assert_eq!(
            (dup.state, dup.duplicate_of, dup.size, dup.path.as_str()),
            (
                FileState::DuplicatePending,
                Some(a),
                10,
                "inbox/copy-of-a.csv"
            )
        );
        // Another job may take the same bytes.
        let other = new_id(
            s.take_file("other", "src", "inbox/a.csv", 10, None, "sha1", "/s")
                .unwrap(),
        );
        assert!(other > c);

        s.set_file_state(a, FileState::Evaluating, None, Some("run-1"), Some("n"))
            .unwrap();
        let evaluating = s.files_in("j", &[FileState::Evaluating]).unwrap();
        assert_eq!(evaluating.len(), 1);
        assert_eq!(evaluating[0].archive.as_deref(), Some("raw/a.csv"), "kept");
        assert_eq!(evaluating[0].note.as_deref(), Some("n"));
        let ids: Vec<i64> = s
            .files_in("j", &[FileState::DuplicatePending, FileState::Evaluating])
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids, [a, c], "oldest first");
        assert_eq!(s.files_of_run("run-1").unwrap()[0].id, a);

        // The audit trail: a receipt per take, the duplicate named.
        let kinds: Vec<String> = audit(&mut raw(&db)).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                "file.received",
                "file.received",
                "file.duplicate",
                "file.received"
            ]
        );
    }

    #[test]
    fn runs_job_state_and_engine_attempts() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let a = new_id(
            s.take_file("j", "in", "in/a.csv", 1, None, "x", "st")
                .unwrap(),
        );
        let b = new_id(
            s.take_file("j", "in", "in/b.csv", 1, None, "y", "st")
                .unwrap(),
        );
        // Counted once per listing, as SQLite's loop counts.
        s.engine_started(&[a, b, a]).unwrap();
        s.engine_started(&[a]).unwrap();
        let attempts = |s: &mut PgStore, id| s.file(id).unwrap().unwrap().engine_attempts;
        assert_eq!((attempts(&mut s, a), attempts(&mut s, b)), (3, 1));
        s.engine_returned(&[a]).unwrap();
        assert_eq!((attempts(&mut s, a), attempts(&mut s, b)), (0, 1));

        assert_eq!(s.run("r1").unwrap(), None);
        s.start_run(
            "r1",
            "j",
            crate::state::types::RunKind::Scheduled,
            "data:runs/j/r1",
        )
        .unwrap();
        // Started again (a redo): the first row stays.
        s.start_run("r1", "k", crate::state::types::RunKind::Manual, "elsewhere")
            .unwrap();
        let r = s.run("r1").unwrap().unwrap();
        assert_eq!(
            (
                r.job.as_str(),
                r.kind.as_str(),
                r.status.as_str(),
                r.output.as_deref()
            ),
            ("j", "scheduled", "running", Some("data:runs/j/r1"))
        );
        assert!(r.finished_at.is_none() && r.summary.is_none());
        s.set_run_duty("r1", Duty::Filing, DutyState::Due).unwrap();
        s.set_run_duty("r1", Duty::Exceptions, DutyState::Done)
            .unwrap();
        s.finish_run("r1", crate::state::types::RunStatus::Split, "{\"n\":1}")
            .unwrap();
        let r = s.run("r1").unwrap().unwrap();
        assert_eq!(r.status, crate::state::types::RunStatus::Split);
        assert_eq!(r.summary.as_deref(), Some("{\"n\":1}"));
        assert!(r.finished_at.unwrap() >= r.started_at);
        assert_eq!(
            s.run_duty("r1", Duty::Filing).unwrap(),
            Some(DutyState::Off)
        );
        assert_eq!(
            s.run_duty("r1", Duty::Exceptions).unwrap(),
            Some(DutyState::Done),
            "only what was due is switched off"
        );

        assert_eq!(s.job_state("j").unwrap(), JobState::default());
        let t0 = Utc::now();
        s.job_started("j", t0).unwrap();
        s.job_finished("j", t0, None).unwrap();
        let st = s.job_state("j").unwrap();
        assert_eq!(
            st.last_started.map(|t| t.timestamp_millis()),
            Some(t0.timestamp_millis())
        );
        assert!(st.last_success.is_some() && st.last_error.is_none());
        s.job_finished("j", t0, Some("sftp down")).unwrap();
        let st = s.job_state("j").unwrap();
        assert_eq!(st.last_error.as_deref(), Some("sftp down"));
        assert!(
            st.last_success.is_some(),
            "a failure keeps the last success"
        );
        s.job_finished("j", t0, None).unwrap();
        assert_eq!(s.job_state("j").unwrap().last_error, None);
        s.ping().unwrap();
    }

    #[test]
    fn archived_between_takes_the_half_open_range_of_archived_files() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let a = new_id(
            s.take_file("j", "in", "in/a.csv", 1, None, "x", "st")
                .unwrap(),
        );
        let b = new_id(
            s.take_file("j", "in", "in/b.csv", 1, None, "y", "st")
                .unwrap(),
        );
        new_id(
            s.take_file("j", "in", "in/c.csv", 1, None, "z", "st")
                .unwrap(),
        );
        s.set_file_state(a, FileState::Archived, Some("raw/a"), None, None)
            .unwrap();
        s.set_file_state(b, FileState::Done, Some("raw/b"), None, None)
            .unwrap();
        let dup = match s
            .take_file("j", "in", "in/a2.csv", 1, None, "x", "st")
            .unwrap()
        {
            Take::Duplicate { id, .. } => id,
            other => panic!("{other:?}"),
        };
        s.set_file_state(dup, FileState::Duplicate, Some("raw/a2"), None, None)
            .unwrap();
        let taken = s.file(a).unwrap().unwrap().taken_at;
        let from = taken - chrono::Duration::seconds(1);
        let to = Utc::now() + chrono::Duration::seconds(1);
        let ids = |s: &mut PgStore, from, to| -> Vec<i64> {
            s.archived_between("j", from, to)
                .unwrap()
                .iter()
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(ids(&mut s, from, to), [a, b], "archived, not duplicates");
        assert_eq!(ids(&mut s, taken, to), [a, b], "from is inclusive");
        assert!(ids(&mut s, from, taken).is_empty(), "to is exclusive");
        assert!(s.archived_between("k", from, to).unwrap().is_empty());
    }

    #[test]
    fn a_forgotten_id_is_never_handed_out_again_and_its_receipt_is_remembered() {
        let db = ScratchDb::new();
        let mut raw = raw(&db);
        let mut s = db.open();
        let first = new_id(
            s.take_file("j", "in", "in/c.csv", 3, None, "c", "st")
                .unwrap(),
        );
        s.forget_file(first).unwrap();
        let mut again = db.open();
        let second = new_id(
            again
                .take_file("j", "in", "in/c.csv", 3, None, "c", "st")
                .unwrap(),
        );
        assert!(second > first);
        again.forget_file(second).unwrap();
        let third = new_id(
            again
                .take_file("j", "in", "in/c.csv", 3, None, "c", "st")
                .unwrap(),
        );
        assert!(third > second);
        // Another job's take of those bytes is a plain receipt.
        new_id(
            s.take_file("other", "in", "in/c.csv", 3, None, "c", "st")
                .unwrap(),
        );
        let events = audit(&mut raw);
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "file.received",
                "file.received_again",
                "file.received_again",
                "file.received"
            ]
        );
        for (_, body) in &events[1..3] {
            assert_eq!(body["first_file_id"], first, "{body}");
        }
        assert_eq!(events[2].1["file_id"], third);

        // A row copied in with its id, above what the sequence gave: once
        // forgotten, its id is not handed out either (SQLite's floor).
        let top = third + 5;
        raw.execute(
            "INSERT INTO files (id, job, source, path, name, size, sha256, state, taken_at, updated_at) \
             VALUES ($1, 'j', 'in', 'in/d.csv', 'd.csv', 1, 'd', 'taken', 'x', 'x')",
            &[&top],
        )
        .unwrap();
        s.forget_file(top).unwrap();
        let next = new_id(
            s.take_file("j", "in", "in/e.csv", 1, None, "e", "st")
                .unwrap(),
        );
        assert!(next > top, "{next} after forgotten {top}");
        // Forgetting an id below the sequence draws nothing.
        s.forget_file(first).unwrap();
        let after = new_id(
            s.take_file("j", "in", "in/f.csv", 1, None, "f", "st")
                .unwrap(),
        );
        assert_eq!(after, next + 1);
        // A file another names as its original is not forgotten (as SQLite,
        // whose foreign keys are on).
        s.set_file_state(after, FileState::Archived, Some("raw/f"), None, None)
            .unwrap();
        s.take_file("j", "in", "in/f2.csv", 1, None, "f", "st")
            .unwrap();
        let e = s.forget_file(after).unwrap_err();
        assert_eq!(e.kind(), crate::state::ErrorKind::Conflict, "{e}");
        assert!(s.file(after).unwrap().is_some());
    }

    /// The duplicate decision is atomic with every take of the same bytes: a
    /// take waits on the (job, SHA-256) lock while another holds it, then
    /// decides against what that one committed. Without the lock it would
    /// read before the other committed and answer `New`.
    #[test]
    fn a_take_waits_for_a_concurrent_take_of_the_same_bytes_and_sees_it() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let mut other = raw(&db);
        // Another replica inside its take of these bytes, holding the lock.
        let mut tx = other.transaction().unwrap();
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
            &[&"j", &"same"],
        )
        .unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let url = db.url.clone();
        let taker = std::thread::spawn(move || {
            let mut b = connect(&url);
            let t = b.take_file("j", "in", "in/b.csv", 5, None, "same", "st");
            done.send(()).unwrap();
            t.unwrap()
        });
        until_someone_waits(&mut raw(&db));
        assert!(finished.try_recv().is_err(), "the take did not wait");
        // Other bytes and other jobs do not wait.
        new_id(
            s.take_file("j", "in", "in/x.csv", 5, None, "other", "st")
                .unwrap(),
        );
        new_id(
            s.take_file("k", "in", "in/x.csv", 5, None, "same", "st")
                .unwrap(),
        );
        // What the holder commits: its file, already archived.
        let first: i64 = tx
            .query_one(
                "INSERT INTO files (job, source, path, name, size, sha256, state, archive, taken_at, updated_at) \
                 VALUES ('j', 'in', 'in/a.csv', 'a.csv', 5, 'same', 'archived', 'raw/a', 'x', 'x') RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        tx.commit().unwrap();
        match taker.join().unwrap() {
            Take::Duplicate { of, .. } => assert_eq!(of.id, first),
            other => panic!("decided before the other take committed: {other:?}"),
        }
    }

    #[test]
    fn takes_of_the_same_bytes_at_once_are_each_a_duplicate_of_the_archived_file() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let first = new_id(
            s.take_file("j", "in", "in/a.csv", 10, None, "aa", "st")
                .unwrap(),
        );
        s.set_file_state(first, FileState::Archived, Some("raw/a"), None, None)
            .unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (url, start) = (db.url.clone(), start.clone());
                std::thread::spawn(move || {
                    let mut h = connect(&url);
                    start.wait();
                    let path = format!("in/copy-{t}.csv");
                    h.take_file("j", "in", &path, 10, None, "aa", "st").unwrap()
                })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for t in threads {
            match t.join().unwrap() {
                Take::Duplicate { id, of } => {
                    assert_eq!(of.id, first);
                    assert!(ids.insert(id));
                }
                other => panic!("same bytes as archived file {first}, yet {other:?}"),
            }
        }
        let pending = s.files_in("j", &[FileState::DuplicatePending]).unwrap();
        assert_eq!(pending.len(), 4);
        // Two names taken at once before either is archived are two `New`,
        // as on SQLite (a `taken` row may be a crash's leftover).
        let both: Vec<Take> = std::thread::scope(|sc| {
            let run = |p: &'static str| {
                let url = db.url.clone();
                sc.spawn(move || {
                    let mut h = connect(&url);
                    h.take_file("j", "in", p, 1, None, "bb", "st").unwrap()
                })
            };
            let (x, y) = (run("in/x.csv"), run("in/y.csv"));
            vec![x.join().unwrap(), y.join().unwrap()]
        });
        assert!(both.iter().all(|t| matches!(t, Take::New(_))), "{both:?}");
    }
}
