//! What `tusk write` knows about its own progress, as a pure model: fed with the
//! writer's events and the time, it says how far each phase is, how fast it goes and
//! when it should end, as a log line or as the numbers of a progress bar.

use std::time::{Duration, Instant};

use tusk_writer::ProgressEvent;

use crate::output::human_bytes;

/// The steps of a write, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the first event.
    Starting,
    /// Reading and parsing the input (spilling sorted runs when memory is full).
    Reading,
    /// Sorting and writing the shard files.
    Building,
    /// Between two steps (a build or a publish reported `done`).
    Between,
    /// Uploading the shard files to the store.
    Uploading,
    /// Moving `CURRENT` to the new version.
    Activating,
}

impl Phase {
    fn from_event(name: &str) -> Phase {
        match name {
            "reading" => Phase::Reading,
            "building" => Phase::Building,
            "uploading" => Phase::Uploading,
            "activating" => Phase::Activating,
            _ => Phase::Between,
        }
    }

    /// The name in log lines.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Reading => "reading",
            Phase::Building => "building",
            Phase::Between => "between",
            Phase::Uploading => "uploading",
            Phase::Activating => "activating",
        }
    }

    /// Whether the phase has something to count (and a bar or periodic line).
    pub fn counts(self) -> bool {
        matches!(self, Phase::Reading | Phase::Building | Phase::Uploading)
    }
}

/// The numbers of a progress bar for the current phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarFields {
    /// Done so far: bytes read, shards built, bytes uploaded.
    pub position: u64,
    /// The total, when known (not for stdin).
    pub length: Option<u64>,
    /// What the bar's template does not show: records read, shards uploaded.
    pub message: String,
}

/// The progress of one `tusk write`.
#[derive(Debug, Clone)]
pub struct WriteProgress {
    phase: Phase,
    phase_started: Instant,
    input_total: Option<u64>,
    bytes_read: u64,
    records: u64,
    shards: u32,
    shards_built: u32,
    upload_total: u64,
    shards_uploaded: u32,
    bytes_uploaded: u64,
}

impl WriteProgress {
    /// A write of `shards` shards starting at `now`.
    pub fn new(shards: u32, now: Instant) -> Self {
        WriteProgress {
            phase: Phase::Starting,
            phase_started: now,
            input_total: None,
            bytes_read: 0,
            records: 0,
            shards,
            shards_built: 0,
            upload_total: 0,
            shards_uploaded: 0,
            bytes_uploaded: 0,
        }
    }

