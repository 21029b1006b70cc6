//! Shards reused across versions: a shard whose bytes a version on disk already
//! holds is hard-linked, not downloaded, and served without a second check.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tusk_client::Node;
use tusk_format::partition::shard_for;
use tusk_store::Manifest;

use crate::common::{Fixture, Record, records, wait_for_version};
use crate::metrics::scrape;

const SHARDS: u32 = 3;

/// The records of "v1", with the value of `key-00005` changed: only its shard differs.
fn one_changed() -> (Vec<Record>, u32) {
    let mut changed = records("v1", 90);
    changed[5].1 = b"changed in v2".to_vec();
    let shard = shard_for(&changed[5].0, SHARDS);
    (changed, shard)
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").ino()
}

/// The inode of each shard file of `version` in the data dir.
fn inodes(fx: &Fixture, manifest: &Manifest) -> Vec<u64> {
    let dir = fx.local_version("pages", &manifest.version);
    manifest
        .shards
        .iter()
        .map(|s| inode(&dir.join(&s.object)))
        .collect()
}

/// The bytes of the files under a domain's directory counted per name, then per
/// file (inode).
fn disk_usage(domain_dir: &Path) -> (u64, u64) {
    let mut seen = std::collections::HashSet::new();
    let (mut names, mut files) = (0, 0);
    for version in std::fs::read_dir(domain_dir).expect("ls") {
        for file in std::fs::read_dir(version.expect("entry").path()).expect("ls") {
            let meta = file.expect("entry").metadata().expect("stat");
            names += meta.len();
            if seen.insert(meta.ino()) {
                files += meta.len();
            }
        }
    }
    (names, files)
}

async fn assert_serves(client: &Node, version: &str, all: &[Record]) {
    for (key, value) in all {
        let got = client.get("pages", key, None).await.expect("get");
        assert_eq!(
            (got.version.as_str(), &got.value[..]),
            (version, &value[..]),
            "{}",
            String::from_utf8_lossy(key)
        );
    }
}

#[tokio::test]
async fn a_new_version_links_the_shards_it_shares_with_one_on_disk() {
    let fx = Fixture::new();
    let v1 = fx.publish("pages", "v1", &records("v1", 90), SHARDS).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    let metrics = server.metrics_addr().expect("metrics bound");
    let pages = [("domain", "pages")];
    let before = scrape(metrics).await;

    let (all, changed) = one_changed();
    let v2 = fx.publish("pages", "v2", &all, SHARDS).await;
    // The store keeps only the changed shard of v2: were any other one
    // downloaded, the version could not load.
    for shard in v2.shards.iter().filter(|s| s.index != changed) {
        assert!(v1.shards[shard.index as usize].same_bytes_as(shard));
        std::fs::remove_file(fx.store_object("pages", "v2", &shard.object)).expect("rm");
    }
    fx.activate("pages", "v2").await;
    wait_for_version(&client, "pages", "v2").await;
    assert_serves(&client, "v2", &all).await;

    let (old, new) = (inodes(&fx, &v1), inodes(&fx, &v2));
    for i in 0..SHARDS as usize {
        assert_eq!(
            old[i] == new[i],
            i != changed as usize,
            "shard {i}: {old:?} {new:?}"
        );
    }
    let after = scrape(metrics).await;
    let delta = |name: &str| after.value(name, &pages) - before.value(name, &pages);
    let changed_bytes = v2.shards[changed as usize].bytes as f64;
    assert_eq!(delta("tusk_download_bytes_total"), changed_bytes);
    assert_eq!(
        delta("tusk_reused_shard_bytes_total"),
        (v2.bytes as f64) - changed_bytes
    );
    // The files of both versions, a linked one counted once.
    let (every_name, every_file) = disk_usage(&fx.data.path().join("pages"));
    assert!(every_file < every_name);
    assert_eq!(after.value("tusk_disk_bytes", &pages), every_file as f64);
    server.shutdown().await;

    // The links stand on their own: without v1's directory, a restart serves v2
    // from disk (its stamps trust the linked files as they are).
    std::fs::remove_dir_all(fx.local_version("pages", "v1")).expect("rm v1");
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v2").await;
    assert_serves(&client, "v2", &all).await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert!(d.note.contains("local disk"), "{}", d.note);
    server.shutdown().await;
}

#[tokio::test]
async fn a_shard_on_disk_changed_since_its_check_is_downloaded_not_linked() {
    let fx = Fixture::new();
    let v1 = fx.publish("pages", "v1", &records("v1", 90), SHARDS).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    // Shard 0 of v1 no longer matches the stamp of its check (its bytes may have
    // changed): it must not be the source of v2's shard 0.
    let touched = fx.local_version("pages", "v1").join(&v1.shards[0].object);
    let file = std::fs::File::options()
        .write(true)
        .open(&touched)
        .expect("open");
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .expect("set mtime");
    drop(file);

    let v2 = fx.publish("pages", "v2", &records("v1", 90), SHARDS).await;
    fx.activate("pages", "v2").await;
    wait_for_version(&client, "pages", "v2").await;
    assert_serves(&client, "v2", &records("v1", 90)).await;
    let (old, new) = (inodes(&fx, &v1), inodes(&fx, &v2));
    assert_ne!(old[0], new[0], "the changed file was linked");
    assert_eq!(old[1..], new[1..], "the unchanged files were downloaded");
    server.shutdown().await;
}
