//! Showing a write's progress on stderr: a bar per phase on a terminal, and log lines
//! (one at each phase change, one every few seconds) when stderr is a file or a pipe,
//! so a job under a scheduler never looks hung. stdout is left to the summary.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tusk_writer::{ProgressEvent, ProgressFn};

use super::progress::{BarFields, Phase, WriteProgress};

/// The shortest interval between two periodic log lines.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all.
    Off,
    /// A bar per phase, on a terminal.
    Bars,
    /// Log lines every `interval` and at each phase change.
    Log {
        /// Time between two periodic lines.
        interval: Duration,
        /// Lines go through the JSON log (`--log-format json`) instead of plain
        /// `tusk write: ...` lines, so every stderr line stays one JSON object.
        json: bool,
    },
}

impl Mode {
    /// Bars when stderr is a terminal and logs are text, else log lines (JSON log
    /// events with `json_logs`); `Off` when not `enabled`.
    pub fn detect(enabled: bool, interval: Duration, json_logs: bool) -> Mode {
        if !enabled {
            Mode::Off
        } else if std::io::stderr().is_terminal() && !json_logs {
            Mode::Bars
        } else {
            Mode::Log {
                interval: interval.max(MIN_INTERVAL),
                json: json_logs,
            }
        }
    }
}

/// Writes one progress line: a plain `tusk write: ...` line, or an info event of
/// the (JSON) log.
fn log_line(json: bool, line: &str) {
    if json {
        tracing::info!(target: "tusk_cli::write", "{line}");
    } else {
        eprintln!("tusk write: {line}");
    }
}

/// What the callback and the log thread share.
struct Shared {
    model: Mutex<WriteProgress>,
    /// The current phase's bar (bars mode only).
    bar: Mutex<Option<ProgressBar>>,
    mode: Mode,
}

impl Shared {
    fn model(&self) -> MutexGuard<'_, WriteProgress> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_event(&self, event: ProgressEvent) {
        let mut model = self.model();
        let before = model.phase();
        let lines = model.apply(&event, Instant::now());
        match self.mode {
            Mode::Off => {}
            Mode::Log { json, .. } => {
                for line in lines {
                    log_line(json, &line);
                }
            }
            Mode::Bars => {
                let mut bar = self.bar();
                let fields = model.bar();
                if model.phase() != before {
                    if let Some(old) = bar.take() {
                        old.finish_and_clear();
                    }
                    *bar = new_bar(model.phase(), &fields);
                }
                if let Some(bar) = bar.as_ref() {
                    match fields.length {
                        Some(len) => bar.set_length(len),
                        None => bar.unset_length(),
                    }
                    bar.set_position(fields.position);
                    bar.set_message(fields.message);
                }
            }
        }
    }
}

/// The progress display of one write; stops (bar cleared, log thread ended) when
/// finished or dropped.
pub struct Display {
    shared: Arc<Shared>,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Display {
    /// Starts showing the progress of a write of `shards` shards.
    pub fn start(mode: Mode, shards: u32) -> Display {
        let shared = Arc::new(Shared {
            model: Mutex::new(WriteProgress::new(shards, Instant::now())),
            bar: Mutex::new(None),
            mode,
        });
        let ticker = match mode {
            Mode::Log { interval, json } => {
                let (stop, stopped) = mpsc::channel::<()>();
                let shared = Arc::clone(&shared);
                let handle = std::thread::spawn(move || {
                    // Ends when `stop` is dropped (or sends).
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                        if let Some(line) = shared.model().log_line(Instant::now()) {
                            log_line(json, &line);
                        }
                    }
                });
                Some((stop, handle))
            }
            Mode::Off | Mode::Bars => None,
        };
        Display { shared, ticker }
    }

    /// The writer's progress callback, `None` when progress is off.
    pub fn callback(&self) -> Option<ProgressFn> {
        if self.shared.mode == Mode::Off {
            return None;
        }
        let shared = Arc::clone(&self.shared);
        Some(Arc::new(move |event| shared.on_event(event)))
    }

