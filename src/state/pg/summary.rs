//! Entry summaries on PostgreSQL ([`SummaryStore`]), as
//! `impl SummaryStore for SqliteStore` keeps them.
//!
//! Locks: an entry has at most one summary whoever records it: the insert is
//! `ON CONFLICT DO NOTHING` on the filing id and entry number (a second
//! replica's insert waits for the first's COMMIT, then inserts nothing), in
//! entry number order so two batches never wait on each other in a cycle.
//! Transitions lock their rows (`FOR NO KEY UPDATE`, in filing order) before
//! deciding whether a move is forward, so two replicas reading the same answer
//! move a summary once.

use std::collections::HashMap;

use chrono::Utc;
use postgres::Row;

use super::PgStore;
use crate::dates::{parse_ts, ts_micros as ts};
use crate::state::StoreError;
use crate::state::ledger::{Applied, Filing};
use crate::state::sqlite::FILING_COLUMNS;
use crate::state::summary::*;

const COLUMNS: &str = "filing_id, entry_number, transport, batch, certified, state, code, narrative, message, duty_usd, fees_usd, payload, created_at, updated_at";

fn row(r: &Row) -> Result<Summary, postgres::Error> {
    let state: String = r.try_get(5)?;
    let (created, updated): (String, String) = (r.try_get(12)?, r.try_get(13)?);
    Ok(Summary {
        filing_id: r.try_get(0)?,
        entry_number: r.try_get(1)?,
        transport: r.try_get(2)?,
        batch: r.try_get(3)?,
        certified: r.try_get::<_, i64>(4)? != 0,
        state: SummaryState::parse(&state).unwrap_or(SummaryState::Pending),
        code: r.try_get(6)?,
        narrative: r.try_get(7)?,
        message: r.try_get(8)?,
        duty_usd: r.try_get(9)?,
        fees_usd: r.try_get(10)?,
        payload: r.try_get(11)?,
        created_at: parse_ts(&created).unwrap_or_default(),
        updated_at: parse_ts(&updated).unwrap_or_default(),
    })
}

/// A summary as [`SummaryStore::summary_transitions`] holds it while deciding.
struct Locked {
    state: SummaryState,
    /// Whether a transition of the batch moved it, and what it sets
    /// (`None`: keep the stored code or narrative).
    moved: bool,
    code: Option<String>,
    narrative: Option<String>,
    message: String,
}

