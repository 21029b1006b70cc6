//! Durations in the configuration: humantime strings (`"5s"`, `"250ms"`, `"1h"`),
//! and for the scrub interval also `"off"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a scrub interval: a duration such as `"1h"` or `"30m"`, or `"off"` (or
/// any zero duration) for no periodic scrubbing, returned as [`Duration::ZERO`].
pub fn parse_scrub_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") || t == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("invalid duration {text:?}: {e} (use e.g. \"1h\", \"30m\", or \"off\")")
    })
}

/// Serde helper for a required duration field.
pub(super) fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: {e} (use e.g. \"5s\", \"250ms\")"
        ))
    })
}

/// Serde helper for the scrub interval (see [`parse_scrub_interval`]).
pub(super) fn scrub_interval<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    parse_scrub_interval(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_interval_takes_durations_and_off() {
        assert_eq!(parse_scrub_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_scrub_interval("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse_scrub_interval("off"), Ok(Duration::ZERO));
        assert_eq!(parse_scrub_interval("OFF"), Ok(Duration::ZERO));
        assert_eq!(parse_scrub_interval("0s"), Ok(Duration::ZERO));
        let err = parse_scrub_interval("hourly").expect_err("not a duration");
        assert!(err.contains("hourly") && err.contains("off"), "{err}");
    }
}
