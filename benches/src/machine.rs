//! Facts about the machine a run happened on (best effort: unknown stays "unknown").

use std::process::Command;

use serde::Serialize;

/// Cores, memory, CPU model, kernel and compiler.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical cores available to this process.
    pub cores: usize,
    /// Total RAM in GiB (from `/proc/meminfo`; 0 when unknown).
    pub ram_gib: f64,
    /// CPU model name (from `/proc/cpuinfo`).
    pub cpu: String,
    /// Operating system and kernel release.
    pub os: String,
    /// `rustc --version` of the compiler on the PATH.
    pub rustc: String,
    /// Whether this binary was built with optimisations.
    pub release_build: bool,
}

impl Machine {
    /// The `machine:` line every bench report opens with (without the prefix).
    pub fn line(&self) -> String {
        let build = if self.release_build {
            "release build"
        } else {
            "DEBUG build: figures meaningless"
        };
        format!(
            "{} cores, {:.1} GiB RAM, {}; {}; {}; {build}",
            self.cores, self.ram_gib, self.cpu, self.os, self.rustc
        )
    }
}

/// The value after `field:` on the first line of `text` that starts with `field`.
fn proc_field(text: &str, field: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Machine {
    /// Reads the facts of this machine.
    pub fn detect() -> Self {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_kib: f64 = proc_field(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0.0);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let rustc = Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Machine {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            ram_gib: ram_kib / (1024.0 * 1024.0),
            cpu: proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown cpu".into()),
            os: format!("{} {}", std::env::consts::OS, kernel.trim()),
            rustc: rustc.unwrap_or_else(|| "rustc unknown".into()),
            release_build: !cfg!(debug_assertions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_parsed() {
        let text = "MemFree: 5 kB\nMemTotal:       24000000 kB\n";
        assert_eq!(proc_field(text, "MemTotal").as_deref(), Some("24000000 kB"));
        assert_eq!(proc_field(text, "Nope"), None);
    }
}
