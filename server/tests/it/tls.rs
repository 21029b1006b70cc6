//! TLS and mTLS on real sockets: certificates made in the test, a real server and
//! real clients; a 2-node mTLS fleet forwards over mTLS.

use std::path::Path;

use tusk_client::{Client, ClientError, Node, NodeOptions, TlsIdentity, TlsOptions};
use tusk_server::config::ClusterConfig;
use tusk_server::{Server, ServerConfig, ServerError};
use tusk_tests::certs::{LeafFiles, TestCa};

use crate::common::{Fixture, eventually, records};
use crate::fleet::spread_addrs;

const DOMAIN: &str = "pages";

/// Client TLS options trusting `ca`, presenting `identity` if any.
fn client_tls(ca: &TestCa, identity: Option<&TestCa>) -> TlsOptions {
    TlsOptions {
        ca: Some(ca.cert_pem().into_bytes()),
        identity: identity.map(|issuer| {
            let leaf = issuer.leaf("client");
            TlsIdentity {
                cert: leaf.cert.into_bytes(),
                key: leaf.key.into_bytes(),
            }
        }),
        domain_name: None,
    }
}

/// `config` serving with `files`' certificate, requiring client certificates from
/// `client_ca` when given.
fn with_tls(mut config: ServerConfig, files: &LeafFiles, client_ca: Option<&Path>) -> ServerConfig {
    config.tls_cert = Some(files.cert.clone());
    config.tls_key = Some(files.key.clone());
    config.tls_client_ca = client_ca.map(Path::to_path_buf);
    config
}

