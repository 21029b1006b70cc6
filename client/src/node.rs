//! [`Node`]: a gRPC connection to one tusk node.

use std::time::Duration;

use bytes::Bytes;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tusk_proto::v1::tusk_client::TuskClient;
use tusk_proto::v1::{
    GetRequest, GetResponse, MultiGetRequest, MultiGetResponse, StatusRequest, StatusResponse,
    TopologyRequest, TopologyResponse,
};

use crate::tls::{self, TlsOptions};
use crate::{ClientError, ServingStatus};

/// Connection settings for [`Node::connect_with`].
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Time allowed to establish the connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Deadline of each call, if any. Default none.
    pub request_timeout: Option<Duration>,
    /// Largest message sent or received. Default [`crate::DEFAULT_MAX_MESSAGE_BYTES`].
    pub max_message_bytes: usize,
    /// TLS settings; with them a bare `host:port` is dialled over TLS. Default none
    /// (plaintext, and `https://` addresses are refused for want of a CA).
    pub tls: Option<TlsOptions>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: None,
            max_message_bytes: crate::DEFAULT_MAX_MESSAGE_BYTES,
            tls: None,
        }
    }
}

/// A connection to one tusk node.
#[derive(Debug, Clone)]
pub struct Node {
    tusk: TuskClient<Channel>,
    health: HealthClient<Channel>,
}

impl Node {
    /// Connects to `addr` (`host:port` or `http://host:port`) with default options
    /// (plaintext; see [`NodeOptions::tls`] for TLS).
    pub async fn connect(addr: &str) -> Result<Node, ClientError> {
        Node::connect_with(addr, NodeOptions::default()).await
    }

    /// Connects to `addr` with `options`.
    pub async fn connect_with(addr: &str, options: NodeOptions) -> Result<Node, ClientError> {
        let endpoint = options.endpoint(addr)?;
        let uri = endpoint.uri().to_string();
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| ClientError::Connect { addr: uri, source })?;
        Ok(Node::from_channel(channel, options.max_message_bytes))
    }

    /// A node for `addr` that connects on its first call (and reconnects after a
    /// failure) instead of now: no I/O here, only the address is checked.
    pub fn lazy(addr: &str, options: &NodeOptions) -> Result<Node, ClientError> {
        let channel = options.endpoint(addr)?.connect_lazy();
        Ok(Node::from_channel(channel, options.max_message_bytes))
    }

    /// A client over an existing channel (for callers that build their own).
    pub fn from_channel(channel: Channel, max_message_bytes: usize) -> Node {
        let tusk = TuskClient::new(channel.clone())
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        let health = HealthClient::new(channel)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        Node { tusk, health }
    }

    /// Looks up `key` in `domain`, in `version` or (when `None`) the node's current
    /// version. A missing key is `Ok` with `found == false`.
    pub async fn get(
        &self,
        domain: &str,
        key: &[u8],
        version: Option<&str>,
    ) -> Result<GetResponse, ClientError> {
        let request = GetRequest {
            domain: domain.to_string(),
            key: Bytes::copy_from_slice(key),
            version: version.unwrap_or_default().to_string(),
        };
        let response = self.tusk.clone().get(request).await;
        Ok(response.map_err(ClientError::rpc("Get"))?.into_inner())
    }

    /// Looks up every key of `keys` in one version; `entries[i]` answers `keys[i]`.
    pub async fn multi_get(
        &self,
        domain: &str,
        keys: Vec<Vec<u8>>,
        version: Option<&str>,
    ) -> Result<MultiGetResponse, ClientError> {
        let request = MultiGetRequest {
            domain: domain.to_string(),
            keys: keys.into_iter().map(Bytes::from).collect(),
            version: version.unwrap_or_default().to_string(),
        };
        let response = self.tusk.clone().multi_get(request).await;
        Ok(response.map_err(ClientError::rpc("MultiGet"))?.into_inner())
    }

    /// The node's status: node info and every domain's state.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        let response = self.tusk.clone().status(StatusRequest {}).await;
        Ok(response.map_err(ClientError::rpc("Status"))?.into_inner())
    }

    /// The fleet as this node sees it: the node list, replication, placement
    /// fingerprint and the shards of each version it holds.
    pub async fn topology(&self) -> Result<TopologyResponse, ClientError> {
        let response = self.tusk.clone().topology(TopologyRequest {}).await;
        Ok(response.map_err(ClientError::rpc("Topology"))?.into_inner())
    }

    /// The `grpc.health.v1` status of `service`: a domain name, or `""` for the
    /// whole node. An unknown service is an error with code `NotFound`.
    pub async fn health(&self, service: &str) -> Result<ServingStatus, ClientError> {
        let request = HealthCheckRequest {
            service: service.to_string(),
        };
        let response = self.health.clone().check(request).await;
        let status = response
            .map_err(ClientError::rpc("Health.Check"))?
            .into_inner()
            .status;
        Ok(ServingStatus::try_from(status).unwrap_or(ServingStatus::Unknown))
    }
}

