//! `grpc.health.v1` as a generic probe sees it: the conventional service name
//! `tusk.v1.Tusk` reports the node like `""`.

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Status;
use tonic_health::pb::health_client::HealthClient;

use crate::common::{Fixture, eventually, records};

/// Asks `service`'s status with a plain `grpc.health.v1` client.
async fn check(client: &mut HealthClient<tonic::transport::Channel>, service: &str) -> Status {
    let response = client
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("Check({service:?}): {e}"));
    Status::try_from(response.into_inner().status).expect("a known status")
}

#[tokio::test]
async fn the_service_name_reports_the_node_like_the_empty_name() {
    let fx = Fixture::new();
    fx.publish("a", "v1", &records("a", 5), 1).await;
    fx.activate("a", "v1").await;
    let (server, _node) = fx.start(fx.config(&["a", "b"])).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc_addr()))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);

    eventually("a is SERVING", || {
        let mut probe = health.clone();
        async move { check(&mut probe, "a").await == Status::Serving }
    })
    .await;
    assert_eq!(check(&mut health, "b").await, Status::NotServing);
    assert_eq!(check(&mut health, "").await, Status::NotServing);
    assert_eq!(check(&mut health, "tusk.v1.Tusk").await, Status::NotServing);

    fx.publish("b", "v1", &records("b", 5), 1).await;
    fx.activate("b", "v1").await;
    eventually("the node is SERVING", || {
        let mut probe = health.clone();
        async move { check(&mut probe, "").await == Status::Serving }
    })
    .await;
    assert_eq!(check(&mut health, "tusk.v1.Tusk").await, Status::Serving);

    let err = health
        .check(HealthCheckRequest {
            service: "tusk.v1.Other".to_string(),
        })
        .await
        .expect_err("an unknown service");
    assert_eq!(err.code(), tonic::Code::NotFound, "{err}");

    server.shutdown().await;
}
