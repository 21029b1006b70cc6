//! One routed request: try the candidates in order, fail over on errors another
//! node may not share, hedge a slow attempt, all within the call's deadline.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::client::Shared;
use crate::error::Tried;
use crate::{ClientError, Node};

/// What a failed attempt means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Another node may answer: try the next candidate.
    Next {
        /// The node failed at the transport level (refused, reset, timed out):
        /// try it last for a while.
        down: bool,
        /// The node does not hold the key's shard: the topology is stale.
        shard_not_held: bool,
        /// The node does not hold the version asked for.
        version_not_held: bool,
    },
    /// No other node would answer differently (unknown domain, invalid key, ...).
    Stop,
}

/// How the call treats `status`: UNAVAILABLE, FAILED_PRECONDITION, a missed
/// deadline and transport failures (UNKNOWN, CANCELLED, and an HTTP/2 error such
/// as a GOAWAY, which tonic reports as RESOURCE_EXHAUSTED "h2 protocol error")
/// move on to the next candidate; every other code ends the call.
pub(crate) fn verdict(status: &Status) -> Verdict {
    let reason = status
        .metadata()
        .get(tusk_proto::REASON_HEADER)
        .and_then(|v| v.to_str().ok());
    let next = |down| Verdict::Next {
        down,
        shard_not_held: reason == Some(tusk_proto::REASON_SHARD_NOT_HELD),
        version_not_held: reason == Some(tusk_proto::REASON_VERSION_NOT_HELD),
    };
    match status.code() {
        Code::Unavailable => next(reason != Some(tusk_proto::REASON_NOT_LOADED)),
        Code::FailedPrecondition => next(false),
        Code::DeadlineExceeded | Code::Unknown | Code::Cancelled => next(true),
        _ if is_http2_failure(status) => next(true),
        _ => Verdict::Stop,
    }
}

/// True when `status` is the connection's HTTP/2 failure (a GOAWAY, say, when a
/// node that was paused sheds the streams its client reset meanwhile), not an
/// answer: the request may not have reached the node at all.
pub fn is_http2_failure(status: &Status) -> bool {
    status.message().starts_with("h2 protocol error")
}

/// A status's one-line description for error reports.
pub(crate) fn describe(status: &Status) -> String {
    format!(
        "{}: {}",
        crate::error::code_name(status.code()),
        crate::error::status_text(status)
    )
}

/// The status inside a node call's error.
pub(crate) fn status_of(error: ClientError) -> Status {
    match error {
        ClientError::Rpc { status, .. } => status,
        other => Status::unavailable(other.to_string()),
    }
}

/// Runs `op` on one node within `attempt` time; errors become statuses.
pub(crate) async fn attempt<T, Fut>(
    node: Result<Node, ClientError>,
    attempt: Duration,
    op: impl FnOnce(Node) -> Fut,
) -> Result<T, Status>
where
    Fut: Future<Output = Result<T, ClientError>>,
{
    let node = node.map_err(status_of)?;
    match tokio::time::timeout(attempt, op(node)).await {
        Ok(result) => result.map_err(status_of),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no answer within attempt_timeout {attempt:?}"
        ))),
    }
}

/// Applies what a failed attempt on `node` says about the node and the topology.
pub(crate) fn note_failure(shared: &Shared, node: &str, verdict: Verdict) {
    if let Verdict::Next {
        down,
        shard_not_held,
        ..
    } = verdict
    {
        if down {
            shared.down.failed(node);
        }
        if shard_not_held {
            shared.topology.mark_stale();
        }
    }
}

/// Why a routed request got no answer.
#[derive(Debug)]
pub(crate) enum CallFailure {
    /// A node answered with an error that ends the call.
    Stopped { node: String, status: Status },
    /// Every candidate failed, or the deadline passed first.
    Exhausted {
        tried: Tried,
        timed_out: bool,
        last_code: Option<Code>,
    },
}

