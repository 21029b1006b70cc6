//! A buffered record, where it came from, and how keys are shown in messages.

use std::cmp::Ordering;

use crate::error::Location;

/// Accounted bytes per record on top of key and value: the `InputRecord` slot in its
/// shard's vector (32 bytes, up to twice that while the vector grows) plus the
/// allocator's header for the record's own allocation.
pub(crate) const RECORD_OVERHEAD: u64 = 64;

/// Source index used for records handed over by an iterator.
pub(crate) const ITER_SOURCE: u32 = u32::MAX;

/// Where a record came from: input source index and 1-based line (or, for an
/// iterator, the record number). Ordering by `Origin` is input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Origin {
    pub(crate) source: u32,
    pub(crate) line: u64,
}

/// Display names of the input sources, to turn an [`Origin`] into a [`Location`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Names(pub(crate) Vec<String>);

impl Names {
    pub(crate) fn location(&self, origin: Origin) -> Location {
        match self.0.get(origin.source as usize) {
            Some(name) if origin.source != ITER_SOURCE => Location::Line {
                source: name.clone(),
                line: origin.line,
            },
            _ => Location::Record(origin.line),
        }
    }
}

/// One record: key and value in a single exact-size allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputRecord {
    data: Box<[u8]>,
    key_len: u32,
    pub(crate) origin: Origin,
}

impl InputRecord {
    /// Copies `key` and `value` into a new record. Keys are at most 64 KiB, so the
    /// length always fits.
    pub(crate) fn new(key: &[u8], value: &[u8], origin: Origin) -> Self {
        let mut data = Vec::with_capacity(key.len() + value.len());
        data.extend_from_slice(key);
        data.extend_from_slice(value);
        InputRecord {
            data: data.into_boxed_slice(),
            key_len: u32::try_from(key.len()).expect("keys are checked against the 64 KiB limit"),
            origin,
        }
    }

    /// A record over `data` = key bytes followed by value bytes.
    pub(crate) fn from_parts(data: Box<[u8]>, key_len: u32, origin: Origin) -> Self {
        debug_assert!(key_len as usize <= data.len());
        InputRecord {
            data,
            key_len,
            origin,
        }
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }

    pub(crate) fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }

    /// Bytes this record is charged against the memory budget.
    pub(crate) fn cost(&self) -> u64 {
        self.data.len() as u64 + RECORD_OVERHEAD
    }

    /// Merge order: key, then input order.
    pub(crate) fn order(&self, other: &InputRecord) -> Ordering {
        self.key()
            .cmp(other.key())
            .then(self.origin.cmp(&other.origin))
    }
}

const SHOWN_CHARS: usize = 64;
const SHOWN_BYTES: usize = 32;

/// A key for messages: quoted and escaped when it is printable UTF-8, else `0x`-hex;
/// long keys are truncated with `...`.
pub(crate) fn display_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => {
            let shown: String = s.chars().take(SHOWN_CHARS).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            format!("\"{}\"{more}", shown.escape_debug())
        }
        _ => {
            let shown = &key[..key.len().min(SHOWN_BYTES)];
            let more = if shown.len() < key.len() { "..." } else { "" };
            format!("0x{}{more}", hex::encode(shown))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_splits_key_and_value() {
        let r = InputRecord::new(b"key", b"value", Origin { source: 0, line: 1 });
        assert_eq!(r.key(), b"key");
        assert_eq!(r.value(), b"value");
        assert_eq!(r.cost(), 8 + RECORD_OVERHEAD);
    }

    #[test]
    fn keys_display_as_text_or_hex() {
        assert_eq!(display_key(b"k"), "\"k\"");
        assert_eq!(display_key(b"say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(display_key(&[0xff, 0x00]), "0xff00");
        assert_eq!(display_key(b"a\tb"), "0x610962");
        let long = "x".repeat(100);
        assert_eq!(
            display_key(long.as_bytes()),
            format!("\"{}\"...", "x".repeat(64))
        );
        assert!(display_key(&[0u8; 40]).ends_with("..."));
    }

    #[test]
    fn origins_name_files_or_records() {
        let names = Names(vec!["a.tsv".into()]);
        assert_eq!(
            names.location(Origin { source: 0, line: 3 }).to_string(),
            "a.tsv:3"
        );
        assert_eq!(
            names
                .location(Origin {
                    source: ITER_SOURCE,
                    line: 9
                })
                .to_string(),
            "record 9"
        );
    }
}
