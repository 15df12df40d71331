//! Retries with jittered exponential backoff (the `backon` crate), for
//! source operations that can succeed later (network trouble, timeouts, a
//! dropped connection). Permanent errors (bad credentials, an unknown host
//! key) are returned at once.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use tracing::warn;

use crate::sources::SourceError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub attempts: u32,
    /// Delay before the first retry; it doubles for each further one.
    pub initial: Duration,
}

impl RetryPolicy {
    /// The schedule: `initial`, doubling, each delay plus up to 100% jitter,
    /// `attempts - 1` retries. No cap on a single delay beyond what
    /// `attempts` allows: the config documents plain doubling, and backon's
    /// default cap (60 s) would change it silently.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.initial)
            .with_factor(2.0)
            .without_max_delay()
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// Delay before retry `n` (1-based), from the same schedule, for loops
    /// that decide per answer whether to retry (the ACE gateway client).
    pub fn delay(&self, n: u32) -> Duration {
        let nth = n.max(1) as usize - 1;
        self.backoff()
            .without_max_times()
            .build()
            .nth(nth)
            .unwrap_or(self.initial)
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
pub async fn retry<T, F, Fut>(policy: RetryPolicy, what: &str, op: F) -> Result<T, SourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SourceError>>,
{
    let mut attempt = 0u32;
    op.retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(SourceError::is_retriable)
        .notify(|e, delay| {
            attempt += 1;
            warn!(error = %e, attempt, delay_ms = delay.as_millis() as u64, "Retrying {what} after a transient failure.");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_only() {
        let policy = RetryPolicy {
            attempts: 3,
            initial: Duration::from_millis(1),
        };
        let calls = AtomicU32::new(0);
        let r: Result<u32, _> = retry(policy, "op", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                Err(SourceError::transient("s", "p", "flaky"))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3, "transient errors are retried");

        calls.store(0, Ordering::SeqCst);
        let r: Result<u32, _> = retry(policy, "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(SourceError::permanent("s", "p", "bad password"))
        })
        .await;
        assert!(!r.unwrap_err().is_retriable());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a permanent error is not retried"
        );

        calls.store(0, Ordering::SeqCst);
        let r: Result<u32, _> = retry(policy, "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(SourceError::transient("s", "p", "down"))
        })
        .await;
        assert!(
            r.unwrap_err().is_retriable(),
            "the last transient error is returned"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "gives up after the last attempt"
        );
    }

    /// The waits retry() really sleeps (on tokio's paused clock) double from
    /// `initial`, each within its jitter band [d, 2d); so do `delay`'s.
    #[tokio::test(start_paused = true)]
    async fn delays_grow() {
        let policy = RetryPolicy {
            attempts: 5,
            initial: Duration::from_millis(100),
        };
        let starts = Mutex::new(Vec::new());
        let r: Result<(), _> = retry(policy, "op", || async {
            starts.lock().unwrap().push(Instant::now());
            Err(SourceError::transient("s", "p", "down"))
        })
        .await;
        assert!(r.is_err());
        let starts = starts.into_inner().unwrap();
        assert_eq!(starts.len(), 5);
        for (i, pair) in starts.windows(2).enumerate() {
            let waited = pair[1] - pair[0];
            let base = Duration::from_millis(100 << i);
            // +1 ms: tokio's timer rounds a deadline up to the next millisecond.
            let most = base * 2 + Duration::from_millis(1);
            assert!(
                waited >= base && waited <= most,
                "wait {} was {waited:?}, expected [{base:?}, {most:?}]",
                i + 1
            );
        }
        for n in 1..=8 {
            let base = Duration::from_millis(100 << (n - 1));
            let d = policy.delay(n);
            assert!(d >= base && d < base * 2, "delay({n}) = {d:?}");
        }
    }
}
