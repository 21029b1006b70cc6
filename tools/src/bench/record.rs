//! Recording a load run: each task records its requests locally (no lock per
//! request) and hands each finished one-second window to a shared [`Windows`].

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use tusk_client::Code;

/// Largest latency recorded, in microseconds (60 s); longer ones count as this.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Histogram of the whole run: three significant digits. Histograms grow with the
/// largest value recorded, so a task whose requests take milliseconds holds a few
/// tens of KiB, however many tasks run.
fn total_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits are supported")
}

/// Histogram of one second: two significant digits (a window's p99 to 1 %), so a
/// long run's windows stay small.
fn window_histogram() -> Histogram<u64> {
    Histogram::new(2).expect("2 significant digits are supported")
}

/// Why recording cannot fail: the histograms resize to hold any value up to
/// [`MAX_LATENCY_US`], and larger ones are clamped before they are recorded.
const GROWS: &str = "auto-resizing histograms hold every clamped latency";

/// The latency to record, in microseconds: at least 1, at most [`MAX_LATENCY_US`].
fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

/// The canonical gRPC name of a code, e.g. `DEADLINE_EXCEEDED`.
pub use tusk_client::code_name;

/// The requests started within one second of the run.
#[derive(Debug, Clone)]
pub struct Window {
    /// Latency of every request, failed ones included, in microseconds.
    pub latency: Histogram<u64>,
    /// Requests started in the second.
    pub requests: u64,
    /// Of those, the ones that failed.
    pub errors: u64,
}

impl Window {
    fn new() -> Window {
        Window {
            latency: window_histogram(),
            requests: 0,
            errors: 0,
        }
    }

    fn merge(&mut self, other: &Window) {
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms take any value");
        self.requests += other.requests;
        self.errors += other.errors;
    }
}

/// The whole run (or one task's share of it).
#[derive(Debug, Clone)]
pub struct Totals {
    /// Latency of every request, failed ones included, in microseconds.
    pub latency: Histogram<u64>,
    /// Requests made.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failed requests by gRPC code name.
    pub errors_by_code: BTreeMap<&'static str, u64>,
}

impl Totals {
    /// Nothing recorded yet.
    pub fn new() -> Totals {
        Totals {
            latency: total_histogram(),
            requests: 0,
            errors: 0,
            errors_by_code: BTreeMap::new(),
        }
    }

    /// Adds another task's totals.
    pub fn merge(&mut self, other: &Totals) {
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms take any value");
        self.requests += other.requests;
        self.errors += other.errors;
        for (code, n) in &other.errors_by_code {
            *self.errors_by_code.entry(code).or_default() += n;
        }
    }
}

/// Every finished window of a run, by second (0 = the first second).
#[derive(Debug, Default)]
pub struct Windows {
    by_second: BTreeMap<u64, Window>,
}

impl Windows {
    /// Adds one task's `window` of second `second`.
    pub fn add(&mut self, second: u64, window: &Window) {
        self.by_second
            .entry(second)
            .or_insert_with(Window::new)
            .merge(window);
    }

    /// The windows in time order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Window)> {
        self.by_second.iter().map(|(s, w)| (*s, w))
    }
}

/// One task's recorder: its totals and the window it is filling.
#[derive(Debug)]
pub struct TaskRecorder {
    totals: Totals,
    current: Option<(u64, Window)>,
}

impl Default for TaskRecorder {
    fn default() -> Self {
        TaskRecorder {
            totals: Totals::new(),
            current: None,
        }
    }
}

impl TaskRecorder {
    /// Records a request started `started` after the run began, that took
    /// `latency` and ended in `outcome` (the gRPC code of a failure). Returns the
    /// window just finished when this request starts a later second.
    pub fn record(
        &mut self,
        started: Duration,
        latency: Duration,
        outcome: Result<(), Code>,
    ) -> Option<(u64, Window)> {
        let second = started.as_secs();
        let finished = match &self.current {
            Some((s, _)) if *s == second => None,
            _ => self.current.replace((second, Window::new())),
        };
        let (_, window) = self.current.as_mut().expect("set just above");
        let us = micros(latency);
        window.latency.record(us).expect(GROWS);
        window.requests += 1;
        self.totals.latency.record(us).expect(GROWS);
        self.totals.requests += 1;
        if let Err(code) = outcome {
            window.errors += 1;
            self.totals.errors += 1;
            *self
                .totals
                .errors_by_code
                .entry(code_name(code))
                .or_default() += 1;
        }
        finished
    }

    /// The task's totals and the window it was filling.
    pub fn finish(self) -> (Totals, Option<(u64, Window)>) {
        (self.totals, self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_task_hands_over_each_window_when_the_next_second_starts() {
        let mut task = TaskRecorder::default();
        assert!(task.record(MS * 10, MS, Ok(())).is_none());
        assert!(
            task.record(MS * 990, MS * 3, Err(Code::Unavailable))
                .is_none()
        );
        let (second, window) = task.record(MS * 1500, MS, Ok(())).expect("second 0 done");
        assert_eq!((second, window.requests, window.errors), (0, 2, 1));
        assert_eq!(
            window.latency.max(),
            window.latency.highest_equivalent(3000)
        );
        // A gap of idle seconds: the next window handed over is second 1.
        let (second, window) = task.record(MS * 3200, MS, Ok(())).expect("second 1 done");
        assert_eq!((second, window.requests), (1, 1));
        let (totals, last) = task.finish();
        assert_eq!(last.map(|(s, w)| (s, w.requests)), Some((3, 1)));
        assert_eq!((totals.requests, totals.errors), (4, 1));
        assert_eq!(totals.errors_by_code.get("UNAVAILABLE"), Some(&1));
    }

    #[test]
    fn windows_and_totals_of_tasks_add_up() {
        let mut a = TaskRecorder::default();
        let mut b = TaskRecorder::default();
        a.record(MS, MS * 2, Ok(()));
        b.record(MS, MS * 4, Err(Code::DeadlineExceeded));
        b.record(MS, MS * 4, Err(Code::Unavailable));
        let mut windows = Windows::default();
        let mut totals = Totals::new();
        for task in [a, b] {
            let (t, last) = task.finish();
            totals.merge(&t);
            let (s, w) = last.expect("a window");
            windows.add(s, &w);
        }
        let all: Vec<_> = windows
            .iter()
            .map(|(s, w)| (s, w.requests, w.errors))
            .collect();
        assert_eq!(all, [(0, 3, 2)]);
        assert_eq!((totals.requests, totals.errors), (3, 2));
        assert_eq!(
            totals.errors_by_code.into_iter().collect::<Vec<_>>(),
            [("DEADLINE_EXCEEDED", 1), ("UNAVAILABLE", 1)]
        );
        assert_eq!(totals.latency.len(), 3);
    }

    #[test]
    fn latencies_beyond_the_bound_are_clamped_not_lost() {
        let mut task = TaskRecorder::default();
        task.record(Duration::ZERO, Duration::from_secs(120), Ok(()));
        task.record(Duration::ZERO, Duration::ZERO, Ok(()));
        let (totals, _) = task.finish();
        assert_eq!(totals.latency.len(), 2);
        assert_eq!(
            totals.latency.max(),
            totals.latency.highest_equivalent(MAX_LATENCY_US)
        );
        assert_eq!(totals.latency.min(), 1);
    }
}
