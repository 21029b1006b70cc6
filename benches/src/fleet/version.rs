//! Bench versions: `keys` records (the lookup bench's 24-byte SplitMix64 keys,
//! 150-byte values) built into shards with the real shard builder and published
//! to a store in this process; and the keys a load task asks for.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::SystemTime;

use tusk_format::partition::shard_for;
use tusk_format::{BuildOptions, ShardBuilder};
use tusk_store::{Catalog, Manifest, ShardEntry, shard_object_name};

use super::error::{FleetError, FleetResult};
use crate::data::{KEY_LEN, VALUE_LEN, key, mix, value_for};

/// The domain every scenario serves.
pub const DOMAIN: &str = "bench";

/// The value of key `k` in the version tagged `tag`: the lookup bench's value
/// with its first byte xored with the tag, so versions differ at equal size.
pub fn value(k: &[u8], tag: u8) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    value_for(k, &mut v);
    v[0] ^= tag;
    v
}

/// The key that request `i` of load task `task` asks for, uniform over `0..keys`
/// and the same sequence for every scenario (so two sides of a comparison ask
/// for the same keys).
pub fn pick(task: usize, i: u64, keys: usize) -> [u8; KEY_LEN] {
    let r = mix(0x6b65_7973 ^ ((task as u64) << 40) ^ i);
    key(((u128::from(r) * keys as u128) >> 64) as u64)
}

/// Builds version `version` (`keys` records, `shards` shards, values tagged
/// `tag`) into `dir` and returns its manifest, ready to publish from `dir`.
pub fn build(
    dir: &Path,
    version: &str,
    keys: usize,
    shards: u32,
    tag: u8,
) -> FleetResult<Manifest> {
    let mut parts: Vec<Vec<[u8; KEY_LEN]>> = vec![Vec::new(); shards as usize];
    for i in 0..keys as u64 {
        let k = key(i);
        parts[shard_for(&k, shards) as usize].push(k);
    }
    let mut entries = Vec::with_capacity(parts.len());
    for (index, mut part) in (0u32..).zip(parts) {
        part.sort_unstable();
        let object = shard_object_name(index);
        let path = dir.join(&object);
        let build_err = |source| FleetError::Build {
            version: version.to_string(),
            shard: index,
            source,
        };
        let file = File::create(&path).map_err(|source| FleetError::Io {
            what: "creating",
            path: path.clone(),
            source,
        })?;
        let mut builder =
            ShardBuilder::new(BufWriter::new(file), BuildOptions::default()).map_err(build_err)?;
        for k in &part {
            builder.add(k, &value(k, tag)).map_err(build_err)?;
        }
        let (writer, summary) = builder.finish().map_err(build_err)?;
        writer.into_inner().map_err(|e| FleetError::Io {
            what: "flushing",
            path: path.clone(),
            source: e.into_error(),
        })?;
        let bytes = std::fs::read(&path).map_err(|source| FleetError::Io {
            what: "reading back",
            path: path.clone(),
            source,
        })?;
        entries.push(ShardEntry {
            index,
            object,
            bytes: bytes.len() as u64,
            records: summary.records,
            crc32: crc32fast::hash(&bytes),
            content_hash: Some(tusk_store::ContentHash::of(&bytes)),
        });
    }
    let now = tusk_store::version_id::rfc3339(SystemTime::now());
    Ok(Manifest {
        writer: BTreeMap::from([("tool".to_string(), "tusk fleet bench".to_string())]),
        ..Manifest::new(DOMAIN, version, now, entries)
    })
}

/// Uploads the version built in `dir` to `catalog` and makes it `CURRENT`.
pub async fn publish_and_activate(
    catalog: &Catalog,
    manifest: &Manifest,
    dir: &Path,
) -> FleetResult<()> {
    publish(catalog, manifest, dir).await?;
    activate(catalog, &manifest.version).await
}

/// Uploads the version built in `dir` to `catalog` (not `CURRENT` yet).
pub async fn publish(catalog: &Catalog, manifest: &Manifest, dir: &Path) -> FleetResult<()> {
    catalog
        .publish(manifest, dir)
        .await
        .map_err(|source| store_error("publishing", &manifest.version, source))
}

/// Makes `version` `CURRENT`.
pub async fn activate(catalog: &Catalog, version: &str) -> FleetResult<()> {
    catalog
        .activate(DOMAIN, version, "fleet bench", "bench version")
        .await
        .map(|_| ())
        .map_err(|source| store_error("activating", version, source))
}

/// The manifest of `version` as the store holds it.
pub async fn manifest(catalog: &Catalog, version: &str) -> FleetResult<Manifest> {
    catalog
        .manifest(DOMAIN, version)
        .await
        .map_err(|source| store_error("reading the manifest of", version, source))
}

fn store_error(what: &'static str, version: &str, source: tusk_store::StoreError) -> FleetError {
    FleetError::Store {
        what,
        domain: DOMAIN.to_string(),
        version: version.to_string(),
        source: Box::new(source),
    }
}

/// A local-directory store at `path` (created).
pub fn open_store(path: &Path) -> FleetResult<Catalog> {
    std::fs::create_dir_all(path).map_err(|source| FleetError::Io {
        what: "creating the store directory",
        path: path.to_path_buf(),
        source,
    })?;
    Catalog::open(&format!("file://{}", path.display())).map_err(|source| FleetError::Store {
        what: "opening",
        domain: DOMAIN.to_string(),
        version: String::new(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tusk_format::Shard;

    #[test]
    fn a_built_version_holds_every_key_once_with_its_tagged_value() {
        let dir = tempfile::tempdir().unwrap();
        let m = build(dir.path(), "v1", 500, 4, 7).unwrap();
        assert_eq!(m.shards.len(), 4);
        assert_eq!(m.shards.iter().map(|s| s.records).sum::<u64>(), 500);
        let shards: Vec<Vec<u8>> = m
            .shards
            .iter()
            .map(|s| std::fs::read(dir.path().join(&s.object)).unwrap())
            .collect();
        for i in [0u64, 1, 250, 499] {
            let k = key(i);
            let bytes = &shards[shard_for(&k, 4) as usize];
            let shard = Shard::open(&bytes[..]).unwrap();
            let got = shard.get(&k).unwrap().expect("key present");
            assert_eq!(got, &value(&k, 7)[..]);
            assert_ne!(got, &value(&k, 8)[..], "tags change values");
        }
    }

    #[test]
    fn picks_are_in_range_repeatable_and_spread() {
        let a: Vec<_> = (0..200).map(|i| pick(3, i, 1000)).collect();
        let b: Vec<_> = (0..200).map(|i| pick(3, i, 1000)).collect();
        assert_eq!(a, b);
        let keys: std::collections::HashSet<[u8; KEY_LEN]> = (0..1000).map(key).collect();
        assert!(a.iter().all(|k| keys.contains(k)));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
        assert_ne!(pick(4, 0, 1000), pick(3, 0, 1000));
    }
}
