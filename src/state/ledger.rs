//! The filing ledger: one row per shipment filed with ACE, moving through
//! `pending → submitted → accepted | rejected → released | held | detained |
//! cancelled`, with every transition recorded (time, message that caused it).
//!
//! Exactly once: the entry number is allocated and the filing recorded as
//! `pending` in one transaction *before* anything is sent; a shipment
//! (carrier, house bill) has at most one filing, so it is never filed under two
//! entry numbers; serials come from a counter that only moves forward, so an
//! entry number is never reused, across restarts and crashes. After a crash,
//! `pending` filings are reconciled (asked about, or their responses read)
//! before anything new is sent.

use chrono::{DateTime, Utc};

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

/// What to file: everything but the entry number, which the ledger allocates.
#[derive(Clone)]
pub struct NewFiling<'a> {
    pub carrier: &'a str,
    pub house_bill: &'a str,
    pub entry_type: &'a str,
    pub job: &'a str,
    pub run_id: &'a str,
    pub transport: &'a str,
    pub batch: Option<&'a str>,
    /// Builds the payload once the entry number is known.
    pub payload: &'a dyn Fn(&str) -> String,
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

/// The ledger, behind a trait like the other stores. Both writes take a
/// batch and commit it as one transaction: a run files thousands of entries
/// and the bookkeeping must not be what limits the rate.
pub trait LedgerStore: Send {
    /// For each filing, in order: allocates the next entry number for
    /// `filer_code` and records the filing as `pending`. `None` where the
    /// shipment already has a filing (it is never filed twice).
    /// `make_number` turns a serial into the entry number text; `None` (the
    /// serials are used up) fails the whole batch.
    fn record_intents(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
    ) -> Result<Vec<Option<Filing>>, StoreError>;

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
    ) -> Result<Option<Filing>, StoreError> {
        Ok(self.record_intents(filer_code, first_serial, make_number, std::slice::from_ref(filing))?.pop().flatten())
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
        let t = Transition { entry_number, to, code, narrative, message };
        Ok(self.transitions(&[t])?.first() == Some(&Applied::Moved))
    }

    fn filing(&mut self, entry_number: &str) -> Result<Option<Filing>, StoreError>;

    fn filing_for(&mut self, carrier: &str, house_bill: &str) -> Result<Option<Filing>, StoreError>;

    fn filings_in(&mut self, states: &[FilingState]) -> Result<Vec<Filing>, StoreError>;

    fn filings_of_run(&mut self, run_id: &str) -> Result<Vec<Filing>, StoreError>;

    fn events(&mut self, entry_number: &str) -> Result<Vec<FilingEvent>, StoreError>;

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
        assert!(Submitted.can_become(Released), "a release may overtake the acceptance");
        assert!(!Released.can_become(Accepted), "no going back");
        assert!(!Rejected.can_become(Released), "a rejected entry is not released");
        assert!(!Accepted.can_become(Submitted));
        assert!(!Cancelled.can_become(Released));
    }
}
