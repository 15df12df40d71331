//! STUB: being written (scale-out WP). Every method panics until then.
#![allow(unused_variables, unused_imports)]

use crate::state::StoreError;
use crate::state::ledger::*;
use chrono::NaiveDate;

use super::PgStore;

impl LedgerStore for PgStore {
    fn record_intents(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        make_number: &dyn Fn(u64) -> Option<String>,
        filings: &[NewFiling<'_>],
    ) -> Result<Vec<Intent>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn adopt(
        &mut self,
        filer_code: &str,
        first_serial: u64,
        filings: &[(NewFiling<'_>, Adopted<'_>)],
    ) -> Result<Vec<Intent>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn transitions(&mut self, list: &[Transition<'_>]) -> Result<Vec<Applied>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filing(&mut self, entry_number: &str) -> Result<Option<Filing>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filing_for(
        &mut self,
        carrier: &str,
        house_bill: &str,
    ) -> Result<Option<Filing>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filing_carriers(&mut self, house_bill: &str) -> Result<Vec<String>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn bills_of(&mut self, entry_number: &str) -> Result<Vec<(String, String)>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn entry_record(&mut self, entry_number: &str) -> Result<Option<EntryRecord>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn entries_with_heading(
        &mut self,
        heading_digits: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HeadingMatch>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filings_in(&mut self, states: &[FilingState]) -> Result<Vec<Filing>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filings_of_run(&mut self, run_id: &str) -> Result<Vec<Filing>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn events(&mut self, entry_number: &str) -> Result<Vec<FilingEvent>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn record_not_filed(&mut self, run_id: &str, list: &[NotFiled]) -> Result<(), StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn not_filed(
        &mut self,
        run_id: Option<&str>,
        house_bill: Option<&str>,
    ) -> Result<Vec<NotFiled>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn not_filed_count(&mut self) -> Result<u64, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }

    fn filing_counts(&mut self) -> Result<Vec<(FilingState, u64)>, StoreError> {
        unimplemented!("PostgreSQL LedgerStore is being written")
    }
}
