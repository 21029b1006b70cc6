//! In-memory record storage: a shard's buffered records in segments, each one arena
//! of bytes plus one small fixed-size entry per record, and the merge that reads
//! sorted segments back in order without copying a record.
//!
//! A segment holds up to [`segment_bytes`] of keys and values (a larger record gets a
//! segment of its own). Its records cost no allocation each: the collector appends
//! their bytes to the arena, and the sort moves 24-byte entries, not records. A full
//! segment is sorted at once, on another thread, while the input is still being read
//! (see `collect.rs`).

use crate::record::{Origin, Record, compare_keys, head_less};
use crate::tournament::LoserTree;

/// Smallest and largest segment: see [`segment_bytes`].
const SEGMENT_BYTES_MIN: usize = 256 << 10;
const SEGMENT_BYTES_MAX: usize = 16 << 20;

/// Bytes of keys and values after which a shard's segment is sealed and sorted: an
/// eighth of the budget's share per shard, as a power of two between 256 KiB and
/// 16 MiB.
///
/// Smaller segments are sorted sooner (more of the sorting overlaps the reading);
/// larger ones leave fewer segments for each merge, and a merge's comparisons cost
/// more than a sort's. An eighth keeps a spill's merge to about eight segments per
/// shard.
pub(crate) fn segment_bytes(budget: u64, shards: usize) -> usize {
    let share = budget / shards.max(1) as u64 / 8;
    let share = usize::try_from(share).unwrap_or(usize::MAX);
    let bytes = share.clamp(SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
    1 << bytes.ilog2()
}

/// `value_len` of an entry whose value runs to the end of its segment's arena: a
/// record too large for a `u32` length, which always has a segment of its own.
const VALUE_TO_END: u32 = u32::MAX;

/// Where one record's bytes are in its segment, and where it came from.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The key's first eight bytes, big-endian, zero-padded: most comparisons of
    /// the sort end here, without reading the keys in the arena.
    prefix: u64,
    offset: u32,
    key_len: u32,
    value_len: u32,
    source: u32,
    line: u64,
}

/// Records in one arena: key bytes then value bytes, record after record.
#[derive(Debug, Default)]
pub(crate) struct Segment {
    data: Vec<u8>,
    entries: Vec<Entry>,
    sorted: bool,
}

/// A record read from a [`Segment`], borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    key: &'a [u8],
    value: &'a [u8],
    origin: Origin,
}

impl Record for RecordRef<'_> {
    fn key(&self) -> &[u8] {
        self.key
    }

    fn value(&self) -> &[u8] {
        self.value
    }

    fn origin(&self) -> Origin {
        self.origin
    }
}

impl Segment {
    /// An empty segment with room for `bytes` of keys and values and `records`
    /// entries: a shard's next segment after a full one, sized like it, so it never
    /// grows by copying.
    /// Both buffers are marked for huge pages (see `huge_pages.rs`).
    pub(crate) fn with_capacity(bytes: usize, records: usize) -> Self {
        let mut segment = Segment {
            data: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(records),
            sorted: false,
        };
        crate::huge_pages::advise(&mut segment.data);
        crate::huge_pages::advise(&mut segment.entries);
        segment
    }

    /// True when a record of `len` key and value bytes does not fit in the `limit`
    /// bytes of a segment (an empty segment takes any record).
    pub(crate) fn is_full_for(&self, len: usize, limit: usize) -> bool {
        !self.entries.is_empty() && self.data.len() + len > limit
    }

    /// Appends a record. The caller seals the segment first when it
    /// [`is_full_for`](Self::is_full_for) the record, so a segment over its limit
    /// holds one record only, and offsets fit a `u32`.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8], origin: Origin) {
        let offset = u32::try_from(self.data.len()).expect("segments stay under 4 GiB");
        let key_len = u32::try_from(key.len()).expect("keys are checked against the 64 KiB limit");
        let value_len = match u32::try_from(value.len()) {
            Ok(len) if len != VALUE_TO_END => len,
            _ => {
                debug_assert!(self.entries.is_empty(), "a huge record is alone");
                VALUE_TO_END
            }
        };
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.entries.push(Entry {
            prefix: key_prefix(key),
            offset,
            key_len,
            value_len,
            source: origin.source,
            line: origin.line,
        });
        self.sorted = false;
    }

    /// Bytes allocated for this segment: what the memory budget is charged.
    pub(crate) fn allocated(&self) -> u64 {
        (self.data.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()) as u64
    }

    /// The records in the segment's current order (input order until sorted).
    pub(crate) fn records(&self) -> impl Iterator<Item = RecordRef<'_>> {
        (0..self.len()).filter_map(|i| self.record(i))
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the segment holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts the records by key, then input order (the merge order).
    pub(crate) fn sort(&mut self) {
        if self.sorted {
            return;
        }
        let data = &self.data[..];
        self.entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| compare_keys(key_of(data, a), key_of(data, b)))
                .then_with(|| (a.source, a.line).cmp(&(b.source, b.line)))
        });
        self.sorted = true;
    }

    /// Hints the CPU to fetch the `i`th record's bytes (nothing past the end).
    fn prefetch_record(&self, i: usize) {
        if let Some(e) = self.entries.get(i) {
            tusk_format::prefetch_record(&self.data[e.offset as usize..]);
        }
    }

    /// The `i`th record in the segment's current order.
    fn record(&self, i: usize) -> Option<RecordRef<'_>> {
        let e = self.entries.get(i)?;
        let start = e.offset as usize;
        let key_end = start + e.key_len as usize;
        let end = if e.value_len == VALUE_TO_END {
            self.data.len()
        } else {
            key_end + e.value_len as usize
        };
        Some(RecordRef {
            key: &self.data[start..key_end],
            value: &self.data[key_end..end],
            origin: Origin {
                source: e.source,
                line: e.line,
            },
        })
    }
}

