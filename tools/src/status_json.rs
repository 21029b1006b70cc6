//! Rendering a server's Status answer for humans and as JSON (the JSON is the
//! server's own status document, the one its status page renders).

use std::time::Duration;

use serde_json::Value;
use tusk_client::{DomainEvent, DownloadProgress, StatusResponse};
use tusk_server::page::{eta, percent};

use crate::output::{StdoutError, human_bytes, outln};

/// The readable name of a Status `DomainState` value.
pub fn state_name(state: i32) -> &'static str {
    tusk_server::page::state_name(state)
}

/// The status as a JSON document with snake_case fields and readable states.
pub fn to_json(status: &StatusResponse) -> Value {
    tusk_server::page::status_json(status)
}

/// Moves and errors shown by the human status (the newest; `--json` has them all).
const LOG_LINES: usize = 5;

/// One line for a download in progress: bytes done of the total, percent, shards
/// and the time left at the rate so far.
pub fn download_line(d: &DownloadProgress) -> String {
    let elapsed = Duration::from_millis(d.elapsed_ms);
    let eta = match eta(d.bytes_done, d.bytes_total, elapsed) {
        Some(left) => humantime::format_duration(Duration::from_secs(left.as_secs())).to_string(),
        None => "unknown".to_string(),
    };
    format!(
        "{}: {} of {} ({:.1}%), shards {}/{}, ETA {eta}, started {}",
        d.version,
        human_bytes(d.bytes_done),
        human_bytes(d.bytes_total),
        percent(d.bytes_done, d.bytes_total),
        d.shards_done,
        d.shards_total,
        d.started_at
    )
}

fn event_line(e: &DomainEvent) -> String {
    let version = if e.version.is_empty() {
        String::new()
    } else {
        format!("{} ", e.version)
    };
    format!("{}  {:<11} {version}{}", e.at, e.kind, e.message)
}

/// Prints the status as indented text.
pub fn print_human(status: &StatusResponse) -> Result<(), StdoutError> {
    let node = status.node.clone().unwrap_or_default();
    outln!(
        "node {} (tusk {}, up {}s since {})",
        node.listen_addr,
        node.tusk_version,
        node.uptime_seconds,
        node.started_at
    )?;
    if !node.topology_fingerprint.is_empty() {
        outln!(
            "fleet member {}, placement fingerprint {}",
            node.node_name,
            node.topology_fingerprint
        )?;
    }
    if !node.shard_formats.is_empty() {
        outln!("reads shard formats {}", node.shard_formats.join(", "))?;
    }
    for d in &status.domains {
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        outln!("\ndomain {}  [{}]", d.name, state_name(d.state))?;
        outln!("  store            {}", d.store_url)?;
        outln!("  serving          {}", dash(&d.current_version))?;
        outln!("  store CURRENT    {}", dash(&d.store_current_version))?;
        outln!("  on local disk    {}", dash(&d.local_versions.join(", ")))?;
        for download in &d.downloads {
            outln!("  downloading      {}", download_line(download))?;
        }
        outln!("  swaps            {}", d.swaps)?;
        outln!("  last poll        {}", dash(&d.last_poll_at))?;
        if !d.note.is_empty() {
            outln!("  note             {}", d.note)?;
        }
        if !d.failed_version.is_empty() || !d.last_error.is_empty() {
            outln!("  failed version   {}", dash(&d.failed_version))?;
            outln!("  last error       {}", dash(&d.last_error))?;
        }
        for (title, log) in [("recent errors", &d.recent_errors), ("moves", &d.moves)] {
            if log.is_empty() {
                continue;
            }
            outln!("  {title} (newest first)")?;
            for e in log.iter().rev().take(LOG_LINES) {
                outln!("    {}", event_line(e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_line_has_bytes_total_percent_and_eta() {
        let d = DownloadProgress {
            version: "v2".into(),
            bytes_done: 256 << 20,
            bytes_total: 1 << 30,
            shards_done: 1,
            shards_total: 4,
            started_at: "2026-12-01T10:00:00Z".into(),
            elapsed_ms: 10_400,
        };
        assert_eq!(
            download_line(&d),
            "v2: 256.0 MiB of 1.0 GiB (25.0%), shards 1/4, ETA 31s, started 2026-12-01T10:00:00Z"
        );
        let fresh = DownloadProgress { bytes_done: 0, ..d };
        assert!(download_line(&fresh).contains("(0.0%), shards 1/4, ETA unknown"));
    }

    #[test]
    fn an_event_line_names_kind_and_version() {
        let e = DomainEvent {
            at: "2026-12-01T10:00:00Z".into(),
            kind: "rollback".into(),
            version: "v1".into(),
            message: "swapped back".into(),
        };
        assert_eq!(
            event_line(&e),
            "2026-12-01T10:00:00Z  rollback    v1 swapped back"
        );
    }
}
