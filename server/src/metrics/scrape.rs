//! Metrics read at scrape time rather than counted: each domain's facts (state,
//! served version and its age, whether it is behind `CURRENT`, bytes mapped and on
//! disk, last good poll) and the process's (from `/proc` on Linux). Gathered into
//! plain structs (the decisions are pure functions), then written as gauges of a
//! registry built for one scrape.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use super::DomainLabels;
use crate::domain::{Domain, DomainState};

/// What a scrape reports about one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainFacts {
    /// Domain name.
    pub domain: String,
    /// Lifecycle state.
    pub state: DomainState,
    /// Creation time (Unix seconds) of the served version, from its manifest.
    pub created: Option<f64>,
    /// True when `CURRENT` names another version than the one served.
    pub behind_current: bool,
    /// Bytes of shard files memory-mapped (every version held in memory).
    pub bytes_mapped: u64,
    /// Bytes of the domain's directory in the data dir.
    pub bytes_on_disk: u64,
    /// Last successful poll of `CURRENT` (Unix seconds).
    pub last_poll: Option<f64>,
}

impl DomainFacts {
    /// Reads the facts of `domain`; `dir` is its directory in the data dir.
    /// Blocking (walks `dir`).
    pub fn of(domain: &Domain, dir: &Path) -> DomainFacts {
        let (info, held) = domain.snapshot();
        let served = held.as_ref().map(|h| h.current());
        DomainFacts {
            domain: domain.name().to_string(),
            state: info.state,
            created: served.and_then(|v| rfc3339_seconds(&v.manifest().created_at)),
            behind_current: behind_current(
                served.map(|v| v.version()),
                info.store_current.as_deref(),
            ),
            bytes_mapped: held
                .iter()
                .flat_map(|h| h.all())
                .flat_map(|v| v.held_shards())
                .map(|s| s.entry().bytes)
                .sum(),
            bytes_on_disk: dir_bytes(dir),
            last_poll: info.last_poll_at.map(unix_seconds),
        }
    }
}

/// True when the store's `CURRENT` names a version and it is not the one served
/// (nothing served yet counts as behind). No `CURRENT`: nothing to be behind.
pub fn behind_current(served: Option<&str>, store_current: Option<&str>) -> bool {
    match store_current {
        Some(current) => served != Some(current),
        None => false,
    }
}

/// The metrics' name of a domain state.
pub fn state_name(state: DomainState) -> &'static str {
    match state {
        DomainState::Loading => "loading",
        DomainState::Serving => "serving",
        DomainState::Failed => "failed",
    }
}

const STATES: [DomainState; 3] = [
    DomainState::Loading,
    DomainState::Serving,
    DomainState::Failed,
];

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn rfc3339_seconds(text: &str) -> Option<f64> {
    humantime::parse_rfc3339_weak(text).ok().map(unix_seconds)
}

/// Total size of the files under `dir` (two levels: versions, then files), a file
/// linked into several versions counted once; 0 when it cannot be read.
fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;

    /// Files with more than one link (a shard shared by two versions) counted once.
    fn walk(dir: &Path, depth: u32, linked: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut total = 0;
        for entry in entries.flatten() {
            total += match entry.metadata() {
                Ok(m) if m.is_dir() && depth > 0 => walk(&entry.path(), depth - 1, linked),
                Ok(m) if m.is_file() && (m.nlink() == 1 || linked.insert((m.dev(), m.ino()))) => {
                    m.len()
                }
                _ => 0,
            };
        }
        total
    }
    walk(dir, 2, &mut std::collections::HashSet::new())
}

/// Labels of `tusk_domain_state`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct StateLabels {
    domain: String,
    state: &'static str,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Registers the domain facts in `registry` (a registry of one scrape).
pub fn register_domains(registry: &mut Registry, facts: &[DomainFacts]) {
    let state = Family::<StateLabels, Gauge>::default();
    let created = Family::<DomainLabels, FloatGauge>::default();
    let behind = Family::<DomainLabels, Gauge>::default();
    let mapped = Family::<DomainLabels, Gauge>::default();
    let disk = Family::<DomainLabels, Gauge>::default();
    let polled = Family::<DomainLabels, FloatGauge>::default();
    for f in facts {
        let labels = DomainLabels {
            domain: f.domain.clone(),
        };
        for s in STATES {
            state
                .get_or_create(&StateLabels {
                    domain: f.domain.clone(),
                    state: state_name(s),
                })
                .set(i64::from(s == f.state));
        }
        if let Some(t) = f.created {
            created.get_or_create(&labels).set(t);
        }
        behind
            .get_or_create(&labels)
            .set(i64::from(f.behind_current));
        mapped
            .get_or_create(&labels)
            .set(saturating(f.bytes_mapped));
        disk.get_or_create(&labels).set(saturating(f.bytes_on_disk));
        if let Some(t) = f.last_poll {
            polled.get_or_create(&labels).set(t);
        }
    }
    registry.register(
        "tusk_domain_state",
        "Lifecycle state of each domain: 1 for its current state, 0 for the others",
        state,
    );
    registry.register(
        "tusk_version_created_timestamp_seconds",
        "Creation time of the version each domain serves (from its manifest); age = time() - this",
        created,
    );
    registry.register(
        "tusk_version_behind_current",
        "1 when the store's CURRENT names another version than the one served",
        behind,
    );
    registry.register(
        "tusk_mapped_bytes",
        "Bytes of shard files memory-mapped, over every version held in memory",
        mapped,
    );
    registry.register(
        "tusk_disk_bytes",
        "Bytes of the domain's files in the data dir",
        disk,
    );
    registry.register(
        "tusk_last_poll_success_timestamp_seconds",
        "Time of the last successful poll of the domain's CURRENT",
        polled,
    );
}

