//! The hash index: an array of 64-byte buckets of 8 little-endian u64 slots.
//!
//! A slot is `tag << 48 | record_offset` (offset 0 = empty, since offset 0 is the
//! header). A key's home bucket is `(xxh3_64(key) * nbuckets) >> 64`; collisions go to
//! the next bucket (wrapping). A lookup stops at the first bucket with an empty slot.

use crate::layout::{SLOTS, home_bucket, tag_of};

/// Places `(hash, offset)` entries into `nbuckets * 8` slots.
///
/// The caller sizes `nbuckets` so that entries fit (load factor 0.8); if they did not,
/// the surplus would be dropped, so this asserts in debug builds.
pub(crate) fn build(entries: &[(u64, u64)], nbuckets: u64) -> Vec<u64> {
    let nb = usize::try_from(nbuckets).expect("bucket count fits memory");
    debug_assert!(entries.len() <= nb * SLOTS);
    let mut slots = vec![0u64; nb * SLOTS];
    for &(h, offset) in entries {
        let mut b = home_bucket(h, nbuckets) as usize;
        'probe: for _ in 0..nb {
            let bucket = &mut slots[b * SLOTS..(b + 1) * SLOTS];
            for slot in bucket.iter_mut() {
                if *slot == 0 {
                    *slot = (tag_of(h) << 48) | offset;
                    break 'probe;
                }
            }
            b += 1;
            if b == nb {
                b = 0;
            }
        }
    }
    slots
}
