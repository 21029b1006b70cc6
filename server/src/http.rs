//! The HTTP endpoints on `metrics_listen`: `GET /metrics` (Prometheus text format
//! 0.0.4, or OpenMetrics when the `Accept` header asks for it), `GET /healthz` (the
//! process is up), `GET /readyz` (every domain serves a version), and the status
//! page: `GET /` (HTML, see `page/`) and `GET /status.json` (what it renders).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::domain::Domain;
use crate::metrics::{DomainFacts, Format, Metrics, ProcessFacts};
use crate::page;
use crate::status::{NodeFacts, build_status};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
const PLAIN: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

/// What the endpoints read: the metrics, the node, the domains and their data-dir
/// folders.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Facts about this node (for the status page).
    pub node: NodeFacts,
    /// Every counted metric.
    pub metrics: Arc<Metrics>,
    /// The served domains.
    pub domains: Arc<Vec<Arc<Domain>>>,
    /// The data dir (each domain's files are in `<data_dir>/<domain>`).
    pub data_dir: PathBuf,
}

/// The format the `Accept` header asks for: OpenMetrics only when it names
/// `application/openmetrics-text` with a weight no lower than `text/plain`'s.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Prometheus;
    };
    let weight = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(None, |best: Option<f32>, q| {
                Some(best.map_or(q, |b| b.max(q)))
            })
    };
    match (weight("application/openmetrics-text"), weight("text/plain")) {
        (Some(om), plain) if om > 0.0 && om >= plain.unwrap_or(0.0) => Format::OpenMetrics,
        _ => Format::Prometheus,
    }
}

/// `Ok` when every domain serves a version, else the reason naming those that do not.
pub fn readiness<'a>(domains: impl IntoIterator<Item = (&'a str, bool)>) -> Result<(), String> {
    let waiting: Vec<&str> = domains
        .into_iter()
        .filter(|(_, serving)| !serving)
        .map(|(name, _)| name)
        .collect();
    if waiting.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not ready: no version served yet for domain(s) {}",
            waiting.join(", ")
        ))
    }
}

async fn metrics_handler(State(seen): State<Observed>, headers: HeaderMap) -> Response {
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let gather = seen.clone();
    // Walking the data dir and reading /proc are blocking file reads.
    let facts = tokio::task::spawn_blocking(move || {
        let domains: Vec<DomainFacts> = gather
            .domains
            .iter()
            .map(|d| DomainFacts::of(d, &gather.data_dir.join(d.name())))
            .collect();
        (domains, ProcessFacts::read())
    })
    .await;
    let Ok((domains, process)) = facts else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "gathering metrics failed",
        )
            .into_response();
    };
    let body = seen.metrics.encode(&domains, process.as_ref(), format);
    let content_type = match format {
        Format::OpenMetrics => OPENMETRICS,
        Format::Prometheus => PROMETHEUS,
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The status document: the Status RPC's answer as JSON.
fn status_document(seen: &Observed) -> serde_json::Value {
    page::status_json(&build_status(&seen.node, &seen.domains))
}

async fn status_page(State(seen): State<Observed>) -> Response {
    let html = page::page(&status_document(&seen));
    (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

async fn status_json(State(seen): State<Observed>) -> Response {
    (
        [
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        status_document(&seen).to_string(),
    )
        .into_response()
}

async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, PLAIN)], "ok\n")
}

async fn readyz(State(seen): State<Observed>) -> Response {
    let serving = seen
        .domains
        .iter()
        .map(|d| (d.name(), d.current_version().is_some()));
    match readiness(serving) {
        Ok(()) => ([(header::CONTENT_TYPE, PLAIN)], "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, PLAIN)],
            format!("{reason}\n"),
        )
            .into_response(),
    }
}

/// Serves `/metrics`, `/healthz`, `/readyz`, `/` and `/status.json` on `listener`
/// until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    observed: Observed,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(status_page))
        .route("/status.json", get(status_json))
        .with_state(observed);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_unless_openmetrics_is_asked_for() {
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(
            negotiate(Some("text/plain; version=0.0.4")),
            Format::Prometheus
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        // What Prometheus itself sends.
        assert_eq!(
            negotiate(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Prometheus
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }

    #[test]
    fn ready_only_when_every_domain_serves() {
        assert_eq!(readiness([("a", true), ("b", true)]), Ok(()));
        let reason = readiness([("a", true), ("b", false), ("c", false)]).expect_err("b, c");
        assert!(reason.contains("b, c"), "{reason}");
        assert!(!reason.contains("a,"), "{reason}");
    }
}
