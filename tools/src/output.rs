//! Output helpers shared by the commands: stdout lines, JSON lines, sizes, byte
//! strings, tables.
//!
//! Commands print through [`outln!`], never `println!`: a reader that goes away
//! (`tusk get ... | head`) closes the pipe, the write fails with [`StdoutClosed`], the
//! command stops, and `main` exits 0 without a word, as ripgrep does.

use std::io::Write as _;

use base64::Engine as _;
use serde::Serialize;

/// Writes one line to stdout (`format!` arguments); evaluates to
/// `Result<(), StdoutError>`, so use it with `?`.
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Stdout is a pipe whose reader has gone: nothing more can be printed, and that
/// is not a failure of the command (`main` exits 0 quietly).
#[derive(Debug, thiserror::Error)]
#[error("stdout closed by its reader")]
pub struct StdoutClosed;

/// A failed write to stdout: [`StdoutClosed`], or another I/O error (disk full
/// behind a redirect) that is reported.
#[derive(Debug, thiserror::Error)]
pub enum StdoutError {
    /// The reader closed the pipe.
    #[error(transparent)]
    Closed(#[from] StdoutClosed),
    /// Any other write error.
    #[error("writing to stdout: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for StdoutError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            StdoutError::Closed(StdoutClosed)
        } else {
            StdoutError::Io(err)
        }
    }
}

/// Writes `args` and a newline to stdout; see [`outln!`].
pub fn write_line(args: std::fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes `bytes` as they are to stdout (generated scripts).
pub fn write_raw(bytes: &[u8]) -> Result<(), StdoutError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Whether `err` (or one of its causes) is [`StdoutClosed`].
pub fn is_stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<StdoutClosed>().is_some()
            || matches!(
                cause.downcast_ref::<StdoutError>(),
                Some(StdoutError::Closed(_))
            )
    })
}

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string(value)?)?;
    Ok(())
}

/// A byte string for JSON: the text when it is UTF-8, else base64 with an encoding tag.
pub fn encode_bytes(bytes: &[u8]) -> (String, Option<&'static str>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            Some("base64"),
        ),
    }
}

/// A byte string for humans: the text when it is printable UTF-8, else `0x` + hex.
pub fn display_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\t') => s.to_string(),
        _ => format!("0x{}", hex::encode(bytes)),
    }
}

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The error and its causes on one line, skipping a cause whose text is already
/// there (a transport error alone says only "transport error").
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// Writes rows as an aligned table with a header line to stdout.
pub fn write_table(header: &[&str], rows: &[Vec<String>]) -> Result<(), StdoutError> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        outln!("{}", out.trim_end())
    };
    line(header.iter().map(|h| h.to_string()).collect())?;
    for row in rows {
        line(row.clone())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_shown_readably() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(display_bytes(b"abc"), "abc");
        assert_eq!(display_bytes(&[0xff, 0x00]), "0xff00");
        assert_eq!(encode_bytes(&[0xff]), ("/w==".to_string(), Some("base64")));
        assert_eq!(encode_bytes(b"ok"), ("ok".to_string(), None));
    }

    #[test]
    fn a_closed_pipe_is_told_apart_from_other_write_errors() {
        let closed = StdoutError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        let err = anyhow::Error::from(closed).context("printing versions");
        assert!(is_stdout_closed(&err));
        let full = StdoutError::from(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(!is_stdout_closed(&anyhow::Error::from(full)));
        // A broken pipe elsewhere (a socket) is a real error.
        let socket = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(!is_stdout_closed(&anyhow::Error::from(socket)));
    }
}
