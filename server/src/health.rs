//! `grpc.health.v1` statuses: one service per domain, plus the node as a whole
//! under `""` and under the conventional name of the service it serves
//! (`tusk.v1.Tusk`), which is what generic gRPC health probes ask for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Mutex;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health service names that report the whole node: SERVING once every
/// domain is.
pub const NODE_SERVICES: [&str; 2] = ["", tusk_proto::SERVICE_NAME];

/// What every health service name should report, given the configured `domains`
/// and the ones `serving` a version. A domain that happens to be named like a
/// node service reports its own status under that name (the more specific
/// question wins).
pub fn statuses<'a>(
    domains: &'a [String],
    serving: &BTreeSet<String>,
) -> BTreeMap<&'a str, ServingStatus> {
    let of = |up: bool| {
        if up {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    };
    let node = of(domains.iter().all(|d| serving.contains(d)));
    let mut map: BTreeMap<&str, ServingStatus> =
        NODE_SERVICES.iter().map(|name| (*name, node)).collect();
    for d in domains {
        map.insert(d.as_str(), of(serving.contains(d)));
    }
    map
}

/// Publishes health: a domain is SERVING once a version is loaded; the node
/// (`""` and `tusk.v1.Tusk`) is SERVING once every domain is.
#[derive(Debug, Clone)]
pub struct Health {
    reporter: HealthReporter,
    domains: Arc<Vec<String>>,
    serving: Arc<Mutex<BTreeSet<String>>>,
}

impl Health {
    /// Sets every domain and the node to NOT_SERVING.
    pub async fn new(reporter: HealthReporter, domains: Vec<String>) -> Health {
        let health = Health {
            reporter,
            domains: Arc::new(domains),
            serving: Arc::new(Mutex::new(BTreeSet::new())),
        };
        health.all_not_serving().await;
        health
    }

    /// Marks `domain` SERVING (and the node, when it was the last one missing).
    pub async fn domain_serving(&self, domain: &str) {
        let mut serving = self.serving.lock().await;
        let before = statuses(&self.domains, &serving);
        if !serving.insert(domain.to_string()) {
            return;
        }
        for (name, status) in statuses(&self.domains, &serving) {
            if before.get(name) != Some(&status) {
                self.reporter.set_service_status(name, status).await;
            }
        }
    }

    /// Marks every service NOT_SERVING (at start-up and at shutdown).
    pub async fn all_not_serving(&self) {
        let mut serving = self.serving.lock().await;
        serving.clear();
        for name in statuses(&self.domains, &serving).into_keys() {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn set(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_node_names_serve_once_every_domain_does() {
        let domains = names(&["a", "b"]);
        let half = statuses(&domains, &set(&["a"]));
        assert_eq!(half.get("a"), Some(&ServingStatus::Serving));
        assert_eq!(half.get("b"), Some(&ServingStatus::NotServing));
        assert_eq!(half.get(""), Some(&ServingStatus::NotServing));
        assert_eq!(half.get("tusk.v1.Tusk"), Some(&ServingStatus::NotServing));
        assert_eq!(half.len(), 4, "{half:?}");

        let all = statuses(&domains, &set(&["a", "b"]));
        for name in ["", "tusk.v1.Tusk", "a", "b"] {
            assert_eq!(all.get(name), Some(&ServingStatus::Serving), "{name}");
        }
    }

    #[test]
    fn a_domain_named_like_the_service_reports_itself() {
        let domains = names(&["tusk.v1.Tusk", "b"]);
        let map = statuses(&domains, &set(&["tusk.v1.Tusk"]));
        assert_eq!(map.get("tusk.v1.Tusk"), Some(&ServingStatus::Serving));
        assert_eq!(map.get(""), Some(&ServingStatus::NotServing));
    }
}
