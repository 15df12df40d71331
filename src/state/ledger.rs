//! The filing ledger: one row per entry filed with ACE (a type 11 entry with
//! every house bill of its consignee's conveyance, or a type 86 entry of one
//! house bill), moving through `pending → submitted → accepted | rejected →
//! released | held | detained | cancelled`, with every transition recorded
//! (time, message that caused it).
//!
//! Exactly once: the entry number is allocated and the filing recorded as
//! `pending` in one transaction *before* anything is sent, together with one
//! row per house bill of the entry in a table keyed by (carrier, house bill):
//! a house bill is on at most one filed entry, whatever run, transport or
//! restart brings it again. Serials come from a counter that only moves
//! forward, so an entry number is never reused, across restarts and crashes.
//! After a crash, `pending` filings are reconciled (asked about, or their
//! responses read) before anything new is sent.
//!
//! Per filed entry the ledger also keeps what a broker and a refund claim need
//! later ([`EntryRecord`]): type, IOR, arrival date, the lines with their
//! chapter 99 headings and amounts, the estimated duty and fees, and the
//! estimated liquidation date and protest deadline.

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

/// Where a filing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilingState {
    /// Entry number allocated and recorded; may or may not have been sent.
    Pending,
    /// Sent; no answer yet.
    Submitted,
    Accepted,
    Rejected,
    Released,
    Held,
    Detained,
    Cancelled,
}

impl FilingState {
    pub const ALL: [FilingState; 8] = [
        FilingState::Pending,
        FilingState::Submitted,
        FilingState::Accepted,
        FilingState::Rejected,
        FilingState::Released,
        FilingState::Held,
        FilingState::Detained,
        FilingState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FilingState::Pending => "pending",
            FilingState::Submitted => "submitted",
            FilingState::Accepted => "accepted",
            FilingState::Rejected => "rejected",
            FilingState::Released => "released",
            FilingState::Held => "held",
            FilingState::Detained => "detained",
            FilingState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<FilingState> {
        FilingState::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    /// Whether `to` may follow `self`. Status notifications can arrive late,
    /// twice or out of order: a transition that goes backwards is refused
    /// (and recorded as ignored by the caller), never applied.
    pub fn can_become(self, to: FilingState) -> bool {
        use FilingState::*;
        match (self, to) {
            (Pending, Submitted | Accepted | Rejected) => true,
            (Submitted, Accepted | Rejected) => true,
            // A release notification may overtake the acceptance.
            (Pending | Submitted | Accepted, Released | Held | Detained | Cancelled) => true,
            (Held, Released | Detained | Cancelled | Held) => true,
            (Detained, Released | Cancelled) => true,
            (Released, Held | Detained | Cancelled) => true,
            _ => false,
        }
    }
}

/// One filing.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    pub id: i64,
    pub carrier: String,
    pub house_bill: String,
    pub entry_number: String,
    pub entry_type: String,
    pub job: String,
    pub run_id: String,
    /// `catair` or `http`.
    pub transport: String,
    /// The CATAIR batch that carries it.
    pub batch: Option<String>,
    pub state: FilingState,
    /// Last response code (SE90 condition, SO60 disposition, HTTP status).
    pub code: Option<String>,
    pub narrative: Option<String>,
    /// The entry as sent.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq)]
pub struct FilingEvent {
    pub at: DateTime<Utc>,
    pub from: Option<FilingState>,
    pub to: FilingState,
    /// The message that caused it (response line, HTTP answer, ...).
    pub message: String,
}

/// Days from the entry date to the estimated liquidation (domain.md 8.5:
/// "liquidation about 314 days after entry").
pub const LIQUIDATION_DAYS: u64 = 314;
/// Days from liquidation to the protest deadline (19 USC 1514(c)(3)).
pub const PROTEST_DAYS: u64 = 180;

/// The estimated liquidation date and protest deadline of an entry made on
/// `entry_date`. s321d uses the arrival date as the entry date: a type 11
/// filed before arrival is entered when the goods arrive and are released.
pub fn estimated_dates(entry_date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let liquidation = entry_date + chrono::Days::new(LIQUIDATION_DAYS);
    (liquidation, liquidation + chrono::Days::new(PROTEST_DAYS))
}

/// One line of a filed entry, as the ledger keeps it (the columns of the
/// run's `entry_lines.csv`). Money is exact decimal text; an empty amount is
/// unknown, never 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerLine {
    /// 1..n within the entry, in filing order.
    pub line: u32,
    pub source_file: String,
    pub record: u32,
    pub carrier: String,
    pub house_bill: String,
    pub line_no: String,
    pub hts_code: String,
    pub country_of_origin: String,
    pub entered_value_usd: String,
    pub rate_column: String,
    pub rate: String,
    pub hts_duty_usd: String,
    /// (heading, amount), e.g. (`9903.01.25`, `25.00`).
    pub ch99: Vec<(String, String)>,
    pub duty_usd: String,
    pub duty_status: String,
}

/// What the ledger keeps about a filed entry besides its filing state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryRecord {
    /// The run's `entry_ref` (`R000001`); empty for a type 86.
    pub entry_ref: String,
    pub ior_number: String,
    /// The arrival date, which is also the entry date of the estimates.
    pub arrival_date: NaiveDate,
    pub port_of_entry: String,
    pub conveyance: String,
    pub consignee_key: String,
    /// `141.51` or `141.52(e)`; empty for a type 86.
    pub basis: String,
    pub entered_value_usd: String,
    pub duty_usd: String,
    pub mpf_usd: String,
    pub hmf_usd: String,
    pub total_usd: String,
    /// `known` or `unknown`.
    pub duty_status: String,
    pub rates_as_of: String,
    /// Estimated: the entry date + 314 days. None for a type 86 (no entry
    /// summary, nothing to liquidate).
    pub liquidation_date: Option<NaiveDate>,
    /// Estimated: liquidation + 180 days.
    pub protest_deadline: Option<NaiveDate>,
    pub lines: Vec<LedgerLine>,
}