    /// The bytes the upload will send.
    pub fn set_upload_total(&self, bytes: u64) {
        self.shared.model().set_upload_total(bytes);
    }

    /// Stops the display: the bar is cleared, the log thread ends.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            drop(stop);
            if handle.join().is_err() {
                tracing::warn!("the progress log thread panicked");
            }
        }
        if let Some(bar) = self.shared.bar().take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bar on stderr for a phase that counts something, showing `fields` from its
/// first frame; `None` for the other phases.
fn new_bar(phase: Phase, fields: &BarFields) -> Option<ProgressBar> {
    let style = bar_style(phase, fields.length.is_some())?;
    let bar = ProgressBar::with_draw_target(fields.length, ProgressDrawTarget::stderr())
        .with_style(style)
        .with_position(fields.position)
        .with_message(fields.message.clone());
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// The look of a phase's bar: the fields of [`WriteProgress::bar`] laid out.
fn bar_style(phase: Phase, total_known: bool) -> Option<ProgressStyle> {
    let template = match phase {
        Phase::Reading if total_known => {
            "reading   {wide_bar} {percent}% {binary_bytes}/{binary_total_bytes} {msg} ETA {eta}"
        }
        Phase::Reading => {
            "reading   {spinner} {binary_bytes} {msg} ({binary_bytes_per_sec}) {elapsed}"
        }
        Phase::Building => "building  {wide_bar} {pos}/{len} shards ETA {eta}",
        Phase::Uploading => {
            "uploading {wide_bar} {percent}% {binary_bytes}/{binary_total_bytes} {msg} ETA {eta}"
        }
        Phase::Starting | Phase::Between | Phase::Activating => return None,
    };
    Some(ProgressStyle::with_template(template).expect("the progress templates are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use indicatif::TermLike;

    /// A terminal that keeps all it is sent (one bar draws one line).
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The line a phase's bar draws for `fields`.
    fn draw(phase: Phase, fields: BarFields) -> String {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let style = bar_style(phase, fields.length.is_some()).expect("a counting phase");
        let bar = ProgressBar::with_draw_target(fields.length, target).with_style(style);
        bar.set_position(fields.position);
        bar.set_message(fields.message);
        bar.force_draw();
        screen.0.lock().unwrap().clone()
    }

    #[test]
    fn each_phase_bar_shows_its_fields() {
        const MIB: u64 = 1 << 20;
        let line = draw(
            Phase::Reading,
            BarFields {
                position: 2 * MIB,
                length: Some(8 * MIB),
                message: "5000 records".into(),
            },
        );
        assert!(
            line.starts_with("reading ")
                && line.contains(" 25% 2.00 MiB/8.00 MiB 5000 records ETA "),
            "{line:?}"
        );
        let line = draw(
            Phase::Reading,
            BarFields {
                position: 3 * MIB,
                length: None,
                message: "12 records".into(),
            },
        );
        assert!(line.contains(" 3.00 MiB 12 records ("), "{line:?}");
        let line = draw(
            Phase::Building,
            BarFields {
                position: 3,
                length: Some(8),
                message: String::new(),
            },
        );
        assert!(line.contains(" 3/8 shards ETA "), "{line:?}");
        let line = draw(
            Phase::Uploading,
            BarFields {
                position: 4 * MIB,
                length: Some(8 * MIB),
                message: "2/4 shards".into(),
            },
        );
        assert!(
            line.starts_with("uploading ")
                && line.contains(" 50% 4.00 MiB/8.00 MiB 2/4 shards ETA "),
            "{line:?}"
        );
        assert!(bar_style(Phase::Activating, true).is_none());
    }

    #[test]
    fn off_gives_no_callback() {
        let display = Display::start(Mode::Off, 4);
        assert!(display.callback().is_none());
        display.finish();
        assert_eq!(Mode::detect(false, Duration::ZERO, false), Mode::Off);
    }
}
