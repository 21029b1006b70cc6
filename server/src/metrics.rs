//! Every Prometheus metric of the server, declared in one place.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `grpc_server_handled_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandledLabels {
    /// Full service name, e.g. `tusk.v1.Tusk`.
    pub grpc_service: &'static str,
    /// Method name, e.g. `MultiGet`.
    pub grpc_method: &'static str,
    /// Status code name, e.g. `OK`, `NotFound`.
    pub grpc_code: &'static str,
}

/// Labels of `grpc_server_handling_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// Full service name.
    pub grpc_service: &'static str,
    /// Method name.
    pub grpc_method: &'static str,
}

/// Labels naming a domain.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DomainLabels {
    /// Domain name.
    pub domain: String,
}

/// Labels of `tusk_current_version_info`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    /// Domain name.
    pub domain: String,
    /// Version id.
    pub version: String,
}

/// Labels of `tusk_keys_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    /// Domain name.
    pub domain: String,
    /// `hit` or `miss`.
    pub result: &'static str,
}

type HistogramCtor = fn() -> Histogram;

/// The server's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    handled: Family<HandledLabels, Counter>,
    handling_seconds: Family<MethodLabels, Histogram, HistogramCtor>,
    current_version: Family<VersionLabels, Gauge>,
    swaps: Family<DomainLabels, Counter>,
    load_failures: Family<DomainLabels, Counter>,
    keys: Family<KeyLabels, Counter>,
    store_errors: Family<DomainLabels, Counter>,
    damaged_shards: Family<DomainLabels, Counter>,
    repaired_shards: Family<DomainLabels, Counter>,
    scrubbed_bytes: Family<DomainLabels, Counter>,
    forwarded_keys: Family<DomainLabels, Counter>,
}

/// One method's RPC counter for `OK` and its latency histogram, looked up once, so a
/// request does not search the metric families (a lock and a hash each).
#[derive(Debug, Clone)]
pub struct RpcHandles {
    service: &'static str,
    method: &'static str,
    ok: Counter,
    seconds: Histogram,
}

/// Pre-created per-domain counters for the read path (no label lookup per request).
#[derive(Debug, Clone)]
pub struct KeyCounters {
    /// Keys found.
    pub hits: Counter,
    /// Keys not found.
    pub misses: Counter,
}

