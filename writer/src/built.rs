//! The result of a build: the manifest, statistics, and the shard files on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;
use tusk_format::{ShardFormat, ShardSummary};
use tusk_store::{ContentHash, Manifest, ShardEntry, shard_object_name};

use crate::error::{Result, WriteError};

/// Counters of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Records written to the shards (after duplicates were dropped).
    pub records: u64,
    /// Input bytes read (as stored, so compressed for `.gz`/`.zst`; key + value
    /// bytes for [`build_from_iter`](crate::build_from_iter)).
    pub input_bytes: u64,
    /// Total size of the shard files.
    pub shard_bytes: u64,
    /// Number of shards.
    pub shards: u32,
    /// Sorted runs spilled to disk (0 when everything fit the memory budget).
    pub spilled_runs: u64,
    /// Records dropped by [`OnDuplicate::First`](crate::OnDuplicate::First) or
    /// [`OnDuplicate::Last`](crate::OnDuplicate::Last).
    pub duplicates_dropped: u64,
    /// Wall time of the build.
    pub elapsed: Duration,
}

/// A built, not yet published version. Owns a temporary directory holding the shard
/// files; dropping the value deletes it.
#[derive(Debug)]
pub struct BuiltVersion {
    /// The manifest to publish.
    pub manifest: Manifest,
    /// What the build did.
    pub stats: BuildStats,
    pub(crate) shard_dir: PathBuf,
    pub(crate) _workspace: TempDir,
}

impl BuiltVersion {
    /// Directory holding the shard files, named as in the manifest
    /// (`shard-00000.tsk`, ...).
    pub fn shard_dir(&self) -> &Path {
        &self.shard_dir
    }

    /// Path of shard `index`'s file.
    pub fn shard_path(&self, index: u32) -> PathBuf {
        self.shard_dir.join(shard_object_name(index))
    }

    /// The version id.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The domain.
    pub fn domain(&self) -> &str {
        &self.manifest.domain
    }
}

/// The manifest of a finished build of `shard_format` shards, with a new version id
/// for `now`.
pub(crate) fn make_manifest(
    domain: &str,
    shard_format: ShardFormat,
    summaries: &[ShardSummary],
    extra: BTreeMap<String, String>,
    user: &BTreeMap<String, String>,
    now: SystemTime,
) -> Manifest {
    let shards: Vec<ShardEntry> = summaries
        .iter()
        .zip(0u32..)
        .map(|(s, index)| ShardEntry {
            index,
            object: shard_object_name(index),
            bytes: s.bytes,
            records: s.records,
            crc32: s.crc32,
            content_hash: Some(ContentHash(s.content_hash)),
        })
        .collect();
    Manifest {
        shard_format: shard_format.name().to_string(),
        ..assemble(
            domain,
            &tusk_store::version_id::new_version_id(now),
            now,
            shards,
            extra,
            user,
        )
    }
}

/// The manifest of `version` of `domain` from shards built and uploaded elsewhere
/// (the tasks of a distributed job) in `shard_format`, one entry per shard in any
/// order: the entries must cover shards `0..n` exactly once. `writer` adds to the manifest's writer
/// metadata (`tool`, `tool_version`, `host` are filled in unless given).
///
/// Errors name the shards missing or listed twice.
pub fn manifest_from_entries(
    domain: &str,
    version: &str,
    shard_format: ShardFormat,
    mut shards: Vec<ShardEntry>,
    writer: &BTreeMap<String, String>,
) -> Result<Manifest> {
    shards.sort_by_key(|s| s.index);
    let n = u32::try_from(shards.len()).unwrap_or(u32::MAX);
    crate::options::check_shards(u64::from(n))?;
    let twice: Vec<String> = shards
        .windows(2)
        .filter(|w| w[0].index == w[1].index)
        .map(|w| w[0].index.to_string())
        .collect();
    let present: std::collections::BTreeSet<u32> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<String> = (0..n)
        .filter(|i| !present.contains(i))
        .map(|i| i.to_string())
        .collect();
    if !twice.is_empty() || !missing.is_empty() {
        let mut problems = Vec::new();
        if !twice.is_empty() {
            problems.push(format!("listed twice: {}", twice.join(", ")));
        }
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        return Err(WriteError::InvalidOptions(format!(
            "the {} shard entries of version {version} of domain {domain} do not cover shards 0..{n} once each ({})",
            shards.len(),
            problems.join("; ")
        )));
    }
    Ok(Manifest {
        shard_format: shard_format.name().to_string(),
        ..assemble(
            domain,
            version,
            SystemTime::now(),
            shards,
            BTreeMap::new(),
            writer,
        )
    })
}

