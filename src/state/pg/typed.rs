//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::typed::TypedStore;
use crate::state::types::{Cursor, Duty, DutyState};

use super::PgStore;

impl TypedStore for PgStore {
    fn set_run_duty(&self, run_id: &str, duty: Duty, state: DutyState) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn run_duty(&self, run_id: &str, duty: Duty) -> Result<Option<DutyState>, StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn runs_with_duty(
        &self,
        job: &str,
        duty: Duty,
        state: DutyState,
    ) -> Result<Vec<String>, StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn copy_duties(&self, from: &str, to: &str) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn exception_report_queued(&self, run_id: &str, carrier: &str) -> Result<bool, StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn set_exception_report_queued(
        &self,
        run_id: &str,
        carrier: &str,
        email_id: &str,
    ) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn run_aggregate(&self, run_id: &str, min_version: u32) -> Result<Option<String>, StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn set_run_aggregate(&self, run_id: &str, version: u32, json: &str) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn cursor(&self, cursor: Cursor) -> Result<u64, StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }

    fn advance_cursor(&self, cursor: Cursor, position: u64) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL TypedStore is being written")
    }
}
