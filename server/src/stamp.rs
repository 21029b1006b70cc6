//! The record of a node's own full check of a shard file: its size, inode and
//! modification time when the check passed. A restart trusts a file whose stamp
//! still matches (no byte is re-read before serving; the scrubber re-reads it in
//! the background) and checks every byte of one that does not (it was replaced or
//! written to since). The stamps of a version live beside its local manifest copy
//! in [`STAMPS`], written when the version was complete and checked.
//!
//! A write in place within the same file-system clock tick as the stamp (a few
//! milliseconds) keeps the mtime and goes unnoticed here; the scrubber's first pass
//! after the restart still finds it (and, in shard format 1, the record CRC on
//! every read).

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

/// File name of a version's stamps, in its local directory.
pub const STAMPS: &str = "STAMPS.json";

/// What a file looked like when its bytes were last fully checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub bytes: u64,
    /// Inode number (a file replaced by rename gets another).
    pub inode: u64,
    /// Last modification, nanoseconds since the Unix epoch (a write in place moves it).
    pub mtime_ns: i64,
}

impl FileStamp {
    /// The stamp of a file as `meta` shows it now.
    pub fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            bytes: meta.len(),
            inode: meta.ino(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
        }
    }
}

/// Stamps of a version's shard files, by object name.
pub type Stamps = BTreeMap<String, FileStamp>;

/// Whether a file whose stamp is `now` may be served on the strength of an earlier
/// full check stamped `recorded`: only when there is such a record and the file
/// is still exactly the one it describes.
pub fn trusts(recorded: Option<&FileStamp>, now: &FileStamp) -> bool {
    recorded == Some(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: FileStamp = FileStamp {
        bytes: 100,
        inode: 7,
        mtime_ns: 1_700_000_000_123_456_789,
    };

    #[test]
    fn only_the_very_file_that_was_checked_is_trusted() {
        assert!(trusts(Some(&STAMP), &STAMP));
        assert!(!trusts(None, &STAMP), "no record: check it");
        let written = FileStamp {
            mtime_ns: STAMP.mtime_ns + 1,
            ..STAMP
        };
        assert!(!trusts(Some(&STAMP), &written), "written in place");
        let replaced = FileStamp { inode: 8, ..STAMP };
        assert!(!trusts(Some(&STAMP), &replaced), "replaced by rename");
        let resized = FileStamp { bytes: 99, ..STAMP };
        assert!(!trusts(Some(&STAMP), &resized));
    }

    #[test]
    fn a_stamp_reads_the_file_and_survives_json() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("f");
        std::fs::write(&path, b"12345").expect("write");
        let stamp = FileStamp::of(&std::fs::metadata(&path).expect("stat"));
        assert_eq!(stamp.bytes, 5);
        let json = serde_json::to_string(&Stamps::from([("f".to_string(), stamp)])).expect("json");
        let back: Stamps = serde_json::from_str(&json).expect("parses");
        assert_eq!(back["f"], stamp);
    }
}
