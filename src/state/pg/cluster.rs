//! Named leases on PostgreSQL: session advisory locks, freed by
//! `pg_advisory_unlock` or by the server when the connection ends.

use super::PgStore;
use crate::state::StoreError;
use crate::state::cluster::ClusterStore;

/// The advisory lock key of a lease name. The `lease:` prefix keeps lease
/// keys apart from the fixed keys of `lock_keys`.
const KEY: &str = "hashtextextended('s321d lease:' || $1, 0)";

impl ClusterStore for PgStore {
    fn try_lease(&mut self, name: &str) -> Result<bool, StoreError> {
        // Advisory locks nest per session: take each name once.
        if self.leases.contains(name) {
            return Ok(true);
        }
        let got: bool = self.with(|c| {
            Ok(
                c.query_one(&format!("SELECT pg_try_advisory_lock({KEY})"), &[&name])?
                    .get(0),
            )
        })?;
        if got {
            self.leases.insert(name.to_owned());
        }
        Ok(got)
    }

    fn release_lease(&mut self, name: &str) -> Result<(), StoreError> {
        if self.leases.remove(name) {
            self.with(|c| {
                c.execute(&format!("SELECT pg_advisory_unlock({KEY})"), &[&name])
                    .map(|_| ())
            })?;
        }
        Ok(())
    }

    fn leases_held(&self) -> Vec<String> {
        self.leases.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::pg::testing::ScratchDb;

    #[test]
    fn a_lease_is_held_by_one_session_and_freed_by_release_or_disconnect() {
        let db = ScratchDb::new();
        let (mut a, mut b) = (db.open(), db.open());
        assert!(a.try_lease("job:dhl").unwrap());
        assert!(
            a.try_lease("job:dhl").unwrap(),
            "taking it again is a no-op"
        );
        assert!(!b.try_lease("job:dhl").unwrap());
        assert!(b.try_lease("job:ups").unwrap(), "another name is free");
        a.release_lease("job:dhl").unwrap();
        assert!(b.try_lease("job:dhl").unwrap());
        assert_eq!(b.leases_held(), ["job:dhl", "job:ups"]);
        // A connection that goes away frees what it held.
        drop(b);
        let mut c = db.open();
        assert!(c.try_lease("job:dhl").unwrap());
        assert!(c.try_lease("job:ups").unwrap());
    }
}
