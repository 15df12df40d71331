//! Entry summaries in the ledger: one row per filed entry that has (or was
//! meant to have) an ACE entry summary (AE), with its own state apart from
//! the cargo release's: `pending → submitted → accepted | rejected`, or
//! `not filed` when a mandatory field could not be filled.
//!
//! Exactly once: a summary is recorded `pending`, with the AE text as sent,
//! in a transaction *before* it is sent, and an entry has at most one row
//! (the filing id is the key): a crash after that is reconciled (asked
//! about, or its batch looked for), never sent blind a second time.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::ledger::{Applied, Filing};
use super::sqlite::SqliteStore;
use crate::dates::{parse_ts, ts_micros as ts};

/// The migration that adds the table (appended to the store's numbered
/// migrations).
pub const MIGRATION: &str = r#"
-- Entry summaries (AE/AX), one per filed entry, apart from its release state.
CREATE TABLE entry_summaries (
    filing_id    INTEGER PRIMARY KEY REFERENCES filings (id),
    entry_number TEXT NOT NULL UNIQUE,
    transport    TEXT NOT NULL,
    batch        TEXT,             -- the CATAIR AE batch that carries it
    certified    INTEGER NOT NULL, -- 1: certified for cargo release (no SE)
    state        TEXT NOT NULL,    -- pending, submitted, accepted, rejected, not_filed
    code         TEXT,             -- E1 condition or gateway code
    narrative    TEXT,
    message      TEXT,             -- the answer as received, or why not filed
    duty_usd     TEXT NOT NULL,    -- the 90 duty as sent
    fees_usd     TEXT NOT NULL,    -- the 90 user fees as sent
    payload      TEXT NOT NULL,    -- the AE transaction as sent
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX entry_summaries_by_state ON entry_summaries (state);
-- Entries filed before s321d wrote summaries are never summarised now, by
-- surprise, months later: a broker filed theirs.
INSERT INTO entry_summaries (filing_id, entry_number, transport, certified, state, message, duty_usd, fees_usd, payload, created_at, updated_at)
SELECT id, entry_number, transport, 0, 'not_filed', 'not filed: filed before s321d wrote entry summaries', '', '', '', updated_at, updated_at
FROM filings WHERE entry_type IN ('11', '01', '03');
"#;

/// Where an entry summary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SummaryState {
    /// Recorded; may or may not have been sent.
    Pending,
    Submitted,
    Accepted,
    Rejected,
    /// Never sent: a mandatory field had no value (the message says which).
    NotFiled,
}

impl SummaryState {
    pub const ALL: [SummaryState; 5] = [
        SummaryState::Pending,
        SummaryState::Submitted,
        SummaryState::Accepted,
        SummaryState::Rejected,
        SummaryState::NotFiled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SummaryState::Pending => "pending",
            SummaryState::Submitted => "submitted",
            SummaryState::Accepted => "accepted",
            SummaryState::Rejected => "rejected",
            SummaryState::NotFiled => "not_filed",
        }
    }

    pub fn parse(s: &str) -> Option<SummaryState> {
        SummaryState::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    /// Forward moves only: an answer read twice or late changes nothing.
    pub fn can_become(self, to: SummaryState) -> bool {
        use SummaryState::*;
        matches!(
            (self, to),
            (Pending, Submitted | Accepted | Rejected) | (Submitted, Accepted | Rejected)
        )
    }
}

/// One entry summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub filing_id: i64,
    pub entry_number: String,
    pub transport: String,
    pub batch: Option<String>,
    pub certified: bool,
    pub state: SummaryState,
    pub code: Option<String>,
    pub narrative: Option<String>,
    pub message: Option<String>,
    pub duty_usd: String,
    pub fees_usd: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A summary to record before it is sent (or as not filed).
#[derive(Debug, Clone)]
pub struct NewSummary<'a> {
    pub entry_number: &'a str,
    pub transport: &'a str,
    pub batch: Option<&'a str>,
    pub certified: bool,
    /// `Pending`, or `NotFiled` with the reason in `message`.
    pub state: SummaryState,
    pub message: Option<&'a str>,
    pub duty_usd: &'a str,
    pub fees_usd: &'a str,
    pub payload: &'a str,
}

/// A transition of one summary.
#[derive(Debug, Clone, Copy)]
pub struct SummaryTransition<'a> {
    pub entry_number: &'a str,
    pub to: SummaryState,
    pub code: Option<&'a str>,
    pub narrative: Option<&'a str>,
    pub message: &'a str,
}

