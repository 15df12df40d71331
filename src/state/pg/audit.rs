//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::audit::{AuditEvent, EventFilter, StoredEvent, Verification};
use crate::state::audit_query::*;

use super::PgStore;

impl AuditStore for PgStore {
    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn append_audit_with_blobs(
        &mut self,
        event: &AuditEvent,
        blobs: &[NewBlob<'_>],
    ) -> Result<i64, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn append_audit_many(&mut self, events: Vec<AuditEvent>) -> Result<i64, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_verify(&self) -> Result<Verification, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_head(&self) -> Result<(i64, String), StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_has_hash(&self, seq: i64, hash: &str) -> Result<Option<bool>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_receipts(&self, shas: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn audit_blob(&self, digest: &str) -> Result<Option<Blob>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn last_run_finished(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }

    fn history_of_bill(
        &self,
        house_bill: &str,
        carrier: Option<&str>,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        unimplemented!("PostgreSQL AuditStore is being written")
    }
}
