//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::*;
use polars::prelude::DataFrame;

use super::PgStore;

impl HistoryStore for PgStore {
    fn seen_by_key(&mut self, keys: &DataFrame) -> Result<DataFrame, StoreError> {
        unimplemented!("PostgreSQL HistoryStore is being written")
    }

    fn seen_on_days(&mut self, days: &DataFrame) -> Result<DataFrame, StoreError> {
        unimplemented!("PostgreSQL HistoryStore is being written")
    }

    fn record_shipments(&mut self, shipments: &DataFrame) -> Result<u64, StoreError> {
        unimplemented!("PostgreSQL HistoryStore is being written")
    }

    fn lock_history(&mut self) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL HistoryStore is being written")
    }

    fn shipment_count(&mut self) -> Result<u64, StoreError> {
        unimplemented!("PostgreSQL HistoryStore is being written")
    }
}
