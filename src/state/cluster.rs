//! Work shared by several daemons on one store (replicas): named leases.
//!
//! A lease is held by one store connection until it is released or the
//! connection goes away, so a replica that dies frees its leases at once
//! (its socket closes, or its process's file locks go) and a peer takes the
//! work over at its next tick. The daemon takes `job:<name>` for each intake
//! run and `report:<name>` for each report run, so one job runs on one
//! replica at a time, and what a dead replica left half done is recovered by
//! the next run of that job wherever it runs (`intake::recover` reads only
//! the store and the shared output location).
//!
//! - SQLite: an OS lock (flock) on a file beside the database, one per lease.
//! - PostgreSQL: a session advisory lock on the name's 64-bit hash.

use super::StoreError;

/// Named leases; see the module comment.
pub trait ClusterStore {
    /// Takes the lease `name` unless another connection holds it; `true` when
    /// this connection holds it now (taking one already held is a no-op).
    fn try_lease(&mut self, name: &str) -> Result<bool, StoreError>;

    /// Gives the lease up (no-op when not held).
    fn release_lease(&mut self, name: &str) -> Result<(), StoreError>;

    /// The leases this connection holds, sorted.
    fn leases_held(&self) -> Vec<String>;
}

/// The lease an intake job's runs hold.
pub fn job_lease(job: &str) -> String {
    format!("job:{job}")
}

/// The lease a report job's runs hold.
pub fn report_lease(job: &str) -> String {
    format!("report:{job}")
}
