//! The filing ledger on PostgreSQL ([`LedgerStore`]): the rows, answers and
//! orders of `impl LedgerStore for SqliteStore`, safe with several replicas
//! writing at once where SQLite had its one writer.
//!
//! Locks:
//! - Intents and adoptions first take one transaction-scoped advisory lock
//!   ([`LEDGER`]): the check that a house bill is on no entry and the insert
//!   that puts it on one are one critical section cluster-wide, whatever the
//!   filer code, so the replica that comes second answers `AlreadyFiled` or
//!   `Conflict` exactly as SQLite would. The `filing_bills` primary key stays
//!   the backstop.
//! - The serial counter is read with an upsert that locks its row until
//!   COMMIT: two batches get disjoint serials, and a rolled-back batch (serials
//!   used up, an error) burns none.
//! - Transitions lock their filing rows before deciding whether a move is
//!   forward, all at once in id order, so two batches never deadlock.
//! - `record_not_filed` locks the run (advisory, by a hash of its id): a run's
//!   list is replaced whole, never interleaved with another replica's.
//! - The audit append is the last statement before COMMIT (scale-out 4.4): the
//!   head row is held for the shortest time and never while waiting.
//!
//! The caller's closures (`make_number`, each filing's `payload`) are not
//! `Send`, and the driver may run on a thread of its own ([`PgStore::with`]):
//! so an intent is one transaction over three calls on the one connection
//! ([`Open`]): BEGIN and the checks, then the numbers and payloads made on the
//! caller's thread, then the inserts and COMMIT.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};

use super::PgStore;
use super::audit::append_in;
use crate::dates::{parse_ts, ts_millis as ts};
use crate::state::StoreError;
use crate::state::audit::{AuditEvent, events};
use crate::state::ledger::*;
use crate::state::sqlite::FILING_COLUMNS;

/// Advisory lock key of the intent critical section (the `lock_keys`
/// namespace: 0x5332_1d00_xxxx).
pub(super) const LEDGER: i64 = 0x5332_1d00_0010;

/// Parameters of a query, as the driver takes them.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A filing row of `SELECT {FILING_COLUMNS}`.
pub(super) fn filing_row(r: &Row) -> Result<Filing, postgres::Error> {
    let state: String = r.try_get(9)?;
    let time = |i: usize| -> Result<_, postgres::Error> {
        Ok(r.try_get::<_, Option<String>>(i)?
            .as_deref()
            .and_then(parse_ts)
            .unwrap_or_default())
    };
    Ok(Filing {
        id: r.try_get(0)?,
        carrier: r.try_get(1)?,
        house_bill: r.try_get(2)?,
        entry_number: r.try_get(3)?,
        entry_type: r.try_get(4)?,
        job: r.try_get(5)?,
        run_id: r.try_get(6)?,
        transport: r.try_get(7)?,
        batch: r.try_get(8)?,
        state: FilingState::parse(&state).unwrap_or(FilingState::Pending),
        code: r.try_get(10)?,
        narrative: r.try_get(11)?,
        payload: r.try_get(12)?,
        created_at: time(13)?,
        updated_at: time(14)?,
    })
}

impl PgStore {
    /// Filings of a `SELECT {FILING_COLUMNS} FROM filings ...` query.
    pub(super) fn query_filings(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Filing>, StoreError> {
        self.with(|c| c.query(sql, params)?.iter().map(filing_row).collect())
    }
}

/// One transaction over several [`PgStore::with`] calls (BEGIN here, COMMIT
/// in [`Open::commit`]), so code that must not leave this thread runs in
/// between. Rolled back when dropped uncommitted, on an error or a panic.
struct Open<'s> {
    store: &'s PgStore,
    done: bool,
}

impl<'s> Open<'s> {
    fn begin(store: &'s PgStore) -> Result<Open<'s>, StoreError> {
        store.with(|c| c.batch_execute("BEGIN"))?;
        Ok(Open { store, done: false })
    }

    fn run<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError> {
        self.store.with(f)
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        self.store.with(|c| c.batch_execute("COMMIT"))
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            // The connection may be gone: then the server has rolled back.
            let _ = self.store.with(|c| c.batch_execute("ROLLBACK"));
        }
    }
}

/// `n` new ids of `table`'s identity column, ascending: rows inserted in one
/// statement get them in list order, as SQLite's one-by-one inserts did.
fn new_ids(c: &mut impl GenericClient, table: &str, n: usize) -> Result<Vec<i64>, postgres::Error> {
    let mut ids: Vec<i64> = c
        .query(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2::bigint)",
            &[&table, &(n as i64)],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// A filing to record, decided: everything of its rows but the ids.
struct Planned<'a> {
    number: String,
    state: FilingState,
    payload: String,
    /// The message of its first event.
    message: String,
    carrier: &'a str,
    house_bill: &'a str,
    bills: &'a [(String, String)],
    entry_type: &'a str,
    job: &'a str,
    run_id: &'a str,
    transport: &'a str,
    batch: Option<&'a str>,
    record: &'a EntryRecord,
}

/// What the ledger holds already, read under the lock: the entry number of
/// each bill on an entry, and of each (run, entry_ref) filed.
type Held = HashMap<(String, String), String>;

