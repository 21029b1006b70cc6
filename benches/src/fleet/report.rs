//! The fleet bench's results: one row per load run, one ratio and verdict per
//! scenario, the table and the one-line summaries.

use std::fmt::Write as _;

use serde::Serialize;

use super::args::FleetConfig;
use super::load::LoadRun;
use super::stats::{Latency, Verdict, Want};
use crate::machine::Machine;

/// One load run of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What ran, e.g. `tusk Get`.
    pub label: String,
    /// Requests in the measured time.
    pub requests: u64,
    /// Failed requests and wrong answers.
    pub errors: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles (µs).
    pub latency: Latency,
    /// The first error, if any.
    pub first_error: Option<String>,
}

impl Row {
    /// The row of `run`.
    pub fn of(label: impl Into<String>, run: &LoadRun) -> Row {
        Row {
            label: label.into(),
            requests: run.requests,
            errors: run.errors,
            rps: run.rps(),
            latency: run.summary(),
            first_error: run.first_error.clone(),
        }
    }
}

/// What one scenario measured and how it compares with its target.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario's name (`floor`, `multi_get`, ...).
    pub name: &'static str,
    /// How it was set up, in one line.
    pub setup: String,
    /// Its load runs.
    pub rows: Vec<Row>,
    /// What the ratio compares, e.g. `tusk rps / floor rps`.
    pub ratio_what: String,
    /// The ratio (`None` when it could not be measured).
    pub ratio: Option<f64>,
    /// The target.
    pub want: Want,
    /// The verdict.
    pub verdict: Verdict,
    /// Further figures (windows, per-key costs, hedges), one line each.
    pub details: Vec<String>,
}

fn show(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.3}"))
}

impl ScenarioReport {
    /// The scenario's table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(s, "\n== {}: {} ==", self.name, self.setup);
        if !self.rows.is_empty() {
            let _ = writeln!(
                s,
                "{:<28} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8}",
                "run", "requests", "errors", "rps", "p50 us", "p99 us", "p999 us", "max us"
            );
        }
        for r in &self.rows {
            let l = &r.latency;
            let _ = writeln!(
                s,
                "{:<28} {:>9} {:>7} {:>10.0} {:>8} {:>8} {:>8} {:>8}",
                r.label, r.requests, r.errors, r.rps, l.p50_us, l.p99_us, l.p999_us, l.max_us
            );
            if let Some(e) = &r.first_error {
                let _ = writeln!(s, "  first error: {e}");
            }
        }
        for d in &self.details {
            let _ = writeln!(s, "{d}");
        }
        let _ = writeln!(s, "{}", self.summary_line());
        s
    }

    /// `name: what ratio (want ...) VERDICT`.
    pub fn summary_line(&self) -> String {
        format!(
            "{:<10} {:<44} {:>8} (want {}) {}",
            self.name,
            self.ratio_what,
            show(self.ratio),
            self.want,
            self.verdict
        )
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// The command line as given.
    pub command: String,
    /// Machine facts.
    pub machine: Machine,
    /// The options.
    pub config: FleetConfig,
    /// How the load is generated.
    pub load: String,
    /// One report per scenario that ran.
    pub scenarios: Vec<ScenarioReport>,
}

impl FleetReport {
    /// The opening lines: command, machine, load.
    pub fn header_table(&self) -> String {
        format!(
            "command: {}\nmachine: {}\nload:    {}\n",
            self.command,
            self.machine.line(),
            self.load
        )
    }

    /// The summary lines, one per scenario.
    pub fn summary(&self) -> String {
        let mut s = String::from("\n== summary ==\n");
        for r in &self.scenarios {
            s.push_str(&r.summary_line());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_names_ratio_target_and_verdict() {
        let r = ScenarioReport {
            name: "floor",
            setup: "x".into(),
            rows: Vec::new(),
            ratio_what: "tusk rps / floor rps".into(),
            ratio: Some(0.9312),
            want: Want::AtLeast(0.9),
            verdict: Verdict::Pass,
            details: vec!["detail line".into()],
        };
        let line = r.summary_line();
        assert!(line.starts_with("floor"), "{line}");
        assert!(line.contains("0.931 (want >= 0.9) PASS"), "{line}");
        let table = r.to_table();
        assert!(table.contains("== floor: x ==") && table.contains("detail line"));
    }
}
