//! Sequential scan over a shard's records in key order.

use crate::layout::DATA_START;
use crate::{FormatError, Result, ShardFormat, record};

/// Iterator over a shard's records in key order. Yields an error (then stops) on a
/// corrupt record (in version 2: on damaged framing or key order; the values' bytes
/// are checked by [`crate::Shard::verify`]).
pub struct Iter<'a> {
    file: &'a [u8],
    format: ShardFormat,
    pos: usize,
    data_end: usize,
    remaining: u64,
    prev: Option<&'a [u8]>,
    done: bool,
}

impl<'a> Iter<'a> {
    pub(crate) fn new(file: &'a [u8], format: ShardFormat, data_end: usize, records: u64) -> Self {
        Iter {
            file,
            format,
            pos: DATA_START as usize,
            data_end,
            remaining: records,
            prev: None,
            done: false,
        }
    }

    fn step(&mut self) -> Option<Result<(&'a [u8], &'a [u8])>> {
        if self.pos >= self.data_end {
            if self.remaining != 0 {
                return Some(Err(FormatError::Corrupt {
                    detail: format!(
                        "data region ends at offset {} with {} of the footer's records missing",
                        self.data_end, self.remaining
                    ),
                }));
            }
            return None;
        }
        if self.remaining == 0 {
            return Some(Err(FormatError::Corrupt {
                detail: format!("more records than the footer says, at offset {}", self.pos),
            }));
        }
        let rec = match record::read(self.file, self.pos, self.data_end, self.format) {
            Ok(rec) => rec,
            Err(e) => return Some(Err(e)),
        };
        if let Some(prev) = self.prev
            && prev >= rec.key
        {
            return Some(Err(FormatError::Corrupt {
                detail: format!(
                    "record at offset {}: key not above the previous key",
                    self.pos
                ),
            }));
        }
        self.prev = Some(rec.key);
        self.pos = rec.end;
        self.remaining -= 1;
        Some(Ok((rec.key, rec.value)))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl std::iter::FusedIterator for Iter<'_> {}