impl PgStore {
    /// [`LedgerStore::record_intents`] and [`LedgerStore::adopt`], as
    /// SQLite's `record`: `adopted` is empty, or has one entry per filing
    /// (`None`: allocate a number).
    fn record(
        &self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
        adopted: &[Option<Adopted<'_>>],
    ) -> Result<Vec<Intent>, StoreError> {
        let now = Utc::now();
        let at = ts(now);
        let bill_carriers: Vec<&str> = filings
            .iter()
            .flat_map(|f| f.bills.iter().map(|(c, _)| c.as_str()))
            .collect();
        let bill_numbers: Vec<&str> = filings
            .iter()
            .flat_map(|f| f.bills.iter().map(|(_, h)| h.as_str()))
            .collect();
        let with_ref = || filings.iter().filter(|f| !f.record.entry_ref.is_empty());
        let ref_runs: Vec<&str> = with_ref().map(|f| f.run_id).collect();
        let refs: Vec<&str> = with_ref().map(|f| f.record.entry_ref.as_str()).collect();

        let tx = Open::begin(self)?;
        let (first, mut on_entry, mut same_entry) = tx.run(|c| {
            c.execute("SELECT pg_advisory_xact_lock($1)", &[&LEDGER])?;
            let next: i64 = c
                .query_one(
                    "INSERT INTO entry_serials (filer_code, next_serial) VALUES ($1, $2) \
                     ON CONFLICT (filer_code) DO UPDATE SET next_serial = entry_serials.next_serial \
                     RETURNING next_serial",
                    &[&filer_code, &(first_serial as i64)],
                )?
                .try_get(0)?;
            let held = |c: &mut Client, sql: &str, a: &[&str], b: &[&str]| {
                c.query(sql, &[&a, &b])?
                    .iter()
                    .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
                    .collect::<Result<Held, postgres::Error>>()
            };
            let on_entry = held(
                c,
                "SELECT b.carrier, b.house_bill, f.entry_number \
                 FROM unnest($1::text[], $2::text[]) AS k (carrier, house_bill) \
                 JOIN filing_bills b ON b.carrier = k.carrier AND b.house_bill = k.house_bill \
                 JOIN filings f ON f.id = b.filing_id",
                &bill_carriers,
                &bill_numbers,
            )?;
            let same_entry = held(
                c,
                "SELECT e.run_id, e.entry_ref, f.entry_number \
                 FROM unnest($1::text[], $2::text[]) AS k (run_id, entry_ref) \
                 JOIN ledger_entries e ON e.run_id = k.run_id AND e.entry_ref = k.entry_ref \
                 JOIN filings f ON f.id = e.filing_id",
                &ref_runs,
                &refs,
            )?;
            Ok((next, on_entry, same_entry))
        })?;

        // SQLite's loop, over what was read and what this batch adds.
        let mut next = first;
        let mut out: Vec<Option<Intent>> = Vec::with_capacity(filings.len());
        let mut planned = Vec::new();
        for (k, f) in filings.iter().enumerate() {
            let adopt = adopted.get(k).copied().flatten();
            let key = (f.run_id.to_owned(), f.record.entry_ref.clone());
            // The run's entry was filed already (whatever its bills now).
            if !f.record.entry_ref.is_empty()
                && let Some(n) = same_entry.get(&key)
            {
                out.push(Some(Intent::AlreadyFiled(vec![n.clone()])));
                continue;
            }
            let filed: Vec<(String, String, String)> = f
                .bills
                .iter()
                .filter_map(|b| {
                    on_entry
                        .get(b)
                        .map(|n| (b.0.clone(), b.1.clone(), n.clone()))
                })
                .collect();
            if !filed.is_empty() {
                out.push(Some(if filed.len() == f.bills.len() {
                    let mut numbers: Vec<String> = filed.into_iter().map(|(_, _, n)| n).collect();
                    numbers.sort();
                    numbers.dedup();
                    Intent::AlreadyFiled(numbers)
                } else {
                    Intent::Conflict(filed)
                }));
                continue;
            }
            let (number, state) = match adopt {
                Some(a) => {
                    // An adopted number of this filer code moves the counter past it.
                    if let Some(serial) = a.own_serial {
                        next = next.max(serial as i64 + 1);
                    }
                    (a.entry_number.to_owned(), a.state)
                }
                None => {
                    let serial = next;
                    next += 1;
                    let number = make_number(serial as u64).ok_or_else(|| {
                        self.other(format!(
                            "entry serial {serial} of filer code {filer_code} has no entry number: the serials are used up"
                        ))
                    })?;
                    (number, FilingState::Pending)
                }
            };
            let payload = (f.payload)(&number);
            for b in f.bills {
                on_entry.insert(b.clone(), number.clone());
            }
            if !f.record.entry_ref.is_empty() {
                same_entry.insert(key, number.clone());
            }
            let bills = f
                .bills
                .iter()
                .map(|(c, h)| format!("{c} {h}"))
                .collect::<Vec<_>>()
                .join(", ");
            let message = match adopt {
                Some(a) => format!(
                    "entry number {number} adopted from ACE for {bills}: {}",
                    a.message
                ),
                None => format!("entry number {number} allocated for {bills}"),
            };
            planned.push(Planned {
                number,
                state,
                payload,
                message,
                carrier: f.carrier,
                house_bill: f.house_bill,
                bills: f.bills,
                entry_type: f.entry_type,
                job: f.job,
                run_id: f.run_id,
                transport: f.transport,
                batch: f.batch,
                record: f.record,
            });
            out.push(None);
        }

        let recorded = tx.run(|c| {
            if next != first {
                c.execute(
                    "UPDATE entry_serials SET next_serial = $2 WHERE filer_code = $1",
                    &[&filer_code, &next],
                )?;
            }
            let recorded = insert_filings(c, &planned, &at, now)?;
            let audit: Vec<AuditEvent> = recorded
                .iter()
                .zip(&planned)
                .map(|(f, p)| events::filing_intent(f, p.bills))
                .collect();
            if !audit.is_empty() {
                append_in(c, &audit)?;
            }
            Ok(recorded)
        })?;
        tx.commit()?;
        let mut recorded = recorded.into_iter();
        Ok(out
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Intent::New(Box::new(recorded.next().expect("one per new filing")))
                })
            })
            .collect())
    }
}

