//! Exponential backoff with jitter for transient failures, shared by connecting and by
//! whole-transaction retries. Only errors that say they are transient are retried.

use std::future::Future;
use std::time::Duration;

use serde_json::json;

use crate::error::Error;
use crate::output::{Level, Printer};

/// How often and how patiently transient failures are retried (`--retry-*`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

/// Delay before attempt `attempt + 1` (attempt counts from 1): base * 2^(attempt-1),
/// capped at max, then "equal jitter" (half fixed, half random) so clients spread out.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(policy.max_delay);
    let half = capped / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between processes and calls; not for cryptography.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(std::time::Instant::now()) >> 11;
    #[allow(clippy::cast_precision_loss)]
    let v = bits as f64 / (1u64 << 53) as f64;
    v
}

/// Runs `op` until it succeeds, fails with a non-transient error, or runs out of
/// attempts. Each retry is reported as a `retry` event naming `what`. A statement
/// timeout is retried once at most: a timeout of five minutes must not become
/// twenty-five.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, printer: &Printer, what: &str, mut op: F) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    let mut timed_out = false;
    loop {
        match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e @ Error::Timeout { .. }) if timed_out => return Err(e),
            Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                let once = matches!(e, Error::Timeout { .. });
                timed_out |= once;
                let delay = backoff(policy, attempt);
                let first_line = e.to_string().lines().next().unwrap_or_default().to_owned();
                printer.event(
                    Level::Warn,
                    "retry",
                    json!({ "what": what, "attempt": attempt, "max_attempts": if once { attempt + 1 } else { policy.max_attempts },
                            "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "error": first_line }),
                    || {
                        format!(
                            "{what} failed (attempt {attempt}/{}): {first_line}; retrying {}in {}",
                            if once { attempt + 1 } else { policy.max_attempts },
                            if once { "once (a timeout is retried once) " } else { "" },
                            humantime::format_duration(Duration::from_millis(
                                u64::try_from(delay.as_millis()).unwrap_or(0)
                            ))
                        )
                    },
                );
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

    #[test]
    fn backoff_grows_and_caps() {
        let p =
            RetryPolicy { max_attempts: 10, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        for attempt in 1..10 {
            let d = backoff(&p, attempt);
            let full = (Duration::from_millis(100) * (1 << (attempt - 1))).min(Duration::from_secs(1));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }
}
