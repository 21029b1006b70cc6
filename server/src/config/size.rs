//! Byte sizes in the configuration: a TOML integer (bytes) or a string such as
//! `"100MiB"`, `"500MB"`, `"1.5GiB"` or `"100MiB/s"` for rates. As in `fd --size`
//! and the IEC/SI standards, `KiB`/`MiB`/`GiB`/`TiB` (or `Ki`, `Mi`, ...) are
//! binary (2^10, 2^20, ...) and `kB`/`MB`/`GB`/`TB` (or `k`, `M`, ...) decimal
//! (10^3, 10^6, ...), case-insensitive, the same for the CLI's `--memory`.

use serde::{Deserialize, Deserializer};

/// Bytes per unit, by the unit's lowercase name: the `i` forms are binary, the
/// others decimal; `None` for an unknown unit.
fn unit_bytes(unit: &str) -> Option<u64> {
    let (prefix, binary) = match unit.strip_suffix('b').unwrap_or(unit) {
        "" => return Some(1),
        p => match p.strip_suffix('i') {
            Some(p) => (p, true),
            None => (p, false),
        },
    };
    let power = match prefix {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        _ => return None,
    };
    let base: u64 = if binary { 1024 } else { 1000 };
    Some(base.pow(power))
}

/// Parses a size such as `8MiB`, `500MB`, `512KiB`, `1.5GiB`, `1048576`; a trailing
/// `/s` is accepted (for rates). `KiB`, `MiB`, ... are binary, `kB`, `MB`, ...
/// decimal, case-insensitive; a bare number is bytes. At least 1 byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim_end();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (use e.g. \"100MiB\", \"500MB\", 1048576)"))?;
    let multiplier = unit_bytes(&unit.trim().to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown size unit {:?} in {text:?} (use B, KiB, MiB, GiB, TiB (binary) or kB, MB, GB, TB (decimal))",
            unit.trim()
        )
    })?;
    let bytes = number * multiplier as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("size {text:?} must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// `bytes` in the largest binary unit that holds it exactly (`33554432` →
/// `"32MiB"`), else in bytes: what [`parse_size`] reads back to the same number.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
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
    #[test]
    fn formatted_sizes_read_back_to_the_same_bytes() {
        assert_eq!(format_size(32 << 20), "32MiB");
        assert_eq!(format_size(1536), "1536");
        assert_eq!(format_size(1 << 40), "1TiB");
        assert_eq!(format_size(1000), "1000");
        for bytes in [1, 1000, 1024, 1536, 32 << 20, 3 << 30, (1 << 40) + 1] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes), "{bytes}");
        }
    }

    use super::*;

    #[test]
    fn sizes_parse_with_an_optional_rate_suffix() {
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("100 MiB/s"), Ok(100 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4096B"), Ok(4096));
    }

    #[test]
    fn mb_is_decimal_and_mib_is_binary() {
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("100 MB/s"), Ok(100_000_000));
        assert_eq!(parse_size("512k"), Ok(512_000));
        assert_eq!(parse_size("512kB"), Ok(512_000));
        assert_eq!(parse_size("512Ki"), Ok(512 << 10));
        assert_eq!(parse_size("512KIB"), Ok(512 << 10));
        assert_eq!(parse_size(" 2 g "), Ok(2_000_000_000));
        assert_eq!(parse_size("2gi"), Ok(2 << 30));
        assert_eq!(parse_size("1TB"), Ok(1_000_000_000_000));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
    }

    #[test]
    fn bad_sizes_are_explained() {
        for bad in [
            "",
            "fast",
            "10 parsecs",
            "0",
            "0.1",
            "-5MiB",
            "1e400",
            "1iB",
            "3PB",
        ] {
            let err = parse_size(bad).expect_err(bad);
            assert!(err.contains(bad.trim()), "{bad:?}: {err}");
        }
    }
}
