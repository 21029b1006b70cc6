//! gRPC clients for tusk: [`Client`] routes reads over a fleet of nodes; [`Node`]
//! talks to one node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tusk_client::ClientError> {
//! let client = tusk_client::Client::builder()
//!     .seeds(["10.0.0.1:7070", "10.0.0.2:7070"])
//!     .build()?;
//! let got = client.get("pages", b"home").await?;
//! if let Some(value) = &got.value {
//!     println!("{} bytes from version {}", value.len(), got.version);
//! }
//! let node = tusk_client::Node::connect("10.0.0.1:7070").await?;
//! println!("{:?}", node.status().await?);
//! # Ok(())
//! # }
//! ```
//!
//! Calls take `&self`; both are cheap to clone and safe to share between tasks.
//!
//! # Routing client
//!
//! [`Client`] learns the fleet from the first seed that answers the `Topology`
//! RPC (node list, replication), then asks every node of the fleet, in parallel,
//! which shards of which versions it holds. It keeps that view and refreshes it
//! on the call path (no background task) when it is older than
//! `refresh_interval`, and on the next call after a node answered
//! `shard-not-held`; one refresh runs at a time, other calls use the view they
//! have.
//!
//! A key goes to a node by the fleet's rendezvous placement
//! (`tusk_format::placement`): its shard is `shard_for(key, shard_count)` with the
//! shard count of the newest version the fleet serves (or of the version asked
//! for), and its candidates are, in order: the shard's replicas that report
//! holding it, its other replicas, other nodes that report it, then every other
//! node (a node forwards keys it does not hold). Nodes that failed at the
//! transport level in the last few seconds go last.
//!
//! An attempt that fails UNAVAILABLE, FAILED_PRECONDITION (the node lacks the
//! shard, the version, or anything loaded), or misses `attempt_timeout`, or fails
//! in transport, moves on to the next candidate; any other code (unknown domain,
//! invalid key) ends the call. The whole call, failovers included, has
//! `request_timeout`. Errors name the domain, the key (or key index and count)
//! and every node tried with its error.
//!
//! With `hedge(delay)`, a `get` whose attempt has not answered after `delay`
//! also goes to the next candidate; the first good answer wins and the other RPC
//! is cancelled. A MultiGet hedges the same way, once per round: the keys not
//! answered after `delay` also go to their next candidates. A token bucket keeps
//! hedges under `hedge_budget` (default 5%) of calls.
//!
//! A `multi_get` groups keys by their first candidate and sends one request per
//! node, in parallel; a failed part's keys move to their next candidates; a
//! round ends as soon as every key is answered (slower attempts are cancelled). All
//! values come from one version: the first part to answer names it, parts
//! answered from another version are asked again pinned to it, and when a node
//! does not hold it, everyone moves to the version that node serves; at most
//! three rounds, then an error naming the versions seen. `multi_get_at` pins the
//! version from the start and never moves.
#![deny(missing_docs)]

mod builder;
mod call;
mod client;
mod error;
mod fanout;
mod hedge;
mod multi;
mod node;
mod pool;
mod route;
mod tls;
mod topology;

pub use builder::ClientBuilder;
pub use call::is_http2_failure;
pub use client::{Client, ClientStats, Got, MultiGot};
pub use error::{ClientError, Tried, code_name};
pub use node::{Node, NodeOptions};
pub use pool::Pool;
pub use tls::{TlsIdentity, TlsOptions};
pub use tonic::Code;
pub use tonic_health::pb::health_check_response::ServingStatus;
pub use topology::{NodeReport, TopologySnapshot};
pub use tusk_proto::v1::{
    DomainEvent, DomainState, DomainStatus, DomainTopology, DownloadProgress, Entry, GetResponse,
    MultiGetResponse, NodeInfo, StatusResponse, TopologyResponse, VersionShards,
};

/// Default limit on one encoded gRPC message, each way (64 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