/// What to file: everything but the entry number, which the ledger allocates.
#[derive(Clone)]
pub struct NewFiling<'a> {
    /// The entry's first house bill (the filing's name in lists and reports).
    pub carrier: &'a str,
    pub house_bill: &'a str,
    /// Every (carrier, house bill) on the entry, the first included.
    pub bills: &'a [(String, String)],
    pub entry_type: &'a str,
    pub job: &'a str,
    pub run_id: &'a str,
    pub transport: &'a str,
    pub batch: Option<&'a str>,
    /// Builds the payload once the entry number is known.
    pub payload: &'a dyn Fn(&str) -> String,
    /// What the ledger keeps about the entry.
    pub record: &'a EntryRecord,
}

/// An entry ACE already holds (every house bill of it on one entry number)
/// that this ledger never filed — filed from another or a lost state store:
/// recorded under ACE's number instead of a new one, so later notifications
/// for that number apply.
#[derive(Debug, Clone, Copy)]
pub struct Adopted<'a> {
    pub entry_number: &'a str,
    /// Where the filing starts: what ACE says of it (holding it: accepted).
    pub state: FilingState,
    /// The number's serial when it is of this ledger's filer code: the
    /// counter moves past it, so this store never gives the number again.
    pub own_serial: Option<u64>,
    /// Why, kept in the filing's first event.
    pub message: &'a str,
}

/// What became of one [`NewFiling`].
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Recorded as `pending` under a new entry number.
    New(Box<Filing>),
    /// Every house bill of it is already on a filed entry (these numbers):
    /// nothing to file.
    AlreadyFiled(Vec<String>),
    /// Some of its house bills are on filed entries and some are not: not
    /// filed, since no house bill may be on two entries. (carrier, house
    /// bill, entry number) of each one already filed.
    Conflict(Vec<(String, String, String)>),
}

impl Intent {
    /// The new filing, if one was recorded.
    pub fn new_filing(self) -> Option<Filing> {
        match self {
            Intent::New(f) => Some(*f),
            _ => None,
        }
    }
}

/// A filed entry that has a chapter 99 line under a heading, for refund claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadingMatch {
    pub entry_number: String,
    pub state: FilingState,
    pub ior_number: String,
    pub arrival_date: NaiveDate,
}

/// A transition to apply to one filing.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub entry_number: &'a str,
    pub to: FilingState,
    /// Response code (SE90 condition, SO60 disposition, gateway code).
    pub code: Option<&'a str>,
    pub narrative: Option<&'a str>,
    /// The message that caused it, kept in the event.
    pub message: &'a str,
}

/// What became of a [`Transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The filing moved.
    Moved,
    /// Not a forward move (late, repeated or out of order): recorded only.
    Ignored,
    /// No filing has that entry number.
    Unknown,
}

/// An entry s321d would file but did not (a mandatory CATAIR field without
/// a value, no IOR, a house bill already on another entry, ...), kept in
/// the ledger as `not filed: <reason>` beside the filings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFiled {
    pub run_id: String,
    /// The run's `entry_ref`; empty for a type 86.
    pub entry_ref: String,
    pub entry_type: String,
    /// The carrier of its house bills.
    pub carrier: String,
    /// Every house bill of the entry, sorted.
    pub house_bills: Vec<String>,
    /// Why, without the `not filed: ` prefix.
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
}

impl NotFiled {
    /// The ledger's state text for it.
    pub fn state(&self) -> String {
        format!("not filed: {}", self.reason)
    }
}

