//! Asking each node for its Status and Topology, concurrently, each under a deadline.

use std::time::Duration;

use tusk_client::{Node, NodeOptions, TlsOptions};

use super::report::NodeReport;

/// Asks every address for Status and Topology at once; each node gets `timeout`
/// in all (connect and both RPCs), over TLS as `tls` says. Reports come back in
/// the order of `addresses`.
pub async fn collect(
    addresses: &[String],
    tls: Option<TlsOptions>,
    timeout: Duration,
) -> Vec<NodeReport> {
    let tasks: Vec<_> = addresses
        .iter()
        .map(|addr| {
            let addr = addr.clone();
            let tls = tls.clone();
            tokio::spawn(async move { ask(&addr, tls, timeout).await })
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for (task, addr) in tasks.into_iter().zip(addresses) {
        reports.push(match task.await {
            Ok(report) => report,
            Err(e) => NodeReport::unreachable(addr, format!("asking it failed: {e}")),
        });
    }
    reports
}

async fn ask(addr: &str, tls: Option<TlsOptions>, timeout: Duration) -> NodeReport {
    // One deadline covers the connection and both RPCs (so its message is the
    // one a hung node gets); the connect timeout only ends a hopeless dial early.
    let options = NodeOptions {
        connect_timeout: timeout,
        request_timeout: None,
        tls,
        ..NodeOptions::default()
    };
    let answers = tokio::time::timeout(timeout, async {
        let node = Node::connect_with(addr, options).await?;
        let (status, topology) = tokio::join!(node.status(), node.topology());
        Ok::<_, tusk_client::ClientError>((status?, topology))
    })
    .await;
    match answers {
        Err(_) => NodeReport::unreachable(
            addr,
            format!("no answer within {}", humantime::format_duration(timeout)),
        ),
        Ok(Err(e)) => NodeReport::unreachable(addr, crate::output::with_causes(&e)),
        Ok(Ok((status, topology))) => NodeReport::from_answers(
            addr,
            &status,
            topology.as_ref().map_err(|e| crate::output::with_causes(e)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_unreachable_with_the_reason() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let addr = format!("127.0.0.1:{port}");
        let reports = collect(std::slice::from_ref(&addr), None, Duration::from_secs(2)).await;
        assert_eq!(reports.len(), 1);
        assert!(!reports[0].reachable);
        let error = reports[0].error.as_deref().unwrap_or_default();
        assert!(error.contains(&addr), "{error}");
        assert!(
            error.to_lowercase().contains("refused"),
            "the cause is named, not just \"transport error\": {error}"
        );
    }
}