fn handling_histogram() -> Histogram {
    // 50 µs .. ~13 s in ×4 steps.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 10))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let handled = Family::<HandledLabels, Counter>::default();
        let handling_seconds =
            Family::<MethodLabels, Histogram, HistogramCtor>::new_with_constructor(
                handling_histogram as HistogramCtor,
            );
        let current_version = Family::<VersionLabels, Gauge>::default();
        let swaps = Family::<DomainLabels, Counter>::default();
        let load_failures = Family::<DomainLabels, Counter>::default();
        let keys = Family::<KeyLabels, Counter>::default();
        let store_errors = Family::<DomainLabels, Counter>::default();
        let damaged_shards = Family::<DomainLabels, Counter>::default();
        let repaired_shards = Family::<DomainLabels, Counter>::default();
        let scrubbed_bytes = Family::<DomainLabels, Counter>::default();
        let forwarded_keys = Family::<DomainLabels, Counter>::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "grpc_server_handled",
            "RPCs completed on the server, by status code",
            handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Time to handle an RPC on the server",
            handling_seconds.clone(),
        );
        registry.register(
            "tusk_current_version_info",
            "The version each domain serves (value 1)",
            current_version.clone(),
        );
        registry.register("tusk_swaps", "Version swaps per domain", swaps.clone());
        registry.register(
            "tusk_load_failures",
            "Failed version loads per domain",
            load_failures.clone(),
        );
        registry.register("tusk_keys", "Keys looked up, by result", keys.clone());
        registry.register(
            "tusk_store_errors",
            "Polls of a domain's store that failed or found CURRENT missing after it existed",
            store_errors.clone(),
        );
        registry.register(
            "tusk_damaged_shards",
            "Served shards found no longer matching their manifest (scrub or damaged read)",
            damaged_shards.clone(),
        );
        registry.register(
            "tusk_repaired_shards",
            "Damaged shards downloaded again and swapped in",
            repaired_shards.clone(),
        );
        registry.register(
            "tusk_scrubbed_bytes",
            "Bytes of served shards re-read by the scrubber",
            scrubbed_bytes.clone(),
        );
        registry.register(
            "tusk_forwarded_keys",
            "Keys this node forwarded to the nodes holding their shards",
            forwarded_keys.clone(),
        );
        Metrics {
            registry,
            handled,
            handling_seconds,
            current_version,
            swaps,
            load_failures,
            keys,
            store_errors,
            damaged_shards,
            repaired_shards,
            scrubbed_bytes,
            forwarded_keys,
        }
    }

    /// One method's RPC metrics, resolved once when the service is built.
    pub fn rpc_handles(&self, service: &'static str, method: &'static str) -> RpcHandles {
        RpcHandles {
            service,
            method,
            ok: self.handled.get_or_create_owned(&HandledLabels {
                grpc_service: service,
                grpc_method: method,
                grpc_code: code_name(tonic::Code::Ok),
            }),
            seconds: self.handling_seconds.get_or_create_owned(&MethodLabels {
                grpc_service: service,
                grpc_method: method,
            }),
        }
    }

    /// Records one finished RPC. The common `OK` answer touches only the pre-resolved
    /// handles; other codes look their counter up in the family.
    pub fn observe_rpc(&self, rpc: &RpcHandles, code: tonic::Code, elapsed: Duration) {
        if code == tonic::Code::Ok {
            rpc.ok.inc();
        } else {
            self.handled
                .get_or_create(&HandledLabels {
                    grpc_service: rpc.service,
                    grpc_method: rpc.method,
                    grpc_code: code_name(code),
                })
                .inc();
        }
        rpc.seconds.observe(elapsed.as_secs_f64());
    }

    /// The hit/miss counters of `domain`.
    pub fn key_counters(&self, domain: &str) -> KeyCounters {
        let counter = |result| {
            self.keys.get_or_create_owned(&KeyLabels {
                domain: domain.to_string(),
                result,
            })
        };
        KeyCounters {
            hits: counter("hit"),
            misses: counter("miss"),
        }
    }

    /// Records a swap of `domain` from `old` (if any) to `new`.
    pub fn swapped(&self, domain: &str, old: Option<&str>, new: &str) {
        if let Some(old) = old {
            self.current_version.remove(&VersionLabels {
                domain: domain.to_string(),
                version: old.to_string(),
            });
        }
        self.current_version
            .get_or_create(&VersionLabels {
                domain: domain.to_string(),
                version: new.to_string(),
            })
            .set(1);
        self.swaps.get_or_create(&domain_labels(domain)).inc();
    }

    /// Records a failed load of `domain`.
    pub fn load_failed(&self, domain: &str) {
        self.load_failures
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// Records a failed read of `domain`'s store (or a vanished `CURRENT`).
    pub fn store_error(&self, domain: &str) {
        self.store_errors
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// Records `keys` keys of `domain` forwarded to other nodes.
    pub fn forwarded_keys(&self, domain: &str, keys: u64) {
        self.forwarded_keys
            .get_or_create(&domain_labels(domain))
            .inc_by(keys);
    }

    /// Records a served shard of `domain` found damaged.
    pub fn shard_damaged(&self, domain: &str) {
        self.damaged_shards
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// Records a damaged shard of `domain` repaired.
    pub fn shard_repaired(&self, domain: &str) {
        self.repaired_shards
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// The counter of bytes the scrubber re-read for `domain`.
    pub fn scrubbed_bytes(&self, domain: &str) -> Counter {
        self.scrubbed_bytes
            .get_or_create_owned(&domain_labels(domain))
    }

    /// Makes the per-domain series visible at 0 before anything happens.
    pub fn register_domain(&self, domain: &str) {
        for family in [
            &self.swaps,
            &self.load_failures,
            &self.store_errors,
            &self.damaged_shards,
            &self.repaired_shards,
            &self.scrubbed_bytes,
        ] {
            let _ = family.get_or_create(&domain_labels(domain));
        }
        let _ = self.key_counters(domain);
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn domain_labels(domain: &str) -> DomainLabels {
    DomainLabels {
        domain: domain.to_string(),
    }
}

/// gRPC code names as go-grpc-prometheus spells them.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = Metrics::new();
        m.register_domain("pages");
        let get = m.rpc_handles("tusk.v1.Tusk", "Get");
        m.observe_rpc(&get, tonic::Code::NotFound, Duration::from_millis(2));
        m.observe_rpc(&get, tonic::Code::Ok, Duration::from_millis(1));
        m.swapped("pages", None, "v1");
        m.swapped("pages", Some("v1"), "v2");
        m.load_failed("pages");
        m.store_error("pages");
        m.shard_damaged("pages");
        m.shard_repaired("pages");
        m.scrubbed_bytes("pages").inc_by(4096);
        m.key_counters("pages").hits.inc();
        let text = m.encode();
        for needle in [
            "grpc_server_handled_total{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"Get\",grpc_code=\"NotFound\"} 1",
            "grpc_server_handled_total{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"Get\",grpc_code=\"OK\"} 1",
            "grpc_server_handling_seconds_count{grpc_service=\"tusk.v1.Tusk\",grpc_method=\"Get\"} 2",
            "grpc_server_handling_seconds_bucket",
            "tusk_current_version_info{domain=\"pages\",version=\"v2\"} 1",
            "tusk_swaps_total{domain=\"pages\"} 2",
            "tusk_load_failures_total{domain=\"pages\"} 1",
            "tusk_keys_total{domain=\"pages\",result=\"hit\"} 1",
            "tusk_keys_total{domain=\"pages\",result=\"miss\"} 0",
            "tusk_store_errors_total{domain=\"pages\"} 1",
            "tusk_damaged_shards_total{domain=\"pages\"} 1",
            "tusk_repaired_shards_total{domain=\"pages\"} 1",
            "tusk_scrubbed_bytes_total{domain=\"pages\"} 4096",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(
            !text.contains("version=\"v1\""),
            "old version still exported:\n{text}"
        );
    }
}
