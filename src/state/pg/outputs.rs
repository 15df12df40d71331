//! What reports and evidence packs ask about runs and their filings
//! ([`RunQueries`]), as `impl RunQueries for SqliteStore` answers. Reads only:
//! no locks. `runs` is the intake migration's; its timestamps are ISO text,
//! compared and ordered byte-wise (`COLLATE "C"`) as SQLite does.

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::dates::{parse_ts, ts_millis};
use crate::state::StoreError;
use crate::state::intake::RunRecord;
use crate::state::ledger::{Filing, FilingState};
use crate::state::outputs::*;
use crate::state::sqlite::FILING_COLUMNS;
use crate::state::types::RunKind;

impl RunQueries for PgStore {
    fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        jobs: &[String],
        kinds: &[RunKind],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let (from, to) = (ts_millis(from), ts_millis(to));
        self.with(|c| {
            c.query(
                "SELECT run_id, job, kind, status, started_at, finished_at, output, summary FROM runs \
                 WHERE started_at COLLATE \"C\" >= $1 AND started_at COLLATE \"C\" < $2 \
                 AND (cardinality($3::text[]) = 0 OR job = ANY($3)) \
                 AND (cardinality($4::text[]) = 0 OR kind = ANY($4)) \
                 ORDER BY started_at COLLATE \"C\", run_id COLLATE \"C\"",
                &[&from, &to, &jobs, &kinds],
            )?
            .iter()
            .map(|r| {
                Ok(RunRecord {
                    run_id: r.try_get(0)?,
                    job: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    status: r.try_get(3)?,
                    started_at: r
                        .try_get::<_, Option<String>>(4)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                    finished_at: r
                        .try_get::<_, Option<String>>(5)?
                        .as_deref()
                        .and_then(parse_ts),
                    output: r.try_get(6)?,
                    summary: r.try_get(7)?,
                })
            })
            .collect()
        })
    }

    fn filing_outcomes(&self, run_ids: &[String]) -> Result<Vec<Outcome>, StoreError> {
        // NULLS FIRST: SQLite orders NULL before any text.
        let rows = self.with(|c| {
            c.query(
                "SELECT state, code, narrative, count(*) FROM filings WHERE run_id = ANY($1) \
                 GROUP BY state, code, narrative ORDER BY count(*) DESC, state, code NULLS FIRST",
                &[&run_ids],
            )?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, Option<String>>(1)?,
                    r.try_get::<_, Option<String>>(2)?,
                    r.try_get::<_, i64>(3)? as u64,
                ))
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
        })?;
        rows.into_iter()
            .map(|(state, code, narrative, n)| {
                let state = FilingState::parse(&state).ok_or_else(|| {
                    self.other(format!("a filing has the unknown state {state:?}"))
                })?;
                Ok((state, code, narrative, n))
            })
            .collect()
    }

    fn filings_of_run_in(
        &self,
        run_id: &str,
        states: &[FilingState],
    ) -> Result<Vec<Filing>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        self.query_filings(
            &format!(
                "SELECT {FILING_COLUMNS} FROM filings WHERE run_id = $1 AND state = ANY($2) \
                 ORDER BY carrier, house_bill"
            ),
            &[&run_id, &states],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::ledger::tests::{Spec, intents};
    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::ledger::{LedgerStore, Transition};

    #[test]
    fn runs_between_keeps_the_window_the_jobs_and_the_kinds() {
        let db = ScratchDb::new();
        let s = db.open();
        let t0 = Utc::now() - chrono::Duration::minutes(1);
        let at = |k: i64| ts_millis(t0 + chrono::Duration::milliseconds(k));
        s.with(|c| {
            for (run, job, kind, start) in [
                ("r3", "a", "replay", at(30)),
                ("r1", "a", "scheduled", at(10)),
                ("r2", "b", "manual", at(20)),
                ("r0", "b", "manual", at(20)),
            ] {
                c.execute(
                    "INSERT INTO runs (run_id, job, kind, status, started_at, output) \
                     VALUES ($1, $2, $3, 'running', $4, 'out:x')",
                    &[&run, &job, &kind, &start],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let to = Utc::now() + chrono::Duration::minutes(1);
        let ids = |v: Vec<RunRecord>| v.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.runs_between(t0, to, &[], &[]).unwrap()),
            ["r1", "r0", "r2", "r3"]
        );
        assert_eq!(
            ids(s
                .runs_between(t0, to, &[], &[RunKind::Scheduled, RunKind::Manual])
                .unwrap()),
            ["r1", "r0", "r2"]
        );
        assert_eq!(
            ids(s.runs_between(t0, to, &["a".into()], &[]).unwrap()),
            ["r1", "r3"]
        );
        // [from, to): a run started at `to` is the next window's.
        let edge = t0 + chrono::Duration::milliseconds(20);
        assert_eq!(ids(s.runs_between(t0, edge, &[], &[]).unwrap()), ["r1"]);
        assert!(
            s.runs_between(to, to + chrono::Duration::minutes(1), &[], &[])
                .unwrap()
                .is_empty()
        );
        let r = s.runs_between(t0, to, &[], &[]).unwrap().remove(0);
        assert_eq!(
            (
                r.job.as_str(),
                r.kind.as_str(),
                r.status.as_str(),
                r.output.as_deref()
            ),
            ("a", "scheduled", "running", Some("out:x"))
        );
        assert_eq!(ts_millis(r.started_at), at(10));
        assert!(r.finished_at.is_none() && r.summary.is_none());
    }

    #[test]
    fn outcomes_are_counted_largest_first_and_filings_listed_by_bill() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let specs: Vec<Spec> = ["HB5", "HB1", "HB3", "HB2"]
            .iter()
            .enumerate()
            .map(|(i, b)| Spec::new(if i < 3 { "r1" } else { "r2" }, &format!("R{i}"), &[*b]))
            .collect();
        let refs: Vec<&Spec> = specs.iter().collect();
        let n: Vec<String> = intents(&mut s, "S32", &refs)
            .into_iter()
            .map(|i| i.new_filing().unwrap().entry_number)
            .collect();
        let t = |n, to, code| Transition {
            entry_number: n,
            to,
            code,
            narrative: None,
            message: "",
        };
        s.transitions(&[
            t(&n[0], FilingState::Rejected, Some("E1")),
            t(&n[2], FilingState::Rejected, None),
        ])
        .unwrap();
        assert_eq!(
            s.filing_outcomes(&["r1".into(), "r2".into()]).unwrap(),
            [
                (FilingState::Pending, None, None, 2),
                (FilingState::Rejected, None, None, 1),
                (FilingState::Rejected, Some("E1".into()), None, 1),
            ],
            "a NULL code first, as SQLite orders it"
        );
        assert_eq!(
            s.filing_outcomes(&["r2".into()]).unwrap(),
            [(FilingState::Pending, None, None, 1)]
        );
        assert!(s.filing_outcomes(&[]).unwrap().is_empty());
        let bills = |v: Vec<Filing>| v.into_iter().map(|f| f.house_bill).collect::<Vec<_>>();
        assert_eq!(
            bills(
                s.filings_of_run_in("r1", &[FilingState::Rejected, FilingState::Pending])
                    .unwrap()
            ),
            ["HB1", "HB3", "HB5"]
        );
        assert_eq!(
            bills(s.filings_of_run_in("r1", &[FilingState::Rejected]).unwrap()),
            ["HB3", "HB5"]
        );
        assert!(s.filings_of_run_in("r1", &[]).unwrap().is_empty());
    }
}