/// A manifest with tusk-writer's writer metadata, then `extra`, then `user`.
fn assemble(
    domain: &str,
    version: &str,
    created: SystemTime,
    shards: Vec<ShardEntry>,
    extra: BTreeMap<String, String>,
    user: &BTreeMap<String, String>,
) -> Manifest {
    let mut writer = BTreeMap::new();
    writer.insert("tool".to_string(), "tusk-writer".to_string());
    writer.insert(
        "tool_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Some(host) = tusk_store::host_name() {
        writer.insert("host".to_string(), host);
    }
    writer.extend(extra);
    writer.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    Manifest {
        writer,
        ..Manifest::new(
            domain,
            version.to_string(),
            tusk_store::version_id::rfc3339(created),
            shards,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_totals_names_and_metadata() {
        let summaries = [
            ShardSummary {
                records: 2,
                bytes: 100,
                crc32: 7,
                content_hash: 70,
            },
            ShardSummary {
                records: 0,
                bytes: 40,
                crc32: 9,
                content_hash: 90,
            },
        ];
        let mut user = BTreeMap::new();
        user.insert("job".to_string(), "nightly".to_string());
        user.insert("host".to_string(), "override".to_string());
        let m = make_manifest(
            "users",
            ShardFormat::V1,
            &summaries,
            BTreeMap::new(),
            &user,
            SystemTime::UNIX_EPOCH,
        );
        m.validate("test").unwrap();
        assert_eq!((m.records, m.bytes, m.shard_count), (2, 140, 2));
        assert_eq!(m.shard_format, "tusk-native-v1");
        assert_eq!(m.shards[1].object, "shard-00001.tsk");
        assert_eq!(m.shards[1].crc32, 9);
        assert_eq!(m.created_at, "1970-01-01T00:00:00Z");
        // A generated id (its time may run ahead of `now`: ids of one process only grow).
        let id_time = tusk_store::version_id::generated_id_time(&m.version);
        assert!(id_time.is_some(), "{}", m.version);
        assert_eq!(m.writer["tool"], "tusk-writer");
        assert_eq!(m.writer["job"], "nightly");
        assert_eq!(m.writer["host"], "override");
    }

    fn entry(index: u32) -> ShardEntry {
        ShardEntry {
            index,
            object: format!("shard-{index:05}-attempt-7.tsk"),
            bytes: 40 + u64::from(index),
            records: u64::from(index),
            crc32: index,
            content_hash: Some(ContentHash(u128::from(index))),
        }
    }

    #[test]
    fn entries_in_any_order_make_a_valid_manifest() {
        let mut user = BTreeMap::new();
        user.insert("tool".to_string(), "tusk-spark".to_string());
        let m = manifest_from_entries(
            "users",
            "v9",
            ShardFormat::V1,
            vec![entry(2), entry(0), entry(1)],
            &user,
        )
        .unwrap();
        m.validate("test").unwrap();
        assert_eq!((m.version.as_str(), m.shard_count, m.records), ("v9", 3, 3));
        assert_eq!(m.shard_format, "tusk-native-v1");
        assert_eq!(m.shards[1].object, "shard-00001-attempt-7.tsk");
        assert_eq!(m.writer["tool"], "tusk-spark");
    }

    #[test]
    fn entries_missing_or_twice_are_named() {
        let err = manifest_from_entries(
            "users",
            "v9",
            ShardFormat::default(),
            vec![entry(0), entry(2), entry(2), entry(4)],
            &BTreeMap::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("listed twice: 2") && err.contains("missing: 1, 3"),
            "{err}"
        );
        let err = manifest_from_entries("users", "v9", ShardFormat::V2, vec![], &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("shards = 0"), "{err}");
    }
}
