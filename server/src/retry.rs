//! When the loader tries a failed version again.
//!
//! - An *interrupted* load (network, timeout, throttling, a local disk error: the
//!   store may well serve the same bytes later) is retried with exponential
//!   backoff: `first`, doubling on each consecutive interruption of the same
//!   version, capped at `max`. Its partial download is kept and resumed.
//! - Any other failure (checksum mismatch, unusable shard, missing manifest) waits
//!   `max` (`retry_failed_after`): the stored bytes must change first.
//!
//! Either way a `CURRENT` naming another version is tried at once.

use std::time::{Duration, Instant};

/// Backoff bounds.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after the first interruption.
    pub first: Duration,
    /// Longest wait; also the wait after a non-interrupted failure.
    pub max: Duration,
}

impl Backoff {
    /// Backoff from one second (or `max` if shorter) up to `max`.
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            first: Duration::from_secs(1).min(max),
            max,
        }
    }
}

/// The latest failed load of a version.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    version: String,
    at: Instant,
    wait: Duration,
    interrupted: bool,
    attempts: u32,
}

impl LoadFailure {
    /// Records a failure of `version`, continuing the backoff of `previous` when it
    /// was an interruption of the same version.
    pub fn record(
        previous: Option<&LoadFailure>,
        version: &str,
        interrupted: bool,
        policy: Backoff,
    ) -> LoadFailure {
        let attempts = match previous {
            Some(p) if interrupted && p.interrupted && p.version == version => {
                p.attempts.saturating_add(1)
            }
            _ => 1,
        };
        let wait = if interrupted {
            let doublings = (attempts - 1).min(30);
            policy.first.saturating_mul(1 << doublings).min(policy.max)
        } else {
            policy.max
        };
        LoadFailure {
            version: version.to_string(),
            at: Instant::now(),
            wait,
            interrupted,
            attempts,
        }
    }

    /// True while a retry of `version` should wait.
    pub fn holds_back(&self, version: &str) -> bool {
        self.version == version && self.at.elapsed() < self.wait
    }

    /// The version that failed.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How long after the failure the next attempt comes.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Consecutive interruptions of this version (1 for other failures).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(30),
    };

    #[test]
    fn interruptions_back_off_exponentially_up_to_the_cap() {
        let mut last: Option<LoadFailure> = None;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let f = LoadFailure::record(last.as_ref(), "v2", true, POLICY);
            waits.push(f.wait().as_secs());
            last = Some(f);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(last.as_ref().map(LoadFailure::attempts), Some(7));
    }

    #[test]
    fn another_version_or_a_corrupt_failure_restarts_the_backoff() {
        let a = LoadFailure::record(None, "v2", true, POLICY);
        let b = LoadFailure::record(Some(&a), "v2", true, POLICY);
        assert_eq!(b.wait(), Duration::from_secs(2));
        let other = LoadFailure::record(Some(&b), "v3", true, POLICY);
        assert_eq!(other.wait(), Duration::from_secs(1));
        let corrupt = LoadFailure::record(Some(&other), "v3", false, POLICY);
        assert_eq!(corrupt.wait(), POLICY.max);
        let again = LoadFailure::record(Some(&corrupt), "v3", true, POLICY);
        assert_eq!(again.wait(), Duration::from_secs(1));
    }

    #[test]
    fn only_the_failed_version_is_held_back() {
        let f = LoadFailure::record(None, "v2", false, POLICY);
        assert!(f.holds_back("v2"));
        assert!(!f.holds_back("v3"));
        let short = Backoff::new(Duration::ZERO);
        assert!(!LoadFailure::record(None, "v2", true, short).holds_back("v2"));
    }

    #[test]
    fn the_first_wait_never_exceeds_the_cap() {
        let policy = Backoff::new(Duration::from_millis(200));
        assert_eq!(policy.first, Duration::from_millis(200));
        assert_eq!(
            Backoff::new(Duration::from_secs(60)).first,
            Duration::from_secs(1)
        );
    }
}
