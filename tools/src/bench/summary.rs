//! The maths of a load run's report: throughput, percentiles, per-second windows.

use crate::output::{StdoutError, outln};
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::record::{Totals, Windows};

/// What `tusk bench` reports (also its `--json` object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Requests made (each a Get, or a MultiGet with `--multi-get`).
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failed requests by gRPC code name (`UNAVAILABLE`, ...).
    pub errors_by_code: BTreeMap<&'static str, u64>,
    /// Keys read by the requests that succeeded.
    pub keys: u64,
    /// Wall-clock seconds from the first request to the last answer.
    pub elapsed_s: f64,
    /// Requests per second.
    pub rps: f64,
    /// Keys read per second (successful requests only).
    pub keys_per_s: f64,
    /// Median latency, microseconds (every request, failed ones included).
    pub p50_us: u64,
    /// 90th percentile latency, microseconds.
    pub p90_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// 99.9th percentile latency, microseconds.
    pub p999_us: u64,
    /// Slowest request, microseconds.
    pub max_us: u64,
    /// The highest p99 of any one-second window, microseconds.
    pub worst_window_p99_us: u64,
    /// One entry per second of the run (with `--timeline`), else `null`.
    pub windows: Option<Vec<WindowSummary>>,
}

/// One second of the run: the requests started in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSummary {
    /// Seconds since the start (0 = the first second).
    pub second: u64,
    /// Requests started in the second.
    pub requests: u64,
    /// Of those, the ones that failed.
    pub errors: u64,
    /// Requests per second (the last window of a run of fractional length is
    /// scaled to its length).
    pub rps: f64,
    /// The window's 99th percentile latency, microseconds.
    pub p99_us: u64,
}

fn per_second(count: u64, span: Duration) -> f64 {
    if span.is_zero() {
        return 0.0;
    }
    let rate = count as f64 / span.as_secs_f64();
    (rate * 10.0).round() / 10.0
}

/// The report of a run of `duration` that took `elapsed` (until the last answer),
/// from the merged `totals` and `windows`; each successful request read
/// `keys_per_request` keys. Windows are listed when `timeline` is set.
pub fn summarize(
    totals: &Totals,
    windows: &Windows,
    duration: Duration,
    elapsed: Duration,
    keys_per_request: u64,
    timeline: bool,
) -> Summary {
    let window_list: Vec<WindowSummary> = windows
        .iter()
        .map(|(second, w)| {
            let start = Duration::from_secs(second);
            let span = if start < duration {
                (duration - start).min(Duration::from_secs(1))
            } else {
                Duration::from_secs(1)
            };
            WindowSummary {
                second,
                requests: w.requests,
                errors: w.errors,
                rps: per_second(w.requests, span),
                p99_us: w.latency.value_at_quantile(0.99),
            }
        })
        .collect();
    let keys = (totals.requests - totals.errors) * keys_per_request;
    let latency = &totals.latency;
    Summary {
        requests: totals.requests,
        errors: totals.errors,
        errors_by_code: totals.errors_by_code.clone(),
        keys,
        elapsed_s: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        rps: per_second(totals.requests, elapsed),
        keys_per_s: per_second(keys, elapsed),
        p50_us: latency.value_at_quantile(0.5),
        p90_us: latency.value_at_quantile(0.9),
        p99_us: latency.value_at_quantile(0.99),
        p999_us: latency.value_at_quantile(0.999),
        max_us: latency.max(),
        worst_window_p99_us: window_list.iter().map(|w| w.p99_us).max().unwrap_or(0),
        windows: timeline.then_some(window_list),
    }
}

/// `850us`, `12.3ms`, `1.20s`.
pub fn human_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", us as f64 / 1_000_000.0)
    }
}

