//! Damage after loading: a served file changed in place is found (by a read or the
//! scrubber) and downloaded again into a new file; a stored shard that matches its
//! manifest but breaks the format is reported, not downloaded in a loop.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::time::Duration;

use tusk_client::Code;
use tusk_format::ShardFormat;

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

/// The local file of `version` holding `needle`, and its offset.
fn local_file_with(fx: &Fixture, version: &str, needle: &[u8]) -> (PathBuf, u64) {
    let dir = fx.local_version("pages", version);
    for entry in std::fs::read_dir(&dir).expect("list local version") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        if let Some(pos) = bytes.windows(needle.len()).position(|w| w == needle) {
            return (path, pos as u64);
        }
    }
    panic!("{needle:?} not in {}", dir.display());
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}{{domain=\"pages\"}} ")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not exported:\n{metrics}"))
}

/// Format 1: a damaged byte of a value fails the record's CRC.
#[tokio::test]
async fn a_v1_record_damaged_after_loading_fails_internal_then_its_shard_is_healed() {
    // The value "v1:key-00013" is damaged in its fifth byte.
    damaged_record_fails_internal_then_heals(ShardFormat::V1, |value_at| (value_at + 4, b'X'))
        .await;
}

/// Format 2: a damaged value length (12 becomes 13, running the value into the next
/// record) fails the record check in the index slot.
#[tokio::test]
async fn a_v2_record_length_damaged_after_loading_fails_internal_then_its_shard_is_healed() {
    // key_len (9) and value_len (12) are the two bytes before the 9-byte key.
    damaged_record_fails_internal_then_heals(ShardFormat::V2, |value_at| (value_at - 10, 13)).await;
}

/// Loads a version of `format`, writes `damage(offset of the value of key-00013)`
/// (a position and a byte) into the served file, and checks that reading the key
/// fails INTERNAL, wakes the scrubber, and that the shard is downloaded again.
async fn damaged_record_fails_internal_then_heals(
    format: ShardFormat,
    damage: impl Fn(u64) -> (u64, u8),
) {
    let fx = Fixture::new();
    fx.publish_in("pages", "v1", &records("v1", 40), 2, format, |_, _| {})
        .await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    // Damage the value of key-00013 in the served (memory-mapped) local file. The
    // server never does this; it stands for disk damage after the download.
    let (path, pos) = local_file_with(&fx, "v1", b"v1:key-00013");
    let object = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (at, byte) = damage(pos);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open for write");
    file.write_all_at(&[byte], at).expect("damage byte");
    drop(file);

    let err = client
        .multi_get(
            "pages",
            vec![b"key-00001".to_vec(), b"key-00013".to_vec()],
            None,
        )
        .await
        .expect_err("damaged record in the batch");
    assert_eq!(err.code(), Code::Internal, "{err}");
    assert!(
        err.message().contains(&object),
        "{err} should name {object}"
    );

    // The read woke the scrubber: the shard is downloaded again and swapped in.
    eventually("the damaged record reads right again", || async {
        client
            .get("pages", b"key-00013", None)
            .await
            .is_ok_and(|r| r.value[..] == b"v1:key-00013"[..])
    })
    .await;
    let d = client.status().await.expect("status").domains.remove(0);
    assert!(
        d.note.contains(&object) && d.note.contains("repaired"),
        "{d:?}"
    );
    assert!(d.last_error.is_empty(), "{d:?}");
    assert_eq!(d.current_version, "v1");
    let metrics = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert_eq!(
        counter(&metrics, "tusk_damaged_shards_total"),
        1,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "tusk_repaired_shards_total"),
        1,
        "{metrics}"
    );
    // The repaired file is a new one, and its stamp says so: a restart trusts it
    // without a full check.
    let stamps: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fx.local_version("pages", "v1").join("STAMPS.json")).expect("stamps"),
    )
    .expect("stamps parse");
    let meta = std::fs::metadata(&path).expect("stat repaired file");
    assert_eq!(stamps[&object]["inode"], meta.ino(), "{stamps}");
    assert_eq!(stamps[&object]["bytes"], meta.len(), "{stamps}");
    assert_eq!(
        stamps[&object]["mtime_ns"],
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        "{stamps}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_scrub_round_finds_damage_no_read_touched() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 40), 2).await;
    fx.activate("pages", "v1").await;
    let mut config = fx.config(&["pages"]);
    config.scrub_interval = Duration::from_millis(50);
    let (server, client) = fx.start(config).await;
    wait_for_version(&client, "pages", "v1").await;

    let (path, pos) = local_file_with(&fx, "v1", b"v1:key-00021");
    let object = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open for write");
    file.write_all_at(b"Y", pos + 4).expect("damage byte");
    drop(file);

    eventually("the scrubber repairs the shard", || async {
        let d = client.status().await.expect("status").domains.remove(0);
        d.note.contains(&object) && d.note.contains("repaired")
    })
    .await;
    let got = client.get("pages", b"key-00021", None).await.expect("get");
    assert_eq!(got.value, &b"v1:key-00021"[..]);
    let metrics = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(
        counter(&metrics, "tusk_scrubbed_bytes_total") > 0,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "tusk_damaged_shards_total"),
        1,
        "{metrics}"
    );
    server.shutdown().await;
}

/// A stored shard whose bytes match its manifest but break the format (a writer
/// bug) is refused when downloaded: the format's full verify runs on every fresh
/// download, so the version is never served, and the status names the shard.
#[tokio::test]
async fn a_stored_shard_that_breaks_the_format_is_refused_on_download() {
    let fx = Fixture::new();
    fx.publish("pages", "v0", &records("v0", 60), 2).await;
    fx.activate("pages", "v0").await;
    // Damage a record of v1 before its CRC32 is computed: the download matches the
    // manifest, the shard's own record checksum does not.
    let needle = b"v1:key-00007";
    fx.publish_with("pages", "v1", &records("v1", 60), 2, |_, bytes| {
        if let Some(pos) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[pos + 4] ^= 0x55;
        }
    })
    .await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v0").await;
    fx.activate("pages", "v1").await;
    eventually("the bad stored shard is refused and named", || async {
        let d = client.status().await.expect("status").domains.remove(0);
        d.last_error.contains("v1") && d.last_error.contains("shard-0000")
    })
    .await;
    for key in [&b"key-00007"[..], b"key-00008"] {
        let got = client
            .get("pages", key, None)
            .await
            .expect("v0 keeps serving");
        assert_eq!(got.version, "v0");
    }
    let metrics = http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(
        counter(&metrics, "tusk_load_failures_total") >= 1,
        "{metrics}"
    );
    server.shutdown().await;
}
