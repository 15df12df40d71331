//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::ledger::{Applied, Filing};
use crate::state::summary::*;

use super::PgStore;

impl SummaryStore for PgStore {
    fn record_summaries(&mut self, list: &[NewSummary<'_>]) -> Result<Vec<bool>, StoreError> {
        unimplemented!("PostgreSQL SummaryStore is being written")
    }

    fn summary_transitions(
        &mut self,
        list: &[SummaryTransition<'_>],
    ) -> Result<Vec<Applied>, StoreError> {
        unimplemented!("PostgreSQL SummaryStore is being written")
    }

    fn summary(&mut self, entry_number: &str) -> Result<Option<Summary>, StoreError> {
        unimplemented!("PostgreSQL SummaryStore is being written")
    }

    fn summaries_in(&mut self, states: &[SummaryState]) -> Result<Vec<Summary>, StoreError> {
        unimplemented!("PostgreSQL SummaryStore is being written")
    }

    fn summaries_due(&mut self, entry_types: &[&str]) -> Result<Vec<Filing>, StoreError> {
        unimplemented!("PostgreSQL SummaryStore is being written")
    }
}
