//! S3-specific behaviour of `S3Store` on a real S3-protocol server (moto on
//! 127.0.0.1): streamed multipart uploads, checksum refusal, a missing bucket, a hung
//! server, and the `tusk` CLI on an `s3://` store.

use std::time::Duration;

use bytes::Bytes;
use tusk_store::conformance::pseudo_random;
use tusk_store::{ErrorKind, ObjectStore, PutMode, S3Store};
use tusk_tests::s3::MotoServer;

const BUCKET: &str = "tusk-s3-tests";

fn moto_with_bucket() -> MotoServer {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    moto
}

/// A 40 MiB file goes up in 8 MiB parts streamed from the file; the bytes read back
/// are exactly the file's (no chunk framing stored inside the object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_from_a_file_reads_back_byte_for_byte() {
    let moto = moto_with_bucket();
    let store = moto.store(BUCKET, "mp");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.tsk");
    let data = pseudo_random((40 << 20) + 4321, 99);
    std::fs::write(&path, &data).expect("write");
    let crc = crc32fast::hash(&data);

    let meta = store
        .put_file("d/big.tsk", &path, crc)
        .await
        .expect("put_file");
    assert_eq!(meta.size, data.len() as u64);
    assert!(
        meta.etag.ends_with("-6"),
        "a multipart ETag names its 6 parts: {}",
        meta.etag
    );
    let head = store.head("d/big.tsk").await.expect("head");
    assert_eq!((head.size, &head.etag), (meta.size, &meta.etag));

    let mut offset = 0u64;
    let mut hasher = crc32fast::Hasher::new();
    while offset < meta.size {
        let chunk = store
            .get_range("d/big.tsk", offset, 7 << 20)
            .await
            .expect("get_range");
        assert!(!chunk.is_empty(), "empty read at {offset}");
        let end = offset as usize + chunk.len();
        assert!(
            chunk[..] == data[offset as usize..end],
            "bytes differ in {offset}..{end}"
        );
        hasher.update(&chunk);
        offset = end as u64;
    }
    assert_eq!(hasher.finalize(), crc);
    let listed = store.list("d/").await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].size, &listed[0].etag), (meta.size, &meta.etag));
}

/// A file whose CRC32 is not the one the caller states is refused, small or large,
/// and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_file_with_the_wrong_crc_stores_nothing() {
    let moto = moto_with_bucket();
    let store = moto.store(BUCKET, "crc");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, len) in [("small", 1000usize), ("large", (17 << 20) + 1)] {
        let path = dir.path().join(name);
        let data = pseudo_random(len, len as u64);
        std::fs::write(&path, &data).expect("write");
        let wrong = crc32fast::hash(&data) ^ 1;
        let key = format!("d/{name}");
        let err = store
            .put_file(&key, &path, wrong)
            .await
            .expect_err("wrong crc");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("s3://{BUCKET}/crc/{key}")), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        let missing = store.head(&key).await.expect_err("nothing stored");
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{name}: {missing}");
    }
}

