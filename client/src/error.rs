//! Client errors.

/// Everything a [`crate::Node`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address given to `connect` cannot be parsed as a URI.
    #[error("invalid server address {addr:?}: {detail}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it was rejected.
        detail: String,
    },
    /// No connection could be established.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The server URI.
        addr: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The server answered with a non-OK gRPC status.
    #[error("{method} failed: {}: {}", .status.code(), .status.message())]
    Rpc {
        /// The RPC (`Get`, `MultiGet`, `Status`, `Health.Check`).
        method: &'static str,
        /// The gRPC status the server (or the transport) returned.
        status: tonic::Status,
    },
}

impl ClientError {
    /// The gRPC code of the failure: the server's code for [`ClientError::Rpc`],
    /// `Unavailable` for a connection failure and `InvalidArgument` for a bad address.
    pub fn code(&self) -> tonic::Code {
        match self {
            ClientError::InvalidAddress { .. } => tonic::Code::InvalidArgument,
            ClientError::Connect { .. } => tonic::Code::Unavailable,
            ClientError::Rpc { status, .. } => status.code(),
        }
    }

    /// The server's message for [`ClientError::Rpc`], else this error's text.
    pub fn message(&self) -> String {
        match self {
            ClientError::Rpc { status, .. } => status.message().to_string(),
            other => other.to_string(),
        }
    }

    /// The gRPC status, when the server (or transport) returned one.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            ClientError::Rpc { status, .. } => Some(status),
            _ => None,
        }
    }

    pub(crate) fn rpc(method: &'static str) -> impl FnOnce(tonic::Status) -> ClientError {
        move |status| ClientError::Rpc { method, status }
    }
}
