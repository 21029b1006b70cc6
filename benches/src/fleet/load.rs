//! Closed-loop load from this process: `tasks` tokio tasks, each sending its next
//! request as soon as the previous one answers, for a fixed time after a
//! warm-up. Each task records into its own histograms (no lock per request);
//! they are merged at the end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::stats::Latency;

/// Largest latency recorded, in microseconds (60 s); longer ones count as this.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Why recording cannot fail: the histograms resize to hold any value, and
/// latencies are clamped to [`MAX_LATENCY_US`] first.
const GROWS: &str = "auto-resizing histograms hold every clamped latency";

/// How a load run goes.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Concurrent tasks, each with one request in flight.
    pub tasks: usize,
    /// Unrecorded time before the measurement (connections, caches, JIT-free warm-up).
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadRun {
    /// Requests started in the measured time.
    pub requests: u64,
    /// Of those, the ones that failed (an RPC error or a wrong answer).
    pub errors: u64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// From the start of the measurement until the last request answered.
    pub elapsed: Duration,
    /// Latency of every request (failed ones included), µs, 3 significant digits.
    pub latency: Histogram<u64>,
    /// Latency by the second in which each request started, µs, 2 significant digits.
    pub windows: Vec<Histogram<u64>>,
}

impl LoadRun {
    /// Requests per second over the measured time.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency percentiles of the whole run.
    pub fn summary(&self) -> Latency {
        Latency::of(&self.latency)
    }
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

fn histogram(digits: u8) -> Histogram<u64> {
    Histogram::new(digits).expect("2 and 3 significant digits are supported")
}

/// Runs `op(task, i)` in a closed loop on `options.tasks` tasks: first for the
/// warm-up (not recorded), then for `options.duration`. `op` returns `Err` with a
/// description for a failed request or a wrong answer.
pub async fn closed_loop<F, Fut>(options: LoadOptions, op: F) -> LoadRun
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now() + options.warmup;
    let end = start + options.duration;
    let mut handles = Vec::with_capacity(options.tasks);
    for task in 0..options.tasks {
        let op = Arc::clone(&op);
        handles.push(tokio::spawn(async move {
            let mut run = LoadRun {
                requests: 0,
                errors: 0,
                first_error: None,
                elapsed: Duration::ZERO,
                latency: histogram(3),
                windows: Vec::new(),
            };
            let mut i = 0u64;
            while Instant::now() < start {
                let _ = op(task, i).await;
                i += 1;
            }
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let result = op(task, i).await;
                i += 1;
                let done = Instant::now();
                let us = micros(done - t0);
                let window = (t0 - start).as_secs() as usize;
                while run.windows.len() <= window {
                    run.windows.push(histogram(2));
                }
                run.windows[window].record(us).expect(GROWS);
                run.latency.record(us).expect(GROWS);
                run.requests += 1;
                if let Err(e) = result {
                    run.errors += 1;
                    run.first_error.get_or_insert(e);
                }
                run.elapsed = done - start;
            }
            run
        }));
    }
    let mut total = LoadRun {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: options.duration,
        latency: histogram(3),
        windows: Vec::new(),
    };
    for handle in handles {
        let run = match handle.await {
            Ok(run) => run,
            Err(e) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert(format!("a load task ended abnormally: {e}"));
                continue;
            }
        };
        total.requests += run.requests;
        total.errors += run.errors;
        if total.first_error.is_none() {
            total.first_error = run.first_error;
        }
        total.elapsed = total.elapsed.max(run.elapsed);
        total.latency.add(&run.latency).expect(GROWS);
        for (i, w) in run.windows.iter().enumerate() {
            while total.windows.len() <= i {
                total.windows.push(histogram(2));
            }
            total.windows[i].add(w).expect(GROWS);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_measured_request_is_counted_recorded_and_windowed() {
        let options = LoadOptions {
            tasks: 3,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
        };
        // Task 0 fails every request; the others succeed.
        let run = closed_loop(options, |task, i| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if task == 0 {
                Err(format!("request {i} of task 0"))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(run.requests >= 3, "{}", run.requests);
        assert!(run.errors >= 1 && run.errors < run.requests, "{run:?}");
        assert_eq!(run.latency.len(), run.requests);
        // A one-second run has one window, holding every request.
        assert_eq!(run.windows.len(), 1);
        assert_eq!(run.windows[0].len(), run.requests);
        assert!(run.first_error.unwrap().starts_with("request "));
        assert!(run.latency.min() >= 5_000, "{}", run.latency.min());
    }
}
