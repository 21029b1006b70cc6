//! The hash index: an array of 64-byte buckets of 8 little-endian u64 slots.
//!
//! A slot is `tag << 48 | filter_bit << 47 | record_offset` in version 1, and
//! `tag << 48 | filter_bit << 47 | record_check << 40 | record_offset` in version 2
//! (offset 0 = empty, since offset 0 is the header). A key lives in its home bucket
//! `(xxh3_64(key) * nbuckets) >> 64` when that has room. Otherwise it sets one bit of
//! the home bucket's 8-bit overflow filter (bit 47 of slot `filter_bit(h)`) and goes to
//! the first bucket with an empty slot from its second bucket on (linear probing,
//! wrapping). A miss reads the home bucket only, unless the key's filter bit is set
//! there; see FORMAT.md for the numbers.

use crate::layout::{
    BUCKET_LEN, OVERFLOW_BIT, SLOTS, filter_bit, home_bucket, second_bucket, tag_of,
};
use crate::{FormatError, Result, ShardFormat};

/// Places `(hash, low bits)` entries into `nbuckets * 8` slots. The low bits are the
/// slot's bits 0..47: the record offset (non-zero), and in version 2 its check.
///
/// The caller sizes `nbuckets` so that entries fit (load factor 0.8); surplus entries
/// would be dropped, so this asserts in debug builds.
pub(crate) fn build(entries: &[(u64, u64)], nbuckets: u64) -> Vec<u64> {
    let nb = usize::try_from(nbuckets).expect("bucket count fits memory");
    debug_assert!(entries.len() <= nb * SLOTS);
    let mut slots = vec![0u64; nb * SLOTS];
    for &(h, low) in entries {
        let entry = (tag_of(h) << 48) | low;
        let home = home_bucket(h, nbuckets) as usize;
        if place(&mut slots[home * SLOTS..(home + 1) * SLOTS], entry) {
            continue;
        }
        slots[home * SLOTS + filter_bit(h) as usize] |= OVERFLOW_BIT;
        let mut b = second_bucket(h, nbuckets) as usize;
        for _ in 0..nb {
            if place(&mut slots[b * SLOTS..(b + 1) * SLOTS], entry) {
                break;
            }
            b += 1;
            if b == nb {
                b = 0;
            }
        }
    }
    slots
}

/// Puts `entry` in the first empty slot of `bucket`, keeping its overflow bit.
fn place(bucket: &mut [u64], entry: u64) -> bool {
    for slot in bucket {
        if *slot & !OVERFLOW_BIT == 0 {
            *slot |= entry;
            return true;
        }
    }
    false
}

/// The index of an open file, for lookups. `offset + 64 * nbuckets` lies inside `file`
/// (checked by `open`); every access is still a checked slice.
#[derive(Clone, Copy)]
pub(crate) struct IndexView<'a> {
    /// The whole file.
    pub file: &'a [u8],
    /// Offset of bucket 0.
    pub offset: usize,
    /// Number of buckets (>= 1).
    pub nbuckets: u64,
    /// The file's format, which says what a slot's low 47 bits hold.
    pub format: ShardFormat,
}

/// What one bucket said about a key.
enum Scan<T> {
    /// The visitor accepted a slot.
    Found(T),
    /// Not here, and the bucket has an empty slot (an overflow chain ends here).
    HasEmpty,
    /// Not here, and every slot is taken.
    Full,
}

impl<'a> IndexView<'a> {
    /// Walks the lookup path of index hash `h`, calling `visit(record_offset, slot)`
    /// for each non-empty slot whose tag matches, until `visit` returns `Some` or the
    /// path ends.
    ///
    /// The path: the home bucket; then, only if the key's filter bit is set there, the
    /// buckets from the second bucket on up to the first one with an empty slot. The
    /// walk is bounded by the bucket count, so a damaged full index cannot loop.
    #[inline(always)]
    pub fn probe<T>(
        &self,
        h: u64,
        mut visit: impl FnMut(u64, u64) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let tag = tag_of(h);
        let mask = self.format.offset_mask();
        let home = self.bucket(home_bucket(h, self.nbuckets))?;
        if let Scan::Found(v) = scan(home, tag, mask, &mut visit)? {
            return Ok(Some(v));
        }
        // Only keys whose filter bit is set in their home bucket went anywhere else.
        let (slots, _) = home.as_chunks::<8>();
        if u64::from_le_bytes(slots[filter_bit(h) as usize]) & OVERFLOW_BIT == 0 {
            return Ok(None);
        }
        let mut b = second_bucket(h, self.nbuckets);
        for _ in 0..self.nbuckets {
            match scan(self.bucket(b)?, tag, mask, &mut visit)? {
                Scan::Found(v) => return Ok(Some(v)),
                Scan::HasEmpty => return Ok(None),
                Scan::Full => {}
            }
            b += 1;
            if b == self.nbuckets {
                b = 0;
            }
        }
        Ok(None)
    }

    /// Hints the CPU to fetch hash `h`'s home bucket into its cache; does not
    /// wait for it and reads nothing.
    #[inline(always)]
    pub fn prefetch_bucket(&self, h: u64) {
        if let Ok(bucket) = self.bucket(home_bucket(h, self.nbuckets)) {
            prefetch(bucket);
        }
    }

