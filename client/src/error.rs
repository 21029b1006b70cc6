//! Client errors.

use std::fmt;
use std::time::Duration;

/// Everything a [`crate::Node`] or [`crate::Client`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An address (given to `connect`, or a seed of [`crate::ClientBuilder`])
    /// cannot be parsed as `host:port` or a URI.
    #[error("invalid server address {addr:?}: {detail}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it was rejected.
        detail: String,
    },
    /// An address cannot be dialled as asked: an `https://` address without a CA
    /// to trust, an `http://` one with TLS options, an unknown scheme, or TLS
    /// material that does not parse. Never downgraded to plaintext.
    #[error("cannot dial {addr:?} securely: {detail}")]
    Tls {
        /// The address as given.
        addr: String,
        /// Why.
        detail: String,
    },
    /// A [`crate::ClientBuilder`] setting is unusable.
    #[error("invalid client setting {setting}: {detail}")]
    InvalidSetting {
        /// The setting, e.g. `seeds` or `hedge_budget`.
        setting: &'static str,
        /// Why.
        detail: String,
    },
    /// No connection could be established. The text carries the whole cause
    /// chain (`transport error: tcp connect error: Connection refused ...`).
    #[error("cannot connect to {addr}: {}", with_causes(.source))]
    Connect {
        /// The server URI.
        addr: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The server answered with a non-OK gRPC status.
    #[error("{method} failed: {}: {}", code_name(.status.code()), status_text(.status))]
    Rpc {
        /// The RPC (`Get`, `MultiGet`, `Status`, `Topology`, `Health.Check`).
        method: &'static str,
        /// The gRPC status the server (or the transport) returned.
        status: tonic::Status,
    },
    /// A node answered a routed read with an error no other node would mend
    /// (unknown domain, invalid key, ...): the call stops there.
    #[error("{method} on domain {domain:?} ({keys}) refused by {node}: {}: {}", code_name(.status.code()), status_text(.status))]
    Refused {
        /// The RPC (`Get` or `MultiGet`).
        method: &'static str,
        /// The domain read.
        domain: String,
        /// Which keys: `key "k"`, or `key 3 of 10` for a MultiGet.
        keys: String,
        /// The node that answered.
        node: String,
        /// Its answer.
        status: tonic::Status,
    },
    /// Every node that could answer a routed read failed (or the time ran out).
    #[error("{method} on domain {domain:?} ({keys}) failed{}: tried {tried}", deadline_note(.timed_out))]
    Exhausted {
        /// The RPC (`Get` or `MultiGet`).
        method: &'static str,
        /// The domain read.
        domain: String,
        /// Which keys: `key "k"`, or `key 3 of 10` for a MultiGet.
        keys: String,
        /// The nodes tried, each with its error, in the order tried.
        tried: Tried,
        /// The whole-call deadline (`request_timeout`) when it ran out first.
        timed_out: Option<Duration>,
        /// The code of the last failed attempt (`None` when none finished).
        last_code: Option<tonic::Code>,
    },
    /// A MultiGet found no version every part could be answered from.
    #[error("MultiGet on domain {domain:?} ({keys} keys): no one version answers every key: {detail} (versions seen: {})", .seen.join(", "))]
    NoCommonVersion {
        /// The domain read.
        domain: String,
        /// How many keys were asked.
        keys: usize,
        /// What happened last.
        detail: String,
        /// Every version an answer or a refusal named, in the order seen.
        seen: Vec<String>,
    },
    /// No seed (nor any known node) answered the Topology RPC.
    #[error("no node answered Topology: tried {tried}")]
    NoTopology {
        /// The addresses tried, each with its error.
        tried: Tried,
    },
}

/// `err`'s text followed by each of its causes, `": "`-separated on one line,
/// leaving out a cause whose text the line already holds (many errors repeat
/// their source's message in their own).
pub(crate) fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

/// A status's message with the cause chain behind it, when it has one (a
/// transport failure: `transport error: tcp connect error: Connection refused
/// ...`); the message alone is left out when the chain already says it.
pub(crate) fn status_text(status: &tonic::Status) -> String {
    let message = status.message();
    match std::error::Error::source(status) {
        None => message.to_string(),
        Some(source) => {
            let chain = with_causes(source);
            if chain.contains(message) {
                chain
            } else {
                format!("{message}: {chain}")
            }
        }
    }
}

fn deadline_note(after: &Option<Duration>) -> String {
    after
        .map(|d| format!(" within request_timeout {d:?}"))
        .unwrap_or_default()
}

/// The nodes a routed call tried, each with its error, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tried(pub Vec<(String, String)>);

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no node");
        }
        for (i, (node, error)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{node}: {error}")?;
        }
        Ok(())
    }
}

impl ClientError {
    /// The gRPC code of the failure: the server's code for [`ClientError::Rpc`] and
    /// [`ClientError::Refused`], `Unavailable` for a connection failure, the last
    /// attempt's code for an exhausted failover (`DeadlineExceeded` when the
    /// call's time ran out, `Unavailable` when no attempt finished),
    /// `FailedPrecondition` for [`ClientError::NoCommonVersion`] and
    /// `InvalidArgument` for a bad address, TLS combination or setting.
    pub fn code(&self) -> tonic::Code {
        match self {
            ClientError::InvalidAddress { .. }
            | ClientError::InvalidSetting { .. }
            | ClientError::Tls { .. } => tonic::Code::InvalidArgument,
            ClientError::Connect { .. } | ClientError::NoTopology { .. } => {
                tonic::Code::Unavailable
            }
            ClientError::Rpc { status, .. } | ClientError::Refused { status, .. } => status.code(),
            ClientError::Exhausted {
                timed_out,
                last_code,
                ..
            } => match timed_out {
                Some(_) => tonic::Code::DeadlineExceeded,
                None => last_code.unwrap_or(tonic::Code::Unavailable),
            },
            ClientError::NoCommonVersion { .. } => tonic::Code::FailedPrecondition,
        }
    }

    /// The server's message for [`ClientError::Rpc`] and [`ClientError::Refused`],
    /// else this error's text.
    pub fn message(&self) -> String {
        match self {
            ClientError::Rpc { status, .. } | ClientError::Refused { status, .. } => {
                status.message().to_string()
            }
            other => other.to_string(),
        }
    }

    /// The gRPC status, when the server (or transport) returned one.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            ClientError::Rpc { status, .. } | ClientError::Refused { status, .. } => Some(status),
            _ => None,
        }
    }

    pub(crate) fn rpc(method: &'static str) -> impl FnOnce(tonic::Status) -> ClientError {
        move |status| ClientError::Rpc { method, status }
    }
}

/// A gRPC status code by its canonical name (`NOT_FOUND`), as error messages print
/// it: the name a user can look up, where tonic's `Display` gives a sentence.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
