//! The typed tables that replaced `kv` ([`TypedStore`]) on PostgreSQL: run
//! duties, queued exception reports, run aggregates and cursors.
//!
//! Every write is one statement, and each read-then-write is an
//! `INSERT ... ON CONFLICT` (the conflicting row is locked while it is
//! decided), so replicas writing at once need no other lock: the first
//! exception report record stays, a cursor only moves forward.

use chrono::Utc;

use super::PgStore;
use crate::dates::ts_millis;
use crate::state::StoreError;
use crate::state::typed::TypedStore;
use crate::state::types::{Cursor, Duty, DutyState};

impl TypedStore for PgStore {
    fn set_run_duty(&self, run_id: &str, duty: Duty, state: DutyState) -> Result<(), StoreError> {
        let now = ts_millis(Utc::now());
        self.with(|c| {
            c.execute(
                "INSERT INTO run_duties (run_id, duty, state, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id, duty) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
                &[&run_id, &duty.as_str(), &state.as_str(), &now],
            )
        })?;
        Ok(())
    }

    fn run_duty(&self, run_id: &str, duty: Duty) -> Result<Option<DutyState>, StoreError> {
        let state: Option<String> = self.with(|c| {
            c.query_opt(
                "SELECT state FROM run_duties WHERE run_id = $1 AND duty = $2",
                &[&run_id, &duty.as_str()],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })?;
        state
            .map(|s| {
                DutyState::parse(&s).ok_or_else(|| self.other(format!("unknown duty state {s:?}")))
            })
            .transpose()
    }

    fn runs_with_duty(
        &self,
        job: &str,
        duty: Duty,
        state: DutyState,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT r.run_id FROM runs r JOIN run_duties d ON d.run_id = r.run_id \
                 WHERE r.job = $1 AND r.kind <> 'replay' AND r.status IN ('evaluated', 'succeeded') \
                 AND d.duty = $2 AND d.state = $3 ORDER BY r.started_at, r.run_id",
                &[&job, &duty.as_str(), &state.as_str()],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
        })
    }

    fn copy_duties(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let now = ts_millis(Utc::now());
        self.with(|c| {
            c.execute(
                "INSERT INTO run_duties (run_id, duty, state, updated_at) \
                 SELECT $2, duty, state, $3 FROM run_duties WHERE run_id = $1 \
                 ON CONFLICT (run_id, duty) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
                &[&from, &to, &now],
            )
        })?;
        Ok(())
    }

    fn exception_report_queued(&self, run_id: &str, carrier: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT 1 FROM exception_reports WHERE run_id = $1 AND carrier = $2",
                &[&run_id, &carrier],
            )
        })
        .map(|r| r.is_some())
    }

    fn set_exception_report_queued(
        &self,
        run_id: &str,
        carrier: &str,
        email_id: &str,
    ) -> Result<(), StoreError> {
        let now = ts_millis(Utc::now());
        // The first record stays, whichever replica wrote it.
        self.with(|c| {
            c.execute(
                "INSERT INTO exception_reports (run_id, carrier, email_id, queued_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id, carrier) DO NOTHING",
                &[&run_id, &carrier, &email_id, &now],
            )
        })?;
        Ok(())
    }

    fn run_aggregate(&self, run_id: &str, min_version: u32) -> Result<Option<String>, StoreError> {
        let min_version = i64::from(min_version);
        self.with(|c| {
            c.query_opt(
                "SELECT aggregate FROM run_aggregates WHERE run_id = $1 AND version >= $2",
                &[&run_id, &min_version],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }

    fn set_run_aggregate(&self, run_id: &str, version: u32, json: &str) -> Result<(), StoreError> {
        let version = i64::from(version);
        let now = ts_millis(Utc::now());
        self.with(|c| {
            c.execute(
                "INSERT INTO run_aggregates (run_id, version, aggregate, computed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id) DO UPDATE SET version = EXCLUDED.version, aggregate = EXCLUDED.aggregate, \
                 computed_at = EXCLUDED.computed_at",
                &[&run_id, &version, &json, &now],
            )
        })?;
        Ok(())
    }

    fn cursor(&self, cursor: Cursor) -> Result<u64, StoreError> {
        let position: Option<i64> = self.with(|c| {
            c.query_opt(
                "SELECT position FROM cursors WHERE name = $1",
                &[&cursor.as_str()],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })?;
        Ok(position.unwrap_or(0).max(0) as u64)
    }

    fn advance_cursor(&self, cursor: Cursor, position: u64) -> Result<(), StoreError> {
        let position = i64::try_from(position).map_err(|_| {
            self.other(format!(
                "cursor {} position {position} is out of range",
                cursor.as_str()
            ))
        })?;
        let now = ts_millis(Utc::now());
        // GREATEST under the row lock ON CONFLICT takes: two replicas
        // advancing at once leave the larger position, never the later write.
        self.with(|c| {
            c.execute(
                "INSERT INTO cursors (name, position, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET position = GREATEST(cursors.position, EXCLUDED.position), \
                 updated_at = EXCLUDED.updated_at",
                &[&cursor.as_str(), &position, &now],
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::history::tests::{connect, raw};
    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::intake::IntakeStore;

    #[test]
    fn duties_are_found_per_job_duty_and_state_and_pass_to_split_runs() {
        let db = ScratchDb::new();
        let mut s = db.open();
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
        let with = |s: &PgStore, duty, state| s.runs_with_duty("a", duty, state).unwrap();
        assert_eq!(
            with(&s, Duty::Filing, DutyState::Due),
            ["r1", "r2"],
            "oldest first, not replays, not other jobs"
        );
        assert_eq!(with(&s, Duty::Exceptions, DutyState::Due), ["r2"]);
        s.set_run_duty("r1", Duty::Filing, DutyState::Done).unwrap();
        assert_eq!(with(&s, Duty::Filing, DutyState::Due), ["r2"]);
        assert_eq!(with(&s, Duty::Filing, DutyState::Done), ["r1"]);

        // A run still running is not due yet; split, it hands its duties on
        // and owes nothing itself.
        s.start_run("r5", "a", crate::state::types::RunKind::Scheduled, "out:x")
            .unwrap();
        s.set_run_duty("r5", Duty::Filing, DutyState::Due).unwrap();
        assert_eq!(with(&s, Duty::Filing, DutyState::Due), ["r2"]);
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
        assert_eq!(with(&s, Duty::Filing, DutyState::Due), ["r2", "r6"]);
        // Copied onto a run that has the duty: the copy's state wins.
        s.set_run_duty("r6", Duty::Filing, DutyState::Done).unwrap();
        s.copy_duties("r5", "r6").unwrap();
        assert_eq!(
            s.run_duty("r6", Duty::Filing).unwrap(),
            Some(DutyState::Off)
        );
        // A run without duties copies none.
        s.copy_duties("nothing", "r7").unwrap();
        assert_eq!(s.run_duty("r7", Duty::Filing).unwrap(), None);

        // A state no s321d writes is reported, not defaulted.
        let mut raw = raw(&db);
        raw.batch_execute(
            "ALTER TABLE run_duties DROP CONSTRAINT run_duties_state_check; \
             UPDATE run_duties SET state = 'later' WHERE run_id = 'r2' AND duty = 'filing'",
        )
        .unwrap();
        let e = s.run_duty("r2", Duty::Filing).unwrap_err();
        assert!(
            e.to_string().contains("unknown duty state \"later\""),
            "{e}"
        );
    }

    #[test]
    fn exception_reports_aggregates_and_cursors() {
        let db = ScratchDb::new();
        let s = db.open();
        assert!(!s.exception_report_queued("r1", "DHLX").unwrap());
        s.set_exception_report_queued("r1", "DHLX", "id1").unwrap();
        s.set_exception_report_queued("r1", "DHLX", "id2").unwrap();
        assert!(s.exception_report_queued("r1", "DHLX").unwrap());
        assert!(!s.exception_report_queued("r2", "DHLX").unwrap());
        let mut raw = raw(&db);
        let id: String = raw
            .query_one("SELECT email_id FROM exception_reports", &[])
            .unwrap()
            .get(0);
        assert_eq!(id, "id1", "the first record stays");

        assert_eq!(s.run_aggregate("r1", 0).unwrap(), None);
        s.set_run_aggregate("r1", 1, "{\"a\":1}").unwrap();
        assert_eq!(
            s.run_aggregate("r1", 1).unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(s.run_aggregate("r1", 2).unwrap(), None, "too old a version");
        s.set_run_aggregate("r1", u32::MAX, "{\"a\":2}").unwrap();
        assert_eq!(
            s.run_aggregate("r1", u32::MAX).unwrap().as_deref(),
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
        let e = s
            .advance_cursor(Cursor::HttpNotifications, u64::MAX)
            .unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        assert_eq!(s.cursor(Cursor::HttpNotifications).unwrap(), 11);
    }

    /// Replicas advancing one cursor and queueing one report at once: the
    /// cursor ends at the largest position written (never a smaller later
    /// write), the report is recorded once, and nobody gets a conflict.
    #[test]
    fn concurrent_writers_keep_the_cursor_forward_and_the_first_report() {
        let db = ScratchDb::new();
        db.open();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (url, start) = (db.url.clone(), start.clone());
                std::thread::spawn(move || {
                    let s = connect(&url);
                    start.wait();
                    for k in 0..100u64 {
                        // Each thread climbs, but its positions interleave
                        // with the others' (t, t+4, t+8, ... then back down).
                        let p = if k < 50 { k * 4 + t } else { (99 - k) * 4 + t };
                        s.advance_cursor(Cursor::HttpNotifications, p).unwrap();
                        s.set_exception_report_queued(
                            &format!("r{}", k % 10),
                            "C",
                            &format!("{t}"),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = db.open();
        assert_eq!(s.cursor(Cursor::HttpNotifications).unwrap(), 49 * 4 + 3);
        let mut raw = raw(&db);
        let n: i64 = raw
            .query_one("SELECT count(*) FROM exception_reports", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 10);
    }
}