impl SummaryStore for PgStore {
    fn record_summaries(&mut self, list: &[NewSummary<'_>]) -> Result<Vec<bool>, StoreError> {
        let at = ts(Utc::now());
        let col =
            |f: for<'p> fn(&'p NewSummary<'_>) -> &'p str| list.iter().map(f).collect::<Vec<_>>();
        let (numbers, transports, duty, fees, payloads) = (
            col(|s| s.entry_number),
            col(|s| s.transport),
            col(|s| s.duty_usd),
            col(|s| s.fees_usd),
            col(|s| s.payload),
        );
        let states = col(|s| s.state.as_str());
        let batches: Vec<Option<&str>> = list.iter().map(|s| s.batch).collect();
        let messages: Vec<Option<&str>> = list.iter().map(|s| s.message).collect();
        let certified: Vec<i64> = list.iter().map(|s| i64::from(s.certified)).collect();
        let inserted: std::collections::HashSet<String> = self.with(|c| {
            // One statement, rows in entry number order: two replicas
            // inserting the same entries wait on each other in one order,
            // never in a cycle; the second inserts nothing for an entry the
            // first has (no filing: nothing either). Within the list the
            // first of an entry counts, as SQLite's INSERT OR IGNORE.
            c.query(
                "INSERT INTO entry_summaries (filing_id, entry_number, transport, batch, certified, state, message, \
                 duty_usd, fees_usd, payload, created_at, updated_at) \
                 SELECT f.id, u.entry_number, u.transport, u.batch, u.certified, u.state, u.message, u.duty_usd, \
                 u.fees_usd, u.payload, $10, $10 \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[]) WITH ORDINALITY \
                 AS u (entry_number, transport, batch, certified, state, message, duty_usd, fees_usd, payload, ord) \
                 JOIN filings f ON f.entry_number = u.entry_number \
                 ORDER BY u.entry_number, u.ord \
                 ON CONFLICT DO NOTHING RETURNING entry_number",
                &[
                    &numbers, &transports, &batches, &certified, &states, &messages, &duty, &fees,
                    &payloads, &at,
                ],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
        })?;
        let mut seen = std::collections::HashSet::new();
        Ok(numbers
            .iter()
            .map(|n| seen.insert(*n) && inserted.contains(*n))
            .collect())
    }

    fn summary_transitions(
        &mut self,
        list: &[SummaryTransition<'_>],
    ) -> Result<Vec<Applied>, StoreError> {
        let at = ts(Utc::now());
        self.with(|c| {
            let mut tx = c.transaction()?;
            let numbers: Vec<&str> = list.iter().map(|t| t.entry_number).collect();
            let mut locked: HashMap<String, Locked> = HashMap::new();
            for r in tx.query(
                "SELECT entry_number, state FROM entry_summaries WHERE entry_number = ANY($1) \
                 ORDER BY filing_id FOR NO KEY UPDATE",
                &[&numbers],
            )? {
                let state: String = r.try_get(1)?;
                locked.insert(
                    r.try_get(0)?,
                    Locked {
                        state: SummaryState::parse(&state).unwrap_or(SummaryState::Pending),
                        moved: false,
                        code: None,
                        narrative: None,
                        message: String::new(),
                    },
                );
            }
            let mut out = Vec::with_capacity(list.len());
            for t in list {
                let Some(s) = locked.get_mut(t.entry_number) else {
                    out.push(Applied::Unknown);
                    continue;
                };
                if s.state.can_become(t.to) {
                    // As SQLite's UPDATE: code and narrative kept unless given.
                    s.state = t.to;
                    s.moved = true;
                    if let Some(code) = t.code {
                        s.code = Some(code.to_owned());
                    }
                    if let Some(narrative) = t.narrative {
                        s.narrative = Some(narrative.to_owned());
                    }
                    s.message = t.message.to_owned();
                    out.push(Applied::Moved);
                } else {
                    out.push(Applied::Ignored);
                }
            }
            let moved: Vec<(&String, &Locked)> = locked.iter().filter(|(_, s)| s.moved).collect();
            if !moved.is_empty() {
                let numbers: Vec<&str> = moved.iter().map(|(n, _)| n.as_str()).collect();
                let states: Vec<&str> = moved.iter().map(|(_, s)| s.state.as_str()).collect();
                let codes: Vec<Option<&str>> = moved.iter().map(|(_, s)| s.code.as_deref()).collect();
                let narratives: Vec<Option<&str>> =
                    moved.iter().map(|(_, s)| s.narrative.as_deref()).collect();
                let messages: Vec<&str> = moved.iter().map(|(_, s)| s.message.as_str()).collect();
                tx.execute(
                    "UPDATE entry_summaries s SET state = u.state, code = COALESCE(u.code, s.code), \
                     narrative = COALESCE(u.narrative, s.narrative), message = u.message, updated_at = $6 \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                     AS u (entry_number, state, code, narrative, message) \
                     WHERE s.entry_number = u.entry_number",
                    &[&numbers, &states, &codes, &narratives, &messages, &at],
                )?;
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn summary(&mut self, entry_number: &str) -> Result<Option<Summary>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {COLUMNS} FROM entry_summaries WHERE entry_number = $1"),
                &[&entry_number],
            )?
            .as_ref()
            .map(row)
            .transpose()
        })
    }

    fn summaries_in(&mut self, states: &[SummaryState]) -> Result<Vec<Summary>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM entry_summaries WHERE state = ANY($1) ORDER BY filing_id"
                ),
                &[&states],
            )?
            .iter()
            .map(row)
            .collect()
        })
    }

    fn summaries_due(&mut self, entry_types: &[&str]) -> Result<Vec<Filing>, StoreError> {
        // Quotes dropped as SQLite drops them from the list it writes into SQL.
        let types: Vec<String> = entry_types.iter().map(|t| t.replace('\'', "")).collect();
        self.query_filings(
            &format!(
                "SELECT {FILING_COLUMNS} FROM filings \
                 WHERE state IN ('accepted', 'released', 'held', 'detained') AND entry_type = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM entry_summaries s WHERE s.filing_id = filings.id) \
                 ORDER BY id"
            ),
            &[&types],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::ledger::tests::{Spec, intents, open_many, race};
    use super::super::testing::ScratchDb;
    use super::SummaryState::*;
    use super::*;
    use crate::state::ledger::{FilingState, LedgerStore};

    /// Accepted type 11 filings S32-0000001-8.. of bills H1...
    fn accepted(s: &mut PgStore, n: usize) -> Vec<String> {
        let specs: Vec<Spec> = (1..=n)
            .map(|i| Spec::new("r", &format!("R{i}"), &[format!("H{i}").as_str()]))
            .collect();
        let refs: Vec<&Spec> = specs.iter().collect();
        let numbers: Vec<String> = intents(s, "S32", &refs)
            .into_iter()
            .map(|i| i.new_filing().unwrap().entry_number)
            .collect();
        for number in &numbers {
            assert!(
                s.transition(number, FilingState::Accepted, None, None, "SX 02")
                    .unwrap()
            );
        }
        numbers
    }

    fn new<'a>(n: &'a str) -> NewSummary<'a> {
        NewSummary {
            entry_number: n,
            transport: "catair",
            batch: Some("S32-x-ae.sei"),
            certified: false,
            state: Pending,
            message: None,
            duty_usd: "99.43",
            fees_usd: "2.62",
            payload: "10A...\n",
        }
    }

    #[test]
    fn an_entry_has_one_summary_whose_answers_move_it_forward_only() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let n = accepted(&mut s, 1).remove(0);
        assert_eq!(s.summaries_due(&["11", "01"]).unwrap().len(), 1);
        assert_eq!(s.summaries_due(&["01"]).unwrap().len(), 0);
        assert_eq!(
            s.record_summaries(&[new(&n), new("S32-0000002-8")])
                .unwrap(),
            [true, false],
            "no filing, no summary"
        );
        assert_eq!(s.record_summaries(&[new(&n)]).unwrap(), [false]);
        assert!(s.summaries_due(&["11"]).unwrap().is_empty());
        let t = |to, code| SummaryTransition {
            entry_number: &n,
            to,
            code,
            narrative: Some("SUMMARY HAS BEEN ADDED"),
            message: "AX",
        };
        assert_eq!(
            s.summary_transitions(&[
                t(Submitted, Some("")),
                t(Accepted, Some("995")),
                t(Rejected, Some("999"))
            ])
            .unwrap(),
            [Applied::Moved, Applied::Moved, Applied::Ignored]
        );
        // A move without a code keeps the stored one.
        let got = s.summary(&n).unwrap().unwrap();
        assert_eq!(
            (
                got.state,
                got.code.as_deref(),
                got.duty_usd.as_str(),
                got.batch.as_deref()
            ),
            (Accepted, Some("995"), "99.43", Some("S32-x-ae.sei"))
        );
        assert_eq!(s.summaries_in(&[Accepted]).unwrap().len(), 1);
        assert!(s.summaries_in(&[Pending, Rejected]).unwrap().is_empty());
        assert_eq!(
            s.summary_transitions(&[SummaryTransition {
                entry_number: "S32-0000009-9",
                to: Accepted,
                code: None,
                narrative: None,
                message: ""
            }])
            .unwrap(),
            [Applied::Unknown]
        );
        drop(s);
        let mut s = db.open();
        assert_eq!(s.summary(&n).unwrap().unwrap().state, Accepted);
    }

    /// Two replicas record and move the same summaries at once, each in its
    /// own order: one row per entry, each move applied once, no deadlock.
    #[test]
    fn summaries_raced_by_two_replicas_are_recorded_and_moved_once() {
        let db = ScratchDb::new();
        let mut stores = open_many(&db, 2);
        let numbers = accepted(&mut stores[0], 300);
        let orders: Vec<Vec<&str>> = (0..2)
            .map(|k| {
                let mut o: Vec<&str> = numbers.iter().map(String::as_str).collect();
                if k == 1 {
                    o.reverse();
                }
                o
            })
            .collect();
        // Each side's answers, back in the order of `numbers`.
        fn ordered<T>(k: usize, mut v: Vec<T>) -> Vec<T> {
            if k == 1 {
                v.reverse();
            }
            v
        }
        let recorded = race(&mut stores, |k, s| {
            let list: Vec<NewSummary<'_>> = orders[k].iter().map(|n| new(n)).collect();
            s.record_summaries(&list).map(|v| ordered(k, v))
        });
        let moved = race(&mut stores, |k, s| {
            let list: Vec<SummaryTransition<'_>> = orders[k]
                .iter()
                .map(|n| SummaryTransition {
                    entry_number: n,
                    to: Submitted,
                    code: None,
                    narrative: None,
                    message: "sent",
                })
                .collect();
            s.summary_transitions(&list).map(|v| ordered(k, v))
        });
        let (recorded, moved) = (
            recorded.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            moved.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        );
        for (i, n) in numbers.iter().enumerate() {
            assert!(
                recorded[0][i] ^ recorded[1][i],
                "{n}: recorded by exactly one"
            );
            let pair = [moved[0][i], moved[1][i]];
            assert!(
                pair == [Applied::Moved, Applied::Ignored]
                    || pair == [Applied::Ignored, Applied::Moved],
                "{n}: {pair:?}"
            );
        }
        let mut s = db.open();
        assert_eq!(s.summaries_in(&[Submitted]).unwrap().len(), numbers.len());
    }
}
