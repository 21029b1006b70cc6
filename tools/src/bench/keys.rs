//! The keys `tusk bench` reads: a file of one UTF-8 key per line, and a cheap
//! deterministic generator picking among them.

use std::path::Path;

use anyhow::Context;

/// Reads `path`: one UTF-8 key per line (a trailing `\r` is dropped); lines that
/// are empty or only whitespace are skipped. A file with no key is an error naming
/// it, as is a line that is not UTF-8 (with its line number).
pub fn load_keys(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading key file {}", path.display()))?;
    parse_keys(&bytes).with_context(|| format!("key file {}", path.display()))
}

/// The keys in `bytes` (see [`load_keys`]).
fn parse_keys(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line)
            .map_err(|e| anyhow::anyhow!("line {} is not UTF-8: {e}", n + 1))?;
        if text.trim().is_empty() {
            continue;
        }
        keys.push(line.to_vec());
    }
    anyhow::ensure!(
        !keys.is_empty(),
        "has no keys (one UTF-8 key per line; blank lines are skipped)"
    );
    Ok(keys)
}

/// SplitMix64: a few arithmetic operations per number, reproducible from its seed,
/// good enough to spread requests over keys (not for anything secret).
#[derive(Debug, Clone)]
pub struct KeyPicker {
    state: u64,
}

impl KeyPicker {
    /// A generator for task `task` of a run seeded with `seed`; tasks of one run
    /// draw different sequences.
    pub fn new(seed: u64, task: u64) -> KeyPicker {
        let mut picker = KeyPicker {
            state: seed ^ task.wrapping_mul(0xA076_1D64_78BD_642F),
        };
        picker.next_u64(); // decorrelate neighbouring seeds
        picker
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n` (`n > 0`), by multiply-shift (no division).
    pub fn index(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lines_without_blanks_or_carriage_returns() {
        let keys = parse_keys(b"a\r\n\n  \nb c\nd").unwrap();
        assert_eq!(keys, [b"a".to_vec(), b"b c".to_vec(), b"d".to_vec()]);
    }

    #[test]
    fn an_empty_or_non_utf8_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n \n").unwrap();
        let err = format!("{:#}", load_keys(&empty).unwrap_err());
        assert!(
            err.contains("empty.txt") && err.contains("no keys"),
            "{err}"
        );
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"ok\n\xff\n").unwrap();
        let err = format!("{:#}", load_keys(&bad).unwrap_err());
        assert!(err.contains("bad.txt") && err.contains("line 2"), "{err}");
        let missing = dir.path().join("missing.txt");
        let err = format!("{:#}", load_keys(&missing).unwrap_err());
        assert!(err.contains("missing.txt"), "{err}");
    }

    #[test]
    fn picks_are_deterministic_in_range_and_spread() {
        let draw = |seed, task| {
            let mut p = KeyPicker::new(seed, task);
            (0..1000).map(|_| p.index(10)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 0), draw(7, 0), "same seed, same sequence");
        assert_ne!(draw(7, 0), draw(7, 1), "tasks draw different sequences");
        let picks = draw(7, 0);
        assert!(picks.iter().all(|&i| i < 10));
        for k in 0..10 {
            let count = picks.iter().filter(|&&i| i == k).count();
            assert!(
                (50..=150).contains(&count),
                "key {k} drawn {count} times of 1000"
            );
        }
        assert_eq!(KeyPicker::new(1, 0).index(1), 0);
    }
}
