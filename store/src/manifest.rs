//! `MANIFEST.json`: the complete description of one committed version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// Schema version of `MANIFEST.json` written by this build. Version 2 added each
/// shard's [`ShardEntry::content_hash`]; this build reads versions 1 and 2.
pub const MANIFEST_FORMAT_VERSION: u32 = 2;

/// The oldest `MANIFEST.json` schema version this build reads.
const OLDEST_READABLE_FORMAT_VERSION: u32 = 1;

/// Which partitioner maps keys to shards. Recorded in every manifest and never
/// changed for it (invariant 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionerSpec {
    /// Partitioner name; `xxh64-pmod` is the only one today.
    pub kind: String,
    /// Hash seed (42, as Spark).
    pub seed: u64,
}

impl Default for PartitionerSpec {
    fn default() -> Self {
        PartitionerSpec {
            kind: tusk_format::partition::PARTITIONER_NAME.to_string(),
            seed: tusk_format::partition::SPARK_SEED,
        }
    }
}

/// One shard of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// Shard number, `0..shard_count`.
    pub index: u32,
    /// Object name inside the version directory, e.g. `shard-00000.tsk`.
    pub object: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Number of records.
    pub records: u64,
    /// CRC32 (IEEE, crc32fast) of the whole file.
    pub crc32: u32,
    /// XXH3-128 of the whole file ([`tusk_format::content_hash`]): with the size and
    /// CRC32, what identifies the bytes, so a server reuses a shard it already holds
    /// instead of downloading an equal one. Present in every shard of a format 2
    /// manifest, absent from format 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<ContentHash>,
}

impl ShardEntry {
    /// Whether `self` and `other` describe the same bytes: equal size, CRC32 and
    /// content hash. Never true without a content hash on both: size and CRC32
    /// alone do not identify a file (a CRC32 is 32 bits, and easy to collide).
    pub fn same_bytes_as(&self, other: &ShardEntry) -> bool {
        self.bytes == other.bytes
            && self.crc32 == other.crc32
            && self.content_hash.is_some()
            && self.content_hash == other.content_hash
    }
}

/// A shard's content hash: XXH3-128 of the whole file. In JSON, `"xxh3-128:"`
/// followed by 32 lowercase hex digits, so the algorithm travels with the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub u128);

/// The prefix naming the algorithm in a [`ContentHash`]'s text form.
const CONTENT_HASH_PREFIX: &str = "xxh3-128:";

impl ContentHash {
    /// The content hash of `bytes`, a whole shard file.
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(tusk_format::content_hash(bytes))
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{CONTENT_HASH_PREFIX}{:032x}", self.0)
    }
}

