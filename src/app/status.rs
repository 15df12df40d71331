//! What the process knows about its jobs and sources, kept in memory for
//! `/readyz`: runs update it as they start and finish, and source errors that
//! retrying cannot fix (refused credentials, an unknown host key) are noted
//! here as they happen. Readiness reads only this, never the state store, so
//! it answers at once whatever the store is doing.
//!
//! It mirrors what the store records (`IntakeStore::job_started` and
//! `job_finished`), seeded from the store when the daemon starts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::state::intake::JobState;

/// The in-memory run and source status of one process.
#[derive(Debug, Default)]
pub struct Status {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: BTreeMap<String, JobState>,
    /// Source name → why it refused us, since when.
    refused: BTreeMap<String, (DateTime<Utc>, String)>,
    /// The ACE gateway is down: since when, and the last transport error.
    gateway_down: Option<(DateTime<Utc>, String)>,
    /// Cluster leases this process holds (`state::cluster`), since when.
    leases: BTreeMap<String, DateTime<Utc>>,
}

impl Status {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while holding the lock leaves plain data behind: keep using it.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Notes a cluster lease taken (`true`) or released.
    pub fn lease(&self, name: &str, held: bool) {
        self.with(|s| {
            if held {
                s.leases.insert(name.to_owned(), Utc::now());
            } else {
                s.leases.remove(name);
            }
        })
    }

    /// The cluster leases held, with when each was taken.
    pub fn leases(&self) -> Vec<(String, DateTime<Utc>)> {
        self.with(|s| s.leases.iter().map(|(n, t)| (n.clone(), *t)).collect())
    }

    /// Sets a job's state as the store has it (at start).
    pub fn seed(&self, job: &str, state: JobState) {
        self.with(|i| i.jobs.insert(job.to_owned(), state));
    }

    pub fn job_started(&self, job: &str, at: DateTime<Utc>) {
        self.with(|i| i.jobs.entry(job.to_owned()).or_default().last_started = Some(at));
    }

    /// A run ended: a success clears the last error, a failure records it.
    pub fn job_finished(&self, job: &str, at: DateTime<Utc>, error: Option<&str>) {
        self.with(|i| {
            let s = i.jobs.entry(job.to_owned()).or_default();
            match error {
                None => {
                    s.last_success = Some(at);
                    s.last_error = None;
                }
                Some(e) => {
                    s.last_failure = Some(at);
                    s.last_error = Some(e.to_owned());
                }
            }
        });
    }

    /// A job's state (default when nothing is known yet).
    pub fn job(&self, job: &str) -> JobState {
        self.with(|i| i.jobs.get(job).cloned().unwrap_or_default())
    }

    /// A source refused an operation in a way retrying cannot fix.
    pub fn source_refused(&self, source: &str, why: &str) {
        self.with(|i| {
            i.refused
                .insert(source.to_owned(), (Utc::now(), why.to_owned()))
        });
    }

    /// A source answered an operation: any earlier refusal is over.
    pub fn source_ok(&self, source: &str) {
        self.with(|i| i.refused.remove(source));
    }

    /// The ACE gateway could not be reached after retries. Returns true
    /// only for the first report of an outage (alert once, not per retry);
    /// later reports keep the start and update the cause.
    pub fn gateway_down(&self, why: &str) -> bool {
        self.with(|i| match &mut i.gateway_down {
            Some((_, w)) => {
                *w = why.to_owned();
                false
            }
            None => {
                i.gateway_down = Some((Utc::now(), why.to_owned()));
                true
            }
        })
    }

    /// The ACE gateway answered. Returns the outage's start when one ended.
    pub fn gateway_up(&self) -> Option<DateTime<Utc>> {
        self.with(|i| i.gateway_down.take().map(|(t, _)| t))
    }

    /// The ongoing gateway outage, if any: (since, last transport error).
    pub fn gateway_outage(&self) -> Option<(DateTime<Utc>, String)> {
        self.with(|i| i.gateway_down.clone())
    }

    /// Sources refusing us now: (name, since, why).
    pub fn refused(&self) -> Vec<(String, DateTime<Utc>, String)> {
        self.with(|i| {
            i.refused
                .iter()
                .map(|(n, (t, w))| (n.clone(), *t, w.clone()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_refusals_are_kept_until_cleared() {
        let s = Status::default();
        let t = Utc::now();
        s.job_finished("j", t, Some("boom"));
        assert_eq!(s.job("j").last_error.as_deref(), Some("boom"));
        assert_eq!(s.job("j").last_failure, Some(t));
        s.job_started("j", t);
        assert_eq!(
            s.job("j").last_error.as_deref(),
            Some("boom"),
            "starting again does not hide the failure"
        );
        s.job_finished("j", t, None);
        assert_eq!(
            (s.job("j").last_success, s.job("j").last_error),
            (Some(t), None)
        );
        s.source_refused("drop", "403 InvalidAccessKeyId");
        assert_eq!(s.refused().len(), 1);
        s.source_ok("drop");
        assert!(s.refused().is_empty());
    }

    #[test]
    fn a_gateway_outage_is_reported_once_and_ends_once() {
        let s = Status::default();
        assert!(s.gateway_up().is_none(), "no outage, nothing ends");
        assert!(s.gateway_down("connection refused"));
        let since = s.gateway_outage().unwrap().0;
        assert!(
            !s.gateway_down("timed out"),
            "a second failure is the same outage"
        );
        assert_eq!(s.gateway_outage(), Some((since, "timed out".to_owned())));
        assert_eq!(s.gateway_up(), Some(since));
        assert!(s.gateway_up().is_none());
        assert!(
            s.gateway_down("connection refused"),
            "a new outage alerts again"
        );
    }
}