    /// The bytes the upload will send (the built shards' total), known once the
    /// build is over.
    pub fn set_upload_total(&mut self, bytes: u64) {
        self.upload_total = bytes;
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Takes one event in at `now`. When it changes the phase, returns the lines
    /// that say so: how the finished phase ended, and what the new one will do.
    pub fn apply(&mut self, event: &ProgressEvent, now: Instant) -> Vec<String> {
        match *event {
            ProgressEvent::InputSize(total) => self.input_total = total,
            ProgressEvent::BytesRead(n) => self.bytes_read += n,
            ProgressEvent::RecordsRead(n) => self.records += n,
            ProgressEvent::ShardBuilt { .. } => self.shards_built += 1,
            ProgressEvent::ShardUploaded { bytes, .. } => {
                self.shards_uploaded += 1;
                self.bytes_uploaded += bytes;
            }
            ProgressEvent::Phase(name) => return self.enter(Phase::from_event(name), now),
            _ => {}
        }
        Vec::new()
    }

    fn enter(&mut self, next: Phase, now: Instant) -> Vec<String> {
        if next == self.phase {
            return Vec::new();
        }
        let mut lines = Vec::new();
        if self.phase.counts() {
            let took = now.saturating_duration_since(self.phase_started);
            lines.push(format!(
                "{} finished: {} in {}",
                self.phase.name(),
                self.done_text(),
                seconds(took)
            ));
        }
        self.phase = next;
        self.phase_started = now;
        match next {
            Phase::Reading => lines.push(match self.input_total {
                Some(total) => format!("reading {} of input", human_bytes(total)),
                None => "reading input of unknown size (stdin or a pipe)".to_string(),
            }),
            Phase::Building => lines.push(format!("building {} shards", self.shards)),
            Phase::Uploading => lines.push(format!(
                "uploading {} shards, {}",
                self.shards,
                human_bytes(self.upload_total)
            )),
            Phase::Activating => lines.push("activating the new version".to_string()),
            Phase::Starting | Phase::Between => {}
        }
        lines
    }

    /// Done and total of the current phase, in its unit (bytes for reading and
    /// uploading, shards for building).
    pub fn done_and_total(&self) -> (u64, Option<u64>) {
        match self.phase {
            Phase::Reading => (self.bytes_read, self.input_total),
            Phase::Building => (u64::from(self.shards_built), Some(u64::from(self.shards))),
            Phase::Uploading => (self.bytes_uploaded, Some(self.upload_total)),
            Phase::Starting | Phase::Between | Phase::Activating => (0, None),
        }
    }

    /// Done (and total) of the current phase in words: `12.0 MiB of 26.7 MiB, 1200
    /// records`, `3/8 shards`, `5/8 shards, 20.0 MiB of 32.0 MiB`.
    fn done_text(&self) -> String {
        let of = |done: u64, total: Option<u64>| match total {
            Some(total) => format!("{} of {}", human_bytes(done), human_bytes(total)),
            None => human_bytes(done),
        };
        match self.phase {
            Phase::Reading => format!(
                "{}, {} records",
                of(self.bytes_read, self.input_total),
                self.records
            ),
            Phase::Building => format!("{}/{} shards", self.shards_built, self.shards),
            Phase::Uploading => format!(
                "{}/{} shards, {}",
                self.shards_uploaded,
                self.shards,
                of(self.bytes_uploaded, Some(self.upload_total))
            ),
            Phase::Starting | Phase::Between | Phase::Activating => String::new(),
        }
    }

    /// The periodic log line: phase, done, total, percent, rate and ETA, e.g.
    /// `reading: 12.0 MiB of 26.7 MiB, 1200 records, 45%, 8.1 MiB/s, ETA 2s`.
    /// `None` in a phase with nothing to count.
    pub fn log_line(&self, now: Instant) -> Option<String> {
        if !self.phase.counts() {
            return None;
        }
        let elapsed = now.saturating_duration_since(self.phase_started);
        let (done, total) = self.done_and_total();
        let mut line = format!("{}: {}", self.phase.name(), self.done_text());
        if let Some(p) = total.and_then(|t| percent(done, t)) {
            line.push_str(&format!(", {p}%"));
        }
        if let Some(r) = rate(done, elapsed) {
            let r = if self.phase == Phase::Building {
                format!("{r:.1} shards/s")
            } else {
                format!("{}/s", human_bytes(r as u64))
            };
            line.push_str(&format!(", {r}"));
        }
        match total.and_then(|t| eta(done, t, elapsed)) {
            Some(left) => line.push_str(&format!(", ETA {}", seconds_rounded(left))),
            None => line.push_str(", ETA unknown"),
        }
        Some(line)
    }

    /// The numbers of the current phase's progress bar.
    pub fn bar(&self) -> BarFields {
        let (position, length) = self.done_and_total();
        let message = match self.phase {
            Phase::Reading => format!("{} records", self.records),
            Phase::Uploading => format!("{}/{} shards", self.shards_uploaded, self.shards),
            _ => String::new(),
        };
        BarFields {
            position,
            length,
            message,
        }
    }
}

/// `done` as a whole percent of `total` (at most 100: a file may grow while read);
/// `None` for an empty total.
pub fn percent(done: u64, total: u64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let p = u128::from(done) * 100 / u128::from(total);
    Some(p.min(100) as u64)
}

/// Units per second over `elapsed`; `None` before anything is done or any time passed.
pub fn rate(done: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (done > 0 && secs > 0.0).then(|| done as f64 / secs)
}

/// Time left to reach `total` at the rate `done` took `elapsed` (the phase's own
/// rate): `None` until something is done; zero once the total is reached.
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done >= total {
        return Some(Duration::ZERO);
    }
    let per_unit = elapsed.as_secs_f64() / done as f64;
    let left = per_unit * (total - done) as f64;
    (done > 0 && left.is_finite()).then(|| Duration::from_secs_f64(left))
}

