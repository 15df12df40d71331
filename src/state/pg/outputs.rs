//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::intake::RunRecord;
use crate::state::ledger::{Filing, FilingState};
use crate::state::outputs::*;
use crate::state::types::RunKind;
use chrono::{DateTime, Utc};

use super::PgStore;

impl RunQueries for PgStore {
    fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        jobs: &[String],
        kinds: &[RunKind],
    ) -> Result<Vec<RunRecord>, StoreError> {
        unimplemented!("PostgreSQL RunQueries is being written")
    }

    fn filing_outcomes(&self, run_ids: &[String]) -> Result<Vec<Outcome>, StoreError> {
        unimplemented!("PostgreSQL RunQueries is being written")
    }

    fn filings_of_run_in(
        &self,
        run_id: &str,
        states: &[FilingState],
    ) -> Result<Vec<Filing>, StoreError> {
        unimplemented!("PostgreSQL RunQueries is being written")
    }
}