fn saturating(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a scrape reports about the process (Linux `/proc/self`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFacts {
    /// Start time, Unix seconds.
    pub start_time: f64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
}

/// Clock ticks per second of `/proc` times (`USER_HZ`, fixed at 100 in Linux's ABI).
const USER_HZ: f64 = 100.0;

impl ProcessFacts {
    /// Reads `/proc/self`; `None` where there is no `/proc` (not Linux).
    pub fn read() -> Option<ProcessFacts> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        ProcessFacts::parse(&stat, &status, &boot, open_fds)
    }

    /// The facts from the text of `/proc/self/stat`, `/proc/self/status` and
    /// `/proc/stat`.
    pub fn parse(stat: &str, status: &str, boot: &str, open_fds: u64) -> Option<ProcessFacts> {
        // The command name (field 2) may hold spaces: count fields after its `)`.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // Fields 14, 15 and 22 of stat(5), numbered from 1; field 3 is fields[0].
        let tick = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        let cpu_seconds = (tick(14)? + tick(15)?) / USER_HZ;
        let btime: f64 = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        let start_time = btime + tick(22)? / USER_HZ;
        let rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(ProcessFacts {
            start_time,
            cpu_seconds,
            resident_bytes: rss_kib * 1024,
            open_fds,
        })
    }
}

/// Registers the process facts in `registry` under the names every Prometheus
/// client library uses.
pub fn register_process(registry: &mut Registry, p: &ProcessFacts) {
    registry.register(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
        ConstGauge::new(p.start_time),
    );
    // Counters get their `_total` suffix from the encoder.
    registry.register(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        ConstCounter::new(p.cpu_seconds),
    );
    registry.register(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        ConstGauge::new(saturating(p.resident_bytes)),
    );
    registry.register(
        "process_open_fds",
        "Number of open file descriptors",
        ConstGauge::new(saturating(p.open_fds)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_bytes_count_a_shard_shared_by_two_versions_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (v1, v2) = (tmp.path().join("v1"), tmp.path().join("v2"));
        std::fs::create_dir_all(&v1).expect("mkdir");
        std::fs::create_dir_all(&v2).expect("mkdir");
        std::fs::write(v1.join("shard-00000.tsk"), [0u8; 1000]).expect("write");
        std::fs::write(v1.join("MANIFEST.json"), [0u8; 10]).expect("write");
        std::fs::write(v2.join("MANIFEST.json"), [0u8; 10]).expect("write");
        std::fs::write(v2.join("shard-00001.tsk"), [0u8; 300]).expect("write");
        assert_eq!(dir_bytes(tmp.path()), 1320);
        std::fs::hard_link(v1.join("shard-00000.tsk"), v2.join("shard-00000.tsk")).expect("link");
        assert_eq!(dir_bytes(tmp.path()), 1320, "the linked shard counted once");
        std::fs::remove_dir_all(&v1).expect("rm");
        assert_eq!(dir_bytes(tmp.path()), 1310);
    }

    #[test]
    fn behind_current_compares_served_with_current() {
        assert!(!behind_current(Some("v1"), Some("v1")));
        assert!(behind_current(Some("v1"), Some("v2")));
        assert!(behind_current(None, Some("v1")), "nothing served yet");
        assert!(!behind_current(Some("v1"), None), "no CURRENT");
        assert!(!behind_current(None, None));
    }

    #[test]
    fn process_facts_parse_from_proc_text() {
        // A command name with spaces and a parenthesis must not shift the fields.
        let stat = "4242 (tusk (a b)) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 50 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615";
        let status = "Name:\ttusk\nVmPeak:\t 9000 kB\nVmRSS:\t    2048 kB\nThreads:\t9\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
        let p = ProcessFacts::parse(stat, status, boot, 17).expect("parses");
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.start_time, 1_700_000_000.0 + 123.45);
        assert_eq!(p.resident_bytes, 2048 * 1024);
        assert_eq!(p.open_fds, 17);
        assert_eq!(ProcessFacts::parse("garbage", status, boot, 1), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_facts_read_this_process() {
        let p = ProcessFacts::read().expect("/proc is there on Linux");
        assert!(p.resident_bytes > 0 && p.open_fds > 0, "{p:?}");
        let now = unix_seconds(SystemTime::now());
        assert!(
            p.start_time <= now + 1.0 && p.start_time > now - 86_400.0 * 365.0,
            "{p:?}"
        );
    }

    #[test]
    fn created_at_parses_as_rfc3339() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:01:40Z"), Some(100.0));
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }
}
