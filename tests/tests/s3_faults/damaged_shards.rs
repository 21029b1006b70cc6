//! Shard objects corrupted or truncated in the bucket.

use std::time::Duration;

use bytes::Bytes;
use tusk_store::{ObjectStore, PutMode};
use tusk_tests::{ServerProcess, wait_for};

use crate::helpers::{DOMAIN, S3, domain_status, error_line, get, records, runtime, write_version};

/// A minimal HTTP/1.0 GET, enough for /metrics.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("read metrics");
    body
}

/// Replaces an object of the bucket with `damage(bytes)`.
fn damage(
    rt: &tokio::runtime::Runtime,
    objects: &dyn ObjectStore,
    key: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) {
    let mut bytes = rt
        .block_on(objects.get(key))
        .expect("read shard")
        .bytes
        .to_vec();
    damage(&mut bytes);
    rt.block_on(objects.put(key, Bytes::from(bytes), PutMode::Overwrite))
        .expect("overwrite shard");
}

/// A shard object corrupted (a byte flipped) or truncated in the bucket: the server
/// refuses the version and keeps serving v1, status names the shard and the cause,
/// `/metrics` counts the failure, and `tusk verify` fails naming the shard.
#[test]
fn s3_corrupt_or_truncated_shards_are_refused() {
    let s3 = S3::start("damage");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = s3.url();
    let rt = runtime();
    let objects = s3.objects();
    let v1 = write_version(&s3.tusk, &url, tmp.path(), &records("one", 300, 20), 3, &[]);
    let data = tmp.path().join("data");
    let server = ServerProcess::start_with_env(
        &[
            "--store",
            &url,
            "--domain",
            DOMAIN,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8 path"),
            "--poll-interval",
            "100ms",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &tmp.path().join("server.log"),
        s3.tusk.env(),
    );
    let addr = server.server_arg();
    let key = "key-000042";
    wait_for("v1 served", Duration::from_secs(30), || {
        get(&addr, key).filter(|(_, version)| version == &v1)
    });

    // (version tag, shard to damage, the damage, words naming the cause)
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, &str, Damage, &[&str]); 2] = [
        (
            "flipped",
            "shard-00001",
            |b| {
                let middle = b.len() / 2;
                b[middle] ^= 0x5a;
            },
            &["checksum", "crc32"],
        ),
        (
            "truncated",
            "shard-00002",
            |b| b.truncate(b.len() - 100),
            &["checksum", "bytes"],
        ),
    ];
    for (tag, shard, hurt, cause) in cases {
        let records = records(tag, 300 + tag.len(), 20);
        let version = write_version(&s3.tusk, &url, tmp.path(), &records, 3, &["--no-activate"]);
        let object = format!("{DOMAIN}/versions/{version}/{shard}.tsk");
        damage(&rt, objects.as_ref(), &object, hurt);

        s3.tusk
            .ok(&["activate", "--store", &url, "--domain", DOMAIN, &version]);
        let status = wait_for(
            "status to name the refused shard",
            Duration::from_secs(30),
            || {
                let status = domain_status(&addr);
                let error = status["last_error"].as_str().unwrap_or("").to_string();
                (error.contains(&version) && error.contains(shard)).then_some(status)
            },
        );
        let error = status["last_error"].as_str().unwrap_or("");
        assert!(cause.iter().all(|w| error.contains(w)), "{tag}: {error}");
        eprintln!("{tag}: the server refused {version}: {error}");
        assert_eq!(status["current_version"], v1.as_str(), "{tag}: {status}");
        assert_eq!(
            status["failed_version"],
            version.as_str(),
            "{tag}: {status}"
        );
        let (value, answered) = get(&addr, key).expect("v1 still answers");
        assert_eq!(answered, v1, "{tag}");
        assert!(value.starts_with("one-000042-"), "{tag}: {value}");

        let metrics_addr = server.metrics_addr.expect("metrics address").to_string();
        let metrics = http_get(&metrics_addr, "/metrics");
        let failures: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("tusk_load_failures_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(failures > 0.0, "{tag}: failures counted:\n{metrics}");

        let out = s3.tusk.run(&[
            "verify",
            "--store",
            &url,
            "--domain",
            DOMAIN,
            "--version",
            &version,
        ]);
        assert!(!out.status.success(), "{tag}: verify must fail");
        let line = error_line(&String::from_utf8_lossy(&out.stderr));
        assert!(line.contains(shard), "{tag}: {line}");
        assert!(line.contains(&version), "{tag}: {line}");
        eprintln!("{tag}: verify failed: {line}");
    }
    assert!(server.terminate(), "clean exit");
}
