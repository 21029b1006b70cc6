//! Command-line options of the `fleet` bench.

use std::time::Duration;

use serde::Serialize;

use super::error::{FleetError, FleetResult};

/// Usage text of the `fleet` bench.
pub const FLEET_USAGE: &str = "\
usage: fleet [--duration D] [--only SCENARIO[,SCENARIO...]] [--json]

Closed-loop gRPC load from this process against tusk nodes, each scenario beside its
reference in the same run, with the ratio and the verdict against the target.

  --duration  measured time of each load run, e.g. 5s or 1500ms (default 5s);
              swap runs twice this, hedge runs twice (without and with hedging),
              cpu_* run 3 rounds of tusk and the reference
  --only      scenarios among floor, multi_get, swap, forward, hedge, cpu_get,
              cpu_multi_get, restart, reuse (default all)
  --json      print one JSON object instead of the table

The hedge scenario starts real `tusk serve` processes: build the binary first
(`cargo build --release -p tusk-cli`); it is looked up next to this one, or at $TUSK_BIN.
";

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 9] = [
    "floor",
    "multi_get",
    "swap",
    "forward",
    "hedge",
    "cpu_get",
    "cpu_multi_get",
    "restart",
    "reuse",
];

/// What the fleet bench runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetConfig {
    /// Measured time of each load run.
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
    /// Scenarios to run, in [`SCENARIOS`] order.
    pub only: Vec<&'static str>,
    /// Print JSON instead of the table.
    pub json: bool,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            duration: Duration::from_secs(5),
            only: SCENARIOS.to_vec(),
            json: false,
        }
    }
}

/// `5s`, `1.5s`, `500ms` (a bare number is seconds).
pub fn parse_duration(text: &str) -> FleetResult<Duration> {
    let bad = || FleetError::Args(format!("--duration wants e.g. 5s or 500ms, got {text:?}"));
    let t = text.trim();
    let (number, unit) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let secs = value * unit;
    if !secs.is_finite() || secs < 1.0 {
        return Err(FleetError::Args(format!(
            "--duration must be at least 1s (one-second windows), got {text:?}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl FleetConfig {
    /// Parses the arguments after the program name. `Ok(None)` for `--help`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> FleetResult<Option<Self>> {
        let mut c = FleetConfig::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| FleetError::Args(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--duration" => c.duration = parse_duration(&value()?)?,
                "--only" => {
                    let list = value()?;
                    let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
                    if let Some(bad) = wanted.iter().find(|w| !SCENARIOS.contains(w)) {
                        return Err(FleetError::Args(format!(
                            "--only: unknown scenario {bad:?} (expected {})",
                            SCENARIOS.join(", ")
                        )));
                    }
                    c.only = SCENARIOS
                        .iter()
                        .copied()
                        .filter(|s| wanted.contains(s))
                        .collect();
                }
                "--json" => c.json = true,
                "-h" | "--help" => return Ok(None),
                other => {
                    return Err(FleetError::Args(format!(
                        "unknown flag {other:?}\n{FLEET_USAGE}"
                    )));
                }
            }
        }
        Ok(Some(c))
    }

    /// Whether `scenario` runs.
    pub fn runs(&self, scenario: &str) -> bool {
        self.only.contains(&scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> FleetResult<Option<FleetConfig>> {
        FleetConfig::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse(&[]).unwrap(), Some(FleetConfig::default()));
        let c = parse(&["--duration", "1500ms", "--only", "swap, floor", "--json"])
            .unwrap()
            .unwrap();
        assert_eq!(c.duration, Duration::from_millis(1500));
        // Kept in run order, whatever order was asked for.
        assert_eq!(c.only, vec!["floor", "swap"]);
        assert!(c.json && c.runs("swap") && !c.runs("hedge"));
        assert_eq!(parse(&["--help"]).unwrap(), None);
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("2.5s").unwrap(), Duration::from_millis(2500));
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = parse(&["--only", "floor,redis"]).unwrap_err().to_string();
        assert!(e.contains("\"redis\""), "{e}");
        let e = parse(&["--duration", "fast"]).unwrap_err().to_string();
        assert!(e.contains("--duration") && e.contains("\"fast\""), "{e}");
        let e = parse(&["--duration", "200ms"]).unwrap_err().to_string();
        assert!(e.contains("at least 1s"), "{e}");
        assert!(parse(&["--duration"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
    }
}