/// `1.25s`.
fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// `3s`, `2m 5s`, `1h 4m`: an ETA needs no more.
fn seconds_rounded(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn percent_is_whole_bounded_and_unknown_for_an_empty_total() {
        assert_eq!(percent(0, 200), Some(0));
        assert_eq!(percent(199, 200), Some(99));
        assert_eq!(percent(200, 200), Some(100));
        assert_eq!(percent(300, 200), Some(100), "a file that grew while read");
        assert_eq!(percent(u64::MAX, u64::MAX), Some(100));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn eta_follows_the_rate_so_far() {
        let s = Duration::from_secs;
        assert_eq!(eta(25, 100, s(10)), Some(s(30)));
        assert_eq!(eta(50, 100, s(10)), Some(s(10)));
        assert_eq!(eta(100, 100, s(10)), Some(Duration::ZERO));
        assert_eq!(eta(120, 100, s(10)), Some(Duration::ZERO));
        assert_eq!(eta(0, 100, s(10)), None, "nothing done: no rate yet");
        assert_eq!(eta(0, 0, s(0)), Some(Duration::ZERO));
        assert_eq!(rate(30, s(10)), Some(3.0));
        assert_eq!(rate(0, s(10)), None);
        assert_eq!(rate(5, Duration::ZERO), None);
    }

    #[test]
    fn reading_with_a_known_size_has_percent_rate_and_eta() {
        let t0 = Instant::now();
        let mut p = WriteProgress::new(8, t0);
        assert!(
            p.apply(&ProgressEvent::InputSize(Some(40 * MIB)), t0)
                .is_empty()
        );
        let lines = p.apply(&ProgressEvent::Phase("reading"), t0);
        assert_eq!(lines, ["reading 40.0 MiB of input"]);
        p.apply(&ProgressEvent::BytesRead(10 * MIB), at(t0, 1));
        p.apply(&ProgressEvent::RecordsRead(5000), at(t0, 1));
        assert_eq!(
            p.log_line(at(t0, 2)).unwrap(),
            "reading: 10.0 MiB of 40.0 MiB, 5000 records, 25%, 5.0 MiB/s, ETA 6s"
        );
        assert_eq!(
            p.bar(),
            BarFields {
                position: 10 * MIB,
                length: Some(40 * MIB),
                message: "5000 records".to_string()
            }
        );
    }

    #[test]
    fn reading_stdin_has_no_percent_and_no_eta() {
        let t0 = Instant::now();
        let mut p = WriteProgress::new(2, t0);
        p.apply(&ProgressEvent::InputSize(None), t0);
        let lines = p.apply(&ProgressEvent::Phase("reading"), t0);
        assert_eq!(lines, ["reading input of unknown size (stdin or a pipe)"]);
        p.apply(&ProgressEvent::BytesRead(4 * MIB), at(t0, 1));
        let line = p.log_line(at(t0, 4)).unwrap();
        assert_eq!(line, "reading: 4.0 MiB, 0 records, 1.0 MiB/s, ETA unknown");
        assert_eq!(p.bar().length, None);
    }

    #[test]
    fn each_phase_has_its_own_clock_and_counts() {
        let t0 = Instant::now();
        let mut p = WriteProgress::new(4, t0);
        p.apply(&ProgressEvent::InputSize(Some(MIB)), t0);
        p.apply(&ProgressEvent::Phase("reading"), t0);
        p.apply(&ProgressEvent::BytesRead(MIB), at(t0, 1));
        p.apply(&ProgressEvent::RecordsRead(100), at(t0, 1));

        // A slow read does not slow the build's ETA: it starts its own clock.
        let lines = p.apply(&ProgressEvent::Phase("building"), at(t0, 100));
        assert_eq!(
            lines,
            [
                "reading finished: 1.0 MiB of 1.0 MiB, 100 records in 100.00s",
                "building 4 shards"
            ]
        );
        let built = ProgressEvent::ShardBuilt {
            index: 0,
            records: 25,
            bytes: 10,
        };
        p.apply(&built, at(t0, 101));
        assert_eq!(
            p.log_line(at(t0, 102)).unwrap(),
            "building: 1/4 shards, 25%, 0.5 shards/s, ETA 6s"
        );
        for _ in 0..3 {
            p.apply(&built, at(t0, 103));
        }
        // The build's own end, then the publish.
        let lines = p.apply(&ProgressEvent::Phase("done"), at(t0, 104));
        assert_eq!(lines, ["building finished: 4/4 shards in 4.00s"]);
        assert_eq!(p.phase(), Phase::Between);
        assert_eq!(p.log_line(at(t0, 104)), None);

        p.set_upload_total(8 * MIB);
        let lines = p.apply(&ProgressEvent::Phase("uploading"), at(t0, 104));
        assert_eq!(lines, ["uploading 4 shards, 8.0 MiB"]);
        for index in 0..3 {
            p.apply(
                &ProgressEvent::ShardUploaded {
                    index,
                    bytes: 2 * MIB,
                },
                at(t0, 106),
            );
        }
        assert_eq!(
            p.log_line(at(t0, 106)).unwrap(),
            "uploading: 3/4 shards, 6.0 MiB of 8.0 MiB, 75%, 3.0 MiB/s, ETA 1s"
        );
        assert_eq!(
            p.bar(),
            BarFields {
                position: 6 * MIB,
                length: Some(8 * MIB),
                message: "3/4 shards".to_string()
            }
        );
        p.apply(
            &ProgressEvent::ShardUploaded {
                index: 3,
                bytes: 2 * MIB,
            },
            at(t0, 107),
        );
        let lines = p.apply(&ProgressEvent::Phase("activating"), at(t0, 108));
        assert_eq!(
            lines,
            [
                "uploading finished: 4/4 shards, 8.0 MiB of 8.0 MiB in 4.00s",
                "activating the new version"
            ]
        );
        assert_eq!(p.log_line(at(t0, 109)), None);
        assert!(
            p.apply(&ProgressEvent::Phase("done"), at(t0, 110))
                .is_empty()
        );
    }

    #[test]
    fn a_repeated_phase_changes_nothing() {
        let t0 = Instant::now();
        let mut p = WriteProgress::new(1, t0);
        p.apply(&ProgressEvent::Phase("reading"), t0);
        p.apply(&ProgressEvent::BytesRead(10), t0);
        assert!(
            p.apply(&ProgressEvent::Phase("reading"), at(t0, 5))
                .is_empty()
        );
        assert_eq!(p.done_and_total(), (10, None));
    }

    #[test]
    fn etas_are_rounded_up_to_what_a_reader_needs() {
        let s = Duration::from_secs_f64;
        assert_eq!(seconds_rounded(s(0.2)), "1s");
        assert_eq!(seconds_rounded(s(59.0)), "59s");
        assert_eq!(seconds_rounded(s(125.0)), "2m 5s");
        assert_eq!(seconds_rounded(s(3700.0)), "1h 1m");
    }
}
