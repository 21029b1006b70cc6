//! The batch writer's build rate: `tusk_writer::build_from_iter` over the dataset.

use std::path::Path;
use std::time::Instant;

use tusk_writer::{WriteOptions, build_from_iter};

use crate::data::ScrambledCopy;
use crate::report::Rate;
use crate::{BenchError, Result};

/// The name of the writer's row in a report.
pub const WRITER_BUILD: &str = "tusk_writer::build_from_iter";

/// Builds a version of `data` with `shards` shards (default memory budget, rayon's
/// global pool): records in a scrambled order so the writer's sort does real work,
/// read front to back as a file reader reads them. The rate covers the whole `build_from_iter` call: partitioning, buffering,
/// any spills, sorting and writing every shard file. The built version (a temp dir
/// under `temp_dir`) is deleted afterwards, untimed.
pub fn writer_build(data: &ScrambledCopy, shards: u32, temp_dir: &Path) -> Result<Rate> {
    let mut opts = WriteOptions::new("bench");
    opts.shards = shards;
    opts.temp_dir = Some(temp_dir.to_path_buf());
    let err = |source| BenchError::Writer {
        shards,
        dir: temp_dir.to_path_buf(),
        source: Box::new(source),
    };
    let start = Instant::now();
    let built = build_from_iter(data.iter(), &opts, None).map_err(err)?;
    let elapsed = start.elapsed();
    let stats = &built.stats;
    if stats.records != data.len() as u64 {
        return Err(BenchError::WrongCount {
            what: "the writer's version",
            expected: data.len() as u64,
            got: stats.records,
        });
    }
    let mut rate = Rate::new(
        WRITER_BUILD,
        stats.records,
        data.input_bytes(),
        stats.shard_bytes,
        elapsed,
    );
    rate.memory_budget = Some(opts.memory_budget);
    rate.note = format!(
        "{shards} shards, {} spilled runs, memory budget {} MiB",
        stats.spilled_runs,
        opts.memory_budget >> 20
    );
    Ok(rate)
}
