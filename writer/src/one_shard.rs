//! Building one shard of a version on its own: what each task of a distributed job
//! runs (one Spark task per shard), while a driver commits the version.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tusk_format::ShardSummary;
use tusk_store::{ContentHash, ShardEntry};

use crate::build::{ShardJob, check_options, read_buffer};
use crate::collect::Collector;
use crate::error::{Result, WriteError};
use crate::options::{MIN_MEMORY_BUDGET, WriteOptions};
use crate::pool::Pool;
use crate::record::{ITER_SOURCE, Origin};
use crate::shard::{ShardContext, build_shard};

/// Builds shard `index` of a version of `opts.shards` shards from `(key, value)`
/// pairs in any order, within `opts.memory_budget` (sorted runs spill to
/// `opts.temp_dir` as in [`build_from_iter`](crate::build_from_iter)).
///
/// Every key must belong to this shard (`shard_for(key, opts.shards) == index`): a
/// key of another shard is an error naming it, since a version with a key in the
/// wrong shard would answer "not found" for it. Duplicates follow
/// `opts.on_duplicate`. Errors name a record by its 1-based position in this build.
///
/// ```
/// use tusk_writer::{ShardBuild, WriteOptions};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut opts = WriteOptions::new("users");
/// opts.shards = 4;
/// let shard = tusk_format::partition::shard_for(b"alice", 4);
/// let mut build = ShardBuild::new(shard, &opts)?;
/// build.add(b"alice", b"admin")?;
/// let built = build.finish()?;
/// assert_eq!(built.summary.records, 1);
/// # Ok(()) }
/// ```
pub struct ShardBuild {
    index: u32,
    opts: WriteOptions,
    pool: Pool,
    collector: Collector,
    added: u64,
    job: ShardJob,
}

/// A built shard file, not yet uploaded. Owns a temporary directory holding it;
/// dropping the value deletes it.
#[derive(Debug)]
pub struct BuiltShard {
    /// The shard's index in its version.
    pub index: u32,
    /// Records, size and CRC32 of the file, as the manifest records them.
    pub summary: ShardSummary,
    /// The shard format the file is in (`WriteOptions::shard_format`).
    pub format: tusk_format::ShardFormat,
    /// Records added to the build (before duplicates were dropped).
    pub records_in: u64,
    /// Records dropped by `OnDuplicate::First` or `Last`.
    pub duplicates_dropped: u64,
    /// Sorted runs spilled to disk (0 when everything fit the memory budget).
    pub spilled_runs: u64,
    path: PathBuf,
    _workspace: TempDir,
}

impl BuiltShard {
    /// The shard file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest entry of this shard once uploaded as `object`.
    pub fn entry(&self, object: impl Into<String>) -> ShardEntry {
        ShardEntry {
            index: self.index,
            object: object.into(),
            bytes: self.summary.bytes,
            records: self.summary.records,
            crc32: self.summary.crc32,
            content_hash: Some(ContentHash(self.summary.content_hash)),
        }
    }
}

impl ShardBuild {
    /// Starts the build of shard `index` of `opts.shards`. Checks the options (domain,
    /// shard count, memory budget, index) before creating anything.
    pub fn new(index: u32, opts: &WriteOptions) -> Result<Self> {
        check_options(opts, MIN_MEMORY_BUDGET)?;
        if index >= opts.shards {
            return Err(WriteError::OutOfRange {
                option: "shard index",
                value: u64::from(index),
                allowed: format!("0..{}", opts.shards),
                why: "a version of N shards has shards 0 to N-1",
            });
        }
        let pool = Pool::new(opts.threads)?;
        let job = ShardJob::start(opts, None)?;
        let collector = Collector::one_shard(opts, index, &pool, job.run_dir.clone());
        Ok(ShardBuild {
            index,
            opts: opts.clone(),
            pool,
            collector,
            added: 0,
            job,
        })
    }

    /// The shard being built.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Records added so far.
    pub fn added(&self) -> u64 {
        self.added
    }

