//! A token bucket shared by downloads, so their total byte rate stays bounded.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A byte-rate limiter: a token bucket refilled at `bytes_per_second`, holding at
/// most `burst` bytes (it starts full).
///
/// [`RateLimiter::acquire`] takes the bytes at once and, when the bucket goes
/// negative, sleeps until the refill has paid the debt. A request bigger than the
/// burst is therefore allowed (it just waits longer), and concurrent callers queue
/// up in time: over any period `t`, at most `burst + bytes_per_second * t` bytes are
/// granted.
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_second: u64,
    burst: u64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Available bytes; negative while callers wait for the refill.
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    /// A limiter of `bytes_per_second` (at least 1) with a bucket of `burst` bytes
    /// (at least 1).
    pub fn new(bytes_per_second: u64, burst: u64) -> RateLimiter {
        let burst = burst.max(1);
        RateLimiter {
            bytes_per_second: bytes_per_second.max(1),
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst as f64,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// The configured rate.
    pub fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// The bucket size.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Waits until `bytes` may be transferred.
    pub async fn acquire(&self, bytes: u64) {
        let wait = self.reserve(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes `bytes` from the bucket; returns how long the caller must wait.
    fn reserve(&self, bytes: u64) -> Duration {
        let rate = self.bytes_per_second as f64;
        // A poisoned lock only means a panic elsewhere mid-update of two numbers.
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.refilled_at);
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * rate).min(self.burst as f64);
        bucket.refilled_at = now;
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_the_burst_there_is_no_wait() {
        let limiter = RateLimiter::new(1000, 500);
        assert_eq!(limiter.reserve(300), Duration::ZERO);
        assert_eq!(limiter.reserve(200), Duration::ZERO);
    }

    #[test]
    fn debt_is_paid_at_the_configured_rate() {
        let limiter = RateLimiter::new(1000, 500);
        // 500 free, then 1000 bytes of debt at 1000 B/s: about one second.
        let wait = limiter.reserve(1500);
        assert!(wait >= Duration::from_millis(990), "{wait:?}");
        // A second caller queues behind the first one's debt.
        let next = limiter.reserve(1000);
        assert!(next >= Duration::from_millis(1990), "{next:?}");
    }

    #[test]
    fn zero_rate_is_clamped_not_a_division_by_zero() {
        let limiter = RateLimiter::new(0, 0);
        assert_eq!(limiter.bytes_per_second(), 1);
        assert_eq!(limiter.burst(), 1);
        assert!(limiter.reserve(2) > Duration::ZERO);
    }
}