/// A key's first eight bytes as a big-endian number, zero-padded: keys whose
/// prefixes differ compare as their prefixes do; equal prefixes say nothing (a
/// short key and its zero-padded extension share one).
fn key_prefix(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(bytes)
}

fn key_of<'d>(data: &'d [u8], e: &Entry) -> &'d [u8] {
    let start = e.offset as usize;
    &data[start..start + e.key_len as usize]
}

/// Reads sorted segments as one stream ordered by key, then input order, borrowing
/// every record.
pub(crate) struct SegmentMerge<'a> {
    segments: &'a [Segment],
    next: Vec<usize>,
    heads: Vec<Option<RecordRef<'a>>>,
    tree: LoserTree,
}

impl<'a> SegmentMerge<'a> {
    /// Merges `segments`, each of which must be sorted.
    pub(crate) fn new(segments: &'a [Segment]) -> Self {
        debug_assert!(segments.iter().all(|s| s.sorted || s.len() < 2));
        let heads: Vec<_> = segments.iter().map(|s| s.record(0)).collect();
        let tree = LoserTree::new(segments.len(), |a, b| {
            head_less(heads[a].as_ref(), heads[b].as_ref())
        });
        SegmentMerge {
            segments,
            next: vec![1; segments.len()],
            heads,
            tree,
        }
    }

    /// The next record in merge order, or `None` at the end.
    pub(crate) fn next_record(&mut self) -> Option<RecordRef<'a>> {
        let source = self.tree.winner();
        let segment = self.segments.get(source)?;
        let next = &mut self.next[source];
        let rec = std::mem::replace(&mut self.heads[source], segment.record(*next))?;
        *next += 1;
        // A sorted segment's records sit at scattered places in its arena: fetch the
        // one after the new head now, so it is in cache when it becomes the head.
        segment.prefetch_record(*next);
        let heads = &self.heads;
        self.tree
            .replay(|a, b| head_less(heads[a].as_ref(), heads[b].as_ref()));
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(line: u64) -> Origin {
        Origin { source: 0, line }
    }

    fn drain(segments: &[Segment]) -> Vec<(String, String, u64)> {
        let mut merge = SegmentMerge::new(segments);
        let mut out = Vec::new();
        while let Some(r) = merge.next_record() {
            out.push((
                String::from_utf8(r.key().to_vec()).unwrap(),
                String::from_utf8(r.value().to_vec()).unwrap(),
                r.origin().line,
            ));
        }
        out
    }

    #[test]
    fn segments_sort_by_key_then_input_order_and_merge_in_that_order() {
        let mut a = Segment::default();
        for (line, (k, v)) in [("b", "1"), ("a", "2"), ("b", "3"), ("", "4")]
            .into_iter()
            .enumerate()
        {
            a.push(k.as_bytes(), v.as_bytes(), origin(line as u64 + 1));
        }
        let mut b = Segment::default();
        b.push(b"a", b"", origin(5));
        b.push(b"c", b"long value", origin(6));
        a.sort();
        b.sort();
        let got = drain(&[a, b]);
        let want = [
            ("", "4", 4),
            ("a", "2", 2),
            ("a", "", 5),
            ("b", "1", 1),
            ("b", "3", 3),
            ("c", "long value", 6),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v, l)| (k.to_string(), v.to_string(), *l))
            .collect();
        assert_eq!(got, want);
        assert!(drain(&[]).is_empty());
        assert!(drain(&[Segment::default(), Segment::default()]).is_empty());
    }

    #[test]
    fn segments_are_an_eighth_of_a_shards_budget_within_bounds() {
        assert_eq!(segment_bytes(1 << 30, 8), 16 << 20);
        assert_eq!(segment_bytes(256 << 20, 8), 4 << 20);
        assert_eq!(segment_bytes(200 << 20, 8), 2 << 20, "a power of two");
        assert_eq!(segment_bytes(4 << 20, 65_536), 256 << 10);
        assert_eq!(segment_bytes(u64::MAX, 1), 16 << 20);
        assert_eq!(segment_bytes(1 << 20, 0), 256 << 10);
    }

    #[test]
    fn a_segment_fills_at_its_limit_but_always_takes_a_first_record() {
        let limit = 1 << 20;
        let mut s = Segment::default();
        assert!(
            !s.is_full_for(limit * 2, limit),
            "an empty segment takes anything"
        );
        s.push(b"k", &vec![0u8; limit - 10], origin(1));
        assert!(!s.is_full_for(9, limit));
        assert!(s.is_full_for(10, limit));
        assert_eq!(s.len(), 1);
        assert!(s.allocated() >= limit as u64);
        let mut one = Segment::default();
        one.push(b"x", b"y", origin(1));
        assert_eq!(drain(&[one]), [("x".to_string(), "y".to_string(), 1)]);
    }

    #[test]
    fn a_value_too_long_for_a_u32_length_reads_to_the_end_of_its_segment() {
        // The `VALUE_TO_END` marker, exercised with a length that is the marker itself.
        let s = Segment {
            data: b"keyvalue".to_vec(),
            entries: vec![Entry {
                prefix: key_prefix(b"key"),
                offset: 0,
                key_len: 3,
                value_len: VALUE_TO_END,
                source: 0,
                line: 1,
            }],
            sorted: true,
        };
        let r = s.record(0).unwrap();
        assert_eq!((r.key(), r.value()), (&b"key"[..], &b"value"[..]));
    }
}