impl NodeOptions {
    /// The endpoint for `addr` with these options applied (timeouts, TLS), not
    /// connected. The address is checked here: a scheme or TLS combination that
    /// cannot be honoured is refused ([`ClientError::Tls`]), never downgraded.
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, ClientError> {
        let dial = tls::plan(addr, self.tls.as_ref())?;
        let mut endpoint = Endpoint::from_shared(dial.uri)
            .map_err(|e| ClientError::InvalidAddress {
                addr: addr.to_string(),
                detail: e.to_string(),
            })?
            .connect_timeout(self.connect_timeout);
        if let Some(timeout) = self.request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        match &self.tls {
            Some(options) if dial.tls => tls::apply(endpoint, addr, options),
            _ => Ok(endpoint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn bare_addresses_get_a_scheme() {
        let options = NodeOptions::default();
        let uri = |addr| options.endpoint(addr).expect(addr).uri().to_string();
        assert_eq!(uri("127.0.0.1:7070"), "http://127.0.0.1:7070/");
        assert_eq!(uri(" http://h:1 "), "http://h:1/");
    }

    #[test]
    fn an_https_address_without_a_ca_is_refused_not_downgraded() {
        let err = NodeOptions::default()
            .endpoint("https://h:1")
            .expect_err("no CA");
        assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let err = Node::connect(&format!("127.0.0.1:{port}"))
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    }

    /// A port nothing listens on, and what the OS says when one dials it
    /// (`Connection refused (os error 111)` on Linux).
    fn closed_port() -> (u16, String) {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let cause = std::net::TcpStream::connect(("127.0.0.1", port))
            .expect_err("nothing listens")
            .to_string();
        (port, cause)
    }

    #[tokio::test]
    async fn a_connect_error_shows_its_cause_once() {
        let (port, cause) = closed_port();
        let err = Node::connect(&format!("127.0.0.1:{port}"))
            .await
            .expect_err("nothing listens");
        let text = err.to_string();
        assert!(text.contains(&cause), "{text:?} lacks {cause:?}");
        assert!(
            text.starts_with(&format!("cannot connect to http://127.0.0.1:{port}/: ")),
            "{text}"
        );
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[tokio::test]
    async fn a_call_that_cannot_connect_shows_its_cause() {
        let (port, cause) = closed_port();
        let node =
            Node::lazy(&format!("127.0.0.1:{port}"), &NodeOptions::default()).expect("an address");
        let err = node
            .get("d", b"k", None)
            .await
            .expect_err("nothing listens");
        assert_eq!(err.code(), Code::Unavailable, "{err}");
        let text = err.to_string();
        assert!(text.starts_with("Get failed: "), "{text}");
        assert!(text.contains(&cause), "{text:?} lacks {cause:?}");
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
    }

    #[test]
    fn causes_join_on_one_line_without_repeats() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let os = E("refused", None);
        let inner = E("tcp connect error", Some(Box::new(os)));
        let same = E("tcp connect error", Some(Box::new(inner)));
        let outer = E("transport error", Some(Box::new(same)));
        assert_eq!(
            crate::error::with_causes(&outer),
            "transport error: tcp connect error: refused"
        );
        assert_eq!(crate::error::with_causes(&E("alone", None)), "alone");
    }

    #[tokio::test]
    async fn a_malformed_address_is_rejected() {
        let err = Node::connect("not a uri").await.expect_err("bad address");
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    }

    #[test]
    fn rpc_errors_keep_the_status() {
        let err = ClientError::rpc("Get")(tonic::Status::not_found("unknown domain \"x\""));
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(err.message(), "unknown domain \"x\"");
        assert!(err.to_string().starts_with("Get failed"), "{err}");
    }
}
