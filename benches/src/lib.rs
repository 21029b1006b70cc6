//! Benchmarks that put tusk beside its peers in the same run.
//!
//! The `lookup` binary builds one dataset per key count (24-byte random keys,
//! 150-byte values, deterministic), loads it into each contender — a tusk shard
//! (built with `ShardBuilder`, memory-mapped, verified; and the same file read into
//! the heap), a std `HashMap` (the floor), sled 0.34, LMDB (heed 0.22) and redb 4
//! — checks every contender answers every probe correctly, then times
//! random hit and miss lookups and prints the medians, their ratios and the verdict
//! against the targets. It also measures how fast tusk builds shards, alone and
//! through the batch writer.
//!
//! ```no_run
//! use tusk_benches::{Config, run};
//!
//! let config = Config { keys: vec![10_000], probes: 10_000, ..Config::default() };
//! let report = run(&config, &mut |line| eprintln!("{line}"), &mut |_| {}, &mut |_| {}).unwrap();
//! println!("{}", report.to_table());
//! ```
#![deny(missing_docs)]

mod args;
pub mod contender;
pub mod data;
mod error;
pub mod fleet;
pub mod lookup;
pub mod machine;
pub mod report;
pub mod rss;
pub mod s3;
pub mod writer_build;

use std::path::Path;

pub use args::{Config, Parts, USAGE};
pub use error::{BenchError, Result};

use contender::hash_map::StdHashMap;
use contender::lmdb::Lmdb;
use contender::redb_table::RedbTable;
use contender::sled_tree::SledTree;
use contender::tusk_shard::{TuskHeap, TuskShard};
use data::{Dataset, KEY_LEN, Probes, VALUE_LEN};
use lookup::{bench, bench_batched};
use machine::Machine;
use report::{Report, SizeReport};

/// How the data is made, for the report.
pub fn data_description() -> String {
    format!(
        "{KEY_LEN}-byte keys of SplitMix64 random bytes (unique by construction), \
         {VALUE_LEN}-byte random values derived from each key; hit probes drawn \
         uniformly (with repeats), miss probes are other random keys"
    )
}

/// A new temp dir named `prefix…` under `parent`, removed when dropped.
pub fn temp_dir_in(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|source| BenchError::Io {
            what: "creating a temp dir in",
            path: parent.to_path_buf(),
            source,
        })
}

/// Runs every measurement for `keys` records with temp files under `parent`.
/// `log` receives one line per step (progress, not results).
pub fn run_size(
    keys: usize,
    config: &Config,
    parent: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<SizeReport> {
    let dir = temp_dir_in(parent, "tusk-bench-")?;
    log(&format!("[{keys} keys] generating data and probes"));
    let data = Dataset::generate(keys);
    let probes = Probes::generate(keys, config.probes);
    let (hits, misses) = (&probes.hits[..], &probes.misses[..]);
    let mut builds = Vec::new();
    let mut lookups = Vec::new();

    let parts = config.parts;

    let mut tusk_file_bytes = 0;
    if parts.tusk || parts.tusk_heap {
        log(&format!("[{keys} keys] tusk: build, verify, check, time"));
        let shard_path = dir.path().join("bench.tsk");
        {
            let (built, peak) = rss::measure(|| {
                TuskShard::build(&data, dir.path(), "bench.tsk", config.shard_format)
            });
            let (shard, mut rate) = built?;
            rate.peak_rss_added = peak;
            tusk_file_bytes = shard.file_bytes();
            builds.push(rate);
            if parts.tusk {
                lookups.push(bench(&shard, hits, misses, config.passes)?);
                lookups.push(bench_batched(&shard, hits, misses, config.passes)?);
            }
        }
        if parts.tusk_heap {
            log(&format!(
                "[{keys} keys] tusk-heap: read, verify, check, time"
            ));
            let shard = TuskHeap::read(&shard_path)?;
            lookups.push(bench(&shard, hits, misses, config.passes)?);
        }
        std::fs::remove_file(&shard_path).map_err(|source| BenchError::Io {
            what: "removing",
            path: shard_path,
            source,
        })?;
    }

    if parts.writer {
        log(&format!(
            "[{keys} keys] tusk_writer: build_from_iter with {} shards",
            config.writer_shards
        ));
        // The input, in its scrambled order, copied before the timed build.
        let input = data::ScrambledCopy::of(&data);
        let (rate, peak) =
            rss::measure(|| writer_build::writer_build(&input, config.writer_shards, dir.path()));
        drop(input);
        let mut rate = rate?;
        rate.peak_rss_added = peak;
        builds.push(rate);
    }

    if parts.hashmap {
        log(&format!("[{keys} keys] hashmap: load, check, time"));
        let ((map, mut rate), peak) = rss::measure(|| StdHashMap::load(&data));
        rate.peak_rss_added = peak;
        builds.push(rate);
        lookups.push(bench(&map, hits, misses, config.passes)?);
    }

    if parts.sled {
        log(&format!("[{keys} keys] sled: load, check, time"));
        let (loaded, peak) =
            rss::measure(|| SledTree::load(&data, dir.path(), config.sled_cache_bytes));
        let (tree, mut rate) = loaded?;
        rate.peak_rss_added = peak;
        builds.push(rate);
        lookups.push(bench(&tree, hits, misses, config.passes)?);
    }

    if parts.lmdb {
        log(&format!("[{keys} keys] lmdb: load, check, time"));
        let (loaded, peak) = rss::measure(|| Lmdb::load(&data, dir.path()));
        let (env, mut rate) = loaded?;
        rate.peak_rss_added = peak;
        builds.push(rate);
        lookups.push(bench(&env, hits, misses, config.passes)?);
    }

    if parts.redb {
        log(&format!("[{keys} keys] redb: load, check, time"));
        let (loaded, peak) = rss::measure(|| RedbTable::load(&data, dir.path()));
        let (db, mut rate) = loaded?;
        rate.peak_rss_added = peak;
        builds.push(rate);
        lookups.push(bench(&db, hits, misses, config.passes)?);
    }

    Ok(SizeReport::new(
        keys as u64,
        config.probes as u64,
        config.passes as u64,
        tusk_file_bytes,
        lookups,
        builds,
    ))
}

/// Runs every key count of `config`, one after the other (each size's contenders
/// are dropped before the next size starts). `on_start` sees the report before the
/// first size, `on_size` each size as soon as it is measured, so a run cut short
/// still shows what it measured.
pub fn run(
    config: &Config,
    log: &mut dyn FnMut(&str),
    on_start: &mut dyn FnMut(&Report),
    on_size: &mut dyn FnMut(&SizeReport),
) -> Result<Report> {
    let parent = config.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: Machine::detect(),
        data: data_description(),
        sizes: Vec::new(),
    };
    on_start(&report);
    for &keys in &config.keys {
        let size = run_size(keys, config, &parent, log)?;
        on_size(&size);
        report.sizes.push(size);
    }
    Ok(report)
}
