//! What reports and evidence packs ask of the store about runs and their
//! filings (the SQL `outputs::read` ran before; scale-out section 2.7).

use chrono::{DateTime, Utc};

use super::StoreError;
use super::intake::RunRecord;
use super::ledger::{Filing, FilingState};
use super::sqlite::{FILING_COLUMNS, SqliteStore, filing_row};
use super::types::RunKind;
use crate::dates::{parse_ts, ts_millis};

/// A filing outcome: state, code, narrative, count.
pub type Outcome = (FilingState, Option<String>, Option<String>, u64);

/// An [`Outcome`] as stored, its state still text.
type OutcomeRow = (String, Option<String>, Option<String>, u64);

/// What reports and evidence packs ask about runs and their filings.
pub trait RunQueries {
    /// Runs started in [from, to) of these jobs (all if empty) and these
    /// kinds (all if empty), oldest first.
    fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        jobs: &[String],
        kinds: &[RunKind],
    ) -> Result<Vec<RunRecord>, StoreError>;

    /// Filing outcomes of some runs: (state, code, narrative, count), largest first.
    fn filing_outcomes(&self, run_ids: &[String]) -> Result<Vec<Outcome>, StoreError>;

    /// A run's filings in these states, by carrier and house bill.
    fn filings_of_run_in(
        &self,
        run_id: &str,
        states: &[FilingState],
    ) -> Result<Vec<Filing>, StoreError>;
}

impl RunQueries for SqliteStore {
    /// Runs started in [from, to) of these jobs (all if empty) and these
    /// kinds (all if empty), oldest first.
    fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        jobs: &[String],
        kinds: &[RunKind],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let q = || -> rusqlite::Result<Vec<RunRecord>> {
            let mut stmt = self.conn().prepare_cached(
                "SELECT run_id, job, kind, status, started_at, finished_at, output, summary FROM runs \
                 WHERE started_at >= ?1 AND started_at < ?2 \
                 AND (?3 = '[]' OR job IN (SELECT value FROM json_each(?3))) \
                 AND (?4 = '[]' OR kind IN (SELECT value FROM json_each(?4))) \
                 ORDER BY started_at, run_id",
            )?;
            let jobs = serde_json::to_string(jobs).unwrap_or_else(|_| "[]".into());
            let kinds = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
            let rows = stmt.query_map(
                rusqlite::params![ts_millis(from), ts_millis(to), jobs, kinds],
                |r| {
                    Ok(RunRecord {
                        run_id: r.get(0)?,
                        job: r.get(1)?,
                        kind: r.get(2)?,
                        status: r.get(3)?,
                        started_at: r
                            .get::<_, Option<String>>(4)?
                            .as_deref()
                            .and_then(parse_ts)
                            .unwrap_or_default(),
                        finished_at: r.get::<_, Option<String>>(5)?.as_deref().and_then(parse_ts),
                        output: r.get(6)?,
                        summary: r.get(7)?,
                    })
                },
            )?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))
    }

    /// Filing outcomes of some runs: (state, code, narrative, count), largest first.
    fn filing_outcomes(&self, run_ids: &[String]) -> Result<Vec<Outcome>, StoreError> {
        let q = || -> rusqlite::Result<Vec<OutcomeRow>> {
            let mut stmt = self.conn().prepare_cached(
                "SELECT state, code, narrative, count(*) FROM filings \
                 WHERE run_id IN (SELECT value FROM json_each(?1)) \
                 GROUP BY state, code, narrative ORDER BY count(*) DESC, state, code",
            )?;
            let ids = serde_json::to_string(run_ids).unwrap_or_else(|_| "[]".into());
            let rows = stmt.query_map([ids], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64))
            })?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))?
            .into_iter()
            .map(|(state, code, narrative, n)| {
                let state = FilingState::parse(&state).ok_or_else(|| StoreError::Other {
                    location: self.location().display().to_string(),
                    message: format!("a filing has the unknown state {state:?}"),
                })?;
                Ok((state, code, narrative, n))
            })
            .collect()
    }

    /// A run's filings in these states, by carrier and house bill.
    fn filings_of_run_in(
        &self,
        run_id: &str,
        states: &[FilingState],
    ) -> Result<Vec<Filing>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let q = || -> rusqlite::Result<Vec<Filing>> {
            let mut stmt = self.conn().prepare_cached(&format!(
                "SELECT {FILING_COLUMNS} FROM filings WHERE run_id = ?1 \
                 AND state IN (SELECT value FROM json_each(?2)) ORDER BY carrier, house_bill"
            ))?;
            let states = serde_json::to_string(&states).unwrap_or_else(|_| "[]".into());
            let rows = stmt.query_map(rusqlite::params![run_id, states], filing_row)?;
            rows.collect()
        };
        q().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::intake::IntakeStore;

    #[test]
    fn runs_between_keeps_the_window_the_jobs_and_the_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let t0 = Utc::now() - chrono::Duration::minutes(1);
        for (run, job, kind) in [
            ("r1", "a", RunKind::Scheduled),
            ("r2", "b", RunKind::Manual),
            ("r3", "a", RunKind::Replay),
        ] {
            s.start_run(run, job, kind, "out:x").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        let to = Utc::now() + chrono::Duration::minutes(1);
        let ids = |v: Vec<RunRecord>| v.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.runs_between(t0, to, &[], &[]).unwrap()),
            ["r1", "r2", "r3"]
        );
        assert_eq!(
            ids(s
                .runs_between(t0, to, &[], &[RunKind::Scheduled, RunKind::Manual])
                .unwrap()),
            ["r1", "r2"]
        );
        assert_eq!(
            ids(s.runs_between(t0, to, &["a".into()], &[]).unwrap()),
            ["r1", "r3"]
        );
        assert!(
            s.runs_between(to, to + chrono::Duration::minutes(1), &[], &[])
                .unwrap()
                .is_empty()
        );
        assert!(s.filing_outcomes(&["r1".into()]).unwrap().is_empty());
        assert!(
            s.filings_of_run_in("r1", &[FilingState::Rejected])
                .unwrap()
                .is_empty()
        );
    }
}
