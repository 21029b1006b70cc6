//! The status as JSON: one document built from the Status RPC's answer, served at
//! `GET /status.json` (the status page renders it) and printed by
//! `tusk status --json`. Field names are snake_case, states readable words.

use std::time::Duration;

use serde_json::{Value, json};
use tusk_proto::v1::{DomainEvent, DomainState, DownloadProgress, StatusResponse};

/// The readable name of a Status `DomainState` value.
pub fn state_name(state: i32) -> &'static str {
    match DomainState::try_from(state) {
        Ok(DomainState::Loading) => "loading",
        Ok(DomainState::Serving) => "serving",
        Ok(DomainState::Failed) => "failed",
        _ => "unknown",
    }
}

/// Time left for a download that did `done` of `total` bytes in `elapsed`, at the
/// rate so far: zero once done, `None` while nothing is done yet (no rate known).
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done >= total {
        return Some(Duration::ZERO);
    }
    if done == 0 || elapsed.is_zero() {
        return None;
    }
    let remaining = u128::from(total - done);
    let millis = elapsed.as_millis() * remaining / u128::from(done);
    Some(Duration::from_millis(
        u64::try_from(millis).unwrap_or(u64::MAX),
    ))
}

/// `done` of `total` in percent, rounded down to a tenth; 100 when there is
/// nothing to do.
pub fn percent(done: u64, total: u64) -> f64 {
    if total == 0 || done >= total {
        return 100.0;
    }
    let tenths = u128::from(done) * 1000 / u128::from(total);
    tenths as f64 / 10.0
}

