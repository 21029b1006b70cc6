//! Every Prometheus metric of the server, declared in one place, and the
//! exposition: OpenMetrics when asked for, else the Prometheus text format 0.0.4
//! (`text.rs` converts). Facts read at scrape time (domain state, version age,
//! process) are in `scrape.rs`.

mod latency;
mod scrape;
mod text;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use latency::Latency;

pub use scrape::{DomainFacts, ProcessFacts};

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

/// Labels of `tusk_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Domain name (`(unknown)` for a domain this node does not serve).
    pub domain: String,
    /// Method name, e.g. `Get`.
    pub method: &'static str,
    /// Status code name, e.g. `OK`.
    pub code: &'static str,
}

/// Labels of `tusk_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DomainMethodLabels {
    /// Domain name.
    pub domain: String,
    /// Method name.
    pub method: &'static str,
}

/// The `domain` label of requests naming a domain this node does not serve (a
/// client's typo must not create a series per name).
pub const UNKNOWN_DOMAIN: &str = "(unknown)";

/// Which text exposition a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

type HistogramCtor = fn() -> Histogram;
type LatencyCtor = fn() -> Latency;

/// The server's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    handled: Family<HandledLabels, Counter>,
    handling_seconds: Family<MethodLabels, Latency, LatencyCtor>,
    current_version: Family<VersionLabels, Gauge>,
    swaps: Family<DomainLabels, Counter>,
    load_failures: Family<DomainLabels, Counter>,
    keys: Family<KeyLabels, Counter>,
    store_errors: Family<DomainLabels, Counter>,
    damaged_shards: Family<DomainLabels, Counter>,
    repaired_shards: Family<DomainLabels, Counter>,
    scrubbed_bytes: Family<DomainLabels, Counter>,
    forwarded_keys: Family<DomainLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<DomainMethodLabels, Latency, LatencyCtor>,
    scrubbed_shards: Family<DomainLabels, Counter>,
    download_bytes: Family<DomainLabels, Counter>,
    reused_bytes: Family<DomainLabels, Counter>,
    download_seconds: Family<DomainLabels, Histogram, HistogramCtor>,
    download_retries: Family<DomainLabels, Counter>,
    downloads_in_progress: Family<DomainLabels, Gauge>,
}

/// One method's RPC counter for `OK` and its latency histogram, looked up once, so a
/// request does not search the metric families (a lock and a hash each).
#[derive(Debug, Clone)]
pub struct RpcHandles {
    service: &'static str,
    method: &'static str,
    ok: Counter,
    seconds: Latency,
}

/// Pre-created per-domain counters for the read path (no label lookup per request).
#[derive(Debug, Clone)]
pub struct KeyCounters {
    /// Keys found.
    pub hits: Counter,
    /// Keys not found.
    pub misses: Counter,
    /// Keys forwarded to the nodes holding their shards.
    pub forwarded: Counter,
}

/// One domain's metric handles for one method (OK answers and latency), resolved
/// once so a request does no label lookup.
#[derive(Debug, Clone)]
pub struct DomainRpc {
    domain: String,
    method: &'static str,
    ok: Counter,
    seconds: Latency,
}

/// Request latency buckets: 10 µs to 10 s in 1-2.5-5 steps (×2 to ×2.5 apart), so
/// a memory-mapped Get (tens of µs) and a slow forwarded MultiGet both resolve.
pub const LATENCY_BUCKETS: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A request latency histogram: lock-free, so requests never wait on each other
/// to record (see [`Latency`]).
fn handling_histogram() -> Latency {
    Latency::new(&LATENCY_BUCKETS)
}

