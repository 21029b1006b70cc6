//! `MANIFEST.json`: the complete description of one committed version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// Schema version of `MANIFEST.json` written by this build.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

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
    /// Shard file format (`tusk-native-v1`).
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
            shard_format: tusk_format::SHARD_FORMAT_NAME.to_string(),
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
    /// Checks internal consistency: shard count and indexes, object names, totals,
    /// known partitioner and shard format. `key` names the document in errors.
    pub fn validate(&self, key: &str) -> Result<()> {
        let bad = |detail: String| StoreError::CorruptDocument {
            key: key.to_string(),
            detail,
        };
        if self.format_version != MANIFEST_FORMAT_VERSION {
            return Err(bad(format!(
                "manifest format_version {} is not supported (this build reads {MANIFEST_FORMAT_VERSION})",
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
        }
        if self.partitioner != PartitionerSpec::default() {
            return Err(bad(format!("unknown partitioner {:?}", self.partitioner)));
        }
        if self.shard_format != tusk_format::SHARD_FORMAT_NAME {
            return Err(bad(format!("unknown shard_format {:?}", self.shard_format)));
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