    /// Reads hash `h`'s home bucket (best fetched first with
    /// [`IndexView::prefetch_bucket`]) and calls `each(record_offset)` for every
    /// slot whose tag matches: the records a lookup will read first.
    #[inline(always)]
    pub fn candidates(&self, h: u64, mut each: impl FnMut(u64)) {
        if let Ok(bucket) = self.bucket(home_bucket(h, self.nbuckets)) {
            // A visitor that accepts nothing sees every tag-matching slot.
            let mask = self.format.offset_mask();
            let _ = scan(bucket, tag_of(h), mask, &mut |offset, _| {
                each(offset);
                Ok(None::<()>)
            });
        }
    }

    /// The 64 bytes of bucket `b` (< nbuckets).
    #[inline(always)]
    fn bucket(&self, b: u64) -> Result<&'a [u8; BUCKET_LEN]> {
        let start = (b as usize)
            .checked_mul(BUCKET_LEN)
            .and_then(|x| x.checked_add(self.offset));
        start
            .and_then(|s| self.file.get(s..s.checked_add(BUCKET_LEN)?))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| FormatError::Corrupt {
                detail: format!("index bucket {b} lies outside the file"),
            })
    }
}

/// Hints the CPU to fetch the cache line holding `bytes[0]` (none when empty).
/// A hint only: it never faults, never waits and changes nothing but timing.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never dereferences in the language's sense: it does not
    // fault on any address and writes nothing; SSE is part of every x86_64 target.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast());
    }
}

/// Hints the CPU to fetch the cache lines of the first
/// [`PREFETCH_RECORD_BYTES`](crate::PREFETCH_RECORD_BYTES) of `bytes`: a record about
/// to be read, here or in the writer's merges. A hint only, like [`prefetch`].
#[inline(always)]
pub fn prefetch_record(bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(crate::PREFETCH_RECORD_BYTES)];
    for line in bytes.chunks(64) {
        prefetch(line);
    }
}

/// Offers each tag-matching slot of one bucket to `visit(offset, slot)`; `mask`
/// selects a slot's offset bits.
#[inline(always)]
fn scan<T>(
    bucket: &[u8; BUCKET_LEN],
    tag: u64,
    mask: u64,
    visit: &mut impl FnMut(u64, u64) -> Result<Option<T>>,
) -> Result<Scan<T>> {
    let (slots, _) = bucket.as_chunks::<8>();
    let mut has_empty = false;
    for slot in slots {
        let s = u64::from_le_bytes(*slot);
        let offset = s & mask;
        if offset == 0 {
            has_empty = true;
        } else if s >> 48 == tag
            && let Some(v) = visit(offset, s)?
        {
            return Ok(Scan::Found(v));
        }
    }
    Ok(if has_empty {
        Scan::HasEmpty
    } else {
        Scan::Full
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{OFFSET_MASK, buckets_for, index_hash};

    /// Buckets a lookup of hash `h` reads: the home bucket, then (if the key's filter
    /// bit is set there) the chain from its second bucket up to the bucket holding
    /// `want` (an offset) or the first bucket with an empty slot.
    fn probe_len(slots: &[u64], nb: u64, h: u64, want: Option<u64>) -> u64 {
        let bucket = |b: usize| &slots[b * SLOTS..(b + 1) * SLOTS];
        let holds = |b: usize| want.is_some_and(|w| bucket(b).iter().any(|s| s & OFFSET_MASK == w));
        let home = home_bucket(h, nb) as usize;
        if holds(home) {
            return 1;
        }
        if bucket(home)[filter_bit(h) as usize] & OVERFLOW_BIT == 0 {
            assert!(want.is_none(), "stored entry not found");
            return 1;
        }
        let mut b = second_bucket(h, nb) as usize;
        for n in 2..=nb + 1 {
            if holds(b) {
                return n;
            }
            if bucket(b).iter().any(|&s| s & OFFSET_MASK == 0) {
                assert!(want.is_none(), "stored entry not found");
                return n;
            }
            b = (b + 1) % nb as usize;
        }
        nb + 1
    }

    #[test]
    fn every_entry_is_found_and_probes_are_short() {
        let n = 100_000u64;
        let nb = buckets_for(n);
        let entries: Vec<(u64, u64)> = (0..n)
            .map(|i| (index_hash(format!("key-{i}").as_bytes()), 16 + i))
            .collect();
        let slots = build(&entries, nb);
        assert_eq!(
            slots.iter().filter(|&&s| s & OFFSET_MASK != 0).count() as u64,
            n
        );
        let hit: u64 = entries
            .iter()
            .map(|&(h, off)| probe_len(&slots, nb, h, Some(off)))
            .sum();
        let miss: u64 = (0..n)
            .map(|i| {
                probe_len(
                    &slots,
                    nb,
                    index_hash(format!("absent-{i}").as_bytes()),
                    None,
                )
            })
            .sum();
        let (hit, miss) = (hit as f64 / n as f64, miss as f64 / n as f64);
        println!("load 0.8: {hit:.3} buckets per hit, {miss:.3} buckets per miss");
        // At load 0.8 about 1.1 buckets per hit and per miss (simulated and measured).
        assert!(hit < 1.2, "hit probes {hit}");
        assert!(miss < 1.2, "miss probes {miss}");
    }

    #[test]
    fn a_full_table_still_places_everything() {
        let entries: Vec<(u64, u64)> = (0..16u64).map(|i| (0, 16 + i)).collect();
        let slots = build(&entries, 2);
        assert!(slots.iter().all(|&s| s & OFFSET_MASK != 0));
    }
}