fn download_histogram() -> Histogram {
    // 100 ms .. ~55 min in ×2 steps.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let handled = Family::<HandledLabels, Counter>::default();
        let handling_seconds = Family::<MethodLabels, Latency, LatencyCtor>::new_with_constructor(
            handling_histogram as LatencyCtor,
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
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Family::<DomainMethodLabels, Latency, LatencyCtor>::new_with_constructor(
                handling_histogram as LatencyCtor,
            );
        let scrubbed_shards = Family::<DomainLabels, Counter>::default();
        let download_bytes = Family::<DomainLabels, Counter>::default();
        let reused_bytes = Family::<DomainLabels, Counter>::default();
        let download_seconds =
            Family::<DomainLabels, Histogram, HistogramCtor>::new_with_constructor(
                download_histogram as HistogramCtor,
            );
        let download_retries = Family::<DomainLabels, Counter>::default();
        let downloads_in_progress = Family::<DomainLabels, Gauge>::default();
        registry.register(
            "tusk_build",
            "The running tusk's version (and commit when built with TUSK_COMMIT); value 1",
            Info::new(build_labels()),
        );
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
        registry.register(
            "tusk_requests",
            "Get and MultiGet requests answered, by domain, method and status code",
            requests.clone(),
        );
        registry.register(
            "tusk_request_duration_seconds",
            "Time to answer a Get or MultiGet, by domain and method",
            request_seconds.clone(),
        );
        registry.register(
            "tusk_scrubbed_shards",
            "Served shards the scrubber re-read to the end (matching or not)",
            scrubbed_shards.clone(),
        );
        registry.register(
            "tusk_download_bytes",
            "Bytes of shards fetched from the store (resumed bytes not counted again)",
            download_bytes.clone(),
        );
        registry.register(
            "tusk_reused_shard_bytes",
            "Bytes of shards not downloaded because a version on disk holds the same bytes (hard-linked)",
            reused_bytes.clone(),
        );
        registry.register(
            "tusk_download_duration_seconds",
            "Time to download and open a whole version, successful downloads only",
            download_seconds.clone(),
        );
        registry.register(
            "tusk_download_retries",
            "Downloads started again for a version whose previous download failed",
            download_retries.clone(),
        );
        registry.register(
            "tusk_downloads_in_progress",
            "Version downloads running (0 or 1 per domain)",
            downloads_in_progress.clone(),
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
            requests,
            request_seconds,
            scrubbed_shards,
            download_bytes,
            reused_bytes,
            download_seconds,
            download_retries,
            downloads_in_progress,
        }
    }

    /// The per-domain handles of `method`, resolved once when the service is built.
    pub fn domain_rpc(&self, domain: &str, method: &'static str) -> DomainRpc {
        DomainRpc {
            domain: domain.to_string(),
            method,
            ok: self.requests.get_or_create_owned(&RequestLabels {
                domain: domain.to_string(),
                method,
                code: code_name(tonic::Code::Ok),
            }),
            seconds: self
                .request_seconds
                .get_or_create_owned(&DomainMethodLabels {
                    domain: domain.to_string(),
                    method,
                }),
        }
    }

    /// Records one finished Get or MultiGet of a domain.
    pub fn observe_request(&self, rpc: &DomainRpc, code: tonic::Code, elapsed: Duration) {
        if code == tonic::Code::Ok {
            rpc.ok.inc();
        } else {
            self.requests
                .get_or_create(&RequestLabels {
                    domain: rpc.domain.clone(),
                    method: rpc.method,
                    code: code_name(code),
                })
                .inc();
        }
        rpc.seconds.observe(elapsed);
    }

    /// Records a shard of `domain` the scrubber re-read to the end.
    pub fn shard_scrubbed(&self, domain: &str) {
        self.scrubbed_shards
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// The counter of bytes fetched from the store for `domain`.
    pub fn download_bytes(&self, domain: &str) -> Counter {
        self.download_bytes
            .get_or_create_owned(&domain_labels(domain))
    }

    /// The counter of shard bytes of `domain` reused from a version on disk
    /// instead of fetched.
    pub fn reused_bytes(&self, domain: &str) -> Counter {
        self.reused_bytes
            .get_or_create_owned(&domain_labels(domain))
    }

    /// Records a whole version of `domain` downloaded in `elapsed`.
    pub fn download_finished(&self, domain: &str, elapsed: Duration) {
        self.download_seconds
            .get_or_create(&domain_labels(domain))
            .observe(elapsed.as_secs_f64());
    }

    /// Records a download started again after a failed one.
    pub fn download_retried(&self, domain: &str) {
        self.download_retries
            .get_or_create(&domain_labels(domain))
            .inc();
    }

    /// Counts a download of `domain` as running until the guard is dropped (also
    /// when its task is aborted).
    pub fn download_running(&self, domain: &str) -> InProgress {
        let gauge = self
            .downloads_in_progress
            .get_or_create_owned(&domain_labels(domain));
        gauge.inc();
        InProgress(gauge)
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
        rpc.seconds.observe(elapsed);
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
            forwarded: self
                .forwarded_keys
                .get_or_create_owned(&domain_labels(domain)),
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
            &self.scrubbed_shards,
            &self.forwarded_keys,
            &self.download_bytes,
            &self.reused_bytes,
            &self.download_retries,
        ] {
            let _ = family.get_or_create(&domain_labels(domain));
        }
        let _ = self
            .downloads_in_progress
            .get_or_create(&domain_labels(domain));
        let _ = self.key_counters(domain);
    }

    /// The exposition of every metric in `format`, with the facts read for this
    /// scrape (`process`: `None` where there is no `/proc`).
    pub fn encode(
        &self,
        domains: &[DomainFacts],
        process: Option<&ProcessFacts>,
        format: Format,
    ) -> String {
        let mut scraped = Registry::default();
        scrape::register_domains(&mut scraped, domains);
        if let Some(p) = process {
            scrape::register_process(&mut scraped, p);
        }
        let mut out = String::new();
        let write = |out: &mut String| -> std::fmt::Result {
            use prometheus_client::encoding::text;
            text::encode_registry(out, &self.registry)?;
            text::encode_registry(out, &scraped)?;
            text::encode_eof(out)
        };
        write(&mut out).expect("writing to a String cannot fail");
        match format {
            Format::OpenMetrics => out,
            Format::Prometheus => text::openmetrics_to_prometheus(&out),
        }
    }
}

