//! Test fixture: a local store in a temp dir, versions built with the real shard
//! builder, a server started in-process on 127.0.0.1:0 and a real client.

use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;
use tusk_client::Node;
use tusk_format::partition::shard_for;
use tusk_format::{BuildOptions, ShardBuilder, ShardFormat};
use tusk_server::{RunningServer, Server, ServerConfig};
use tusk_store::{Catalog, Manifest, ShardEntry, shard_object_name};

/// A key/value record.
pub type Record = (Vec<u8>, Vec<u8>);

/// `n` records `key-00000 -> <tag>:key-00000`, so a value names its version.
pub fn records(tag: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let key = format!("key-{i:05}");
            (
                key.clone().into_bytes(),
                format!("{tag}:{key}").into_bytes(),
            )
        })
        .collect()
}

/// A store and a data dir, both temporary.
pub struct Fixture {
    pub store: TempDir,
    pub data: TempDir,
    pub catalog: Catalog,
}

impl Fixture {
    pub fn new() -> Fixture {
        let store = tempfile::tempdir().expect("store tempdir");
        let data = tempfile::tempdir().expect("data tempdir");
        let catalog = Catalog::open(&store_url(store.path())).expect("open local store");
        Fixture {
            store,
            data,
            catalog,
        }
    }

    pub fn store_url(&self) -> String {
        store_url(self.store.path())
    }

    /// Builds `records` into `shards` shards and publishes them as `version`.
    pub async fn publish(
        &self,
        domain: &str,
        version: &str,
        records: &[Record],
        shards: u32,
    ) -> Manifest {
        self.publish_with(domain, version, records, shards, |_, _| {})
            .await
    }

    /// Like `publish`, letting `tamper(shard_index, bytes)` change a shard file
    /// before its size and CRC32 are recorded (so the store accepts it).
    pub async fn publish_with(
        &self,
        domain: &str,
        version: &str,
        records: &[Record],
        shards: u32,
        tamper: impl Fn(u32, &mut Vec<u8>),
    ) -> Manifest {
        self.publish_in(
            domain,
            version,
            records,
            shards,
            ShardFormat::default(),
            tamper,
        )
        .await
    }

    /// Like `publish_with`, with shards of `format`.
    pub async fn publish_in(
        &self,
        domain: &str,
        version: &str,
        records: &[Record],
        shards: u32,
        format: ShardFormat,
        tamper: impl Fn(u32, &mut Vec<u8>),
    ) -> Manifest {
        let dir = tempfile::tempdir().expect("build tempdir");
        let entries = build_shards(dir.path(), records, shards, format, tamper);
        let now = tusk_store::version_id::rfc3339(SystemTime::now());
        let manifest = Manifest {
            writer: BTreeMap::from([("tool".to_string(), "tusk-server tests".to_string())]),
            shard_format: format.name().to_string(),
            ..Manifest::new(domain, version, now, entries)
        };
        self.catalog
            .publish(&manifest, dir.path())
            .await
            .expect("publish");
        manifest
    }

    pub async fn activate(&self, domain: &str, version: &str) {
        self.catalog
            .activate(domain, version, "tests", "test activation")
            .await
            .expect("activate");
    }

    /// `<store>/<domain>/versions/<version>/<object>`.
    pub fn store_object(&self, domain: &str, version: &str, object: &str) -> PathBuf {
        self.store
            .path()
            .join(domain)
            .join("versions")
            .join(version)
            .join(object)
    }

    /// Flips one byte in the middle of a stored shard object of `version`, so its
    /// CRC32 no longer matches the manifest.
    pub fn corrupt_stored_shard(&self, domain: &str, version: &str, object: &str) {
        let path = self.store_object(domain, version, object);
        let mut bytes = std::fs::read(&path).expect("read stored shard");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, &bytes).expect("corrupt stored shard");
    }

    /// `<data>/<domain>/<version>`.
    pub fn local_version(&self, domain: &str, version: &str) -> PathBuf {
        self.data.path().join(domain).join(version)
    }

    /// A config for `domains`, on ephemeral ports, polling every 50 ms.
    pub fn config(&self, domains: &[&str]) -> ServerConfig {
        let mut config = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            self.data.path(),
            &self.store_url(),
            domains,
        );
        config.poll_interval = Duration::from_millis(50);
        config.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
        config
    }

    /// Starts a server with `config` and connects a client to it.
    pub async fn start(&self, config: ServerConfig) -> (RunningServer, Node) {
        let server = Server::start(config).await.expect("server starts");
        let client = Node::connect(&server.grpc_addr().to_string())
            .await
            .expect("client connects");
        (server, client)
    }
}

fn store_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn build_shards(
    dir: &Path,
    records: &[Record],
    shards: u32,
    format: ShardFormat,
    tamper: impl Fn(u32, &mut Vec<u8>),
) -> Vec<ShardEntry> {
    let mut parts: Vec<Vec<&Record>> = vec![Vec::new(); shards as usize];
    for r in records {
        parts[shard_for(&r.0, shards) as usize].push(r);
    }
    let mut entries = Vec::new();
    for (i, mut part) in parts.into_iter().enumerate() {
        let index = i as u32;
        part.sort();
        let object = shard_object_name(index);
        let path = dir.join(&object);
        let file = BufWriter::new(File::create(&path).expect("create shard"));
        let opts = BuildOptions {
            format,
            ..BuildOptions::default()
        };
        let mut builder = ShardBuilder::new(file, opts).expect("builder");
        for (k, v) in part {
            builder.add(k, v).expect("add record");
        }
        let (writer, summary) = builder.finish().expect("finish shard");
        drop(writer.into_inner().expect("flush shard"));
        let mut bytes = std::fs::read(&path).expect("read shard");
        tamper(index, &mut bytes);
        std::fs::write(&path, &bytes).expect("rewrite shard");
        entries.push(ShardEntry {
            index,
            object,
            bytes: bytes.len() as u64,
            records: summary.records,
            crc32: crc32fast::hash(&bytes),
            content_hash: Some(tusk_store::ContentHash::of(&bytes)),
        });
    }
    entries
}

/// Polls `check` every 20 ms until it returns true; panics after ~20 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Waits until `domain` answers with `version` (no explicit version).
pub async fn wait_for_version(client: &Node, domain: &str, version: &str) {
    eventually(&format!("{domain} serves {version}"), || async {
        match client.get(domain, b"key-00000", None).await {
            Ok(r) => r.version == version,
            Err(_) => false,
        }
    })
    .await;
}

/// `GET path` over plain HTTP/1.1, which must answer 200; returns the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let answer = crate::exposition::fetch(addr, path, None).await;
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    answer.body
}
