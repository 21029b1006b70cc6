//! A latency histogram a request records into without taking a lock: one
//! relaxed atomic add on its bucket and one on the sum (in nanoseconds). The
//! count is the buckets' total, read when the registry is encoded. It is
//! encoded as an OpenMetrics histogram in seconds, like prometheus-client's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// A lock-free latency histogram over fixed upper bounds (seconds). Clones share
/// the same counts.
#[derive(Debug, Clone)]
pub struct Latency {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bounds in seconds, ascending, as encoded.
    bounds: &'static [f64],
    /// The same bounds in nanoseconds, for the comparison on the hot path.
    bounds_ns: Box<[u64]>,
    /// One count per bound, then one for everything above the last (`+Inf`).
    counts: Box<[AtomicU64]>,
    /// Sum of every observed latency, in nanoseconds.
    sum_ns: AtomicU64,
}

impl Latency {
    /// A histogram with the given upper bounds in seconds (ascending).
    pub fn new(bounds: &'static [f64]) -> Latency {
        let bounds_ns = bounds.iter().map(|s| (s * 1e9).round() as u64).collect();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Latency {
            inner: Arc::new(Inner {
                bounds,
                bounds_ns,
                counts,
                sum_ns: AtomicU64::new(0),
            }),
        }
    }

    /// Records one latency.
    #[inline]
    pub fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let i = self.inner.bounds_ns.partition_point(|&bound| bound < ns);
        self.inner.counts[i].fetch_add(1, Ordering::Relaxed);
        self.inner.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    #[cfg(test)]
    fn count(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// `(upper bound in seconds, observations in that bucket)`, the last bucket's
    /// bound `f64::INFINITY` (`+Inf`); not cumulative.
    fn buckets(&self) -> Vec<(f64, u64)> {
        let bounds = self.inner.bounds.iter().copied().chain([f64::INFINITY]);
        bounds
            .zip(self.inner.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect()
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = self.buckets();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.inner.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    const BOUNDS: [f64; 3] = [0.001, 0.01, 0.1];

    #[test]
    fn each_latency_lands_in_the_first_bucket_that_holds_it() {
        let h = Latency::new(&BOUNDS);
        for ms in [0, 1, 2, 10, 50, 100, 5_000] {
            h.observe(Duration::from_millis(ms));
        }
        // A latency equal to a bound belongs to that bound's bucket (le = "<=").
        assert_eq!(
            h.buckets(),
            vec![(0.001, 2), (0.01, 2), (0.1, 2), (f64::INFINITY, 1)]
        );
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn encodes_as_a_cumulative_histogram_in_seconds() {
        let h = Latency::new(&BOUNDS);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(20));
        let mut registry = Registry::default();
        registry.register("rpc_seconds", "latency", h.clone());
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        assert!(text.contains("# TYPE rpc_seconds histogram"), "{text}");
        assert!(text.contains("rpc_seconds_count 2"), "{text}");
        assert!(text.contains("rpc_seconds_sum 0.0205"), "{text}");
        assert!(
            text.contains("rpc_seconds_bucket{le=\"0.001\"} 1"),
            "{text}"
        );
        assert!(text.contains("rpc_seconds_bucket{le=\"0.01\"} 1"), "{text}");
        assert!(text.contains("rpc_seconds_bucket{le=\"0.1\"} 2"), "{text}");
        assert!(text.contains("rpc_seconds_bucket{le=\"+Inf\"} 2"), "{text}");
    }

    #[test]
    fn threads_recording_at_once_lose_nothing() {
        let h = Latency::new(&BOUNDS);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let h = h.clone();
                s.spawn(move || {
                    for i in 0..10_000u64 {
                        h.observe(Duration::from_micros((t * 10_000 + i) % 150_000));
                    }
                });
            }
        });
        assert_eq!(h.count(), 40_000);
    }
}
