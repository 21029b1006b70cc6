//! The resume sidecar `<dest>.part.progress`: which chunks of `<dest>.part` hold
//! verified bytes of which object.
//!
//! A small JSON document, replaced atomically (write `.tmp`, rename; no fsync):
//!
//! ```json
//! {"format": 1, "key": "pages/versions/v2/shard-00003.tsk", "etag": "m1f4-…",
//!  "size": 25165824, "chunk_size": 8388608,
//!  "chunks": [{"index": 0, "crc32": 3735928559}, {"index": 2, "crc32": 305419896}]}
//! ```
//!
//! A chunk is listed only after its bytes were written to the `.part` file. Neither
//! the chunk nor the sidecar is fsynced (the whole file is synced once, before its
//! rename), so after a crash a listed chunk may be missing or torn on disk, and the
//! sidecar itself may be old, empty or torn. None of that is trusted: a resume
//! re-reads every listed chunk from disk and keeps it only if its CRC32 still
//! matches, and a sidecar that does not parse starts the download over. A crash
//! costs refetching, never a wrong byte.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// Version of the sidecar document.
const FORMAT: u32 = 1;

/// One verified chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChunkCrc {
    /// Chunk number (offset = index * chunk_size).
    pub index: u64,
    /// CRC32 of the chunk's bytes.
    pub crc32: u32,
}

/// The sidecar's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VerifiedChunks {
    format: u32,
    /// Object key.
    pub key: String,
    /// The object's ETag when the download started.
    pub etag: String,
    /// Object size.
    pub size: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Verified chunks (any order).
    pub chunks: Vec<ChunkCrc>,
}

impl VerifiedChunks {
    /// The ledger of a fresh download: no chunk done.
    pub fn new(key: &str, etag: &str, size: u64, chunk_size: u64) -> VerifiedChunks {
        VerifiedChunks {
            format: FORMAT,
            key: key.to_string(),
            etag: etag.to_string(),
            size,
            chunk_size,
            chunks: Vec::new(),
        }
    }

    /// True when this sidecar describes the same object bytes cut the same way.
    pub fn matches(&self, other: &VerifiedChunks) -> bool {
        self.format == other.format
            && self.key == other.key
            && self.etag == other.etag
            && self.size == other.size
            && self.chunk_size == other.chunk_size
    }
}

/// `<part>.progress`
pub(crate) fn sidecar_path(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_owned();
    name.push(".progress");
    PathBuf::from(name)
}

/// Reads the sidecar; `None` when it is missing or unreadable (a torn or foreign
/// file only means starting over).
pub(crate) fn read(path: &Path) -> Option<VerifiedChunks> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(progress) => Some(progress),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable download progress file");
            None
        }
    }
}

/// Replaces the sidecar atomically: temp file, rename. Nothing is fsynced: after a
/// crash an older, empty or torn sidecar may come back, which only costs fetching
/// chunks again (see the module docs).
pub(crate) fn write(path: &Path, progress: &VerifiedChunks) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let json = serde_json::to_vec(progress).map_err(|e| StoreError::io(path, e.into()))?;
    let mut file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    file.write_all(&json).map_err(|e| StoreError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
}

/// Re-reads every chunk `progress` lists from `part` and keeps those whose CRC32
/// still matches. Returns the kept chunks, sorted by index.
pub(crate) fn verify_on_disk(part: &Path, file: &File, progress: &VerifiedChunks) -> Vec<ChunkCrc> {
    let chunk_count = progress.size.div_ceil(progress.chunk_size);
    let mut listed = progress.chunks.clone();
    listed.sort_by_key(|c| c.index);
    listed.dedup_by_key(|c| c.index);
    let mut buf = Vec::new();
    let mut kept = Vec::with_capacity(listed.len());
    for chunk in listed {
        if chunk.index >= chunk_count {
            continue;
        }
        let offset = chunk.index * progress.chunk_size;
        let len = progress.chunk_size.min(progress.size - offset);
        // len <= chunk_size, which a download keeps in memory anyway.
        buf.resize(len as usize, 0);
        match file.read_exact_at(&mut buf, offset) {
            Ok(()) if crc32fast::hash(&buf) == chunk.crc32 => kept.push(chunk),
            Ok(()) => {
                tracing::warn!(path = %part.display(), chunk = chunk.index, offset,
                    "chunk on disk no longer matches its recorded crc32; fetching it again");
            }
            Err(e) => {
                tracing::warn!(path = %part.display(), chunk = chunk.index, offset, error = %e,
                    "cannot re-read a downloaded chunk; fetching it again");
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_only_the_same_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.part.progress");
        let mut p = VerifiedChunks::new("d/versions/v/shard-00000.tsk", "e1", 100, 10);
        p.chunks.push(ChunkCrc { index: 3, crc32: 7 });
        write(&path, &p).expect("write");
        let back = read(&path).expect("read");
        assert_eq!(back, p);
        assert!(back.matches(&VerifiedChunks::new(&p.key, "e1", 100, 10)));
        assert!(!back.matches(&VerifiedChunks::new(&p.key, "e2", 100, 10)));
        assert!(!back.matches(&VerifiedChunks::new(&p.key, "e1", 101, 10)));
        assert!(!back.matches(&VerifiedChunks::new(&p.key, "e1", 100, 20)));
        assert!(!back.matches(&VerifiedChunks::new("other", "e1", 100, 10)));
    }

    #[test]
    fn a_torn_sidecar_reads_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.part.progress");
        std::fs::write(&path, b"{\"format\":1,\"key\":").expect("write");
        assert!(read(&path).is_none());
        assert!(read(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn only_chunks_still_matching_on_disk_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let part = dir.path().join("x.part");
        let data: Vec<u8> = (0..25u8).collect();
        std::fs::write(&part, &data).expect("write part");
        let mut p = VerifiedChunks::new("k", "e", 25, 10);
        p.chunks = vec![
            ChunkCrc {
                index: 2,
                crc32: crc32fast::hash(&data[20..]),
            },
            ChunkCrc {
                index: 0,
                crc32: crc32fast::hash(&data[..10]),
            },
            ChunkCrc {
                index: 1,
                crc32: 0xdead_beef,
            },
            ChunkCrc { index: 9, crc32: 0 },
        ];
        let file = File::open(&part).expect("open");
        let kept = verify_on_disk(&part, &file, &p);
        assert_eq!(kept.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 2]);
    }
}
