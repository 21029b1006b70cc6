//! Helpers shared by the writer's integration tests.
#![allow(dead_code)]

pub mod pq;

use std::collections::BTreeMap;
use std::path::Path;

use tusk_format::Shard;
use tusk_format::partition::shard_for;
use tusk_writer::{BuiltVersion, InputFormat, InputOptions, InputSource, WriteOptions};

/// Every record of a built version, checked on the way: each shard verifies, its
/// size, record count and CRC32 match the manifest, and each key lives in the shard
/// the partitioner names.
pub fn contents(built: &BuiltVersion) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let m = &built.manifest;
    assert_eq!(m.shards.len() as u32, m.shard_count);
    let mut all = BTreeMap::new();
    for entry in &m.shards {
        let bytes = std::fs::read(built.shard_dir().join(&entry.object)).unwrap();
        assert_eq!(bytes.len() as u64, entry.bytes, "size of {}", entry.object);
        assert_eq!(
            crc32fast::hash(&bytes),
            entry.crc32,
            "crc32 of {}",
            entry.object
        );
        let shard = Shard::open(bytes).unwrap();
        shard.verify().unwrap();
        assert_eq!(shard.len(), entry.records);
        for item in shard.iter() {
            let (k, v) = item.unwrap();
            assert_eq!(
                shard_for(k, m.shard_count),
                entry.index,
                "key {k:?} in the wrong shard"
            );
            assert!(
                all.insert(k.to_vec(), v.to_vec()).is_none(),
                "key {k:?} in two shards"
            );
        }
    }
    assert_eq!(all.len() as u64, m.records);
    all
}

/// The same contents with UTF-8 strings, for readable assertions.
pub fn text(built: &BuiltVersion) -> BTreeMap<String, String> {
    contents(built)
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn opts(temp: &Path) -> WriteOptions {
    let mut o = WriteOptions::new("test-domain");
    o.shards = 4;
    o.temp_dir = Some(temp.to_path_buf());
    o
}

pub fn tsv() -> InputOptions {
    InputOptions::default()
}

pub fn jsonl() -> InputOptions {
    InputOptions {
        format: InputFormat::Jsonl,
        ..InputOptions::default()
    }
}

pub fn path(p: &Path) -> InputSource {
    InputSource::Path(p.to_path_buf())
}

/// True when `dir` holds nothing (the writer cleaned up after itself).
pub fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}
