//! The partitioner matches Spark's `pmod(xxhash64(key), n)`.

use tusk_format::partition::{shard_for, spark_xxhash64};

#[test]
fn spark_vectors() {
    assert_eq!(spark_xxhash64(b"hello"), 0xc3629e6318d53932u64 as i64);
    assert_eq!(spark_xxhash64(b""), 0x98b1582b0977e704u64 as i64);
    assert_eq!(spark_xxhash64(b"abc"), 0x13c1d910702770e6u64 as i64);
}

#[test]
fn negative_hashes_use_pmod() {
    // xxhash64("hello") is negative as an i64: pmod must give a non-negative result
    // that agrees with Spark's pmod, i.e. ((h % n) + n) % n.
    let h = spark_xxhash64(b"hello");
    assert!(h < 0);
    for n in [1u32, 2, 3, 7, 10, 1000, u32::MAX] {
        let expected = ((h % i64::from(n)) + i64::from(n)) % i64::from(n);
        assert_eq!(i64::from(shard_for(b"hello", n)), expected, "n = {n}");
    }
}

#[test]
fn shard_is_always_in_range() {
    for i in 0..2000u32 {
        let key = i.to_le_bytes();
        assert_eq!(shard_for(&key, 1), 0);
        for n in [2u32, 3, 16, 97, 1 << 20] {
            assert!(shard_for(&key, n) < n);
        }
    }
}

#[test]
fn spreads_keys_over_shards() {
    let mut counts = [0u32; 8];
    for i in 0..8000u32 {
        counts[shard_for(format!("user-{i}").as_bytes(), 8) as usize] += 1;
    }
    // Each of 8 shards expects 1000; a real hash stays well inside [800, 1200].
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
}
