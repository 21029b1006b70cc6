//! Peak resident memory of one step of a run (Linux): the kernel's high-water mark
//! is reset before the step, and read after it.

/// The resident set before a step, after resetting the high-water mark.
#[derive(Debug, Clone, Copy)]
pub struct PeakRss {
    before: u64,
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl PeakRss {
    /// Resets the process's peak RSS (`VmHWM`) to its current RSS by writing `5` to
    /// `/proc/self/clear_refs`; `None` where that is not possible.
    pub fn start() -> Option<Self> {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
        Some(PeakRss {
            before: status_bytes("VmRSS:")?,
        })
    }

    /// How far the peak RSS rose above the RSS at [`start`](Self::start).
    pub fn added(self) -> Option<u64> {
        Some(status_bytes("VmHWM:")?.saturating_sub(self.before))
    }
}

/// Runs `step` and returns its result with the peak RSS it added (`None` where it
/// cannot be measured).
pub fn measure<T>(step: impl FnOnce() -> T) -> (T, Option<u64>) {
    let rss = PeakRss::start();
    let out = step();
    (out, rss.and_then(PeakRss::added))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_that_touches_memory_raises_the_peak() {
        let (sum, added) = measure(|| {
            let v = vec![1u8; 64 << 20];
            v.iter().map(|&b| u64::from(b)).sum::<u64>()
        });
        assert_eq!(sum, 64 << 20);
        if let Some(added) = added {
            assert!(added >= 60 << 20, "{added}");
        }
        let (_, idle) = measure(|| ());
        if let (Some(idle), Some(_)) = (idle, added) {
            assert!(idle < 16 << 20, "the mark was reset: {idle}");
        }
    }
}
