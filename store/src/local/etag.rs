//! ETags of the local-directory store.
//!
//! One rule, applied the same way by every operation, so an ETag from `put`, `get`,
//! `head` or `list` can be handed back to `UpdateIf` or `get_if_changed`:
//!
//! - objects of at most [`CONTENT_ETAG_LIMIT`] bytes (CURRENT, history records,
//!   manifests): `c<xxh3_64 of the bytes, 16 hex digits>-<size in hex>`. It changes
//!   exactly when the content changes.
//! - bigger objects (shards): `m<size>-<mtime ns>-<inode>` (hex), from the file's
//!   metadata, so `head`/`list` never read a whole shard. Every write of this store
//!   goes to a new file that is renamed into place, so a rewrite normally changes the
//!   inode and the mtime; the residual risk is a rewrite with the same size that
//!   reuses a freed inode within the filesystem's timestamp granularity.

use std::fs::Metadata;
use std::time::UNIX_EPOCH;

/// Objects up to this size get a content-derived ETag.
pub(crate) const CONTENT_ETAG_LIMIT: u64 = 1 << 20;

/// Whether an object of `size` bytes gets a content-derived ETag.
pub(crate) fn is_content_etag(size: u64) -> bool {
    size <= CONTENT_ETAG_LIMIT
}

/// Content ETag of `bytes`.
pub(crate) fn content_etag(bytes: &[u8]) -> String {
    format!(
        "c{:016x}-{:x}",
        xxhash_rust::xxh3::xxh3_64(bytes),
        bytes.len()
    )
}

/// Metadata ETag of a (big) file.
pub(crate) fn metadata_etag(meta: &Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("m{:x}-{mtime:x}-{:x}", meta.len(), inode(meta))
}

#[cfg(unix)]
fn inode(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_etag_changes_with_content_of_same_length() {
        assert_ne!(content_etag(b"abcd"), content_etag(b"abce"));
        assert_eq!(content_etag(b"abcd"), content_etag(b"abcd"));
        assert!(content_etag(b"").ends_with("-0"));
    }

    #[test]
    fn limit_splits_small_and_big() {
        assert!(is_content_etag(0));
        assert!(is_content_etag(CONTENT_ETAG_LIMIT));
        assert!(!is_content_etag(CONTENT_ETAG_LIMIT + 1));
    }
}