/// Inserts the planned filings with their bills, entry records, lines,
/// chapter 99 amounts and first events, one statement per table.
fn insert_filings<'a>(
    c: &mut Client,
    planned: &[Planned<'a>],
    at: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<Filing>, postgres::Error> {
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let ids = new_ids(c, "filings", planned.len())?;
    let col =
        |f: for<'p> fn(&'p Planned<'a>) -> &'p str| planned.iter().map(f).collect::<Vec<&str>>();
    let batches: Vec<Option<&str>> = planned.iter().map(|p| p.batch).collect();
    let states: Vec<&str> = planned.iter().map(|p| p.state.as_str()).collect();
    c.execute(
        "INSERT INTO filings (id, carrier, house_bill, entry_number, entry_type, job, run_id, transport, batch, \
         state, code, narrative, payload, created_at, updated_at) \
         SELECT u.id, u.carrier, u.house_bill, u.entry_number, u.entry_type, u.job, u.run_id, u.transport, u.batch, \
         u.state, NULL, NULL, u.payload, $12, $12 \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::text[], $11::text[]) \
         AS u (id, carrier, house_bill, entry_number, entry_type, job, run_id, transport, batch, state, payload)",
        &[
            &ids,
            &col(|p| p.carrier),
            &col(|p| p.house_bill),
            &col(|p| &p.number),
            &col(|p| p.entry_type),
            &col(|p| p.job),
            &col(|p| p.run_id),
            &col(|p| p.transport),
            &batches,
            &states,
            &col(|p| &p.payload),
            &at,
        ],
    )?;

    let (mut b_carrier, mut b_bill, mut b_id) = (Vec::new(), Vec::new(), Vec::new());
    for (p, id) in planned.iter().zip(&ids) {
        for (carrier, house_bill) in p.bills {
            b_carrier.push(carrier.as_str());
            b_bill.push(house_bill.as_str());
            b_id.push(*id);
        }
    }
    // The primary key (carrier, house_bill) refuses a bill on a second entry
    // even if the check under the lock were ever bypassed.
    c.execute(
        "INSERT INTO filing_bills (carrier, house_bill, filing_id) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])",
        &[&b_carrier, &b_bill, &b_id],
    )?;

    let rec =
        |f: fn(&EntryRecord) -> &str| planned.iter().map(|p| f(p.record)).collect::<Vec<&str>>();
    let day = |f: fn(&EntryRecord) -> Option<NaiveDate>| {
        planned
            .iter()
            .map(|p| f(p.record).map(|d| d.to_string()))
            .collect::<Vec<Option<String>>>()
    };
    let arrival: Vec<String> = planned
        .iter()
        .map(|p| p.record.arrival_date.to_string())
        .collect();
    c.execute(
        "INSERT INTO ledger_entries (filing_id, run_id, entry_ref, ior_number, arrival_date, port_of_entry, \
         conveyance, consignee_key, basis, entered_value_usd, duty_usd, mpf_usd, hmf_usd, total_usd, duty_status, \
         rates_as_of, liquidation_date, protest_deadline) \
         SELECT u.filing_id, u.run_id, NULLIF(u.entry_ref, ''), u.ior_number, u.arrival_date, u.port_of_entry, \
         u.conveyance, u.consignee_key, u.basis, u.entered_value_usd, NULLIF(u.duty_usd, ''), \
         NULLIF(u.mpf_usd, ''), NULLIF(u.hmf_usd, ''), NULLIF(u.total_usd, ''), u.duty_status, u.rates_as_of, \
         u.liquidation_date, u.protest_deadline \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
         $16::text[], $17::text[], $18::text[]) \
         AS u (filing_id, run_id, entry_ref, ior_number, arrival_date, port_of_entry, conveyance, consignee_key, \
         basis, entered_value_usd, duty_usd, mpf_usd, hmf_usd, total_usd, duty_status, rates_as_of, \
         liquidation_date, protest_deadline)",
        &[
            &ids,
            &col(|p| p.run_id),
            &rec(|r| &r.entry_ref),
            &rec(|r| &r.ior_number),
            &arrival,
            &rec(|r| &r.port_of_entry),
            &rec(|r| &r.conveyance),
            &rec(|r| &r.consignee_key),
            &rec(|r| &r.basis),
            &rec(|r| &r.entered_value_usd),
            &rec(|r| &r.duty_usd),
            &rec(|r| &r.mpf_usd),
            &rec(|r| &r.hmf_usd),
            &rec(|r| &r.total_usd),
            &rec(|r| &r.duty_status),
            &rec(|r| &r.rates_as_of),
            &day(|r| r.liquidation_date),
            &day(|r| r.protest_deadline),
        ],
    )?;

    let lines: Vec<(i64, &LedgerLine)> = planned
        .iter()
        .zip(&ids)
        .flat_map(|(p, id)| p.record.lines.iter().map(move |l| (*id, l)))
        .collect();
    if !lines.is_empty() {
        let text = |f: fn(&LedgerLine) -> &str| lines.iter().map(|(_, l)| f(l)).collect::<Vec<_>>();
        let filing: Vec<i64> = lines.iter().map(|(id, _)| *id).collect();
        let line: Vec<i64> = lines.iter().map(|(_, l)| i64::from(l.line)).collect();
        let record: Vec<i64> = lines.iter().map(|(_, l)| i64::from(l.record)).collect();
        c.execute(
            "INSERT INTO ledger_lines (filing_id, line, source_file, record, carrier, house_bill, line_no, hts_code, \
             country_of_origin, entered_value_usd, rate_column, rate, hts_duty_usd, duty_usd, duty_status) \
             SELECT u.filing_id, u.line, u.source_file, u.record, u.carrier, u.house_bill, u.line_no, u.hts_code, \
             u.country_of_origin, u.entered_value_usd, u.rate_column, u.rate, NULLIF(u.hts_duty_usd, ''), \
             NULLIF(u.duty_usd, ''), u.duty_status \
             FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]) \
             AS u (filing_id, line, source_file, record, carrier, house_bill, line_no, hts_code, country_of_origin, \
             entered_value_usd, rate_column, rate, hts_duty_usd, duty_usd, duty_status)",
            &[
                &filing,
                &line,
                &text(|l| &l.source_file),
                &record,
                &text(|l| &l.carrier),
                &text(|l| &l.house_bill),
                &text(|l| &l.line_no),
                &text(|l| &l.hts_code),
                &text(|l| &l.country_of_origin),
                &text(|l| &l.entered_value_usd),
                &text(|l| &l.rate_column),
                &text(|l| &l.rate),
                &text(|l| &l.hts_duty_usd),
                &text(|l| &l.duty_usd),
                &text(|l| &l.duty_status),
            ],
        )?;
    }

    let (mut h_id, mut h_line, mut h_pos, mut h_heading, mut h_digits, mut h_amount) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (id, l) in &lines {
        for (pos, (heading, amount)) in l.ch99.iter().enumerate() {
            h_id.push(*id);
            h_line.push(i64::from(l.line));
            h_pos.push(pos as i64);
            h_heading.push(heading.as_str());
            h_digits.push(
                heading
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>(),
            );
            h_amount.push(amount.as_str());
        }
    }
    if !h_id.is_empty() {
        c.execute(
            "INSERT INTO ledger_ch99 (filing_id, line, pos, heading, heading_digits, amount_usd) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])",
            &[&h_id, &h_line, &h_pos, &h_heading, &h_digits, &h_amount],
        )?;
    }

    let event_ids = new_ids(c, "filing_events", planned.len())?;
    c.execute(
        "INSERT INTO filing_events (id, filing_id, at, from_state, to_state, applied, message) \
         SELECT u.id, u.filing_id, $3, NULL, u.to_state, 1, u.message \
         FROM unnest($1::bigint[], $2::bigint[], $4::text[], $5::text[]) AS u (id, filing_id, to_state, message)",
        &[&event_ids, &ids, &at, &states, &col(|p| &p.message)],
    )?;

    Ok(planned
        .iter()
        .zip(ids)
        .map(|(p, id)| Filing {
            id,
            carrier: p.carrier.to_owned(),
            house_bill: p.house_bill.to_owned(),
            entry_number: p.number.clone(),
            entry_type: p.entry_type.to_owned(),
            job: p.job.to_owned(),
            run_id: p.run_id.to_owned(),
            transport: p.transport.to_owned(),
            batch: p.batch.map(str::to_owned),
            state: p.state,
            code: None,
            narrative: None,
            payload: p.payload.clone(),
            created_at: now,
            updated_at: now,
        })
        .collect())
}

/// A filing as [`LedgerStore::transitions`] holds it while deciding.
struct Locked {
    id: i64,
    state: FilingState,
    carrier: String,
    house_bill: String,
    /// Whether a transition of the batch moved it, and what it sets
    /// (`None`: keep the stored code or narrative).
    moved: bool,
    code: Option<String>,
    narrative: Option<String>,
}

impl LedgerStore for PgStore {
    fn record_intents(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
    ) -> Result<Vec<Intent>, StoreError> {
        self.record(filer_code, first_serial, make_number, filings, &[])
    }

    fn adopt(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        filings: &[(NewFiling<'_>, Adopted<'_>)],
    ) -> Result<Vec<Intent>, StoreError> {
        let (list, adopted): (Vec<NewFiling<'_>>, Vec<Option<Adopted<'_>>>) =
            filings.iter().map(|(f, a)| (f.clone(), Some(*a))).unzip();
        self.record(filer_code, first_serial, &|_| None, &list, &adopted)
    }

