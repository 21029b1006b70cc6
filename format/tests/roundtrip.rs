//! Build -> open -> verify -> read back, on random and edge-case inputs.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use tusk_format::{BuildOptions, MAX_KEY_LEN, Probe, Shard, ShardBuilder, ShardFormat};

/// Checks every property a shard built from `map` must have, in every format.
fn check_shard(map: &BTreeMap<Vec<u8>, Vec<u8>>, block_size: usize, absent: &[Vec<u8>]) {
    for format in ShardFormat::ALL {
        check_shard_in(format, map, block_size, absent);
    }
}

fn check_shard_in(
    format: ShardFormat,
    map: &BTreeMap<Vec<u8>, Vec<u8>>,
    block_size: usize,
    absent: &[Vec<u8>],
) {
    let records: Vec<(Vec<u8>, Vec<u8>)> = map.clone().into_iter().collect();
    let (bytes, summary) = common::build(format, &records, block_size);
    assert_eq!(summary.records, records.len() as u64);
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(summary.crc32, crc32fast::hash(&bytes));
    // Hashed as it was written, in pieces: the same as hashing the whole file.
    assert_eq!(summary.content_hash, tusk_format::content_hash(&bytes));

    let shard = Shard::open(&bytes[..]).expect("open");
    assert_eq!(shard.verify_with_crc32().expect("verify"), summary.crc32);
    let info = shard.info();
    assert_eq!(info.format_version, format.version());
    assert_eq!(info.format, format);
    assert_eq!(info.records, records.len() as u64);
    assert_eq!(info.file_bytes, bytes.len() as u64);
    assert_eq!(info.index_bytes, info.index_buckets * 64);
    assert_eq!(shard.len(), records.len() as u64);
    assert_eq!(shard.is_empty(), records.is_empty());

    for (k, v) in &records {
        assert_eq!(shard.get(k).expect("get"), Some(&v[..]), "key {k:?}");
    }
    for k in absent {
        if !map.contains_key(k) {
            assert_eq!(shard.get(k).expect("get absent"), None, "absent key {k:?}");
        }
    }
    // The batched path (probe, prefetch bucket, prefetch records, look up)
    // answers exactly what `get` answers, for present and absent keys.
    let keys: Vec<&Vec<u8>> = records.iter().map(|(k, _)| k).chain(absent).collect();
    let probes: Vec<Probe> = keys.iter().map(|k| Probe::new(k)).collect();
    for &p in &probes {
        shard.prefetch_bucket(p);
    }
    for &p in &probes {
        shard.prefetch_records(p);
    }
    for (k, &p) in keys.iter().zip(&probes) {
        assert_eq!(
            shard.get_probed(k, p).expect("get_probed"),
            shard.get(k).expect("get")
        );
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = shard
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .expect("iter");
    assert_eq!(scanned, records);
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => proptest::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        8 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => proptest::collection::vec(any::<u8>(), 0..5000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_shards_round_trip(
        map in proptest::collection::btree_map(key_strategy(), value_strategy(), 0..300),
        absent in proptest::collection::vec(key_strategy(), 0..50),
        block_size in prop_oneof![Just(1usize), Just(100), Just(4096), Just(64 * 1024)],
    ) {
        check_shard(&map, block_size, &absent);
    }
}

#[test]
fn empty_shard_works() {
    let map = BTreeMap::new();
    check_shard(&map, 64 * 1024, &[b"".to_vec(), b"x".to_vec()]);
    let (bytes, _) = common::build(ShardFormat::default(), &[], 64 * 1024);
    let shard = Shard::open(bytes).unwrap();
    assert!(shard.is_empty());
    assert_eq!(shard.info().blocks, 0);
    assert_eq!(shard.iter().count(), 0);
}

#[test]
fn empty_key_and_empty_value() {
    let map: BTreeMap<Vec<u8>, Vec<u8>> =
        [(b"".to_vec(), b"".to_vec()), (b"a".to_vec(), b"".to_vec())].into();
    check_shard(&map, 64 * 1024, &[b"b".to_vec()]);
}

#[test]
fn largest_key_and_values_bigger_than_a_block() {
    let mut map = BTreeMap::new();
    map.insert(vec![b'k'; MAX_KEY_LEN], vec![1u8; 10]);
    map.insert(b"big".to_vec(), vec![7u8; 300_000]);
    map.insert(b"small".to_vec(), b"v".to_vec());
    check_shard(&map, 64 * 1024, &[vec![b'k'; MAX_KEY_LEN - 1]]);
    // Each big record sits in a block of its own.
    let records: Vec<_> = map.into_iter().collect();
    for format in ShardFormat::ALL {
        let (bytes, _) = common::build(format, &records, 64 * 1024);
        assert_eq!(Shard::open(bytes).unwrap().info().blocks, 3);
    }
}

#[test]
fn many_keys_use_about_ten_index_bytes_each() {
    let records: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
        .map(|i| (format!("key-{i:08}").into_bytes(), i.to_le_bytes().to_vec()))
        .collect();
    let (bytes, _) = common::build(ShardFormat::default(), &records, 64 * 1024);
    let shard = Shard::open(&bytes[..]).unwrap();
    shard.verify().unwrap();
    let info = shard.info();
    assert_eq!(info.index_bytes, 3125 * 64); // ceil(20000 / 6.4) buckets
    for (k, v) in records.iter().step_by(7) {
        assert_eq!(shard.get(k).unwrap(), Some(&v[..]));
    }
    for i in 20_000..21_000u32 {
        assert_eq!(shard.get(format!("key-{i:08}").as_bytes()).unwrap(), None);
    }
}

#[test]
fn builder_writes_to_any_writer() {
    // A writer that is not a Vec: a file in a temp dir, read back with std::fs.
    let dir = std::env::temp_dir().join(format!("tusk-format-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shard.tsk");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut b = ShardBuilder::new(file, BuildOptions::default()).unwrap();
    b.add(b"a", b"1").unwrap();
    b.add(b"b", b"2").unwrap();
    let (file, summary) = b.finish().unwrap();
    drop(file);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(summary.crc32, crc32fast::hash(&bytes));
    assert_eq!(summary.content_hash, tusk_format::content_hash(&bytes));
    let shard = Shard::open(bytes).unwrap();
    assert_eq!(shard.get(b"b").unwrap(), Some(&b"2"[..]));
}

#[test]
fn version_2_records_are_four_bytes_shorter() {
    let records: Vec<(Vec<u8>, Vec<u8>)> = (0..1000u32)
        .map(|i| (format!("key-{i:08}").into_bytes(), vec![i as u8; 150]))
        .collect();
    let data = |format| {
        let (bytes, _) = common::build(format, &records, 64 * 1024);
        Shard::open(bytes).unwrap().info().data_bytes
    };
    // 12-byte keys and 150-byte values: 1 + 2 bytes of lengths, and in v1 a CRC.
    assert_eq!(data(ShardFormat::V1), 1000 * (3 + 12 + 150 + 4));
    assert_eq!(data(ShardFormat::V2), 1000 * (3 + 12 + 150));
}
