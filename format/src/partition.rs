//! The partitioner: which shard a key belongs to.
//!
//! `shard = pmod(xxh64(key, seed = 42) as i64, shards)`, exactly Spark's
//! `pmod(xxhash64(key), n)` for a string or binary key column, so a Spark job can
//! pre-partition its output natively.

/// Seed Spark uses for `xxhash64`.
pub const SPARK_SEED: u64 = 42;

/// Name recorded in manifests for this partitioner.
pub const PARTITIONER_NAME: &str = "xxh64-pmod";

/// Spark's `xxhash64(key)` as the signed 64-bit value Spark returns.
pub fn spark_xxhash64(key: &[u8]) -> i64 {
    xxhash_rust::xxh64::xxh64(key, SPARK_SEED) as i64
}

/// The shard index for `key` among `shards` shards (`shards` must be > 0).
///
/// # Panics
/// Panics if `shards` is zero; a manifest never records zero shards.
pub fn shard_for(key: &[u8], shards: u32) -> u32 {
    assert!(shards > 0, "shard count must be positive");
    spark_xxhash64(key).rem_euclid(i64::from(shards)) as u32
}