/// The status as one JSON document.
pub fn status_json(status: &StatusResponse) -> Value {
    let node = status.node.clone().unwrap_or_default();
    json!({
        "node": {
            "listen_addr": node.listen_addr,
            "tusk_version": node.tusk_version,
            "uptime_seconds": node.uptime_seconds,
            "started_at": node.started_at,
            "node_name": node.node_name,
            "topology_fingerprint": node.topology_fingerprint,
            "shard_formats": node.shard_formats,
        },
        "domains": status.domains.iter().map(|d| json!({
            "name": d.name,
            "store": d.store_url,
            "state": state_name(d.state),
            "current_version": d.current_version,
            "store_current_version": d.store_current_version,
            "local_versions": d.local_versions,
            "loaded_versions": d.loaded_versions,
            "swaps": d.swaps,
            "last_poll_at": d.last_poll_at,
            "failed_version": d.failed_version,
            "last_error": d.last_error,
            "note": d.note,
            "downloads": d.downloads.iter().map(download_json).collect::<Vec<_>>(),
            "recent_errors": d.recent_errors.iter().map(event_json).collect::<Vec<_>>(),
            "moves": d.moves.iter().map(event_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn download_json(d: &DownloadProgress) -> Value {
    let elapsed = Duration::from_millis(d.elapsed_ms);
    json!({
        "version": d.version,
        "bytes_done": d.bytes_done,
        "bytes_total": d.bytes_total,
        "percent": percent(d.bytes_done, d.bytes_total),
        "shards_done": d.shards_done,
        "shards_total": d.shards_total,
        "started_at": d.started_at,
        "elapsed_seconds": elapsed.as_secs(),
        "eta_seconds": eta(d.bytes_done, d.bytes_total, elapsed).map(|e| e.as_secs()),
    })
}

fn event_json(e: &DomainEvent) -> Value {
    json!({ "at": e.at, "kind": e.kind, "version": e.version, "message": e.message })
}

#[cfg(test)]
mod tests {
    use tusk_proto::v1::{DomainStatus, NodeInfo};

    use super::*;

    #[test]
    fn eta_follows_the_rate_so_far() {
        let s = Duration::from_secs;
        // A quarter in 10 s: three quarters left take 30 s.
        assert_eq!(eta(25, 100, s(10)), Some(s(30)));
        assert_eq!(eta(99, 100, s(99)), Some(s(1)));
        assert_eq!(eta(100, 100, s(7)), Some(Duration::ZERO));
        assert_eq!(eta(0, 0, Duration::ZERO), Some(Duration::ZERO));
        assert_eq!(eta(0, 100, s(10)), None, "no rate yet");
        assert_eq!(eta(10, 100, Duration::ZERO), None);
        // Big numbers do not overflow.
        assert_eq!(
            eta(1 << 40, 3 << 40, s(3600 * 24 * 365)),
            Some(s(2 * 3600 * 24 * 365))
        );
    }

    #[test]
    fn percent_rounds_down_to_a_tenth() {
        assert_eq!(percent(0, 300), 0.0);
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.6);
        assert_eq!(percent(999, 1000), 99.9);
        assert_eq!(percent(3, 3), 100.0);
        assert_eq!(percent(0, 0), 100.0);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99.9);
    }

    #[test]
    fn json_carries_every_status_field() {
        let status = StatusResponse {
            node: Some(NodeInfo {
                listen_addr: "127.0.0.1:7070".into(),
                tusk_version: "0.1.0".into(),
                uptime_seconds: 42,
                started_at: "2026-12-01T10:00:00Z".into(),
                topology_fingerprint: "ab12".into(),
                node_name: "n1".into(),
                shard_formats: vec!["tusk-native-v1".into(), "tusk-native-v2".into()],
            }),
            domains: vec![DomainStatus {
                name: "pages".into(),
                store_url: "file:///s".into(),
                current_version: "v1".into(),
                local_versions: vec!["v1".into()],
                state: DomainState::Serving as i32,
                store_current_version: "v2".into(),
                downloads: vec![DownloadProgress {
                    version: "v2".into(),
                    bytes_done: 250,
                    bytes_total: 1000,
                    shards_done: 1,
                    shards_total: 4,
                    started_at: "2026-12-01T10:00:30Z".into(),
                    elapsed_ms: 10_500,
                }],
                recent_errors: vec![DomainEvent {
                    at: "2026-12-01T10:00:10Z".into(),
                    kind: "store-error".into(),
                    version: String::new(),
                    message: "<timeout>".into(),
                }],
                moves: vec![DomainEvent {
                    at: "2026-12-01T10:00:01Z".into(),
                    kind: "swap".into(),
                    version: "v1".into(),
                    message: "downloaded".into(),
                }],
                ..Default::default()
            }],
        };
        let json = status_json(&status);
        assert_eq!(json["node"]["node_name"], "n1");
        assert_eq!(json["node"]["uptime_seconds"], 42);
        assert_eq!(
            json["node"]["shard_formats"],
            json!(["tusk-native-v1", "tusk-native-v2"])
        );
        let d = &json["domains"][0];
        assert_eq!(d["state"], "serving");
        assert_eq!(d["current_version"], "v1");
        assert_eq!(d["store_current_version"], "v2");
        assert_eq!(
            d["downloads"][0],
            json!({
                "version": "v2", "bytes_done": 250, "bytes_total": 1000, "percent": 25.0,
                "shards_done": 1, "shards_total": 4, "started_at": "2026-12-01T10:00:30Z",
                "elapsed_seconds": 10, "eta_seconds": 31,
            })
        );
        assert_eq!(d["recent_errors"][0]["message"], "<timeout>");
        assert_eq!(d["recent_errors"][0]["kind"], "store-error");
        assert_eq!(d["moves"][0]["kind"], "swap");
        assert_eq!(d["moves"][0]["version"], "v1");
    }

    #[test]
    fn unknown_states_have_a_name() {
        assert_eq!(state_name(DomainState::Loading as i32), "loading");
        assert_eq!(state_name(DomainState::Failed as i32), "failed");
        assert_eq!(state_name(0), "unknown");
        assert_eq!(state_name(99), "unknown");
    }
}
