//! tusk's batch writer: turns a batch job's output into a published version.
//!
//! A build reads records (TSV, JSONL or CSV files, plain, `.gz` or `.zst`, Parquet
//! files, a directory of them such as a Spark job's output, stdin, or any Rust
//! iterator), routes every key to its shard with the
//! Spark-compatible partitioner, sorts each shard (spilling sorted runs to disk when
//! the memory budget is reached), and writes the shard files in parallel. The result,
//! a [`BuiltVersion`], holds the shard files in a temporary directory and the
//! manifest describing them; [`publish`] uploads both and moves `CURRENT`.
//!
//! # Tutorial
//!
//! Build from an iterator, publish to a local store, and make the version current:
//!
//! ```
//! use tusk_writer::{OnDuplicate, WriteOptions, build_from_iter, publish};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let store_path = dir.path().to_str().unwrap();
//! let mut opts = WriteOptions::new("users");
//! opts.shards = 4;
//! opts.on_duplicate = OnDuplicate::Last;
//! let records = vec![("alice", "admin"), ("bob", "reader"), ("alice", "owner")];
//! let built = build_from_iter(records, &opts, None)?;
//! assert_eq!(built.stats.records, 2);
//! assert_eq!(built.stats.duplicates_dropped, 1);
//!
//! let catalog = tusk_store::Catalog::open(store_path)?;
//! let runtime = tokio::runtime::Runtime::new()?;
//! let activation = tusk_store::MoveOptions::new("nightly-job", "nightly build");
//! let current = runtime.block_on(publish(&catalog, &built, Some(&activation), None))?;
//! assert_eq!(current.unwrap().version, built.version());
//! # Ok(()) }
//! ```
//!
//! Build from files, as `tusk write` does, with a progress callback:
//!
//! ```no_run
//! use std::sync::Arc;
//! use tusk_writer::{
//!     Encoding, InputFormat, InputOptions, InputSource, ProgressEvent, WriteOptions, build_from_inputs,
//! };
//!
//! let input = InputOptions {
//!     format: InputFormat::Jsonl,
//!     value_encoding: "base64".parse::<Encoding>()?,
//!     ..InputOptions::default()
//! };
//! let sources = [InputSource::Path("/data/export/".into())];
//! let progress = Arc::new(|event: ProgressEvent| eprintln!("{event:?}"));
//! let built = build_from_inputs(&sources, &input, &WriteOptions::new("users"), Some(progress))?;
//! println!("{} records in {} shards", built.stats.records, built.stats.shards);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Input formats
//!
//! See [`InputFormat`], [`Column`] and [`Encoding`]. Every malformed record fails the
//! build with its place: `data/part-3.jsonl:1207: missing field "value"`, or for
//! Parquet the row of the file and its row group: `part-0.parquet:5: row group 2,
//! row 3: null key in column "key"`. Empty keys, keys over
//! 64 KiB and values over [`WriteOptions::max_value_len`] are errors too. A failed
//! build publishes nothing and leaves no temporary file behind.
//!
//! # Duplicates
//!
//! With [`OnDuplicate::Error`] (the default) a repeated key fails the build naming
//! both places: `duplicate key "k" at a.tsv:3 and a.tsv:17`. `First` and `Last`
//! keep one occurrence by input order (files in the order given, lines in order),
//! however the records were spilled; [`BuildStats::duplicates_dropped`] counts the
//! others.
//!
//! # Limits
//!
//! A version has 1 to [`MAX_SHARDS`] (65,536) shards: each shard is a memory-mapped
//! file on every server holding it, bounded by the server's `vm.max_map_count`. Both
//! builders refuse other counts, and a memory budget under [`MIN_MEMORY_BUDGET`], with
//! [`WriteError::OutOfRange`] before reading any input.
//!
//! # Memory
//!
//! Records are buffered per shard in segments allocated whole: an arena for the key
//! and value bytes and a 32-byte entry per record. The budget is charged what the
//! segments allocate. When that exceeds [`WriteOptions::memory_budget`] (at least
//! [`MIN_MEMORY_BUDGET`], 4 MiB), the shards holding the most bytes are sorted and
//! written as one run file each, in parallel, until half the budget is left; the
//! others stay in memory. At the end each shard merges its runs (at most 64 at a
//! time; more are first merged in groups) with its in-memory remainder. Beyond the budget, a build also holds the read
//! buffers of the runs being merged (a quarter of the budget spread over them,
//! 8 KiB to 1 MiB each), one 256 KiB input buffer, and what the shard builder itself
//! holds (about 16 bytes per record of the shard for its index, plus one block).
#![deny(missing_docs)]

mod build;
mod built;
mod collect;
mod error;
mod huge_pages;
mod input;
mod merge;
mod one_shard;
mod options;
mod parse;
mod pool;
mod progress;
mod publish;
mod record;
mod run;
mod segment;
mod shard;
#[cfg(test)]
mod spill_tests;
mod tournament;

pub use build::{build_from_inputs, build_from_iter};
pub use built::{BuildStats, BuiltVersion, manifest_from_entries};
pub use error::{Location, Result, WriteError};
pub use one_shard::{BuiltShard, ShardBuild};
pub use options::{
    Column, DEFAULT_MEMORY_BUDGET, DEFAULT_SHARDS, Encoding, InputFormat, InputOptions,
    InputSource, MAX_SHARDS, MIN_MEMORY_BUDGET, OnDuplicate, ParseOptionError, WriteOptions,
    check_memory_budget, check_shards,
};
pub use progress::{ProgressEvent, ProgressFn};
pub use publish::publish;
/// The shard file formats a build can write ([`WriteOptions::shard_format`]).
pub use tusk_format::ShardFormat;
