//! Results: rates, per-size reports, ratios against the targets, and the text table.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::lookup::LookupResult;
use crate::machine::Machine;

/// A tusk hit may cost at most this many HashMap hits.
pub const TARGET_HIT_VS_HASHMAP: f64 = 1.5;
/// A sled hit must cost at least this many tusk hits.
pub const TARGET_SLED_VS_HIT: f64 = 5.0;
/// An LMDB hit must cost at least this many tusk hits.
pub const TARGET_LMDB_VS_HIT: f64 = 3.0;
/// A redb hit must cost at least this many tusk hits.
pub const TARGET_REDB_VS_HIT: f64 = 5.0;
/// Issue 10's goal for the writer end to end (`build_from_iter`): records per second,
/// in millions, on 2 cores.
pub const TARGET_WRITER_M_RECORDS_PER_SEC: f64 = 1.5;
/// Issue 10's memory goal for the writer: its peak RSS may rise by at most its
/// memory budget plus 10 %.
pub const TARGET_WRITER_RSS_VS_BUDGET: f64 = 1.1;
/// Issue 10's size goal: tusk's bytes on disk beyond the keys and values, per
/// record, at most LMDB's (bulk-loaded in key order).
pub const TARGET_BYTES_VS_LMDB: f64 = 1.0;

/// Throughput of one build or load.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// What was measured.
    pub name: &'static str,
    /// Records processed.
    pub records: u64,
    /// Input bytes (keys plus values).
    pub input_bytes: u64,
    /// Bytes produced on disk (0 when in memory).
    pub output_bytes: u64,
    /// Wall time in seconds.
    pub secs: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// Input megabytes (10^6 bytes) per second.
    pub input_mb_per_sec: f64,
    /// Extra facts (shard count, spills, ...).
    pub note: String,
    /// How far the process's peak RSS rose during the build (Linux; `None` when not
    /// measured). Memory-mapped file pages the build touched count too.
    pub peak_rss_added: Option<u64>,
    /// The memory budget the build was given (the writer's `--memory`); `None` for
    /// a contender that has none.
    pub memory_budget: Option<u64>,
}

impl Rate {
    /// A rate for `records` records of `input_bytes` processed in `elapsed`.
    pub fn new(
        name: &'static str,
        records: u64,
        input_bytes: u64,
        output_bytes: u64,
        elapsed: Duration,
    ) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Rate {
            name,
            records,
            input_bytes,
            output_bytes,
            secs,
            records_per_sec: records as f64 / secs,
            input_mb_per_sec: input_bytes as f64 / 1e6 / secs,
            note: String::new(),
            peak_rss_added: None,
            memory_budget: None,
        }
    }
}

impl Rate {
    /// Bytes on disk per record beyond the keys and values themselves (index,
    /// framing, page slack); `None` for what is not on disk.
    pub fn overhead_per_record(&self) -> Option<f64> {
        (self.output_bytes > 0 && self.records > 0)
            .then(|| (self.output_bytes as f64 - self.input_bytes as f64) / self.records as f64)
    }
}

/// One ratio compared with its target.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is compared, e.g. `tusk hit / hashmap hit`.
    pub what: String,
    /// The measured ratio (`None` when a contender did not run).
    pub ratio: Option<f64>,
    /// The target, e.g. `<= 1.5`.
    pub target: String,
    /// Whether the target is met (`None` when it could not be measured).
    pub pass: Option<bool>,
}

/// Ratios of the median lookup times (`None` when a contender did not run).
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// tusk hit ns / HashMap hit ns.
    pub tusk_vs_hashmap_hit: Option<f64>,
    /// tusk miss ns / HashMap miss ns.
    pub tusk_vs_hashmap_miss: Option<f64>,
    /// sled hit ns / tusk hit ns.
    pub sled_vs_tusk_hit: Option<f64>,
    /// sled miss ns / tusk miss ns.
    pub sled_vs_tusk_miss: Option<f64>,
    /// LMDB hit ns / tusk hit ns.
    pub lmdb_vs_tusk_hit: Option<f64>,
    /// LMDB miss ns / tusk miss ns.
    pub lmdb_vs_tusk_miss: Option<f64>,
    /// redb hit ns / tusk hit ns.
    pub redb_vs_tusk_hit: Option<f64>,
    /// redb miss ns / tusk miss ns.
    pub redb_vs_tusk_miss: Option<f64>,
}

