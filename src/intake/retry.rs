//! Retries with jittered exponential backoff, for source operations that can
//! succeed later (network trouble, timeouts, a dropped connection). Permanent
//! errors (bad credentials, an unknown host key) are returned at once.

use std::future::Future;
use std::time::Duration;

use tracing::warn;

use crate::sources::SourceError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial: Duration,
}

impl RetryPolicy {
    /// Delay before retry `n` (1-based): initial * 2^(n-1), plus up to 50% jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self.initial.saturating_mul(1 << (n - 1).min(16));
        let jitter = (uuid::Uuid::now_v7().as_u128() % 1000) as u32; // cheap randomness
        base + base.mul_f64(f64::from(jitter) / 2000.0)
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
pub async fn retry<T, F, Fut>(policy: RetryPolicy, what: &str, mut op: F) -> Result<T, SourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SourceError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retriable() && attempt < policy.attempts => {
                let delay = policy.delay(attempt);
                warn!(error = %e, attempt, delay_ms = delay.as_millis() as u64, "Retrying {what} after a transient failure.");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_transient_errors_only() {
        let policy = RetryPolicy { attempts: 3, initial: Duration::from_millis(1) };
        let calls = AtomicU32::new(0);
        let r: Result<u32, _> = retry(policy, "op", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 { Err(SourceError::transient("s", "p", "flaky")) } else { Ok(n) }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        calls.store(0, Ordering::SeqCst);
        let r: Result<u32, _> = retry(policy, "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(SourceError::permanent("s", "p", "bad password"))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a permanent error is not retried");
        let r: Result<u32, _> = retry(policy, "op", || async { Err(SourceError::transient("s", "p", "down")) }).await;
        assert!(r.is_err(), "gives up after the last attempt");
    }

    #[test]
    fn delays_grow() {
        let p = RetryPolicy { attempts: 5, initial: Duration::from_millis(100) };
        assert!(p.delay(1) >= Duration::from_millis(100) && p.delay(1) <= Duration::from_millis(150));
        assert!(p.delay(3) >= Duration::from_millis(400) && p.delay(3) <= Duration::from_millis(600));
    }
}
