//! Results of the S3 transfer bench: throughputs, ratios and the text table.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::args::S3BenchConfig;
use crate::machine::Machine;

/// One timed transfer of a whole workload.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Throughput {
    /// Wall time in seconds.
    pub secs: f64,
    /// Megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
}

impl Throughput {
    /// `bytes` moved in `elapsed`.
    pub fn new(bytes: u64, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Throughput {
            secs,
            mb_per_sec: bytes as f64 / 1e6 / secs,
        }
    }
}

/// Everything measured for one set of files.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    /// e.g. `1 x 1024 MiB`.
    pub name: String,
    /// Number of files.
    pub files: usize,
    /// Bytes of each file.
    pub file_bytes: u64,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// `put_file`, several files at once, each multipart.
    pub upload: Throughput,
    /// `download_verified`: parallel ranged GETs, CRC32 verified.
    pub parallel_download: Throughput,
    /// One plain GET per object, one object after the other.
    pub plain_get: Throughput,
    /// parallel download MB/s / plain GET MB/s.
    pub parallel_vs_plain: f64,
}

impl WorkloadReport {
    /// Assembles a report from the three wall times.
    pub fn new(
        files: usize,
        file_bytes: u64,
        upload: Duration,
        parallel: Duration,
        plain: Duration,
    ) -> Self {
        let total_bytes = file_bytes * files as u64;
        let parallel_download = Throughput::new(total_bytes, parallel);
        let plain_get = Throughput::new(total_bytes, plain);
        WorkloadReport {
            name: format!("{files} x {} MiB", file_bytes >> 20),
            files,
            file_bytes,
            total_bytes,
            upload: Throughput::new(total_bytes, upload),
            parallel_download,
            plain_get,
            parallel_vs_plain: parallel_download.mb_per_sec / plain_get.mb_per_sec,
        }
    }

    /// One table row.
    pub fn to_row(&self) -> String {
        let cell = |t: &Throughput| format!("{:>7.1} ({:>6.1} s)", t.mb_per_sec, t.secs);
        format!(
            "{:<16} {:>9} {:>17} {:>17} {:>17} {:>9.2}x\n",
            self.name,
            self.total_bytes >> 20,
            cell(&self.upload),
            cell(&self.parallel_download),
            cell(&self.plain_get),
            self.parallel_vs_plain
        )
    }
}

/// A whole run: where, how, and each workload.
#[derive(Debug, Clone, Serialize)]
pub struct S3Report {
    /// The command line.
    pub command: String,
    /// The machine.
    pub machine: Machine,
    /// The S3 server measured against (e.g. `moto 5.2.5 at http://127.0.0.1:PORT`).
    pub server: String,
    /// The settings.
    pub config: S3BenchConfig,
    /// One entry per workload, in run order.
    pub workloads: Vec<WorkloadReport>,
}

impl S3Report {
    /// The lines above the rows: machine, server, settings, column names.
    pub fn header_table(&self) -> String {
        let m = &self.machine;
        let c = &self.config;
        let mut out = String::new();
        let _ = writeln!(out, "command: {}", self.command);
        let _ = writeln!(out, "machine: {}", m.line());
        let _ = writeln!(out, "server:  {}", self.server);
        let _ = writeln!(
            out,
            "upload:  put_file, {} files at once, multipart 8 MiB parts x 8 in flight per file",
            c.upload_files
        );
        let _ = writeln!(
            out,
            "parallel download: download_verified, {} files at once, {} ranged GETs of {} MiB per file and in total, CRC32 verified, fsync",
            c.download_files,
            c.ranges,
            c.chunk_bytes >> 20
        );
        let _ = writeln!(
            out,
            "plain GET: one GET of each whole object, one object at a time, written, fsynced, CRC32 checked"
        );
        let _ = writeln!(out, "MB = 10^6 bytes; cells are MB/s (wall seconds)\n");
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>17} {:>17} {:>17} {:>10}",
            "workload", "MiB", "upload", "parallel dl", "plain GET", "par/plain"
        );
        out
    }

    /// The whole table.
    pub fn to_table(&self) -> String {
        let mut out = self.header_table();
        for w in &self.workloads {
            out.push_str(&w.to_row());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_ratio_follow_the_times() {
        let w = WorkloadReport::new(
            4,
            16 << 20,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(4),
        );
        assert_eq!(w.total_bytes, 64 << 20);
        assert_eq!(w.name, "4 x 16 MiB");
        let mb = (64u64 << 20) as f64 / 1e6;
        assert!((w.upload.mb_per_sec - mb / 2.0).abs() < 1e-9);
        assert!((w.parallel_download.mb_per_sec - mb).abs() < 1e-9);
        assert!((w.parallel_vs_plain - 4.0).abs() < 1e-9);
        assert!(w.to_row().starts_with("4 x 16 MiB"));
    }
}
