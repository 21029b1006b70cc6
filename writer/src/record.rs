//! A buffered record, where it came from, and how keys are shown in messages.

use std::cmp::Ordering;

use crate::error::Location;

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

/// What the merge, the duplicate check and run files need of a record, whether it
/// owns its bytes ([`InputRecord`], read back from a run) or borrows them from an
/// in-memory segment.
pub(crate) trait Record {
    /// The key bytes.
    fn key(&self) -> &[u8];
    /// The value bytes.
    fn value(&self) -> &[u8];
    /// Where the record came from; ordering by it is input order.
    fn origin(&self) -> Origin;
}

/// One record read back from a spilled run: key and value in a single exact-size
/// allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputRecord {
    data: Box<[u8]>,
    key_len: u32,
    pub(crate) origin: Origin,
}

impl InputRecord {
    /// Copies `key` and `value` into a new record. Keys are at most 64 KiB, so the
    /// length always fits.
    #[cfg(test)]
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
}

impl Record for InputRecord {
    fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }

    fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }

    fn origin(&self) -> Origin {
        self.origin
    }
}

/// The order records are merged in: key, then input order.
pub(crate) fn merge_order(a: &impl Record, b: &impl Record) -> Ordering {
    compare_keys(a.key(), b.key()).then_with(|| a.origin().cmp(&b.origin()))
}

/// True when a merge's head `a` comes before head `b`; an exhausted source
/// (`None`) comes after every record.
pub(crate) fn head_less<R: Record>(a: Option<&R>, b: Option<&R>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => merge_order(a, b) == Ordering::Less,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Orders keys as `a.cmp(b)` does (unsigned bytes, then length), eight bytes at a
/// time. The sorts and merges compare keys tens of times per record; for keys of a
/// few dozen bytes this inlined loop costs less than a call to `memcmp` each time.
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a_words, mut b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut a_words).zip(&mut b_words) {
        let x = u64::from_be_bytes(x.try_into().expect("8-byte chunk"));
        let y = u64::from_be_bytes(y.try_into().expect("8-byte chunk"));
        if x != y {
            return x.cmp(&y);
        }
    }
    let done = a.len().min(b.len()) / 8 * 8;
    for (x, y) in a[done..].iter().zip(&b[done..]) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
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
    }

    #[test]
    fn keys_compare_as_byte_slices_do() {
        let keys: Vec<Vec<u8>> = [
            &b""[..],
            b"a",
            b"ab",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefghijklmnopq",
            b"abcdefghijklmnopr",
            b"abcdefghijklmnop",
            &[0xff; 9],
            &[0x80, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0x7f; 16],
        ]
        .iter()
        .map(|k| k.to_vec())
        .collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
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
