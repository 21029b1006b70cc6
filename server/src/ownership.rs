//! Which shards of a version this node holds.
//!
//! Today a node holds every shard. The decision sits behind [`ShardOwnership`] so
//! the fleet (rendezvous hashing over a static node list) can replace it without
//! touching the loader or the read path.

use std::fmt::Debug;

use tusk_store::Manifest;

/// Decides the shards of a version this node downloads and serves.
pub trait ShardOwnership: Debug + Send + Sync {
    /// Shard numbers (`0..manifest.shard_count`) this node holds, ascending.
    fn owned_shards(&self, manifest: &Manifest) -> Vec<u32>;
}

/// Holds every shard: the single-node default.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllShards;

impl ShardOwnership for AllShards {
    fn owned_shards(&self, manifest: &Manifest) -> Vec<u32> {
        owned_shards(manifest)
    }
}

/// The single-node rule: every shard of `manifest`.
pub fn owned_shards(manifest: &Manifest) -> Vec<u32> {
    (0..manifest.shard_count).collect()
}