const COLUMNS: &str = "filing_id, entry_number, transport, batch, certified, state, code, narrative, message, duty_usd, fees_usd, payload, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Summary> {
    let state: String = r.get(5)?;
    let (created, updated): (String, String) = (r.get(12)?, r.get(13)?);
    Ok(Summary {
        filing_id: r.get(0)?,
        entry_number: r.get(1)?,
        transport: r.get(2)?,
        batch: r.get(3)?,
        certified: r.get(4)?,
        state: SummaryState::parse(&state).unwrap_or(SummaryState::Pending),
        code: r.get(6)?,
        narrative: r.get(7)?,
        message: r.get(8)?,
        duty_usd: r.get(9)?,
        fees_usd: r.get(10)?,
        payload: r.get(11)?,
        created_at: parse_ts(&created).unwrap_or_default(),
        updated_at: parse_ts(&updated).unwrap_or_default(),
    })
}

/// The entry summaries of the ledger.
pub trait SummaryStore {
    /// Records each summary (one transaction); `false` for an entry that
    /// already has one, which is left as it is: never two per entry.
    fn record_summaries(&mut self, list: &[NewSummary<'_>]) -> Result<Vec<bool>, StoreError>;

    /// Applies each forward transition (one transaction).
    fn summary_transitions(
        &mut self,
        list: &[SummaryTransition<'_>],
    ) -> Result<Vec<Applied>, StoreError>;

    fn summary(&mut self, entry_number: &str) -> Result<Option<Summary>, StoreError>;

    fn summaries_in(&mut self, states: &[SummaryState]) -> Result<Vec<Summary>, StoreError>;

    /// Filings of these entry types whose release ACE accepted (accepted,
    /// released, held, detained) and that have no summary yet, oldest first.
    fn summaries_due(&mut self, entry_types: &[&str]) -> Result<Vec<Filing>, StoreError>;
}

impl SummaryStore for SqliteStore {
    fn record_summaries(&mut self, list: &[NewSummary<'_>]) -> Result<Vec<bool>, StoreError> {
        let path = self.location().to_owned();
        let err = |e| super::sqlite::sql_err(&path, e);
        let at = ts(Utc::now());
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut out = Vec::with_capacity(list.len());
        {
            let mut find = tx
                .prepare_cached("SELECT id FROM filings WHERE entry_number = ?1")
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO entry_summaries (filing_id, entry_number, transport, batch, certified, state, message, duty_usd, fees_usd, payload, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
                )
                .map_err(err)?;
            for s in list {
                let Some(id) = find
                    .query_row([s.entry_number], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(err)?
                else {
                    out.push(false);
                    continue;
                };
                let n = insert
                    .execute(params![
                        id,
                        s.entry_number,
                        s.transport,
                        s.batch,
                        s.certified,
                        s.state.as_str(),
                        s.message,
                        s.duty_usd,
                        s.fees_usd,
                        s.payload,
                        at
                    ])
                    .map_err(err)?;
                out.push(n == 1);
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    fn summary_transitions(
        &mut self,
        list: &[SummaryTransition<'_>],
    ) -> Result<Vec<Applied>, StoreError> {
        let path = self.location().to_owned();
        let err = |e| super::sqlite::sql_err(&path, e);
        let at = ts(Utc::now());
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut out = Vec::with_capacity(list.len());
        {
            let mut find = tx
                .prepare_cached("SELECT state FROM entry_summaries WHERE entry_number = ?1")
                .map_err(err)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE entry_summaries SET state = ?2, code = COALESCE(?3, code), narrative = COALESCE(?4, narrative), message = ?5, updated_at = ?6 \
                     WHERE entry_number = ?1",
                )
                .map_err(err)?;
            for t in list {
                let Some(from) = find
                    .query_row([t.entry_number], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(err)?
                else {
                    out.push(Applied::Unknown);
                    continue;
                };
                let from = SummaryState::parse(&from).unwrap_or(SummaryState::Pending);
                if from.can_become(t.to) {
                    update
                        .execute(params![
                            t.entry_number,
                            t.to.as_str(),
                            t.code,
                            t.narrative,
                            t.message,
                            at
                        ])
                        .map_err(err)?;
                    out.push(Applied::Moved);
                } else {
                    out.push(Applied::Ignored);
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    fn summary(&mut self, entry_number: &str) -> Result<Option<Summary>, StoreError> {
        let path = self.location().to_owned();
        let conn = self.conn_mut();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM entry_summaries WHERE entry_number = ?1"),
            [entry_number],
            row,
        )
        .optional()
        .map_err(|e| super::sqlite::sql_err(&path, e))
    }

    fn summaries_in(&mut self, states: &[SummaryState]) -> Result<Vec<Summary>, StoreError> {
        let path = self.location().to_owned();
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        let conn = self.conn_mut();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM entry_summaries WHERE state IN ({list}) ORDER BY filing_id"
            ))
            .map_err(|e| super::sqlite::sql_err(&path, e))?;
        let rows = stmt
            .query_map([], row)
            .map_err(|e| super::sqlite::sql_err(&path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| super::sqlite::sql_err(&path, e))
    }

    fn summaries_due(&mut self, entry_types: &[&str]) -> Result<Vec<Filing>, StoreError> {
        let types = entry_types
            .iter()
            .map(|t| format!("'{}'", t.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        let mut out = Vec::new();
        for f in self.query_filings_where(&format!(
            "state IN ('accepted', 'released', 'held', 'detained') AND entry_type IN ({types}) \
             AND NOT EXISTS (SELECT 1 FROM entry_summaries s WHERE s.filing_id = filings.id)"
        ))? {
            out.push(f);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::SummaryState::*;
    use super::*;
    use crate::state::ledger::{EntryRecord, FilingState, LedgerStore, NewFiling};

    /// A store with one filing, S32-0000001-8 of type 11, accepted.
    fn store_with_filing(dir: &std::path::Path) -> SqliteStore {
        let mut s = SqliteStore::open(&dir.join("state.db")).unwrap();
        let bills = vec![("DHLX".to_owned(), "H1".to_owned())];
        let payload = |n: &str| format!("{{\"entry_number\":\"{n}\"}}");
        let record = EntryRecord::default();
        let f = NewFiling {
            carrier: "DHLX",
            house_bill: "H1",
            bills: &bills,
            entry_type: "11",
            job: "j",
            run_id: "r",
            transport: "catair",
            batch: Some("b.sei"),
            payload: &payload,
            record: &record,
        };
        let make = |serial: u64| Some(format!("S32-{serial:07}-8"));
        let n = s
            .record_intent("S32", 1, &make, &f)
            .unwrap()
            .new_filing()
            .unwrap()
            .entry_number;
        assert_eq!(n, "S32-0000001-8");
        assert!(
            s.transition(&n, FilingState::Accepted, None, None, "SX 02")
                .unwrap()
        );
        s
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
    fn entries_filed_before_the_migration_are_never_summarised() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_with_filing(dir.path());
        // Run the migration again over the filing, as an upgrade would.
        let conn = s.conn_mut();
        conn.execute_batch("DROP TABLE entry_summaries;").unwrap();
        conn.execute_batch(MIGRATION).unwrap();
        let got = s.summary("S32-0000001-8").unwrap().unwrap();
        assert_eq!(
            (got.state, got.message.as_deref()),
            (
                NotFiled,
                Some("not filed: filed before s321d wrote entry summaries")
            )
        );
        assert!(s.summaries_due(&["11"]).unwrap().is_empty());
    }

    #[test]
    fn an_entry_has_one_summary_whose_answers_move_it_forward_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_with_filing(dir.path());
        let n = "S32-0000001-8";
        assert_eq!(
            s.summaries_due(&["11", "01"]).unwrap().len(),
            1,
            "accepted and no summary yet"
        );
        assert_eq!(s.summaries_due(&["01"]).unwrap().len(), 0);
        assert_eq!(
            s.record_summaries(&[new(n), new("S32-0000002-6")]).unwrap(),
            [true, false],
            "no filing, no summary"
        );
        assert_eq!(
            s.record_summaries(&[new(n)]).unwrap(),
            [false],
            "never two per entry"
        );
        assert!(s.summaries_due(&["11"]).unwrap().is_empty());
        let t = |to, code| SummaryTransition {
            entry_number: n,
            to,
            code: Some(code),
            narrative: Some("SUMMARY HAS BEEN ADDED"),
            message: "AX",
        };
        assert_eq!(
            s.summary_transitions(&[t(Submitted, ""), t(Accepted, "995"), t(Rejected, "999")])
                .unwrap(),
            [Applied::Moved, Applied::Moved, Applied::Ignored]
        );
        let got = s.summary(n).unwrap().unwrap();
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
        // Reopened: the table and the row survive.
        drop(s);
        let mut s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(s.summary(n).unwrap().unwrap().state, Accepted);
    }

    #[test]
    fn a_summary_moves_forward_only() {
        assert!(Pending.can_become(Submitted) && Pending.can_become(Accepted));
        assert!(Submitted.can_become(Rejected));
        assert!(
            !Accepted.can_become(Rejected),
            "an answer read twice changes nothing"
        );
        assert!(!NotFiled.can_become(Submitted));
    }
}