/// The error and every source, so assertions can look at the root cause.
fn chain(error: &ClientError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One Get of `key-00000` at `addr` with `tls` (connect included).
async fn get(addr: &str, tls: Option<TlsOptions>) -> Result<String, String> {
    let options = NodeOptions {
        tls,
        ..NodeOptions::default()
    };
    let node = Node::connect_with(addr, options)
        .await
        .map_err(|e| chain(&e))?;
    let got = node
        .get(DOMAIN, b"key-00000", None)
        .await
        .map_err(|e| chain(&e))?;
    Ok(String::from_utf8_lossy(&got.value).into_owned())
}

/// A published, activated `v1` of 40 records.
async fn published() -> Fixture {
    let fixture = Fixture::new();
    fixture.publish(DOMAIN, "v1", &records("v1", 40), 2).await;
    fixture.activate(DOMAIN, "v1").await;
    fixture
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_answers_only_clients_that_trust_it_over_tls() {
    let fixture = published().await;
    let certs = tempfile::tempdir().expect("certs");
    let ca = TestCa::new("tusk test ca");
    let other = TestCa::new("another ca");
    let files = ca.write_leaf(certs.path(), "node");
    let server = Server::start(with_tls(fixture.config(&[DOMAIN]), &files, None))
        .await
        .expect("tls server starts");
    let addr = server.grpc_addr().to_string();

    let trusted = client_tls(&ca, None);
    eventually("the tls server serves v1", || async {
        get(&addr, Some(trusted.clone())).await.is_ok()
    })
    .await;
    assert_eq!(
        get(&format!("https://{addr}"), Some(trusted.clone())).await,
        Ok("v1:key-00000".to_string())
    );
    // Without the CA an https address is refused before any I/O.
    let err = get(&format!("https://{addr}"), None)
        .await
        .expect_err("no ca");
    assert!(err.contains("CA certificate"), "{err}");

    let err = get(&addr, Some(client_tls(&other, None)))
        .await
        .expect_err("a client trusting another CA");
    assert!(err.contains("certificate"), "{err}");
    let err = get(&addr, None)
        .await
        .expect_err("plaintext to a TLS server");
    assert!(!err.contains("v1:key"), "{err}");

    // The metrics endpoint stays plain HTTP.
    let metrics =
        crate::common::http_get(server.metrics_addr().expect("metrics"), "/metrics").await;
    assert!(metrics.contains("tusk"), "{metrics}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mtls_server_answers_only_clients_with_a_certificate_from_its_ca() {
    let fixture = published().await;
    let certs = tempfile::tempdir().expect("certs");
    let ca = TestCa::new("tusk test ca");
    let other = TestCa::new("another ca");
    let files = ca.write_leaf(certs.path(), "node");
    let config = with_tls(fixture.config(&[DOMAIN]), &files, Some(&files.ca));
    let server = Server::start(config).await.expect("mtls server starts");
    let addr = server.grpc_addr().to_string();

    let good = client_tls(&ca, Some(&ca));
    eventually("the mtls server serves v1", || async {
        get(&addr, Some(good.clone())).await.is_ok()
    })
    .await;
    assert_eq!(get(&addr, Some(good)).await, Ok("v1:key-00000".to_string()));
    let err = get(&addr, Some(client_tls(&ca, None)))
        .await
        .expect_err("no client certificate");
    assert!(!err.contains("v1:key"), "{err}");
    let err = get(&addr, Some(client_tls(&ca, Some(&other))))
        .await
        .expect_err("a client certificate from another CA");
    assert!(!err.contains("v1:key"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tls_files_fail_the_start_naming_the_field_and_the_path() {
    let fixture = Fixture::new();
    let certs = tempfile::tempdir().expect("certs");
    let ca = TestCa::new("tusk test ca");
    let files = ca.write_leaf(certs.path(), "node");
    let stranger = ca.write_leaf(certs.path(), "stranger");
    let missing = certs.path().join("missing.pem");
    let not_pem = certs.path().join("not-pem.pem");
    std::fs::write(&not_pem, "hello").expect("write");

    let base = || with_tls(fixture.config(&[DOMAIN]), &files, None);
    let mut cases: Vec<(ServerConfig, &str, &Path)> = Vec::new();
    let mut c = base();
    c.tls_cert = Some(missing.clone());
    cases.push((c, "tls_cert", &missing));
    let mut c = base();
    c.tls_key = Some(not_pem.clone());
    cases.push((c, "tls_key", &not_pem));
    let mut c = base();
    c.tls_client_ca = Some(not_pem.clone());
    cases.push((c, "tls_client_ca", &not_pem));
    let mut c = base();
    c.tls_key = Some(stranger.key.clone());
    cases.push((c, "tls_key", &stranger.key));
    for (config, field, path) in cases {
        let err = Server::start(config).await.expect_err(field);
        let text = err.to_string();
        assert!(matches!(err, ServerError::Config(_)), "{text}");
        assert!(
            text.contains(field) && text.contains(&path.display().to_string()),
            "{field}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_mtls_fleet_forwards_over_mtls() {
    let fixture = Fixture::new();
    let data = records("v1", 200);
    fixture.publish(DOMAIN, "v1", &data, 8).await;
    fixture.activate(DOMAIN, "v1").await;
    let certs = tempfile::tempdir().expect("certs");
    let ca = TestCa::new("fleet ca");
    let addrs = spread_addrs(DOMAIN, 2, 1, 8);
    let names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let files = ca.write_leaf(certs.path(), &format!("node{i}"));
        let dir = tempfile::tempdir().expect("data dir");
        let mut config = with_tls(fixture.config(&[DOMAIN]), &files, Some(&files.ca));
        config.listen = *addr;
        config.data_dir = dir.path().to_path_buf();
        config.metrics_listen = None;
        config.cluster = Some(ClusterConfig {
            nodes: names.clone(),
            self_node: names[i].clone(),
            replication: 1,
            forward_timeout: std::time::Duration::from_secs(2),
            tls_ca: None,
        });
        servers.push(Server::start(config).await.expect("node starts"));
        dirs.push(dir);
    }

    let options = NodeOptions {
        tls: Some(client_tls(&ca, Some(&ca))),
        ..NodeOptions::default()
    };
    let nodes = [
        Node::connect_with(&names[0], options.clone())
            .await
            .expect("node 0"),
        Node::connect_with(&names[1], options)
            .await
            .expect("node 1"),
    ];
    for node in &nodes {
        eventually("both nodes serve v1", || async {
            node.topology().await.is_ok_and(|t| {
                t.domains
                    .first()
                    .and_then(|d| d.versions.first())
                    .is_some_and(|v| v.version == "v1")
            })
        })
        .await;
    }
    let held = nodes[0].topology().await.expect("topology").domains[0].versions[0]
        .shards
        .len();
    assert!(held > 0 && held < 8, "node 0 holds a share only: {held}");

    // Every key through node 0: the half it does not hold travels over mTLS.
    for (key, value) in &data {
        let got = nodes[0].get(DOMAIN, key, None).await.expect("get");
        assert!(got.found, "{}", String::from_utf8_lossy(key));
        assert_eq!(&got.value, value);
    }
    let keys: Vec<Vec<u8>> = data.iter().map(|r| r.0.clone()).collect();
    let answer = nodes[0]
        .multi_get(DOMAIN, keys.clone(), None)
        .await
        .expect("multi_get");
    assert!(
        answer
            .entries
            .iter()
            .zip(&data)
            .all(|(e, r)| e.found && e.value == r.1)
    );
    // The routing client over mTLS: every key straight from a node that holds it.
    let routing = Client::builder()
        .seeds(&names)
        .tls(client_tls(&ca, Some(&ca)))
        .build()
        .expect("routing client");
    for (key, value) in data.iter().step_by(5) {
        let got = routing
            .get(DOMAIN, key)
            .await
            .expect("routed get over mTLS");
        assert_eq!(got.value.as_deref(), Some(value.as_slice()));
    }
    let all = routing
        .multi_get(DOMAIN, &keys)
        .await
        .expect("routed multi_get");
    assert!(
        all.values
            .iter()
            .zip(&data)
            .all(|(v, r)| v.as_deref() == Some(r.1.as_slice()))
    );
    // Without a client certificate the fleet answers nothing.
    let anonymous = Client::builder()
        .seeds(&names)
        .tls(client_tls(&ca, None))
        .build()
        .expect("client");
    assert!(anonymous.get(DOMAIN, &data[0].0).await.is_err());
    for server in servers {
        server.shutdown().await;
    }
}