/// A running download, counted in `tusk_downloads_in_progress` while it lives.
#[derive(Debug)]
pub struct InProgress(Gauge);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `version`, and `commit` when the build set `TUSK_COMMIT`.
fn build_labels() -> Vec<(&'static str, &'static str)> {
    let mut labels = vec![("version", env!("CARGO_PKG_VERSION"))];
    if let Some(commit) = option_env!("TUSK_COMMIT").filter(|c| !c.is_empty()) {
        labels.push(("commit", commit));
    }
    labels
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
        let text = m.encode(&[], None, Format::OpenMetrics);
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
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn prometheus_text_names_counters_with_total_and_has_no_eof() {
        let m = Metrics::new();
        m.register_domain("pages");
        let get = m.domain_rpc("pages", "Get");
        m.observe_request(&get, tonic::Code::Ok, Duration::from_micros(30));
        m.observe_request(&get, tonic::Code::NotFound, Duration::from_micros(30));
        let text = m.encode(&[], None, Format::Prometheus);
        for needle in [
            "# TYPE tusk_swaps_total counter\n",
            "# HELP tusk_swaps_total Version swaps per domain",
            "# TYPE tusk_build_info gauge\n",
            "tusk_build_info{version=\"",
            "tusk_requests_total{domain=\"pages\",method=\"Get\",code=\"OK\"} 1\n",
            "tusk_requests_total{domain=\"pages\",method=\"Get\",code=\"NotFound\"} 1\n",
            // 30 µs lands in the 50 µs bucket, not the 25 µs one.
            "tusk_request_duration_seconds_bucket{le=\"0.000025\",domain=\"pages\",method=\"Get\"} 0\n",
            "tusk_request_duration_seconds_bucket{le=\"0.00005\",domain=\"pages\",method=\"Get\"} 2\n",
            "tusk_downloads_in_progress{domain=\"pages\"} 0\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("# TYPE tusk_swaps counter"), "{text}");
    }

    #[test]
    fn a_download_counts_in_progress_until_its_guard_drops() {
        let m = Metrics::new();
        let running = m.download_running("pages");
        let text = m.encode(&[], None, Format::Prometheus);
        assert!(
            text.contains("tusk_downloads_in_progress{domain=\"pages\"} 1\n"),
            "{text}"
        );
        drop(running);
        let text = m.encode(&[], None, Format::Prometheus);
        assert!(
            text.contains("tusk_downloads_in_progress{domain=\"pages\"} 0\n"),
            "{text}"
        );
    }
}
