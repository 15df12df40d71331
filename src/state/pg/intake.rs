//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::intake::*;
use chrono::{DateTime, Utc};

use super::PgStore;

impl IntakeStore for PgStore {
    fn take_file(
        &mut self,
        job: &str,
        source: &str,
        path: &str,
        size: u64,
        modified: Option<DateTime<Utc>>,
        sha256: &str,
        staging: &str,
    ) -> Result<Take, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn set_file_state(
        &mut self,
        id: i64,
        state: FileState,
        archive: Option<&str>,
        run_id: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn forget_file(&mut self, id: i64) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn engine_started(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn engine_returned(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn files_in(&mut self, job: &str, states: &[FileState]) -> Result<Vec<FileRecord>, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn file(&mut self, id: i64) -> Result<Option<FileRecord>, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn files_of_run(&mut self, run_id: &str) -> Result<Vec<FileRecord>, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn archived_between(
        &mut self,
        job: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<FileRecord>, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn start_run(
        &mut self,
        run_id: &str,
        job: &str,
        kind: &str,
        output: &str,
    ) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn finish_run(&mut self, run_id: &str, status: &str, summary: &str) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn run(&mut self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn job_state(&mut self, job: &str) -> Result<JobState, StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn job_started(&mut self, job: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn job_finished(
        &mut self,
        job: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL IntakeStore is being written")
    }
}