impl std::str::FromStr for ContentHash {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<ContentHash, String> {
        let hex = s.strip_prefix(CONTENT_HASH_PREFIX).ok_or_else(|| {
            format!("content hash {s:?} does not start with {CONTENT_HASH_PREFIX:?}")
        })?;
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "content hash {s:?}: expected 32 lowercase hex digits after {CONTENT_HASH_PREFIX:?}"
            ));
        }
        u128::from_str_radix(hex, 16)
            .map(ContentHash)
            .map_err(|e| format!("content hash {s:?}: {e}"))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The manifest of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Schema version of this document ([`MANIFEST_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Domain name.
    pub domain: String,
    /// Version id.
    pub version: String,
    /// Number of shards.
    pub shard_count: u32,
    /// How keys map to shards.
    pub partitioner: PartitionerSpec,
    /// Shard file format: `tusk-native-v2`, or `tusk-native-v1` (the names of
    /// [`tusk_format::ShardFormat`]). A server that does not know the name refuses
    /// the version and keeps serving the one it has.
    pub shard_format: String,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Total records over all shards.
    pub records: u64,
    /// Total bytes over all shards.
    pub bytes: u64,
    /// Free-form metadata from the writer (tool, version, host, inputs, ...).
    #[serde(default)]
    pub writer: BTreeMap<String, String>,
    /// Every shard, in index order.
    pub shards: Vec<ShardEntry>,
}

impl Manifest {
    /// The manifest of a version of `domain` made of `shards` (in index order), in
    /// the native shard format with the standard partitioner: the shard count and the
    /// record and byte totals are computed from `shards`. `created_at` is RFC 3339
    /// UTC; the writer metadata starts empty.
    pub fn new(
        domain: impl Into<String>,
        version: impl Into<String>,
        created_at: impl Into<String>,
        shards: Vec<ShardEntry>,
    ) -> Manifest {
        Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            domain: domain.into(),
            version: version.into(),
            shard_count: u32::try_from(shards.len()).expect("a version has fewer than 2^32 shards"),
            partitioner: PartitionerSpec::default(),
            shard_format: tusk_format::ShardFormat::default().name().to_string(),
            created_at: created_at.into(),
            records: shards.iter().map(|s| s.records).sum(),
            bytes: shards.iter().map(|s| s.bytes).sum(),
            writer: BTreeMap::new(),
            shards,
        }
    }
}

/// Object name of shard `index`.
pub fn shard_object_name(index: u32) -> String {
    format!("shard-{index:05}.tsk")
}

/// Whether `object` can name a shard in a version directory: a plain file name (no
/// `/`, not hidden) that is not one of the version's own documents.
pub fn is_shard_object_name(object: &str) -> bool {
    !object.is_empty()
        && !object.contains('/')
        && !object.starts_with('.')
        && object != crate::keys::MANIFEST
        && object != crate::keys::PUBLISH_MARKER
}

impl Manifest {
    /// The shard format `shard_format` names (an error naming the formats this
    /// build reads when it names none of them; `validate` refuses such a manifest).
    pub fn format(
        &self,
    ) -> std::result::Result<tusk_format::ShardFormat, tusk_format::UnknownShardFormat> {
        self.shard_format.parse()
    }

    /// Checks internal consistency: shard count and indexes, object names, totals,
    /// known partitioner and shard format. `key` names the document in errors.
    pub fn validate(&self, key: &str) -> Result<()> {
        let bad = |detail: String| StoreError::CorruptDocument {
            key: key.to_string(),
            detail,
        };
        if !(OLDEST_READABLE_FORMAT_VERSION..=MANIFEST_FORMAT_VERSION)
            .contains(&self.format_version)
        {
            return Err(bad(format!(
                "manifest format_version {} is not supported (this build reads {OLDEST_READABLE_FORMAT_VERSION} to {MANIFEST_FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.shard_count == 0 || self.shards.len() != self.shard_count as usize {
            return Err(bad(format!(
                "shard_count is {} but {} shards are listed",
                self.shard_count,
                self.shards.len()
            )));
        }
        for (i, s) in self.shards.iter().enumerate() {
            if s.index as usize != i {
                return Err(bad(format!("shards[{i}].index is {}", s.index)));
            }
            if !is_shard_object_name(&s.object) {
                return Err(bad(format!(
                    "shards[{i}].object {:?} is not a plain file name (nor MANIFEST.json or PUBLISHING.json)",
                    s.object
                )));
            }
            // Format 2 added the content hash: every shard has one, and a format 1
            // document (which older servers read) has none.
            match (self.format_version >= 2, s.content_hash.is_some()) {
                (true, false) => {
                    return Err(bad(format!(
                        "shards[{i}] has no content_hash (format_version {} requires one)",
                        self.format_version
                    )));
                }
                (false, true) => {
                    return Err(bad(format!(
                        "shards[{i}] has a content_hash, which format_version 1 does not have"
                    )));
                }
                _ => {}
            }
        }
        if self.partitioner != PartitionerSpec::default() {
            return Err(bad(format!("unknown partitioner {:?}", self.partitioner)));
        }
        if let Err(e) = self.format() {
            return Err(bad(format!("shard_format: {e}; upgrade tusk to read it")));
        }
        let records: u64 = self.shards.iter().map(|s| s.records).sum();
        let bytes: u64 = self.shards.iter().map(|s| s.bytes).sum();
        if records != self.records || bytes != self.bytes {
            return Err(bad(format!(
                "totals ({} records, {} bytes) do not match the shards ({records}, {bytes})",
                self.records, self.bytes
            )));
        }
        Ok(())
    }

    /// Parses and validates a manifest read from `key`.
    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| StoreError::CorruptDocument {
                key: key.to_string(),
                detail: e.to_string(),
            })?;
        m.validate(key)?;
        Ok(m)
    }

    /// Pretty JSON for storage.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u32, content_hash: Option<ContentHash>) -> ShardEntry {
        ShardEntry {
            index,
            object: shard_object_name(index),
            bytes: 100,
            records: 3,
            crc32: 7,
            content_hash,
        }
    }

    fn version_2() -> Manifest {
        let shards = vec![
            entry(0, Some(ContentHash(1))),
            entry(1, Some(ContentHash(u128::MAX))),
        ];
        Manifest::new("d", "v1", "2026-12-02T00:00:00Z", shards)
    }

    #[test]
    fn a_new_manifest_is_format_2_and_round_trips_its_content_hashes() {
        let m = version_2();
        assert_eq!(m.format_version, 2);
        let json = String::from_utf8(m.to_json()).expect("utf-8");
        assert!(
            json.contains("\"content_hash\": \"xxh3-128:00000000000000000000000000000001\""),
            "{json}"
        );
        assert!(json.contains("xxh3-128:ffffffffffffffffffffffffffffffff"));
        assert_eq!(Manifest::from_json("m", json.as_bytes()).expect("reads"), m);
    }

    #[test]
    fn a_format_1_manifest_without_content_hashes_still_reads() {
        let mut m = version_2();
        m.format_version = 1;
        for s in &mut m.shards {
            s.content_hash = None;
        }
        let json = m.to_json();
        assert!(!String::from_utf8_lossy(&json).contains("content_hash"));
        let back = Manifest::from_json("m", &json).expect("reads");
        assert_eq!(back.format_version, 1);
        assert!(back.shards.iter().all(|s| s.content_hash.is_none()));
    }

    #[test]
    fn content_hashes_must_match_the_format_version() {
        let mut missing = version_2();
        missing.shards[1].content_hash = None;
        let err = Manifest::from_json("k", &missing.to_json()).unwrap_err();
        assert!(
            err.to_string().contains("shards[1] has no content_hash"),
            "{err}"
        );

        let mut extra = version_2();
        extra.format_version = 1;
        extra.shards[0].content_hash = None;
        let err = Manifest::from_json("k", &extra.to_json()).unwrap_err();
        assert!(
            err.to_string()
                .contains("shards[1] has a content_hash, which format_version 1"),
            "{err}"
        );

        let mut future = version_2();
        future.format_version = 3;
        let err = Manifest::from_json("k", &future.to_json()).unwrap_err();
        assert!(
            err.to_string()
                .contains("format_version 3 is not supported"),
            "{err}"
        );
    }

    /// Both shard formats validate; a name this build does not know is refused
    /// naming the field and the known names (what an older server does with a
    /// newer writer's version: it keeps serving the one it has).
    #[test]
    fn shard_formats_this_build_reads_validate_and_others_are_named() {
        let mut m = version_2();
        assert_eq!(m.shard_format, "tusk-native-v2", "the default");
        m.validate("k").unwrap();
        m.shard_format = "tusk-native-v1".into();
        m.validate("k").unwrap();
        m.shard_format = "tusk-native-v9".into();
        let err = m
            .validate("d/versions/v1/MANIFEST.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("d/versions/v1/MANIFEST.json")
                && err.contains("shard_format")
                && err.contains("\"tusk-native-v9\"")
                && err.contains("tusk-native-v1 and tusk-native-v2")
                && err.contains("upgrade tusk"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_content_hash_is_refused_with_its_text() {
        let json = String::from_utf8(version_2().to_json()).expect("utf-8");
        for bad in [
            "00000000000000000000000000000001",
            "xxh3-128:1",
            "xxh3-128:0000000000000000000000000000000G",
            "xxh3-128:0000000000000000000000000000000A",
            "sha256:00000000000000000000000000000001",
        ] {
            let doc = json.replacen("xxh3-128:00000000000000000000000000000001", bad, 1);
            let err = Manifest::from_json("k", doc.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn only_size_crc32_and_content_hash_together_identify_bytes() {
        let a = entry(0, Some(ContentHash(5)));
        assert!(a.same_bytes_as(&ShardEntry {
            index: 3,
            object: "other.tsk".into(),
            ..a.clone()
        }));
        assert!(!a.same_bytes_as(&ShardEntry {
            content_hash: Some(ContentHash(6)),
            ..a.clone()
        }));
        assert!(!a.same_bytes_as(&ShardEntry {
            crc32: 8,
            ..a.clone()
        }));
        assert!(!a.same_bytes_as(&ShardEntry {
            bytes: 101,
            ..a.clone()
        }));
        // Format 1 entries: size and CRC32 alone never count as the same bytes.
        let old = entry(0, None);
        assert!(!old.same_bytes_as(&old.clone()));
        assert!(!a.same_bytes_as(&old));
    }

    #[test]
    fn the_content_hash_is_xxh3_128_of_the_file() {
        // A published value: XXH3-128 (seed 0) of the empty input.
        assert_eq!(
            ContentHash::of(b"").to_string(),
            "xxh3-128:99aa06d3014798d86001c324468d497f"
        );
        let h = ContentHash::of(b"some shard bytes");
        assert_eq!(h.to_string().parse::<ContentHash>(), Ok(h));
    }
}
