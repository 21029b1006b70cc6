//! Percentages with two exact decimals, as the limits of a policy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A non-negative percentage kept exactly in hundredths of a percent (basis
/// points), so "exactly at the limit" compares exactly. Written `20%`, `12.5%`,
/// `0.25%` (the `%` is optional when parsing); stored in documents as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    basis_points: u64,
}

/// Largest percentage accepted (1,000,000%), far above any sensible limit; keeps the
/// arithmetic of [`Percent::exceeded_by`] inside `u128`.
const MAX_BASIS_POINTS: u64 = 100 * 1_000_000;

impl Percent {
    /// 100%.
    pub const HUNDRED: Percent = Percent {
        basis_points: 10_000,
    };

    /// From hundredths of a percent (`2000` = 20%), capped at 1,000,000%.
    pub fn from_basis_points(basis_points: u64) -> Percent {
        Percent {
            basis_points: basis_points.min(MAX_BASIS_POINTS),
        }
    }

    /// Hundredths of a percent.
    pub fn basis_points(self) -> u64 {
        self.basis_points
    }

    /// True when a change of `delta` against `base` is more than this percentage of
    /// `base` (exact integer arithmetic; a change exactly at the limit is allowed).
    /// `base` must be non-zero for the answer to mean anything.
    pub fn exceeded_by(self, delta: u64, base: u64) -> bool {
        u128::from(delta) * 10_000 > u128::from(self.basis_points) * u128::from(base)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.basis_points / 100, self.basis_points % 100);
        match frac {
            0 => write!(f, "{whole}%"),
            f10 if f10 % 10 == 0 => write!(f, "{whole}.{}%", f10 / 10),
            _ => write!(f, "{whole}.{frac:02}%"),
        }
    }
}

/// Why a percentage did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a percentage ({why}); write e.g. 20% or 12.5%")]
pub struct ParsePercentError {
    input: String,
    why: &'static str,
}

impl FromStr for Percent {
    type Err = ParsePercentError;

    fn from_str(input: &str) -> Result<Percent, ParsePercentError> {
        let err = |why| ParsePercentError {
            input: input.to_string(),
            why,
        };
        let text = input.trim();
        let text = text.strip_suffix('%').unwrap_or(text).trim_end();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("expected digits"));
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || (text.contains('.') && frac.is_empty()) {
            return Err(err("expected digits after the decimal point"));
        }
        if frac.len() > 2 {
            return Err(err("at most two decimals"));
        }
        let whole: u64 = whole.parse().map_err(|_| err("too large"))?;
        let frac: u64 = format!("{frac:0<2}")
            .parse()
            .map_err(|_| err("bad decimals"))?;
        let basis_points = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .filter(|bp| *bp <= MAX_BASIS_POINTS)
            .ok_or_else(|| err("more than 1000000%"))?;
        Ok(Percent { basis_points })
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Percent, D::Error> {
        let text: String = Deserialize::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Percent {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_prints_exactly() {
        for (text, bp, shown) in [
            ("20%", 2000, "20%"),
            ("20", 2000, "20%"),
            ("12.5%", 1250, "12.5%"),
            ("0.25%", 25, "0.25%"),
            (" 300 % ", 30000, "300%"),
            ("0%", 0, "0%"),
            ("7.05", 705, "7.05%"),
        ] {
            assert_eq!(p(text).basis_points(), bp, "{text}");
            assert_eq!(p(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_percentage() {
        for bad in [
            "",
            "%",
            "-5%",
            "1.234%",
            "abc",
            "5.%",
            ".5",
            "1e3",
            "20%%",
            "99999999%",
        ] {
            let err = bad.parse::<Percent>().expect_err(bad);
            assert!(err.to_string().contains("not a percentage"), "{bad}: {err}");
        }
    }

    #[test]
    fn exactly_at_the_limit_is_allowed() {
        // 1000 -> 800 is a shrink of exactly 20%, where float arithmetic gives
        // 20.000000000000004.
        assert!(!p("20%").exceeded_by(200, 1000));
        assert!(p("20%").exceeded_by(201, 1000));
        assert!(!p("12.5%").exceeded_by(1, 8));
        assert!(p("12.49%").exceeded_by(1, 8));
        assert!(!p("0%").exceeded_by(0, 5));
        assert!(p("0%").exceeded_by(1, u64::MAX));
        assert!(!p("1000000%").exceeded_by(u64::MAX, u64::MAX));
    }

    #[test]
    fn serializes_as_its_text() {
        assert_eq!(serde_json::to_string(&p("12.5%")).unwrap(), "\"12.5%\"");
        let back: Percent = serde_json::from_str("\"40%\"").unwrap();
        assert_eq!(back, p("40%"));
        assert!(serde_json::from_str::<Percent>("\"x\"").is_err());
    }
}