/// The ledger, behind a trait like the other stores. Both writes take a
/// batch and commit it as one transaction: a run files thousands of entries
/// and the bookkeeping must not be what limits the rate.
pub trait LedgerStore: Send {
    /// For each filing, in order: allocates the next entry number for
    /// `filer_code` and records the filing as `pending`, with its house bills
    /// and its [`EntryRecord`]. Where a house bill of it already is on a
    /// filed entry nothing is recorded ([`Intent::AlreadyFiled`],
    /// [`Intent::Conflict`]): a house bill is never on two entries.
    /// `make_number` turns a serial into the entry number text; `None` (the
    /// serials are used up) fails the whole batch.
    fn record_intents(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
    ) -> Result<Vec<Intent>, StoreError>;

    /// Records filings under entry numbers ACE already holds (see
    /// [`Adopted`]), with the same checks as [`LedgerStore::record_intents`]
    /// (a house bill already on a filed entry here is never adopted again)
    /// and no serial allocated.
    fn adopt(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        filings: &[(NewFiling<'_>, Adopted<'_>)],
    ) -> Result<Vec<Intent>, StoreError>;

    /// Applies each transition the state machine allows and records an event
    /// for each, applied or not.
    fn transitions(&mut self, list: &[Transition<'_>]) -> Result<Vec<Applied>, StoreError>;

    /// One filing's intent (see [`LedgerStore::record_intents`]).
    fn record_intent(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filing: &NewFiling<'_>,
    ) -> Result<Intent, StoreError> {
        let mut out = self.record_intents(
            filer_code,
            first_serial,
            make_number,
            std::slice::from_ref(filing),
        )?;
        Ok(out.pop().unwrap_or(Intent::AlreadyFiled(Vec::new())))
    }

    /// One transition; whether it moved the filing.
    fn transition(
        &mut self,
        entry_number: &str,
        to: FilingState,
        code: Option<&str>,
        narrative: Option<&str>,
        message: &str,
    ) -> Result<bool, StoreError> {
        let t = Transition {
            entry_number,
            to,
            code,
            narrative,
            message,
        };
        Ok(self.transitions(&[t])?.first() == Some(&Applied::Moved))
    }

    fn filing(&mut self, entry_number: &str) -> Result<Option<Filing>, StoreError>;

    /// The filing whose entry carries this house bill.
    fn filing_for(&mut self, carrier: &str, house_bill: &str)
    -> Result<Option<Filing>, StoreError>;

    /// The carriers under which a house bill is on a filed entry.
    fn filing_carriers(&mut self, house_bill: &str) -> Result<Vec<String>, StoreError>;

    /// Every (carrier, house bill) of an entry, sorted.
    fn bills_of(&mut self, entry_number: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// What the ledger keeps about an entry (None for entries filed before
    /// the ledger kept it).
    fn entry_record(&mut self, entry_number: &str) -> Result<Option<EntryRecord>, StoreError>;

    /// Filed entries arriving in `[from, to]` with a chapter 99 line whose
    /// heading's digits start with one of `heading_digits`, each once,
    /// ordered by entry number. Every state: the caller chooses.
    fn entries_with_heading(
        &mut self,
        heading_digits: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HeadingMatch>, StoreError>;

    fn filings_in(&mut self, states: &[FilingState]) -> Result<Vec<Filing>, StoreError>;

    fn filings_of_run(&mut self, run_id: &str) -> Result<Vec<Filing>, StoreError>;

    fn events(&mut self, entry_number: &str) -> Result<Vec<FilingEvent>, StoreError>;

    /// Replaces the entries of `run_id` recorded as not filed with `list`
    /// (one transaction): filing a run again states afresh what it left out.
    fn record_not_filed(&mut self, run_id: &str, list: &[NotFiled]) -> Result<(), StoreError>;

    /// Entries recorded as not filed, of one run and/or with one house bill
    /// (`None`: any), in run and list order.
    fn not_filed(
        &mut self,
        run_id: Option<&str>,
        house_bill: Option<&str>,
    ) -> Result<Vec<NotFiled>, StoreError>;

    /// How many entries are recorded as not filed.
    fn not_filed_count(&mut self) -> Result<u64, StoreError>;

    /// How many filings are in each state.
    fn filing_counts(&mut self) -> Result<Vec<(FilingState, u64)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::FilingState::*;

    #[test]
    fn the_state_machine_moves_forward_only() {
        assert!(Pending.can_become(Submitted));
        assert!(Submitted.can_become(Accepted) && Submitted.can_become(Rejected));
        assert!(Accepted.can_become(Released) && Accepted.can_become(Held));
        assert!(Held.can_become(Released));
        assert!(
            Submitted.can_become(Released),
            "a release may overtake the acceptance"
        );
        assert!(!Released.can_become(Accepted), "no going back");
        assert!(
            !Rejected.can_become(Released),
            "a rejected entry is not released"
        );
        assert!(!Accepted.can_become(Submitted));
        assert!(!Cancelled.can_become(Released));
    }
}
