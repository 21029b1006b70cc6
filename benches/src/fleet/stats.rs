//! The pure arithmetic of the fleet bench: latency summaries, per-window p99s,
//! medians, ratios and verdicts against the targets.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of one latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest recorded.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                p50_us: 0,
                p99_us: 0,
                p999_us: 0,
                max_us: 0,
            };
        }
        Latency {
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// The p99 of each window, in microseconds; `None` for a window in which no
/// request started (every task was waiting on an earlier one).
pub fn window_p99s(windows: &[Histogram<u64>]) -> Vec<Option<u64>> {
    windows
        .iter()
        .map(|w| (!w.is_empty()).then(|| w.value_at_quantile(0.99)))
        .collect()
}

/// The median of `values` (the mean of the middle two for an even count);
/// `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// `a / b`, `None` when either is missing or `b` is not positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

/// What a ratio must be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Want {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
    /// The issue sets no target: the ratio is printed only.
    NoTarget,
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Want::AtLeast(x) => write!(f, ">= {x}"),
            Want::AtMost(x) => write!(f, "<= {x}"),
            Want::NoTarget => f.write_str("no target"),
        }
    }
}

/// The outcome of one scenario against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The target is met.
    Pass,
    /// The target is missed.
    Fail,
    /// The scenario has no target.
    NoTarget,
    /// The ratio could not be measured (a side had no successful request).
    NotMeasured,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NoTarget => "no target",
            Verdict::NotMeasured => "not measured",
        })
    }
}

/// `ratio` against `want`; `extra_ok` is any further condition of the target
/// (e.g. zero errors), which fails the verdict when false.
pub fn verdict(ratio: Option<f64>, want: Want, extra_ok: bool) -> Verdict {
    let Some(r) = ratio else {
        return if want == Want::NoTarget {
            Verdict::NoTarget
        } else {
            Verdict::NotMeasured
        };
    };
    let met = match want {
        Want::AtLeast(x) => r >= x,
        Want::AtMost(x) => r <= x,
        Want::NoTarget => return Verdict::NoTarget,
    };
    if met && extra_ok {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// The swap scenario's figures from its per-window p99s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SwapFigures {
    /// Median of the p99s of the windows before the publish (µs).
    pub steady_p99_us: f64,
    /// Largest p99 of the windows from the publish on (µs).
    pub worst_p99_us: u64,
    /// Index of that window (seconds since the load started).
    pub worst_window: usize,
    /// `worst_p99_us / steady_p99_us`.
    pub ratio: f64,
}

/// Steady p99 = median of the windows before `publish_window`; worst = the
/// largest p99 from `publish_window` on. `None` when either side has no window
/// with requests.
pub fn swap_figures(p99s: &[Option<u64>], publish_window: usize) -> Option<SwapFigures> {
    let split = publish_window.min(p99s.len());
    let before: Vec<f64> = p99s[..split].iter().flatten().map(|&x| x as f64).collect();
    let steady = median(&before)?;
    let (worst_window, worst) = p99s[split..]
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (split + i, p)))
        .max_by_key(|&(_, p)| p)?;
    Some(SwapFigures {
        steady_p99_us: steady,
        worst_p99_us: worst,
        worst_window,
        ratio: ratio(Some(worst as f64), Some(steady))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 7.0]), Some(7.0));
    }

    #[test]
    fn window_p99_ignores_empty_windows() {
        // 100 requests of 100 µs and one of 10 ms: p99 is 100 µs; 1 of 50 at 10 ms
        // moves the p99 to 10 ms.
        let mut calm: Vec<u64> = vec![100; 100];
        calm.push(10_000);
        let mut spiky: Vec<u64> = vec![100; 49];
        spiky.push(10_000);
        let windows = vec![
            histogram(&calm),
            Histogram::new(2).unwrap(),
            histogram(&spiky),
        ];
        let p = window_p99s(&windows);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], Some(100));
        assert_eq!(p[1], None);
        let spike = p[2].unwrap();
        assert!((9_990..=10_010).contains(&spike), "{spike}");
    }

    #[test]
    fn latency_summary() {
        let values: Vec<u64> = (1..=1000).collect();
        let l = Latency::of(&histogram(&values));
        assert_eq!((l.p50_us, l.max_us), (500, 1000));
        assert_eq!(l.p99_us, 990);
        assert_eq!(l.p999_us, 999);
        assert_eq!(Latency::of(&Histogram::new(2).unwrap()).p99_us, 0);
    }

    #[test]
    fn ratio_and_verdict() {
        assert_eq!(ratio(Some(9.0), Some(10.0)), Some(0.9));
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
        assert_eq!(verdict(Some(0.9), Want::AtLeast(0.9), true), Verdict::Pass);
        assert_eq!(verdict(Some(0.89), Want::AtLeast(0.9), true), Verdict::Fail);
        assert_eq!(verdict(Some(0.04), Want::AtMost(0.05), true), Verdict::Pass);
        assert_eq!(verdict(Some(0.06), Want::AtMost(0.05), true), Verdict::Fail);
        // A met ratio with errors fails.
        assert_eq!(verdict(Some(1.0), Want::AtMost(1.3), false), Verdict::Fail);
        assert_eq!(verdict(None, Want::AtMost(1.3), true), Verdict::NotMeasured);
        assert_eq!(verdict(Some(2.0), Want::NoTarget, true), Verdict::NoTarget);
        assert_eq!(Want::AtMost(1.3).to_string(), "<= 1.3");
    }

    #[test]
    fn swap_steady_is_the_median_before_and_worst_is_after() {
        // Before the publish (windows 0..4): 100, 400 (noise), 120, 110 -> median 115.
        // After: 130, none, 200, 140 -> worst 200 at window 6.
        let p = [
            Some(100),
            Some(400),
            Some(120),
            Some(110),
            Some(130),
            None,
            Some(200),
            Some(140),
        ];
        let f = swap_figures(&p, 4).unwrap();
        assert_eq!(f.steady_p99_us, 115.0);
        assert_eq!((f.worst_p99_us, f.worst_window), (200, 6));
        assert!((f.ratio - 200.0 / 115.0).abs() < 1e-9);
        // The noisy window before the publish is not the worst.
        assert_eq!(swap_figures(&p, 8), None);
        assert_eq!(swap_figures(&[None, None, Some(5)], 2), None);
    }
}