/// Prints the report for a human (the timeline first, when asked for).
pub fn print_human(s: &Summary) -> Result<(), StdoutError> {
    if let Some(windows) = &s.windows {
        for w in windows {
            outln!(
                "  {:>4}s  {:>9.1} req/s  {:>6} errors  p99 {}",
                w.second + 1,
                w.rps,
                w.errors,
                human_us(w.p99_us)
            )?;
        }
        outln!()?;
    }
    outln!(
        "requests   {} in {:.2}s: {:.1} req/s, {:.1} keys/s",
        s.requests,
        s.elapsed_s,
        s.rps,
        s.keys_per_s
    )?;
    let by_code: Vec<String> = s
        .errors_by_code
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    if by_code.is_empty() {
        outln!("errors     0")?;
    } else {
        outln!("errors     {} ({})", s.errors, by_code.join(", "))?;
    }
    outln!(
        "latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        human_us(s.p50_us),
        human_us(s.p90_us),
        human_us(s.p99_us),
        human_us(s.p999_us),
        human_us(s.max_us)
    )?;
    outln!("worst 1s   p99 {}", human_us(s.worst_window_p99_us))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::TaskRecorder;
    use tusk_client::Code;

    const MS: Duration = Duration::from_millis(1);

    /// A run of 2.5 s: 100 requests of 1..=100 ms in second 0, 10 slow ones
    /// (500 ms, two failing) in second 1, 5 in the half second 2.
    fn run() -> (Totals, Windows) {
        let mut task = TaskRecorder::default();
        let mut windows = Windows::default();
        let mut hand_over = |w: Option<(u64, super::super::record::Window)>| {
            if let Some((s, w)) = w {
                windows.add(s, &w);
            }
        };
        for i in 1..=100u32 {
            hand_over(task.record(MS * 5, MS * i, Ok(())));
        }
        for i in 0..10 {
            let outcome = if i < 2 {
                Err(Code::Unavailable)
            } else {
                Ok(())
            };
            hand_over(task.record(MS * 1500, MS * 500, outcome));
        }
        for _ in 0..5 {
            hand_over(task.record(MS * 2100, MS, Ok(())));
        }
        let (totals, last) = task.finish();
        hand_over(last);
        (totals, windows)
    }

    #[test]
    fn totals_rates_and_percentiles() {
        let (totals, windows) = run();
        let s = summarize(&totals, &windows, MS * 2500, MS * 2500, 10, false);
        assert_eq!((s.requests, s.errors), (115, 2));
        assert_eq!(s.keys, 113 * 10);
        assert_eq!(s.rps, 46.0, "115 requests in 2.5 s");
        assert_eq!(s.keys_per_s, 452.0);
        assert_eq!(s.errors_by_code.get("UNAVAILABLE"), Some(&2));
        // Sorted: six of 1 ms, then 2..=100 ms, then ten of 500 ms: the 58th is 53 ms.
        assert!((52_000..=54_000).contains(&s.p50_us), "{}", s.p50_us);
        assert!((499_000..=501_000).contains(&s.p99_us), "{}", s.p99_us);
        assert!(s.p50_us <= s.p90_us && s.p90_us <= s.p99_us && s.p99_us <= s.p999_us);
        assert!(s.p999_us <= s.max_us);
        assert!((499_000..=502_000).contains(&s.worst_window_p99_us));
        assert_eq!(s.windows, None, "windows only with --timeline");
    }

    #[test]
    fn the_timeline_has_one_line_per_second_and_scales_a_partial_last_one() {
        let (totals, windows) = run();
        let s = summarize(&totals, &windows, MS * 2500, MS * 2600, 1, true);
        let w = s.windows.expect("timeline");
        let lines: Vec<_> = w
            .iter()
            .map(|w| (w.second, w.requests, w.errors, w.rps))
            .collect();
        assert_eq!(
            lines,
            [(0, 100, 0, 100.0), (1, 10, 2, 10.0), (2, 5, 0, 10.0)]
        );
        assert!((98_000..=101_000).contains(&w[0].p99_us), "{}", w[0].p99_us);
        assert!(
            (495_000..=505_000).contains(&w[1].p99_us),
            "{}",
            w[1].p99_us
        );
        assert_eq!(s.worst_window_p99_us, w[1].p99_us);
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let s = summarize(
            &Totals::new(),
            &Windows::default(),
            MS,
            Duration::ZERO,
            1,
            true,
        );
        assert_eq!(
            (s.requests, s.rps, s.p99_us, s.worst_window_p99_us),
            (0, 0.0, 0, 0)
        );
        assert_eq!(s.windows, Some(vec![]));
    }

    #[test]
    fn latencies_print_in_fitting_units() {
        assert_eq!(human_us(850), "850us");
        assert_eq!(human_us(12_345), "12.3ms");
        assert_eq!(human_us(1_200_000), "1.20s");
    }
}