/// Everything measured at one key count.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    /// Records in the dataset.
    pub keys: u64,
    /// Hit probes per pass (and as many miss probes).
    pub probes: u64,
    /// Timed passes per measurement.
    pub passes: u64,
    /// Bytes of the single tusk shard file.
    pub tusk_file_bytes: u64,
    /// Lookup timings: tusk, tusk-heap, hashmap, sled (those that ran).
    pub lookups: Vec<LookupResult>,
    /// Ratios of the medians.
    pub ratios: Ratios,
    /// The ratios against the targets.
    pub targets: Vec<Target>,
    /// Build and load rates (tusk builder, writer, HashMap, sled).
    pub builds: Vec<Rate>,
}

impl SizeReport {
    /// Assembles a report from the lookups that ran (by name: tusk, hashmap, sled).
    pub fn new(
        keys: u64,
        probes: u64,
        passes: u64,
        tusk_file_bytes: u64,
        lookups: Vec<LookupResult>,
        builds: Vec<Rate>,
    ) -> Self {
        let ns = |name: &str, hit: bool| {
            let l = lookups.iter().find(|l| l.name == name)?;
            Some(if hit {
                l.hit.median_ns
            } else {
                l.miss.median_ns
            })
        };
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let ratios = Ratios {
            tusk_vs_hashmap_hit: ratio(ns("tusk", true), ns("hashmap", true)),
            tusk_vs_hashmap_miss: ratio(ns("tusk", false), ns("hashmap", false)),
            sled_vs_tusk_hit: ratio(ns("sled", true), ns("tusk", true)),
            sled_vs_tusk_miss: ratio(ns("sled", false), ns("tusk", false)),
            lmdb_vs_tusk_hit: ratio(ns("lmdb", true), ns("tusk", true)),
            lmdb_vs_tusk_miss: ratio(ns("lmdb", false), ns("tusk", false)),
            redb_vs_tusk_hit: ratio(ns("redb", true), ns("tusk", true)),
            redb_vs_tusk_miss: ratio(ns("redb", false), ns("tusk", false)),
        };
        let mut targets = vec![
            Target {
                what: "tusk hit / hashmap hit".into(),
                ratio: ratios.tusk_vs_hashmap_hit,
                target: format!("<= {TARGET_HIT_VS_HASHMAP}"),
                pass: ratios
                    .tusk_vs_hashmap_hit
                    .map(|r| r <= TARGET_HIT_VS_HASHMAP),
            },
            Target {
                what: "sled hit / tusk hit".into(),
                ratio: ratios.sled_vs_tusk_hit,
                target: format!(">= {TARGET_SLED_VS_HIT}"),
                pass: ratios.sled_vs_tusk_hit.map(|r| r >= TARGET_SLED_VS_HIT),
            },
            Target {
                what: "lmdb hit / tusk hit".into(),
                ratio: ratios.lmdb_vs_tusk_hit,
                target: format!(">= {TARGET_LMDB_VS_HIT}"),
                pass: ratios.lmdb_vs_tusk_hit.map(|r| r >= TARGET_LMDB_VS_HIT),
            },
            Target {
                what: "redb hit / tusk hit".into(),
                ratio: ratios.redb_vs_tusk_hit,
                target: format!(">= {TARGET_REDB_VS_HIT}"),
                pass: ratios.redb_vs_tusk_hit.map(|r| r >= TARGET_REDB_VS_HIT),
            },
        ];
        let writer = builds
            .iter()
            .find(|b| b.name == crate::writer_build::WRITER_BUILD);
        let rate = writer.map(|b| b.records_per_sec / 1e6);
        targets.push(Target {
            what: "writer M records/s".into(),
            ratio: rate,
            target: format!(">= {TARGET_WRITER_M_RECORDS_PER_SEC}"),
            pass: rate.map(|r| r >= TARGET_WRITER_M_RECORDS_PER_SEC),
        });
        let rss = writer.and_then(|b| Some(b.peak_rss_added? as f64 / b.memory_budget? as f64));
        targets.push(Target {
            what: "writer peak RSS+ / budget".into(),
            ratio: rss,
            target: format!("<= {TARGET_WRITER_RSS_VS_BUDGET}"),
            pass: rss.map(|r| r <= TARGET_WRITER_RSS_VS_BUDGET),
        });
        let overhead = |name: &str| {
            builds
                .iter()
                .find(|b| b.name == name)
                .and_then(Rate::overhead_per_record)
        };
        let bytes = ratio(
            overhead(crate::contender::tusk_shard::TUSK_BUILD),
            overhead(crate::contender::lmdb::LMDB_BUILD),
        );
        targets.push(Target {
            what: "tusk bytes/record beyond data / lmdb's".into(),
            ratio: bytes,
            target: format!("<= {TARGET_BYTES_VS_LMDB}"),
            pass: bytes.map(|r| r <= TARGET_BYTES_VS_LMDB),
        });
        SizeReport {
            keys,
            probes,
            passes,
            tusk_file_bytes,
            lookups,
            ratios,
            targets,
            builds,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command line as given.
    pub command: String,
    /// Machine facts.
    pub machine: Machine,
    /// Key and value layout.
    pub data: String,
    /// One report per key count.
    pub sizes: Vec<SizeReport>,
}

fn passes_list(ns: &[f64]) -> String {
    ns.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"))
}

impl Report {
    /// The table's opening lines: command, machine, data.
    pub fn header_table(&self) -> String {
        format!(
            "command: {}\nmachine: {}\ndata:    {}\n",
            self.command,
            self.machine.line(),
            self.data
        )
    }

    /// The whole human-readable table.
    pub fn to_table(&self) -> String {
        let mut s = self.header_table();
        for r in &self.sizes {
            s.push_str(&r.to_table());
        }
        s
    }
}

impl SizeReport {
    /// The table of one key count.
    pub fn to_table(&self) -> String {
        let r = self;
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "\n== {} keys: {} hit + {} miss probes, median of {} passes (ns/lookup) ==",
            r.keys, r.probes, r.probes, r.passes
        );
        let _ = writeln!(
            s,
            "{:<10} {:>9} {:>9}   hit passes | miss passes",
            "store", "hit", "miss"
        );
        for l in &r.lookups {
            let _ = writeln!(
                s,
                "{:<10} {:>9.1} {:>9.1}   {} | {}",
                l.name,
                l.hit.median_ns,
                l.miss.median_ns,
                passes_list(&l.hit.passes_ns),
                passes_list(&l.miss.passes_ns)
            );
        }
        let q = &r.ratios;
        let _ = writeln!(
            s,
            "ratios: tusk/hashmap hit {} miss {}; sled/tusk hit {} miss {}; \
             lmdb/tusk hit {} miss {}; redb/tusk hit {} miss {}",
            show(q.tusk_vs_hashmap_hit),
            show(q.tusk_vs_hashmap_miss),
            show(q.sled_vs_tusk_hit),
            show(q.sled_vs_tusk_miss),
            show(q.lmdb_vs_tusk_hit),
            show(q.lmdb_vs_tusk_miss),
            show(q.redb_vs_tusk_hit),
            show(q.redb_vs_tusk_miss)
        );
        for t in &r.targets {
            let verdict = match t.pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "not measured",
            };
            let _ = writeln!(
                s,
                "target: {:<24} {:>6} (want {}) {verdict}",
                t.what,
                show(t.ratio),
                t.target
            );
        }
        let _ = writeln!(
            s,
            "{:<30} {:>8} {:>12} {:>9} {:>12} {:>10}  note",
            "build / load", "secs", "records/s", "MB/s in", "bytes out", "peak RSS+"
        );
        for b in &r.builds {
            let over = b.overhead_per_record().map_or_else(String::new, |o| {
                format!("{o:.1} B/record beyond keys and values; ")
            });
            let peak = b
                .peak_rss_added
                .map_or_else(|| "n/a".to_string(), |p| format!("{} MiB", p >> 20));
            let _ = writeln!(
                s,
                "{:<30} {:>8.2} {:>12.0} {:>9.1} {:>12} {:>10}  {over}{}",
                b.name, b.secs, b.records_per_sec, b.input_mb_per_sec, b.output_bytes, peak, b.note
            );
        }
        if r.tusk_file_bytes > 0 {
            let _ = writeln!(s, "tusk shard file: {} bytes", r.tusk_file_bytes);
        }
        s
    }
}
