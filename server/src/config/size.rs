//! Byte sizes in the configuration: a TOML integer (bytes) or a string such as
//! `"100MiB"`, `"512k"`, `"1.5GiB"` or `"100MiB/s"` for rates. Units are binary
//! (`M` = `MB` = `MiB` = 2^20), as in the CLI's `--memory`.

use serde::{Deserialize, Deserializer};

/// Parses a size such as `8MiB`, `512k`, `1.5GiB`, `1048576`; a trailing `/s` is
/// accepted (for rates). Units are binary and case-insensitive. At least 1 byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim_end();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (use e.g. \"100MiB\", \"512k\", 1048576)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use B, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let bytes = number * multiplier as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("size {text:?} must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// Either form a size may take in TOML.
#[derive(Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(i64),
    Text(String),
}

impl SizeValue {
    fn bytes(self) -> Result<u64, String> {
        match self {
            SizeValue::Bytes(n) if n >= 1 => Ok(n as u64),
            SizeValue::Bytes(n) => Err(format!("size {n} must be at least 1 byte")),
            SizeValue::Text(text) => parse_size(&text),
        }
    }
}

/// Serde helper for a required size field.
pub(super) fn size<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    SizeValue::deserialize(de)?
        .bytes()
        .map_err(serde::de::Error::custom)
}

/// Serde helper for an optional size field (absent = `None`; use with
/// `#[serde(default)]`).
pub(super) fn optional_size<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    size(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_an_optional_rate_suffix() {
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("100 MB/s"), Ok(100 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size(" 2 g "), Ok(2 << 30));
    }

    #[test]
    fn bad_sizes_are_explained() {
        for bad in ["", "fast", "10 parsecs", "0", "0.1", "-5MiB", "1e400"] {
            let err = parse_size(bad).expect_err(bad);
            assert!(err.contains(bad.trim()), "{bad:?}: {err}");
        }
    }
}
