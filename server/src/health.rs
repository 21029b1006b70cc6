//! `grpc.health.v1` statuses: one service per domain plus `""` for the node.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Mutex;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Publishes health: a domain is SERVING once a version is loaded; the node
/// (`""`) is SERVING once every domain is.
#[derive(Debug, Clone)]
pub struct Health {
    reporter: HealthReporter,
    domains: Arc<Vec<String>>,
    serving: Arc<Mutex<BTreeSet<String>>>,
}

impl Health {
    /// Sets every domain and the node to NOT_SERVING.
    pub async fn new(reporter: HealthReporter, domains: Vec<String>) -> Health {
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for d in &domains {
            reporter
                .set_service_status(d.as_str(), ServingStatus::NotServing)
                .await;
        }
        Health {
            reporter,
            domains: Arc::new(domains),
            serving: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Marks `domain` SERVING (and the node, when it was the last one missing).
    pub async fn domain_serving(&self, domain: &str) {
        let mut serving = self.serving.lock().await;
        if !serving.insert(domain.to_string()) {
            return;
        }
        self.reporter
            .set_service_status(domain, ServingStatus::Serving)
            .await;
        if self.domains.iter().all(|d| serving.contains(d)) {
            self.reporter
                .set_service_status("", ServingStatus::Serving)
                .await;
        }
    }

    /// Marks every service NOT_SERVING (at shutdown).
    pub async fn all_not_serving(&self) {
        let mut serving = self.serving.lock().await;
        serving.clear();
        self.reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for d in self.domains.iter() {
            self.reporter
                .set_service_status(d.as_str(), ServingStatus::NotServing)
                .await;
        }
    }
}
