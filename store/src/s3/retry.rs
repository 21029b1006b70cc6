//! Retrying what can succeed later, with exponential backoff, jitter and a total
//! deadline. The SDK's own retries are off, so this is the only retry layer and it
//! also covers reading the answer's body (which the SDK never retries).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use super::errors::Failure;

/// First backoff; it doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Largest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long one attempt and the whole operation may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Time limit of one attempt (request, answer and body).
    pub attempt_timeout: Duration,
    /// Total time over all attempts.
    pub deadline: Duration,
}

/// The backoff before attempt `attempt + 1` (after `attempt` failures, from 1):
/// "equal jitter": half the exponential step plus a random part of the other half.
pub(crate) fn backoff(attempt: u32, random: u64) -> Duration {
    let step = FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = step / 2;
    let half_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(random % (half_ms + 1))
}

/// A random number for jitter (std's per-instance random hasher keys; no dependency).
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Runs `attempt` until it succeeds, fails with a non-retryable failure, or the
/// deadline leaves no room for another try. Each attempt is cut off after
/// `attempt_timeout` (or what is left of the deadline, if less). The last failure
/// is returned, with the number of attempts added when there was more than one.
pub(crate) async fn retry<T, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let start = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let left = policy.deadline.saturating_sub(start.elapsed());
        let limit = policy
            .attempt_timeout
            .min(left)
            .max(Duration::from_millis(1));
        let failure = match tokio::time::timeout(limit, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
            Err(_) => Failure::transient(format!("attempt timed out after {limit:?}")),
        };
        if !failure.retryable() {
            return Err(failure);
        }
        let pause = backoff(attempts, random());
        if start.elapsed() + pause >= policy.deadline {
            return Err(match failure {
                Failure::Other { detail, retryable } if attempts > 1 => Failure::Other {
                    detail: format!(
                        "{detail} (gave up after {attempts} attempts in {:.1?}, retry deadline {:?})",
                        start.elapsed(),
                        policy.deadline
                    ),
                    retryable,
                },
                other => other,
            });
        }
        tracing::debug!(attempt = attempts, ?pause, error = ?failure, "s3 request failed; retrying");
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(backoff(1, 0), Duration::from_millis(50));
        assert_eq!(backoff(1, 50), Duration::from_millis(100));
        assert_eq!(backoff(2, 0), Duration::from_millis(100));
        assert_eq!(backoff(3, 0), Duration::from_millis(200));
        assert_eq!(backoff(30, 0), MAX_BACKOFF / 2);
        assert!(backoff(30, u64::MAX) <= MAX_BACKOFF);
        assert_ne!(backoff(4, 1), backoff(4, 2), "jitter changes the pause");
    }

    fn policy(deadline_ms: u64) -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: Duration::from_secs(5),
            deadline: Duration::from_millis(deadline_ms),
        }
    }

    #[tokio::test]
    async fn retries_transient_failures_until_success() {
        let calls = AtomicU32::new(0);
        let result = retry(policy(30_000), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Failure::transient("503"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn never_retries_permanent_failures() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(policy(30_000), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::NotFound)
        })
        .await;
        assert_eq!(result, Err(Failure::NotFound));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_and_says_so() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(policy(400), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::transient("connection refused"))
        })
        .await;
        let n = calls.load(Ordering::SeqCst);
        assert!(n >= 2, "retried at least once within 400 ms: {n}");
        match result {
            Err(Failure::Other { detail, retryable }) => {
                assert!(retryable);
                assert!(
                    detail.starts_with("connection refused (gave up after"),
                    "{detail}"
                );
            }
            other => panic!("expected the last failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hung_attempt_is_cut_off() {
        let policy = RetryPolicy {
            attempt_timeout: Duration::from_millis(50),
            deadline: Duration::from_millis(300),
        };
        let result: Result<(), _> = retry(policy, std::future::pending).await;
        match result {
            Err(Failure::Other { detail, .. }) => {
                assert!(detail.contains("attempt timed out"), "{detail}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
