//! Asks the kernel to back the writer's large buffers with transparent huge pages.
//!
//! A segment's arena is 16 MiB read at scattered places: the sort compares keys
//! all over it and the merge reads its records in key order, not in the order they
//! were appended. In 4 KiB pages every such access is a TLB miss as well as a cache
//! miss, and filling the arena takes a page fault per 4 KiB. On a kernel whose
//! transparent huge pages are in `madvise` mode (the common default) only memory
//! marked with `MADV_HUGEPAGE` gets 2 MiB pages. BENCHMARKS.md ("Writer build rate")
//! has the figures.
//!
//! The hint changes nothing but the page size: no byte, no length, no ownership.
//! Where it is refused (huge pages disabled, another OS), nothing else changes.

/// Smallest buffer worth the hint: one huge page.
const HUGE_PAGE: usize = 2 << 20;

/// Marks the part of `buf`'s allocation that covers whole 4 KiB pages for
/// transparent huge pages. Buffers smaller than one huge page are left alone.
pub(crate) fn advise<T>(buf: &mut Vec<T>) {
    let bytes = buf.capacity() * std::mem::size_of::<T>();
    if bytes < HUGE_PAGE {
        return;
    }
    let start = buf.as_mut_ptr() as usize;
    sys::advise_huge(start, start + bytes);
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::{c_int, c_void};

    /// `MADV_HUGEPAGE` on every Linux architecture.
    const MADV_HUGEPAGE: c_int = 14;
    const PAGE: usize = 4096;

    // SAFETY: the libc prototype (glibc and musl).
    unsafe extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }

    /// Advises huge pages for the whole pages inside `[start, end)`.
    pub(super) fn advise_huge(start: usize, end: usize) {
        let first = start.next_multiple_of(PAGE);
        let last = end / PAGE * PAGE;
        if last <= first {
            return;
        }
        // SAFETY: `[first, last)` lies inside one live allocation the caller
        // holds, page-aligned as madvise requires. MADV_HUGEPAGE only sets a flag
        // on the mapping: it never changes, frees or moves the memory.
        let refused = unsafe { madvise(first as *mut c_void, last - first, MADV_HUGEPAGE) } != 0;
        if refused {
            tracing::trace!(
                error = %std::io::Error::last_os_error(),
                "huge pages refused for a writer buffer"
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    /// Transparent huge pages are a Linux feature.
    pub(super) fn advise_huge(_start: usize, _end: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advising_leaves_the_buffer_as_it_was() {
        let mut big: Vec<u8> = Vec::with_capacity(HUGE_PAGE * 3 + 123);
        big.extend_from_slice(b"kept");
        let (ptr, cap) = (big.as_ptr(), big.capacity());
        advise(&mut big);
        assert_eq!(
            (big.as_ptr(), big.capacity(), &big[..]),
            (ptr, cap, &b"kept"[..])
        );
        big.resize(cap, 7);
        assert!(big[4..].iter().all(|&b| b == 7));
        let mut small = vec![1u64; 10];
        advise(&mut small);
        assert_eq!(small, [1; 10]);
    }
}
