//! The tusk shard file format.
//!
//! A shard is one immutable file holding records (arbitrary byte keys and values) in
//! key order, a hash index for point lookups, and CRC32 checksums over every region.
//! The byte layout is specified in `FORMAT.md` at the repository root.
//!
//! ```
//! use tusk_format::{BuildOptions, Shard, ShardBuilder};
//!
//! let mut builder = ShardBuilder::new(Vec::new(), BuildOptions::default()).unwrap();
//! builder.add(b"apple", b"red").unwrap();
//! builder.add(b"banana", b"yellow").unwrap();
//! let (bytes, summary) = builder.finish().unwrap();
//! assert_eq!(summary.records, 2);
//!
//! let shard = Shard::open(bytes).unwrap(); // constant time: header + footer only
//! shard.verify().unwrap();                  // full checksum pass
//! assert_eq!(shard.get(b"apple").unwrap(), Some(&b"red"[..]));
//! assert_eq!(shard.get(b"cherry").unwrap(), None);
//! ```
#![deny(missing_docs)]

mod error;
mod index;
mod iter;
mod layout;
pub mod partition;
pub mod placement;
mod reader;
mod record;
mod shard_format;
mod varint;
mod verify;
mod writer;

pub use error::{FormatError, Result};
pub use index::prefetch_record;
pub use reader::{Iter, PREFETCH_RECORD_BYTES, Probe, Shard, ShardInfo};
pub use shard_format::{ShardFormat, UnknownShardFormat};
pub use writer::{BuildOptions, ShardBuilder, ShardSummary};

/// Largest key length the format accepts (64 KiB).
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// Default largest value length (1 GiB); configurable in [`BuildOptions`].
pub const DEFAULT_MAX_VALUE_LEN: u64 = 1 << 30;

/// The content hash of a whole shard file: XXH3-128 with seed 0, as
/// [`ShardSummary::content_hash`] computes it while the file is written. Two files
/// with the same hash (and size and CRC32) are taken to be the same bytes: a server
/// reuses a shard it holds instead of downloading an equal one.
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}
