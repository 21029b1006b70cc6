//! Reads, status codes, health, metrics and reflection against one version.

use tusk_client::{Code, DomainState, ServingStatus};

use crate::common::{Fixture, eventually, http_get, records, wait_for_version};

#[tokio::test]
async fn get_and_multi_get_answer_hits_and_misses_from_one_version() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 300), 4).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;

    let hit = client.get("pages", b"key-00042", None).await.expect("get");
    assert!(hit.found);
    assert_eq!(hit.value, &b"v1:key-00042"[..]);
    assert_eq!(hit.version, "v1");

    let miss = client
        .get("pages", b"absent", None)
        .await
        .expect("get miss");
    assert!(!miss.found);
    assert!(miss.value.is_empty());
    assert_eq!(miss.version, "v1");

    let explicit = client
        .get("pages", b"key-00007", Some("v1"))
        .await
        .expect("explicit version");
    assert_eq!(explicit.value, &b"v1:key-00007"[..]);

    let keys: Vec<Vec<u8>> = vec![
        b"key-00299".to_vec(),
        b"nope".to_vec(),
        b"key-00000".to_vec(),
    ];
    let multi = client
        .multi_get("pages", keys, None)
        .await
        .expect("multi_get");
    assert_eq!(multi.version, "v1");
    assert_eq!(multi.entries.len(), 3);
    assert!(multi.entries[0].found && multi.entries[0].value[..] == b"v1:key-00299"[..]);
    assert!(!multi.entries[1].found && multi.entries[1].value.is_empty());
    assert!(multi.entries[2].found && multi.entries[2].value[..] == b"v1:key-00000"[..]);

    let empty = client
        .multi_get("pages", Vec::new(), None)
        .await
        .expect("empty batch");
    assert!(empty.entries.is_empty());
    assert_eq!(empty.version, "v1");

    let status = client.status().await.expect("status");
    let node = status.node.expect("node info");
    assert_eq!(node.listen_addr, server.grpc_addr().to_string());
    assert!(!node.tusk_version.is_empty());
    assert_eq!(node.shard_formats, ["tusk-native-v1", "tusk-native-v2"]);
    let d = &status.domains[0];
    assert_eq!(d.name, "pages");
    assert_eq!(d.state, DomainState::Serving as i32);
    assert_eq!(d.current_version, "v1");
    assert_eq!(d.store_current_version, "v1");
    assert_eq!(d.local_versions, vec!["v1".to_string()]);
    assert_eq!(d.swaps, 1);
    assert!(d.store_url.starts_with("file://"), "{}", d.store_url);
    assert!(!d.last_poll_at.is_empty());
    assert!(d.last_error.is_empty(), "{}", d.last_error);
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_the_documented_codes_and_name_the_problem() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 50), 2).await;
    fx.activate("pages", "v1").await;
    let mut config = fx.config(&["pages", "later"]);
    config.max_key_len = 16;
    config.max_batch = 3;
    let (server, client) = fx.start(config).await;
    wait_for_version(&client, "pages", "v1").await;

    let err = client
        .get("nosuch", b"k", None)
        .await
        .expect_err("unknown domain");
    assert_eq!(err.code(), Code::NotFound, "{err}");
    assert!(
        err.message().contains("nosuch") && err.message().contains("pages"),
        "{err}"
    );

    let err = client
        .get("later", b"k", None)
        .await
        .expect_err("not loaded");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    let err = client
        .multi_get("later", vec![b"k".to_vec()], None)
        .await
        .expect_err("not loaded");
    assert_eq!(err.code(), Code::Unavailable, "{err}");

    let err = client.get("pages", b"", None).await.expect_err("empty key");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");

    let err = client
        .get("pages", &[b'x'; 17], None)
        .await
        .expect_err("long key");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("max_key_len 16"), "{err}");

    let four = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()];
    let err = client
        .multi_get("pages", four, None)
        .await
        .expect_err("too many keys");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("max_batch 3"), "{err}");

    let err = client
        .multi_get("pages", vec![b"a".to_vec(), Vec::new()], None)
        .await
        .expect_err("empty key in batch");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("keys[1]"), "{err}");

    let err = client
        .multi_get(
            "pages",
            vec![b"a".to_vec(), b"b".to_vec(), vec![b'y'; 20]],
            None,
        )
        .await
        .expect_err("long key in batch");
    assert!(
        err.message().contains("keys[2]") && err.message().contains("max_key_len 16"),
        "{err}"
    );

    let err = client
        .get("pages", b"key-00001", Some("v0"))
        .await
        .expect_err("version not held");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(
        err.message().contains("v0") && err.message().contains("holds v1"),
        "{err}"
    );
    let err = client
        .multi_get("pages", vec![b"key-00001".to_vec()], Some("v0"))
        .await
        .expect_err("version not held");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");

    let status = client.status().await.expect("status");
    let later = status
        .domains
        .iter()
        .find(|d| d.name == "later")
        .expect("later listed");
    assert_eq!(later.state, DomainState::Loading as i32);
    assert!(later.current_version.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn health_turns_serving_once_a_version_is_loaded() {
    let fx = Fixture::new();
    let (server, client) = fx.start(fx.config(&["pages"])).await;

    assert_eq!(
        client.health("pages").await.expect("health"),
        ServingStatus::NotServing
    );
    assert_eq!(
        client.health("").await.expect("overall health"),
        ServingStatus::NotServing
    );
    let err = client.health("nosuch").await.expect_err("unknown service");
    assert_eq!(err.code(), Code::NotFound, "{err}");
    let err = client
        .get("pages", b"key-00000", None)
        .await
        .expect_err("nothing loaded");
    assert_eq!(err.code(), Code::Unavailable, "{err}");

    fx.publish("pages", "v1", &records("v1", 10), 1).await;
    fx.activate("pages", "v1").await;
    eventually("pages is SERVING", || async {
        client.health("pages").await.ok() == Some(ServingStatus::Serving)
    })
    .await;
    assert_eq!(
        client.health("").await.expect("overall health"),
        ServingStatus::Serving
    );
    assert_eq!(
        client
            .get("pages", b"key-00003", None)
            .await
            .expect("get")
            .value,
        &b"v1:key-00003"[..]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn overall_health_waits_for_every_domain() {
    let fx = Fixture::new();
    fx.publish("a", "v1", &records("a", 5), 1).await;
    fx.activate("a", "v1").await;
    let (server, client) = fx.start(fx.config(&["a", "b"])).await;
    eventually("a is SERVING", || async {
        client.health("a").await.ok() == Some(ServingStatus::Serving)
    })
    .await;
    assert_eq!(
        client.health("b").await.expect("health b"),
        ServingStatus::NotServing
    );
    assert_eq!(
        client.health("").await.expect("overall"),
        ServingStatus::NotServing
    );

    fx.publish("b", "v1", &records("b", 5), 1).await;
    fx.activate("b", "v1").await;
    eventually("overall SERVING", || async {
        client.health("").await.ok() == Some(ServingStatus::Serving)
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_endpoint_exposes_every_metric() {
    let fx = Fixture::new();
    fx.publish("pages", "v1", &records("v1", 20), 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    client.get("pages", b"absent", None).await.expect("miss");
    let _ = client.get("nosuch", b"k", None).await;
    client
        .multi_get(
            "pages",
            vec![b"key-00001".to_vec(), b"key-00002".to_vec()],
            None,
        )
        .await
        .expect("multi");

    let body = http_get(server.metrics_addr().expect("metrics bound"), "/metrics").await;
    for needle in [
        "grpc_server_handled_total{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"Get\",grpc_code=\"OK\"}",
        "grpc_server_handled_total{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"Get\",grpc_code=\"NotFound\"} 1",
        "grpc_server_handled_total{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"MultiGet\",grpc_code=\"OK\"} 1",
        "grpc_server_handling_seconds_bucket{",
        "tusk_current_version_info{domain=\"pages\",version=\"v1\"} 1",
        "tusk_swaps_total{domain=\"pages\"} 1",
        "tusk_load_failures_total{domain=\"pages\"} 0",
        "tusk_keys_total{domain=\"pages\",result=\"hit\"}",
        "tusk_keys_total{domain=\"pages\",result=\"miss\"}",
        "tusk_store_errors_total{domain=\"pages\"} 0",
        "tusk_damaged_shards_total{domain=\"pages\"} 0",
        "tusk_repaired_shards_total{domain=\"pages\"} 0",
        "tusk_scrubbed_bytes_total{domain=\"pages\"}",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn reflection_lists_the_tusk_and_health_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let fx = Fixture::new();
    let (server, _client) = fx.start(fx.config(&["pages"])).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc_addr()))
        .expect("uri")
        .connect()
        .await
        .expect("connect reflection");
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await
        .expect("reflection call")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("reflection message")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.iter().any(|n| n == "tusk.v1.Tusk"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_multi_get_answer_larger_than_grpcs_default_4_mib_limit_goes_through() {
    let fx = Fixture::new();
    let big: Vec<(Vec<u8>, Vec<u8>)> = (0..1000)
        .map(|i| {
            (
                format!("key-{i:05}").into_bytes(),
                vec![b'a' + (i % 26) as u8; 6 * 1024],
            )
        })
        .collect();
    fx.publish("pages", "v1", &big, 2).await;
    fx.activate("pages", "v1").await;
    let (server, client) = fx.start(fx.config(&["pages"])).await;
    wait_for_version(&client, "pages", "v1").await;
    let keys: Vec<Vec<u8>> = big.iter().map(|(k, _)| k.clone()).collect();
    let answer = client
        .multi_get("pages", keys, None)
        .await
        .expect("6 MiB answer");
    assert_eq!(answer.entries.len(), 1000);
    for (entry, (_, value)) in answer.entries.iter().zip(&big) {
        assert!(entry.found);
        assert_eq!(&entry.value, value);
    }
    server.shutdown().await;
}
