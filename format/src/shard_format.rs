//! The versions of the shard layout: what a file's header says and a manifest's
//! `shard_format` names.
//!
//! | version | name | records | index slot |
//! |---|---|---|---|
//! | 1 | `tusk-native-v1` | lengths, key, value, CRC32 seeded with the offset | tag, filter bit, 47-bit offset |
//! | 2 | `tusk-native-v2` | lengths, key, value | tag, filter bit, 7-bit record check, 40-bit offset |
//!
//! Every build reads every version; [`ShardFormat::default`] is the one a writer
//! writes unless told otherwise. FORMAT.md says why version 2 exists.

use std::fmt;
use std::str::FromStr;

/// A version of the shard file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShardFormat {
    /// Version 1: each record ends with a CRC32 of its bytes, seeded with its
    /// offset; an index slot holds a 47-bit record offset.
    V1,
    /// Version 2, the default: no per-record CRC (the block CRCs cover the records
    /// when a server verifies the file, the scrubber later); an index slot holds a
    /// 40-bit record offset and a 7-bit check of the record's offset and lengths,
    /// which every lookup compares. 4 bytes less per record than version 1.
    #[default]
    V2,
}

impl ShardFormat {
    /// Every version this build reads, oldest first.
    pub const ALL: [ShardFormat; 2] = [ShardFormat::V1, ShardFormat::V2];

    /// The version number in a file's header.
    pub fn version(self) -> u16 {
        match self {
            ShardFormat::V1 => 1,
            ShardFormat::V2 => 2,
        }
    }

    /// The format of header version `version`, if this build reads it.
    pub fn from_version(version: u16) -> Option<ShardFormat> {
        ShardFormat::ALL
            .into_iter()
            .find(|f| f.version() == version)
    }

    /// The newest version this build reads and writes.
    pub fn newest() -> ShardFormat {
        ShardFormat::ALL[ShardFormat::ALL.len() - 1]
    }

    /// The name a manifest records in `shard_format`, e.g. `tusk-native-v2`.
    pub fn name(self) -> &'static str {
        match self {
            ShardFormat::V1 => "tusk-native-v1",
            ShardFormat::V2 => "tusk-native-v2",
        }
    }

    /// The format a manifest's `shard_format` names, if this build reads it.
    pub fn from_name(name: &str) -> Option<ShardFormat> {
        ShardFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Bytes after a record's value: the record CRC of version 1, nothing after.
    #[inline(always)]
    pub(crate) fn record_crc_len(self) -> usize {
        match self {
            ShardFormat::V1 => 4,
            ShardFormat::V2 => 0,
        }
    }

    /// The bits of an index slot that hold the record offset.
    #[inline(always)]
    pub(crate) fn offset_mask(self) -> u64 {
        match self {
            ShardFormat::V1 => crate::layout::OFFSET_MASK,
            ShardFormat::V2 => crate::layout::V2_OFFSET_MASK,
        }
    }

    /// The smallest record: two one-byte lengths and the trailer.
    pub(crate) fn min_record_len(self) -> u64 {
        2 + self.record_crc_len() as u64
    }
}

impl fmt::Display for ShardFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name no build of tusk gives a shard format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown shard format {0:?} (this build reads tusk-native-v1 and tusk-native-v2)")]
pub struct UnknownShardFormat(pub String);

impl FromStr for ShardFormat {
    type Err = UnknownShardFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShardFormat::from_name(s).ok_or_else(|| UnknownShardFormat(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_round_trip() {
        for f in ShardFormat::ALL {
            assert_eq!(ShardFormat::from_version(f.version()), Some(f));
            assert_eq!(ShardFormat::from_name(f.name()), Some(f));
            assert_eq!(f.to_string().parse::<ShardFormat>(), Ok(f));
        }
        assert_eq!(ShardFormat::from_version(3), None);
        assert_eq!(ShardFormat::newest(), ShardFormat::V2);
        assert_eq!(ShardFormat::default(), ShardFormat::V2);
        let err = "tusk-native-v9".parse::<ShardFormat>().unwrap_err();
        assert!(err.to_string().contains("tusk-native-v9"), "{err}");
        // The message lists every format this build reads (it is written out:
        // a new version must be added there too).
        for f in ShardFormat::ALL {
            assert!(err.to_string().contains(f.name()), "{err} lacks {f}");
        }
    }
}