    /// Adds one record. Fails on an empty or oversized key or value, or a key of
    /// another shard.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.added += 1;
        self.collector.push(
            key,
            value,
            Origin {
                source: ITER_SOURCE,
                line: self.added,
            },
        )
    }

    /// Sorts and merges what was added into the shard file.
    pub fn finish(self) -> Result<BuiltShard> {
        let collected = self.collector.finish();
        let ctx = ShardContext {
            names: &collected.names,
            policy: self.opts.on_duplicate,
            max_value_len: self.opts.max_value_len,
            shard_format: self.opts.shard_format,
            shard_dir: &self.job.shard_dir,
            run_dir: &self.job.run_dir,
            read_buffer: read_buffer(self.opts.memory_budget, 1),
            progress: None,
        };
        let segments = collected.segments.into_iter().next().unwrap_or_default();
        let runs = collected.runs.into_iter().next().unwrap_or_default();
        let (summary, dropped) = self
            .pool
            .run(|| build_shard(self.index, segments, runs, &ctx))?;
        if let Err(e) = std::fs::remove_dir(&self.job.run_dir) {
            tracing::warn!(path = %self.job.run_dir.display(), error = %e, "cannot remove run directory");
        }
        Ok(BuiltShard {
            index: self.index,
            summary,
            format: self.opts.shard_format,
            records_in: self.added,
            duplicates_dropped: collected.dropped + dropped,
            spilled_runs: collected.spilled_runs,
            path: self
                .job
                .shard_dir
                .join(tusk_store::shard_object_name(self.index)),
            _workspace: self.job.workspace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OnDuplicate, build_from_iter};

    fn records(n: usize, value_len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let key = format!("key-{i}").into_bytes();
                let mut value = format!("value-{i}-").into_bytes();
                value.resize(value_len.max(value.len()), b'x');
                (key, value)
            })
            .collect()
    }

    /// Each shard built on its own, records in reverse order, is byte for byte the
    /// shard a whole build makes; past the memory budget it spills and still is.
    #[test]
    fn each_shard_equals_the_whole_builds_shard_with_or_without_spilling() {
        for (n, value_len) in [(3000, 8), (60_000, 300)] {
            let data = records(n, value_len);
            let mut opts = WriteOptions::new("pages");
            opts.shards = 3;
            opts.memory_budget = MIN_MEMORY_BUDGET;
            let whole = build_from_iter(data.iter().cloned(), &opts, None).unwrap();
            let mut spilled = 0;
            for index in 0..3 {
                let mut build = ShardBuild::new(index, &opts).unwrap();
                for (k, v) in data.iter().rev() {
                    if tusk_format::partition::shard_for(k, 3) == index {
                        build.add(k, v).unwrap();
                    }
                }
                let built = build.finish().unwrap();
                let entry = &whole.manifest.shards[index as usize];
                assert_eq!(
                    (
                        built.summary.records,
                        built.summary.bytes,
                        built.summary.crc32
                    ),
                    (entry.records, entry.bytes, entry.crc32),
                    "shard {index} of {n} records"
                );
                assert_eq!(
                    std::fs::read(built.path()).unwrap(),
                    std::fs::read(whole.shard_path(index)).unwrap()
                );
                spilled += built.spilled_runs;
            }
            assert_eq!(
                spilled > 0,
                n == 60_000,
                "{n} records spilled {spilled} runs"
            );
        }
    }

    #[test]
    fn a_key_of_another_shard_and_an_index_out_of_range_are_refused() {
        let mut opts = WriteOptions::new("pages");
        opts.shards = 4;
        let other = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| tusk_format::partition::shard_for(k.as_bytes(), 4) != 0)
            .unwrap();
        let mut build = ShardBuild::new(0, &opts).unwrap();
        let err = build.add(other.as_bytes(), b"v").unwrap_err().to_string();
        assert!(
            err.contains(&format!("key \"{other}\" belongs to shard"))
                && err.contains("not to shard 0")
                && err.contains("record 1"),
            "{err}"
        );
        let err = ShardBuild::new(4, &opts).err().unwrap().to_string();
        assert!(
            err.contains("shard index = 4") && err.contains("0..4"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_follow_the_policy_and_an_empty_shard_is_a_file() {
        let mut opts = WriteOptions::new("pages");
        opts.shards = 1;
        let mut build = ShardBuild::new(0, &opts).unwrap();
        build.add(b"a", b"1").unwrap();
        build.add(b"a", b"2").unwrap();
        let err = build.finish().unwrap_err().to_string();
        assert!(err.contains("duplicate key \"a\""), "{err}");

        opts.on_duplicate = OnDuplicate::Last;
        let mut build = ShardBuild::new(0, &opts).unwrap();
        build.add(b"a", b"1").unwrap();
        build.add(b"a", b"2").unwrap();
        let built = build.finish().unwrap();
        assert_eq!((built.summary.records, built.duplicates_dropped), (1, 1));

        let empty = ShardBuild::new(0, &opts).unwrap().finish().unwrap();
        assert_eq!(empty.summary.records, 0);
        assert!(empty.path().is_file());
        assert_eq!(empty.entry("shard-00000-a1.tsk").bytes, empty.summary.bytes);
    }
}