/// The first good answer of `op` among `candidates` (addresses, in order): one
/// attempt at a time, the next after a failure that another node may not share;
/// with `hedge`, a second attempt on the next candidate when the current one has
/// not answered after that delay (budget permitting). Dropping the losing
/// attempt cancels its RPC.
pub(crate) async fn first_answer<T, F, Fut>(
    shared: &Shared,
    candidates: &[String],
    deadline: Instant,
    op: F,
) -> Result<(String, T), CallFailure>
where
    F: Fn(Node) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let launch = |i: usize| {
        let node = shared.pool.node(&candidates[i]);
        let fut = attempt(node, shared.attempt_timeout, &op);
        async move { (i, fut.await) }
    };
    let mut tried = Vec::new();
    let mut inflight = FuturesUnordered::new();
    let mut launched = Vec::new();
    let mut last_code = None;
    if candidates.is_empty() {
        return Err(CallFailure::Exhausted {
            tried: Tried(tried),
            timed_out: false,
            last_code: None,
        });
    }
    inflight.push(launch(0));
    launched.push(0);
    let mut next = 1;
    let hedge = shared.hedge;
    let hedge_timer = tokio::time::sleep_until(match hedge {
        Some(delay) => Instant::now() + delay,
        None => deadline,
    });
    tokio::pin!(hedge_timer);
    let mut armed = hedge.is_some();
    let until = tokio::time::sleep_until(deadline);
    tokio::pin!(until);
    loop {
        tokio::select! {
            biased;
            Some((i, result)) = inflight.next() => match result {
                Ok(value) => {
                    shared.down.answered(&candidates[i]);
                    return Ok((candidates[i].clone(), value));
                }
                Err(status) => {
                    tried.push((candidates[i].clone(), describe(&status)));
                    last_code = Some(status.code());
                    let verdict = verdict(&status);
                    note_failure(shared, &candidates[i], verdict);
                    if verdict == Verdict::Stop {
                        return Err(CallFailure::Stopped { node: candidates[i].clone(), status });
                    }
                    if next < candidates.len() {
                        inflight.push(launch(next));
                        launched.push(next);
                        next += 1;
                        shared.stats.failovers.fetch_add(1, Ordering::Relaxed);
                        if let Some(delay) = hedge {
                            hedge_timer.as_mut().reset(Instant::now() + delay);
                            armed = true;
                        }
                    } else if inflight.is_empty() {
                        return Err(CallFailure::Exhausted { tried: Tried(tried), timed_out: false, last_code });
                    }
                }
            },
            () = &mut hedge_timer, if armed => {
                armed = false;
                let allowed = next < candidates.len()
                    && shared.budget.lock().unwrap_or_else(|e| e.into_inner()).try_hedge();
                if allowed {
                    inflight.push(launch(next));
                    launched.push(next);
                    next += 1;
                    shared.stats.hedges.fetch_add(1, Ordering::Relaxed);
                }
            },
            () = &mut until => {
                for i in launched {
                    if !tried.iter().any(|(n, _)| n == &candidates[i]) {
                        tried.push((candidates[i].clone(), "no answer before the deadline".into()));
                    }
                }
                return Err(CallFailure::Exhausted { tried: Tried(tried), timed_out: true, last_code });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_reason(code: Code, reason: &'static str) -> Status {
        let mut status = Status::new(code, "x");
        status.metadata_mut().insert(
            tusk_proto::REASON_HEADER,
            tonic::metadata::MetadataValue::from_static(reason),
        );
        status
    }

    #[test]
    fn a_connection_torn_down_by_http2_fails_over_but_a_real_resource_error_does_not() {
        let goaway = Status::new(
            Code::ResourceExhausted,
            "h2 protocol error: stream error received: too_many_resets",
        );
        assert!(matches!(verdict(&goaway), Verdict::Next { down: true, .. }));
        let too_big = Status::new(Code::ResourceExhausted, "decoded message length too large");
        assert_eq!(verdict(&too_big), Verdict::Stop);
    }

    #[test]
    fn errors_another_node_may_not_share_fail_over() {
        let v = verdict(&with_reason(
            Code::FailedPrecondition,
            tusk_proto::REASON_SHARD_NOT_HELD,
        ));
        assert_eq!(
            v,
            Verdict::Next {
                down: false,
                shard_not_held: true,
                version_not_held: false
            }
        );
        let v = verdict(&with_reason(
            Code::FailedPrecondition,
            tusk_proto::REASON_VERSION_NOT_HELD,
        ));
        assert!(matches!(
            v,
            Verdict::Next {
                version_not_held: true,
                ..
            }
        ));
        // Not loaded: the node is up, just not ready.
        let v = verdict(&with_reason(
            Code::Unavailable,
            tusk_proto::REASON_NOT_LOADED,
        ));
        assert!(matches!(v, Verdict::Next { down: false, .. }));
        // Refused connection, timeout: the node is down for a while.
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Unknown] {
            assert!(
                matches!(
                    verdict(&Status::new(code, "x")),
                    Verdict::Next { down: true, .. }
                ),
                "{code:?}"
            );
        }
    }

    #[test]
    fn errors_every_node_would_share_stop_the_call() {
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::Internal,
            Code::PermissionDenied,
        ] {
            assert_eq!(verdict(&Status::new(code, "x")), Verdict::Stop, "{code:?}");
        }
    }
}
