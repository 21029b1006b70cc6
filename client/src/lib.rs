//! A thin gRPC client for one tusk node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tusk_client::ClientError> {
//! let node = tusk_client::Node::connect("127.0.0.1:7070").await?;
//! let got = node.get("pages", b"home", None).await?;
//! if got.found {
//!     println!("{} bytes from version {}", got.value.len(), got.version);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Calls take `&self`; a [`Node`] is cheap to clone and safe to share between
//! tasks (one HTTP/2 connection, multiplexed).
#![deny(missing_docs)]

mod error;
mod node;

pub use error::ClientError;
pub use node::{Node, NodeOptions};
pub use tonic::Code;
pub use tonic_health::pb::health_check_response::ServingStatus;
pub use tusk_proto::v1::{
    DomainState, DomainStatus, DomainTopology, Entry, GetResponse, MultiGetResponse, NodeInfo,
    StatusResponse, TopologyResponse, VersionShards,
};

/// Default limit on one encoded gRPC message, each way (64 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