/// A bucket that does not exist: one-line errors naming the bucket and the endpoint,
/// not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_named() {
    let moto = MotoServer::start();
    let store = moto.store("no-such-bucket", "p");
    let put = store
        .put("d/x", Bytes::from_static(b"x"), PutMode::Overwrite)
        .await
        .expect_err("no bucket");
    let list = store.list("d/").await.expect_err("no bucket");
    for err in [put, list] {
        let text = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Permission, "{text}");
        assert!(
            text.contains("bucket \"no-such-bucket\" does not exist"),
            "{text}"
        );
        assert!(text.contains(&moto.endpoint()), "{text}");
        assert!(text.contains("s3://no-such-bucket/p/d/"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
}

fn store_with_deadline(moto: &MotoServer, attempt: Duration, deadline: Duration) -> S3Store {
    let mut config = moto.config(BUCKET, "hang");
    config.attempt_timeout = attempt;
    config.retry_deadline = deadline;
    S3Store::new(config)
}

/// A server that accepts connections but never answers: the operation fails after
/// its deadline with a retryable one-line error naming the object and endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_becomes_an_error_at_the_deadline() {
    let moto = moto_with_bucket();
    let store = store_with_deadline(&moto, Duration::from_millis(300), Duration::from_secs(2));
    store
        .put("d/k", Bytes::from_static(b"v"), PutMode::Overwrite)
        .await
        .expect("put before the hang");
    moto.pause();
    let err = store.get("d/k").await.expect_err("paused server");
    moto.resume();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{text}");
    assert!(text.contains(&format!("s3://{BUCKET}/hang/d/k")), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert!(text.contains(&moto.endpoint()), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
    assert_eq!(
        &store.get("d/k").await.expect("after resume").bytes[..],
        b"v"
    );
}

/// Retries carry an operation across a server stall shorter than the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_ride_out_a_short_stall() {
    let moto = moto_with_bucket();
    let store = store_with_deadline(&moto, Duration::from_millis(500), Duration::from_secs(60));
    store
        .put("d/k", Bytes::from_static(b"before"), PutMode::Overwrite)
        .await
        .expect("put");
    moto.pause();
    let reader = tokio::spawn(async move { store.get("d/k").await });
    // Let at least one attempt time out, then thaw the server.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    moto.resume();
    let got = reader
        .await
        .expect("reader task")
        .expect("get after the stall");
    assert_eq!(&got.bytes[..], b"before");
}

/// Runs the `tusk` binary with the moto environment (no other AWS settings).
fn tusk_s3(moto: &MotoServer, args: &[&str]) -> String {
    tusk_tests::Tusk::with_env(&moto.env()).ok(args)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The operator's commands work on an `s3://` store configured by the AWS
/// environment variables: write, versions, activate, rollback, history, verify.
#[test]
fn the_cli_works_on_an_s3_store() {
    let moto = moto_with_bucket();
    let url = format!("s3://{BUCKET}/cli");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut versions = Vec::new();
    for tag in ["one", "two"] {
        let input = dir.path().join(format!("{tag}.tsv"));
        let records: Vec<(String, String)> = (0..500)
            .map(|i| (format!("key-{i:04}"), format!("{tag}-{i}")))
            .collect();
        tusk_tests::write_tsv(&input, &records);
        let out = tusk_s3(
            &moto,
            &[
                "write",
                "--store",
                &url,
                "--domain",
                "pages",
                "--format",
                "tsv",
                "--input",
                input.to_str().expect("utf-8 path"),
                "--shards",
                "3",
                "--json",
            ],
        );
        let summary = json(&out);
        assert_eq!(summary["records"], 500, "{summary}");
        versions.push(summary["version"].as_str().expect("version").to_string());
    }
    let listed = tusk_s3(
        &moto,
        &["versions", "--store", &url, "--domain", "pages", "--json"],
    );
    for v in &versions {
        assert!(listed.contains(v.as_str()), "{v} listed: {listed}");
    }
    for v in &versions {
        let current = json(&tusk_s3(
            &moto,
            &[
                "activate", "--store", &url, "--domain", "pages", v, "--json",
            ],
        ));
        assert_eq!(current["version"], v.as_str());
    }
    let back = json(&tusk_s3(
        &moto,
        &["rollback", "--store", &url, "--domain", "pages", "--json"],
    ));
    assert_eq!(back["version"], versions[0].as_str());
    let history = json(&tusk_s3(
        &moto,
        &["history", "--store", &url, "--domain", "pages", "--json"],
    ));
    let actions: Vec<(&str, &str)> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap_or(""),
                h["version"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // `tusk write` activates what it publishes; then the two activations and the
    // rollback above.
    let (v1, v2) = (versions[0].as_str(), versions[1].as_str());
    assert_eq!(
        actions,
        vec![
            ("activate", v1),
            ("activate", v2),
            ("activate", v1),
            ("activate", v2),
            ("rollback", v1),
        ]
    );
    for v in &versions {
        tusk_s3(
            &moto,
            &[
                "verify",
                "--store",
                &url,
                "--domain",
                "pages",
                "--version",
                v,
            ],
        );
    }
}