    fn transitions(&mut self, list: &[Transition<'_>]) -> Result<Vec<Applied>, StoreError> {
        let at = ts(Utc::now());
        self.with(|c| {
            let mut tx = c.transaction()?;
            let numbers: Vec<&str> = list.iter().map(|t| t.entry_number).collect();
            // The lock the UPDATE would take, taken before deciding; in id
            // order, so two batches never wait on each other in a cycle.
            let mut locked: HashMap<String, Locked> = HashMap::new();
            let mut order = Vec::new();
            for r in tx.query(
                "SELECT id, entry_number, state, carrier, house_bill FROM filings \
                 WHERE entry_number = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                &[&numbers],
            )? {
                let number: String = r.try_get(1)?;
                let state: String = r.try_get(2)?;
                order.push(number.clone());
                locked.insert(
                    number,
                    Locked {
                        id: r.try_get(0)?,
                        state: FilingState::parse(&state).unwrap_or(FilingState::Pending),
                        carrier: r.try_get(3)?,
                        house_bill: r.try_get(4)?,
                        moved: false,
                        code: None,
                        narrative: None,
                    },
                );
            }
            let mut out = Vec::with_capacity(list.len());
            let (mut e_filing, mut e_from, mut e_to, mut e_applied, mut e_message) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut audit = Vec::new();
            for t in list {
                let Some(f) = locked.get_mut(t.entry_number) else {
                    out.push(Applied::Unknown);
                    continue;
                };
                let from = f.state;
                let moved = from.can_become(t.to);
                if moved {
                    // As SQLite's UPDATE: code and narrative kept unless given.
                    f.state = t.to;
                    f.moved = true;
                    if let Some(code) = t.code {
                        f.code = Some(code.to_owned());
                    }
                    if let Some(narrative) = t.narrative {
                        f.narrative = Some(narrative.to_owned());
                    }
                }
                e_filing.push(f.id);
                e_from.push(from.as_str());
                e_to.push(t.to.as_str());
                e_applied.push(i64::from(moved));
                e_message.push(t.message);
                audit.push(events::filing_response(
                    &f.carrier,
                    &f.house_bill,
                    t.entry_number,
                    from.as_str(),
                    t.to.as_str(),
                    moved,
                    t.code,
                    t.narrative,
                    t.message,
                ));
                out.push(if moved {
                    Applied::Moved
                } else {
                    Applied::Ignored
                });
            }
            let moved: Vec<&Locked> = order
                .iter()
                .filter_map(|n| locked.get(n))
                .filter(|f| f.moved)
                .collect();
            if !moved.is_empty() {
                let ids: Vec<i64> = moved.iter().map(|f| f.id).collect();
                let states: Vec<&str> = moved.iter().map(|f| f.state.as_str()).collect();
                let codes: Vec<Option<&str>> = moved.iter().map(|f| f.code.as_deref()).collect();
                let narratives: Vec<Option<&str>> =
                    moved.iter().map(|f| f.narrative.as_deref()).collect();
                tx.execute(
                    "UPDATE filings f SET state = u.state, code = COALESCE(u.code, f.code), \
                     narrative = COALESCE(u.narrative, f.narrative), updated_at = $5 \
                     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u (id, state, code, narrative) \
                     WHERE f.id = u.id",
                    &[&ids, &states, &codes, &narratives, &at],
                )?;
            }
            if !e_filing.is_empty() {
                let ids = new_ids(&mut tx, "filing_events", e_filing.len())?;
                tx.execute(
                    "INSERT INTO filing_events (id, filing_id, at, from_state, to_state, applied, message) \
                     SELECT u.id, u.filing_id, $3, u.from_state, u.to_state, u.applied, u.message \
                     FROM unnest($1::bigint[], $2::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[]) \
                     AS u (id, filing_id, from_state, to_state, applied, message)",
                    &[&ids, &e_filing, &at, &e_from, &e_to, &e_applied, &e_message],
                )?;
            }
            if !audit.is_empty() {
                append_in(&mut tx, &audit)?;
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn filing(&mut self, entry_number: &str) -> Result<Option<Filing>, StoreError> {
        Ok(self
            .query_filings(
                &format!("SELECT {FILING_COLUMNS} FROM filings WHERE entry_number = $1"),
                &[&entry_number],
            )?
            .pop())
    }

    fn filing_for(
        &mut self,
        carrier: &str,
        house_bill: &str,
    ) -> Result<Option<Filing>, StoreError> {
        Ok(self
            .query_filings(
                &format!(
                    "SELECT {FILING_COLUMNS} FROM filings WHERE id = \
                     (SELECT filing_id FROM filing_bills WHERE carrier = $1 AND house_bill = $2)"
                ),
                &[&carrier, &house_bill],
            )?
            .pop())
    }

    fn filing_carriers(&mut self, house_bill: &str) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT carrier FROM filing_bills WHERE house_bill = $1 ORDER BY carrier",
                &[&house_bill],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
        })
    }

    fn bills_of(&mut self, entry_number: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT b.carrier, b.house_bill FROM filing_bills b JOIN filings f ON f.id = b.filing_id \
                 WHERE f.entry_number = $1 ORDER BY b.carrier, b.house_bill",
                &[&entry_number],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn entry_record(&mut self, entry_number: &str) -> Result<Option<EntryRecord>, StoreError> {
        let day =
            |s: Option<String>| s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok());
        self.with(|c| {
            let Some(r) = c.query_opt(
                "SELECT e.filing_id, COALESCE(e.entry_ref, ''), e.ior_number, e.arrival_date, e.port_of_entry, \
                 e.conveyance, e.consignee_key, e.basis, e.entered_value_usd, COALESCE(e.duty_usd, ''), \
                 COALESCE(e.mpf_usd, ''), COALESCE(e.hmf_usd, ''), COALESCE(e.total_usd, ''), e.duty_status, \
                 e.rates_as_of, e.liquidation_date, e.protest_deadline \
                 FROM ledger_entries e JOIN filings f ON f.id = e.filing_id WHERE f.entry_number = $1",
                &[&entry_number],
            )?
            else {
                return Ok(None);
            };
            let id: i64 = r.try_get(0)?;
            let mut record = EntryRecord {
                entry_ref: r.try_get(1)?,
                ior_number: r.try_get(2)?,
                arrival_date: day(r.try_get(3)?).unwrap_or_default(),
                port_of_entry: r.try_get(4)?,
                conveyance: r.try_get(5)?,
                consignee_key: r.try_get(6)?,
                basis: r.try_get(7)?,
                entered_value_usd: r.try_get(8)?,
                duty_usd: r.try_get(9)?,
                mpf_usd: r.try_get(10)?,
                hmf_usd: r.try_get(11)?,
                total_usd: r.try_get(12)?,
                duty_status: r.try_get(13)?,
                rates_as_of: r.try_get(14)?,
                liquidation_date: day(r.try_get(15)?),
                protest_deadline: day(r.try_get(16)?),
                lines: Vec::new(),
            };
            let mut lines = c
                .query(
                    "SELECT line, source_file, record, carrier, house_bill, line_no, hts_code, country_of_origin, \
                     entered_value_usd, rate_column, rate, COALESCE(hts_duty_usd, ''), COALESCE(duty_usd, ''), \
                     duty_status FROM ledger_lines WHERE filing_id = $1 ORDER BY line",
                    &[&id],
                )?
                .iter()
                .map(|r| {
                    Ok(LedgerLine {
                        line: r.try_get::<_, i64>(0)? as u32,
                        source_file: r.try_get(1)?,
                        record: r.try_get::<_, i64>(2)? as u32,
                        carrier: r.try_get(3)?,
                        house_bill: r.try_get(4)?,
                        line_no: r.try_get(5)?,
                        hts_code: r.try_get(6)?,
                        country_of_origin: r.try_get(7)?,
                        entered_value_usd: r.try_get(8)?,
                        rate_column: r.try_get(9)?,
                        rate: r.try_get(10)?,
                        hts_duty_usd: r.try_get(11)?,
                        ch99: Vec::new(),
                        duty_usd: r.try_get(12)?,
                        duty_status: r.try_get(13)?,
                    })
                })
                .collect::<Result<Vec<_>, postgres::Error>>()?;
            for r in c.query(
                "SELECT line, heading, amount_usd FROM ledger_ch99 WHERE filing_id = $1 ORDER BY line, pos",
                &[&id],
            )? {
                let n = r.try_get::<_, i64>(0)? as u32;
                if let Some(l) = lines.iter_mut().find(|l| l.line == n) {
                    l.ch99.push((r.try_get(1)?, r.try_get(2)?));
                }
            }
            record.lines = lines;
            Ok(Some(record))
        })
    }

    fn entries_with_heading(
        &mut self,
        heading_digits: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HeadingMatch>, StoreError> {
        if heading_digits.is_empty() {
            return Ok(Vec::new());
        }
        // Prefixes as range scans on the index: digits >= p AND digits < p || ':'
        // (':' follows '9' in byte order), so no LIKE escaping is needed.
        let upper: Vec<String> = heading_digits.iter().map(|p| format!("{p}:")).collect();
        let (from, to) = (from.to_string(), to.to_string());
        self.with(|c| {
            c.query(
                "SELECT f.entry_number, f.state, e.ior_number, e.arrival_date \
                 FROM filings f JOIN ledger_entries e ON e.filing_id = f.id \
                 WHERE e.arrival_date >= $1 AND e.arrival_date <= $2 \
                 AND EXISTS (SELECT 1 FROM ledger_ch99 c \
                   JOIN unnest($3::text[], $4::text[]) AS p (lo, hi) \
                   ON c.heading_digits >= p.lo COLLATE \"C\" AND c.heading_digits < p.hi COLLATE \"C\" \
                   WHERE c.filing_id = f.id) \
                 ORDER BY f.entry_number",
                &[&from, &to, &heading_digits, &upper],
            )?
            .iter()
            .map(|r| {
                let state: String = r.try_get(1)?;
                let date: String = r.try_get(3)?;
                Ok(HeadingMatch {
                    entry_number: r.try_get(0)?,
                    state: FilingState::parse(&state).unwrap_or(FilingState::Pending),
                    ior_number: r.try_get(2)?,
                    arrival_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
                })
            })
            .collect()
        })
    }

    fn filings_in(&mut self, states: &[FilingState]) -> Result<Vec<Filing>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        self.query_filings(
            &format!("SELECT {FILING_COLUMNS} FROM filings WHERE state = ANY($1) ORDER BY id"),
            &[&states],
        )
    }

    fn filings_of_run(&mut self, run_id: &str) -> Result<Vec<Filing>, StoreError> {
        self.query_filings(
            &format!("SELECT {FILING_COLUMNS} FROM filings WHERE run_id = $1 ORDER BY id"),
            &[&run_id],
        )
    }

    fn events(&mut self, entry_number: &str) -> Result<Vec<FilingEvent>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT e.at, e.from_state, e.to_state, e.message, e.applied FROM filing_events e \
                 JOIN filings f ON f.id = e.filing_id WHERE f.entry_number = $1 ORDER BY e.id",
                &[&entry_number],
            )?
            .iter()
            .map(|r| {
                let from: Option<String> = r.try_get(1)?;
                let to: String = r.try_get(2)?;
                let message: String = r.try_get(3)?;
                let applied: i64 = r.try_get(4)?;
                Ok(FilingEvent {
                    at: r
                        .try_get::<_, Option<String>>(0)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                    from: from.as_deref().and_then(FilingState::parse),
                    to: FilingState::parse(&to).unwrap_or(FilingState::Pending),
                    message: if applied != 0 {
                        message
                    } else {
                        format!("ignored (out of order): {message}")
                    },
                })
            })
            .collect()
        })
    }

    fn record_not_filed(&mut self, run_id: &str, list: &[NotFiled]) -> Result<(), StoreError> {
        let at = ts(Utc::now());
        let pos: Vec<i64> = (0..list.len() as i64).collect();
        let text = |f: fn(&NotFiled) -> &str| list.iter().map(f).collect::<Vec<&str>>();
        let (refs, types, carriers, reasons) = (
            text(|n| &n.entry_ref),
            text(|n| &n.entry_type),
            text(|n| &n.carrier),
            text(|n| &n.reason),
        );
        let bills: Vec<String> = list.iter().map(|n| n.house_bills.join(" ")).collect();
        self.with(|c| {
            let mut tx = c.transaction()?;
            // The run's list is replaced whole: a second replica waits here,
            // then deletes what the first wrote, as SQLite's writer lock did.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('s321d:not_filed:' || $1, 0))",
                &[&run_id],
            )?;
            tx.execute("DELETE FROM not_filed WHERE run_id = $1", &[&run_id])?;
            tx.execute(
                "INSERT INTO not_filed (run_id, pos, entry_ref, entry_type, carrier, house_bills, reason, recorded_at) \
                 SELECT $1, u.pos, u.entry_ref, u.entry_type, u.carrier, u.house_bills, u.reason, $2 \
                 FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
                 AS u (pos, entry_ref, entry_type, carrier, house_bills, reason)",
                &[&run_id, &at, &pos, &refs, &types, &carriers, &bills, &reasons],
            )?;
            tx.commit()
        })
    }

    fn not_filed(
        &mut self,
        run_id: Option<&str>,
        house_bill: Option<&str>,
    ) -> Result<Vec<NotFiled>, StoreError> {
        // The bill is matched as a whole word of the space-separated list.
        self.with(|c| {
            c.query(
                "SELECT run_id, entry_ref, entry_type, carrier, house_bills, reason, recorded_at FROM not_filed \
                 WHERE ($1::text IS NULL OR run_id = $1) \
                 AND ($2::text IS NULL OR strpos(' ' || house_bills || ' ', ' ' || $2 || ' ') > 0) \
                 ORDER BY run_id, pos",
                &[&run_id, &house_bill],
            )?
            .iter()
            .map(|r| {
                Ok(NotFiled {
                    run_id: r.try_get(0)?,
                    entry_ref: r.try_get(1)?,
                    entry_type: r.try_get(2)?,
                    carrier: r.try_get(3)?,
                    house_bills: r
                        .try_get::<_, String>(4)?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    reason: r.try_get(5)?,
                    recorded_at: r
                        .try_get::<_, Option<String>>(6)?
                        .as_deref()
                        .and_then(parse_ts)
                        .unwrap_or_default(),
                })
            })
            .collect()
        })
    }

    fn not_filed_count(&mut self) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM not_filed", &[])?
                .try_get(0)?;
            Ok(n as u64)
        })
    }

    fn filing_counts(&mut self) -> Result<Vec<(FilingState, u64)>, StoreError> {
        // Ordered as SQLite's GROUP BY (over its state index) returns them.
        let rows = self.with(|c| {
            c.query(
                "SELECT state, count(*) FROM filings GROUP BY state ORDER BY state",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?)))
            .collect::<Result<Vec<_>, postgres::Error>>()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| FilingState::parse(&s).map(|s| (s, n as u64)))
            .collect())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Barrier;

    use super::super::testing::ScratchDb;
    use super::*;
    use crate::state::audit_query::AuditStore;
    use crate::state::outputs::RunQueries;
    use crate::state::sqlite::SqliteStore;
    use crate::state::summary::{NewSummary, SummaryState, SummaryStore, SummaryTransition};

    /// `n` connections to a fresh database (opened one after the other).
    pub(in crate::state::pg) fn open_many(db: &ScratchDb, n: usize) -> Vec<PgStore> {
        let first = db.open();
        let mut all = vec![first];
        all.extend((1..n).map(|_| db.open()));
        all
    }

    /// What one filing is made of, owned (a [`NewFiling`] borrows it).
    pub(in crate::state::pg) struct Spec {
        pub run: String,
        pub bills: Vec<(String, String)>,
        pub record: EntryRecord,
        pub entry_type: String,
    }

    fn payload(n: &str) -> String {
        format!("{{\"entry_number\":\"{n}\"}}")
    }

    /// Entry numbers of filer code `code`: serials 1..=999 have one; 1000
    /// and up are used up.
    pub(in crate::state::pg) fn number(code: &str, serial: u64) -> Option<String> {
        (serial < 1000).then(|| format!("{code}-{serial:07}-8"))
    }

    pub(in crate::state::pg) fn make(serial: u64) -> Option<String> {
        number("S32", serial)
    }

    impl Spec {
        pub(in crate::state::pg) fn new(run: &str, entry_ref: &str, bills: &[&str]) -> Spec {
            Spec {
                run: run.to_owned(),
                bills: bills
                    .iter()
                    .map(|b| ("DHLX".to_owned(), (*b).to_owned()))
                    .collect(),
                record: EntryRecord {
                    entry_ref: entry_ref.to_owned(),
                    arrival_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                    ..EntryRecord::default()
                },
                entry_type: "11".to_owned(),
            }
        }

        pub(in crate::state::pg) fn filing(&self) -> NewFiling<'_> {
            NewFiling {
                carrier: &self.bills[0].0,
                house_bill: &self.bills[0].1,
                bills: &self.bills,
                entry_type: &self.entry_type,
                job: "j",
                run_id: &self.run,
                transport: "catair",
                batch: Some("b.sei"),
                payload: &payload,
                record: &self.record,
            }
        }
    }

    /// A type 11 with two lines, chapter 99 amounts and unknown amounts.
    fn rich(run: &str, entry_ref: &str, bills: &[&str], arrival: (i32, u32, u32)) -> Spec {
        let arrival = NaiveDate::from_ymd_opt(arrival.0, arrival.1, arrival.2).unwrap();
        let (liquidation, protest) = estimated_dates(arrival);
        let line = |n: u32, ch99: &[(&str, &str)]| LedgerLine {
            line: n,
            source_file: "m.csv".into(),
            record: n + 1,
            carrier: "DHLX".into(),
            house_bill: bills[0].into(),
            line_no: n.to_string(),
            hts_code: "8471300100".into(),
            country_of_origin: "CN".into(),
            entered_value_usd: "600.25".into(),
            rate_column: "general".into(),
            rate: "0%".into(),
            hts_duty_usd: if n == 1 { "3.10".into() } else { String::new() },
            ch99: ch99
                .iter()
                .map(|(h, a)| ((*h).to_owned(), (*a).to_owned()))
                .collect(),
            duty_usd: String::new(),
            duty_status: "unknown".into(),
        };
        let mut s = Spec::new(run, entry_ref, bills);
        s.record = EntryRecord {
            entry_ref: entry_ref.into(),
            ior_number: "12-3456789AB".into(),
            arrival_date: arrival,
            port_of_entry: "2704".into(),
            conveyance: "FLT1".into(),
            consignee_key: "ACME|90210".into(),
            basis: "141.51".into(),
            entered_value_usd: "1200.50".into(),
            duty_usd: String::new(),
            mpf_usd: "2.62".into(),
            hmf_usd: String::new(),
            total_usd: "112.50".into(),
            duty_status: "unknown".into(),
            rates_as_of: "2026-03-01".into(),
            liquidation_date: Some(liquidation),
            protest_deadline: Some(protest),
            lines: vec![
                line(1, &[("9903.01.25", "25.00"), ("9903.88.15", "12.50")]),
                line(2, &[]),
            ],
        };
        s
    }

    pub(in crate::state::pg) fn intents(
        s: &mut dyn LedgerStore,
        code: &str,
        specs: &[&Spec],
    ) -> Vec<Intent> {
        let list: Vec<NewFiling<'_>> = specs.iter().map(|s| s.filing()).collect();
        s.record_intents(code, 1, &|n| number(code, n), &list)
            .unwrap()
    }

    fn numbers(v: &[Intent]) -> Vec<String> {
        v.iter()
            .map(|i| match i {
                Intent::New(f) => f.entry_number.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Timestamps are the clock's: set to one value before comparing.
    fn untimed(mut f: Filing) -> Filing {
        f.created_at = Default::default();
        f.updated_at = Default::default();
        f
    }

    /// The audit trail's events (kind, entry number, body), once the chain
    /// is verified whole: seqs 1..n, each hash over its predecessor, the head
    /// row on the last one.
    pub(in crate::state::pg) fn audit_chain(s: &PgStore) -> Vec<(String, Option<String>, String)> {
        let v = s.audit_verify().unwrap();
        assert!(v.broken.is_none(), "{:?}", v.broken);
        assert_eq!(s.audit_head().unwrap(), v.head);
        let events = s
            .with(|c| {
                c.query(
                    "SELECT kind, entry_number, body FROM audit_events ORDER BY seq",
                    &[],
                )
            })
            .unwrap();
        assert_eq!(v.events as usize, events.len());
        assert_eq!(v.head.0, events.len() as i64);
        events
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// One scenario of everything the ledger, summaries and run queries do,
    /// as text, to run on both backends.
    fn scenario<S: LedgerStore + SummaryStore + RunQueries>(s: &mut S) -> Vec<String> {
        let mut out = Vec::new();
        let mut log = |what: &str, v: String| out.push(format!("{what}: {v}"));
        let a = rich("r1", "R000001", &["HB1", "HB2"], (2026, 3, 2));
        let b = rich("r1", "R000002", &["HB3"], (2026, 3, 9));
        let dup = Spec::new("r1", "R000003", &["HB2"]);
        let part = Spec::new("r1", "R000004", &["HB9", "HB3"]);
        let same_ref = Spec::new("r1", "R000001", &["HB7"]);
        let t86 = Spec::new("r1", "", &["HB8"]);
        let mut t86b = Spec::new("r2", "", &["HB8", "HB1"]);
        t86b.entry_type = "86".into();
        let got = intents(s, "S32", &[&a, &b, &dup, &part, &same_ref, &t86]);
        log(
            "intents",
            format!(
                "{:?}",
                got.into_iter()
                    .map(|i| match i {
                        Intent::New(f) => format!("new {:?}", untimed(*f)),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
            ),
        );
        log(
            "again",
            format!("{:?}", numbers(&intents(s, "S32", &[&t86b, &a]))),
        );
        // Serials used up: nothing of the batch stays, the counter neither.
        let c = Spec::new("r3", "R000001", &["HB20"]);
        let used_up = s.record_intents("S32", 1, &|_| None, &[c.filing()]);
        log("used up", format!("{:?}", used_up.is_err()));
        // Adopted: one of this filer code past the counter, one of another.
        let d = rich("r4", "R000001", &["HB30"], (2026, 4, 1));
        let e = Spec::new("r4", "R000002", &["HB31"]);
        let f = Spec::new("r4", "R000003", &["HB1"]);
        let adopted = |n, own| Adopted {
            entry_number: n,
            state: FilingState::Accepted,
            own_serial: own,
            message: "held by ACE",
        };
        let got = s
            .adopt(
                "S32",
                1,
                &[
                    (d.filing(), adopted("S32-0000010-1", Some(10))),
                    (e.filing(), adopted("ZZ9-0000001-1", None)),
                    (f.filing(), adopted("S32-0000011-1", Some(11))),
                ],
            )
            .unwrap();
        log("adopt", format!("{:?}", numbers(&got)));
        let g = Spec::new("r5", "R000001", &["HB40"]);
        log(
            "after adopt",
            format!("{:?}", numbers(&intents(s, "S32", &[&g]))),
        );
        log(
            "other code",
            format!(
                "{:?}",
                numbers(&intents(
                    s,
                    "T45",
                    &[&Spec::new("r5", "R000002", &["HB41"])]
                ))
            ),
        );
        let t = |n: &'static str,
                 to,
                 code: Option<&'static str>,
                 narrative: Option<&'static str>,
                 m: &'static str| Transition {
            entry_number: n,
            to,
            code,
            narrative,
            message: m,
        };
        use FilingState::*;
        let list = [
            t("S32-0000001-8", Submitted, None, None, "sent"),
            t(
                "S32-0000001-8",
                Accepted,
                Some("SX 02"),
                Some("ACCEPTED"),
                "SE90 02",
            ),
            t("S32-0000001-8", Submitted, None, None, "late"),
            t("S32-0000001-8", Released, None, None, "SO60 1C"),
            t(
                "S32-0000002-8",
                Rejected,
                Some("E1 123"),
                Some("BAD"),
                "SE90 E1",
            ),
            t(
                "S32-0000002-8",
                Released,
                Some("X"),
                None,
                "not after a rejection",
            ),
            t("S32-0000404-8", Accepted, None, None, "unknown"),
            t("S32-0000003-8", Pending, None, None, "text cut"),
            t("S32-0000003-8", Held, Some("H1"), Some("HOLD"), "SO60 hold"),
            t("S32-0000003-8", Held, None, None, "held again"),
            t(
                "S32-0000003-8",
                Released,
                None,
                Some("RELEASED"),
                "SO60 release",
            ),
        ];
        log(
            "transitions",
            format!("{:?}", s.transitions(&list).unwrap()),
        );
        log(
            "transition",
            format!(
                "{:?}",
                s.transition("S32-0000003-8", Accepted, None, None, "back")
                    .unwrap()
            ),
        );
        for n in [
            "S32-0000001-8",
            "S32-0000002-8",
            "S32-0000003-8",
            "S32-0000010-1",
            "ZZ9-0000001-1",
            "nope",
        ] {
            log("filing", format!("{:?}", s.filing(n).unwrap().map(untimed)));
            log("bills_of", format!("{:?}", s.bills_of(n).unwrap()));
            log("entry_record", format!("{:?}", s.entry_record(n).unwrap()));
            let events: Vec<_> = s
                .events(n)
                .unwrap()
                .into_iter()
                .map(|e| (e.from, e.to, e.message))
                .collect();
            log("events", format!("{events:?}"));
        }
        for (c, h) in [
            ("DHLX", "HB2"),
            ("DHLX", "HB8"),
            ("UPSN", "HB2"),
            ("DHLX", "HB9"),
        ] {
            log(
                "filing_for",
                format!("{:?}", s.filing_for(c, h).unwrap().map(|f| f.entry_number)),
            );
        }
        log(
            "carriers",
            format!("{:?}", s.filing_carriers("HB1").unwrap()),
        );
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        for (prefixes, from, to) in [
            (vec!["99030125".to_owned()], day(3, 1), day(3, 31)),
            (vec!["9903".to_owned()], day(3, 3), day(12, 31)),
            (
                vec!["990388".to_owned(), "9903012".to_owned()],
                day(1, 1),
                day(3, 2),
            ),
            (vec![String::new()], day(1, 1), day(12, 31)),
            (vec!["8471".to_owned()], day(1, 1), day(12, 31)),
            (Vec::new(), day(1, 1), day(12, 31)),
        ] {
            log(
                "heading",
                format!("{:?}", s.entries_with_heading(&prefixes, from, to).unwrap()),
            );
        }
        log(
            "in",
            format!(
                "{:?}",
                s.filings_in(&[Pending, Accepted])
                    .unwrap()
                    .into_iter()
                    .map(untimed)
                    .collect::<Vec<_>>()
            ),
        );
        log(
            "of run",
            format!(
                "{:?}",
                s.filings_of_run("r1")
                    .unwrap()
                    .into_iter()
                    .map(|f| f.entry_number)
                    .collect::<Vec<_>>()
            ),
        );
        log("counts", format!("{:?}", s.filing_counts().unwrap()));
        let nf = |run: &str, bills: &[&str], reason: &str| NotFiled {
            run_id: run.into(),
            entry_ref: String::new(),
            entry_type: "86".into(),
            carrier: "DHLX".into(),
            house_bills: bills.iter().map(|b| (*b).to_owned()).collect(),
            reason: reason.into(),
            recorded_at: Default::default(),
        };
        s.record_not_filed(
            "r1",
            &[
                nf("r1", &["HB1", "HB10"], "no IOR"),
                nf("r1", &["HB2"], "x"),
            ],
        )
        .unwrap();
        s.record_not_filed("r0", &[nf("r0", &["HB1"], "no bond")])
            .unwrap();
        s.record_not_filed(
            "r1",
            &[
                nf("r1", &["HB10", "HB11"], "no IOR"),
                nf("r1", &["HB2"], "y"),
            ],
        )
        .unwrap();
        let strip = |v: Vec<NotFiled>| {
            v.into_iter()
                .map(|n| NotFiled {
                    recorded_at: Default::default(),
                    ..n
                })
                .collect::<Vec<_>>()
        };
        for (run, bill) in [
            (None, None),
            (Some("r1"), None),
            (None, Some("HB1")),
            (Some("r1"), Some("HB1")),
            (None, Some("HB11")),
        ] {
            log(
                "not_filed",
                format!("{:?}", strip(s.not_filed(run, bill).unwrap())),
            );
        }
        log(
            "not_filed_count",
            format!("{:?}", s.not_filed_count().unwrap()),
        );
        // Summaries.
        let new = |n: &'static str| NewSummary {
            entry_number: n,
            transport: "catair",
            batch: Some("S32-x-ae.sei"),
            certified: n.ends_with("1-8"),
            state: SummaryState::Pending,
            message: None,
            duty_usd: "99.43",
            fees_usd: "2.62",
            payload: "10A...\n",
        };
        log(
            "due",
            format!(
                "{:?}",
                s.summaries_due(&["11", "86"])
                    .unwrap()
                    .into_iter()
                    .map(|f| f.entry_number)
                    .collect::<Vec<_>>()
            ),
        );
        log(
            "record summaries",
            format!(
                "{:?}",
                s.record_summaries(&[
                    new("S32-0000001-8"),
                    new("S32-0000404-8"),
                    new("S32-0000010-1"),
                    new("S32-0000001-8")
                ])
                .unwrap()
            ),
        );
        let st = |n, to, code, m| SummaryTransition {
            entry_number: n,
            to,
            code,
            narrative: Some("N"),
            message: m,
        };
        log(
            "summary transitions",
            format!(
                "{:?}",
                s.summary_transitions(&[
                    st("S32-0000001-8", SummaryState::Submitted, None, "sent"),
                    st("S32-0000001-8", SummaryState::Accepted, Some("995"), "AX"),
                    st("S32-0000001-8", SummaryState::Rejected, Some("999"), "late"),
                    st("S32-0000010-1", SummaryState::Rejected, Some("E"), "AX E"),
                    st("S32-0000404-8", SummaryState::Accepted, None, ""),
                ])
                .unwrap()
            ),
        );
        let strip = |x: crate::state::summary::Summary| crate::state::summary::Summary {
            created_at: Default::default(),
            updated_at: Default::default(),
            ..x
        };
        for n in ["S32-0000001-8", "S32-0000010-1", "S32-0000002-8"] {
            log("summary", format!("{:?}", s.summary(n).unwrap().map(strip)));
        }
        log(
            "summaries_in",
            format!(
                "{:?}",
                s.summaries_in(&[SummaryState::Accepted, SummaryState::Rejected])
                    .unwrap()
                    .into_iter()
                    .map(strip)
                    .collect::<Vec<_>>()
            ),
        );
        log(
            "due after",
            format!(
                "{:?}",
                s.summaries_due(&["11", "86"])
                    .unwrap()
                    .into_iter()
                    .map(|f| f.entry_number)
                    .collect::<Vec<_>>()
            ),
        );
        // Run queries over the filings.
        log(
            "outcomes",
            format!(
                "{:?}",
                s.filing_outcomes(&["r1".into(), "r4".into(), "r5".into()])
                    .unwrap()
            ),
        );
        log(
            "outcomes none",
            format!("{:?}", s.filing_outcomes(&[]).unwrap()),
        );
        log(
            "of run in",
            format!(
                "{:?}",
                s.filings_of_run_in("r1", &[Pending, Released, Rejected])
                    .unwrap()
                    .into_iter()
                    .map(|f| (f.carrier, f.house_bill, f.state))
                    .collect::<Vec<_>>()
            ),
        );
        out
    }

    #[test]
    fn the_ledger_answers_as_sqlite_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut lite = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let db = ScratchDb::new();
        let mut pg = db.open();
        let want = scenario(&mut lite);
        let got = scenario(&mut pg);
        assert!(want.len() > 40);
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(g, w);
        }
        assert_eq!(got.len(), want.len());
        // The same audit events, in the same order, on a chain that verifies.
        let events = audit_chain(&pg);
        let lite_events: Vec<(String, Option<String>, String)> = lite
            .conn()
            .prepare("SELECT kind, entry_number, body FROM audit_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(events.len() > 10);
        assert_eq!(events, lite_events);
    }

    #[test]
    fn a_rolled_back_batch_leaves_nothing() {
        let db = ScratchDb::new();
        let mut s = db.open();
        let a = Spec::new("r1", "R000001", &["HB1"]);
        assert_eq!(numbers(&intents(&mut s, "S32", &[&a])), ["S32-0000001-8"]);
        s.with(|c| c.execute("UPDATE entry_serials SET next_serial = 998", &[]))
            .unwrap();
        // 998 and 999 have numbers, 1000 does not: the whole batch fails.
        let specs: Vec<Spec> = (0..3)
            .map(|k| Spec::new("r3", &format!("R{k}"), &[format!("Y{k}").as_str()]))
            .collect();
        let list: Vec<NewFiling<'_>> = specs.iter().map(|s| s.filing()).collect();
        let err = s.record_intents("S32", 1, &make, &list).unwrap_err();
        assert!(
            err.to_string()
                .contains("entry serial 1000 of filer code S32 has no entry number"),
            "{err}"
        );
        assert!(s.filings_of_run("r3").unwrap().is_empty());
        assert!(s.filing_for("DHLX", "Y0").unwrap().is_none());
        let next: i64 = s
            .with(|c| {
                c.query_one("SELECT next_serial FROM entry_serials", &[])?
                    .try_get(0)
            })
            .unwrap();
        assert_eq!(next, 998, "no serial burnt");
        // The connection is usable after the rollback.
        assert_eq!(
            numbers(&s.record_intents("S32", 1, &make, &list[..2]).unwrap()),
            ["S32-0000998-8", "S32-0000999-8"]
        );
        assert_eq!(audit_chain(&s).len(), 1 + 2);
    }

    /// Runs `f` on every store at once (each on a thread of its own,
    /// released together), and returns its answers by store. A side that
    /// fails never leaves the other waiting: the barrier is passed first.
    pub(in crate::state::pg) fn race<T: Send>(
        stores: &mut [PgStore],
        f: impl Fn(usize, &mut PgStore) -> T + Sync,
    ) -> Vec<T> {
        let barrier = Barrier::new(stores.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .iter_mut()
                .enumerate()
                .map(|(k, s)| {
                    let (barrier, f) = (&barrier, &f);
                    scope.spawn(move || {
                        barrier.wait();
                        f(k, s)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a racing thread"))
                .collect()
        })
    }

    /// Two replicas file the same house bill at the same moment: it ends on
    /// one entry, and the replica that came second is told which.
    #[test]
    fn a_house_bill_raced_by_two_replicas_is_on_one_entry() {
        let db = ScratchDb::new();
        let mut stores = open_many(&db, 2);
        let rounds = 12;
        for round in 0..rounds {
            let bill = format!("HB{round}");
            let got = race(&mut stores, |k, s| {
                // Odd rounds under two filer codes: their serial rows are
                // two rows, which alone would not order the two sides.
                let code = if round % 2 == 1 && k == 1 {
                    "T45"
                } else {
                    "S32"
                };
                let spec = Spec::new(&format!("run{k}"), "", &[bill.as_str()]);
                s.record_intent(code, 1, &|n| number(code, n), &spec.filing())
            });
            let got: Vec<Intent> = got.into_iter().map(Result::unwrap).collect();
            let filing = stores[0]
                .filing_for("DHLX", &bill)
                .unwrap()
                .expect("filed once");
            let new: Vec<&Filing> = got
                .iter()
                .filter_map(|i| match i {
                    Intent::New(f) => Some(&**f),
                    _ => None,
                })
                .collect();
            assert_eq!(new.len(), 1, "round {round}: {got:?}");
            assert_eq!(new[0].entry_number, filing.entry_number);
            assert!(
                got.contains(&Intent::AlreadyFiled(vec![filing.entry_number.clone()])),
                "round {round}: {got:?}"
            );
            assert_eq!(
                stores[1].bills_of(&filing.entry_number).unwrap(),
                [("DHLX".to_owned(), bill)]
            );
        }
        let total: u64 = stores[0]
            .filing_counts()
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(total, rounds as u64);
        assert_eq!(audit_chain(&stores[0]).len(), rounds);
    }

    /// Two replicas allocate at once: disjoint serials, none skipped.
    #[test]
    fn entry_numbers_of_two_replicas_never_collide() {
        let db = ScratchDb::new();
        let mut stores = open_many(&db, 2);
        let mut got = Vec::new();
        for batch in 0..5 {
            for intents in race(&mut stores, |k, s| {
                let bills: Vec<String> = (0..10).map(|i| format!("B{k}-{batch}-{i}")).collect();
                let specs: Vec<Spec> = bills
                    .iter()
                    .enumerate()
                    .map(|(i, b)| Spec::new(&format!("run{k}"), &format!("R{batch}-{i}"), &[b]))
                    .collect();
                let list: Vec<NewFiling<'_>> = specs.iter().map(|s| s.filing()).collect();
                s.record_intents("S32", 1, &make, &list)
            }) {
                for i in intents.unwrap() {
                    got.push(
                        i.new_filing()
                            .expect("distinct bills are all new")
                            .entry_number,
                    );
                }
            }
        }
        got.sort();
        let want: Vec<String> = (1..=100).map(|n| make(n).unwrap()).collect();
        assert_eq!(got, want);
    }

    /// Two replicas read the same answers at once: each move is applied once,
    /// the other replica records it as ignored; opposite orders never deadlock.
    #[test]
    fn a_transition_raced_by_two_replicas_moves_once() {
        let db = ScratchDb::new();
        let mut stores = open_many(&db, 2);
        let specs: Vec<Spec> = (0..20)
            .map(|i| Spec::new("r", &format!("R{i}"), &[format!("B{i}").as_str()]))
            .collect();
        let refs: Vec<&Spec> = specs.iter().collect();
        let filed = numbers(&intents(&mut stores[0], "S32", &refs));
        let results = race(&mut stores, |k, s| {
            let mut order: Vec<&String> = filed.iter().collect();
            if k == 1 {
                order.reverse();
            }
            let list: Vec<Transition<'_>> = order
                .iter()
                .flat_map(|n| {
                    [FilingState::Submitted, FilingState::Accepted].map(|to| Transition {
                        entry_number: n,
                        to,
                        code: None,
                        narrative: None,
                        message: "answer",
                    })
                })
                .collect();
            s.transitions(&list).map(|got| {
                if k == 1 {
                    // Back to the order of `filed`, two per filing.
                    got.chunks(2).rev().flatten().copied().collect()
                } else {
                    got
                }
            })
        });
        let results: Vec<Vec<Applied>> = results.into_iter().map(Result::unwrap).collect();
        let s = &mut stores[0];
        for (i, n) in filed.iter().enumerate() {
            let pairs = [&results[0][2 * i..2 * i + 2], &results[1][2 * i..2 * i + 2]];
            let moved = pairs
                .iter()
                .filter(|p| **p == [Applied::Moved, Applied::Moved])
                .count();
            let ignored = pairs
                .iter()
                .filter(|p| **p == [Applied::Ignored, Applied::Ignored])
                .count();
            assert_eq!((moved, ignored), (1, 1), "{n}: {pairs:?}");
            assert_eq!(s.filing(n).unwrap().unwrap().state, FilingState::Accepted);
            assert_eq!(s.events(n).unwrap().len(), 1 + 4);
        }
        assert_eq!(audit_chain(s).len(), 20 + 80);
    }

    /// Two replicas record a run's entries not filed at once: the run's list
    /// is one of theirs, whole.
    #[test]
    fn a_run_not_filed_by_two_replicas_is_replaced_whole() {
        let db = ScratchDb::new();
        let mut stores = open_many(&db, 2);
        let nf = |k: usize, pos: usize| NotFiled {
            run_id: "r1".into(),
            entry_ref: format!("R{k}-{pos}"),
            entry_type: "11".into(),
            carrier: "DHLX".into(),
            house_bills: vec![format!("H{pos}")],
            reason: format!("replica {k}"),
            recorded_at: Default::default(),
        };
        for round in 0..10 {
            for r in race(&mut stores, |k, s| {
                let list: Vec<NotFiled> = (0..3 + k + round % 2).map(|p| nf(k, p)).collect();
                s.record_not_filed("r1", &list)
            }) {
                r.unwrap();
            }
            let got = stores[0].not_filed(Some("r1"), None).unwrap();
            let k = usize::from(got[0].reason != "replica 0");
            let want: Vec<String> = (0..3 + k + round % 2)
                .map(|p| format!("R{k}-{p}"))
                .collect();
            assert_eq!(
                got.iter().map(|n| n.entry_ref.clone()).collect::<Vec<_>>(),
                want
            );
        }
    }
}
