//! Printing the fleet view: one JSON object, or a table and the flags.

use serde_json::{Value, json};

use super::flags::{Flag, Severity};
use super::report::{Downloading, NodeReport};
use crate::output::{StdoutError, outln, write_table};

/// `{"nodes": [...], "flags": [{severity, kind, message, nodes}]}`.
pub fn to_json(nodes: &[NodeReport], flags: &[Flag]) -> Value {
    json!({ "nodes": nodes, "flags": flags })
}

/// The DOWNLOADING cell: version, percent and ETA, or `-`.
fn downloading(d: Option<&Downloading>) -> String {
    let Some(d) = d else {
        return "-".to_string();
    };
    let eta = d.eta_seconds.map_or("?".to_string(), |s| {
        humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
    });
    format!("{} {:.1}% ETA {eta}", d.version, d.percent)
}

fn dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

/// The table's rows: one per node and domain (one per node when it has none).
fn rows(nodes: &[NodeReport]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for n in nodes {
        let label = match &n.name {
            Some(name) if name != &n.address => format!("{} ({name})", n.address),
            _ => n.address.clone(),
        };
        let fingerprint = dash(n.fingerprint.as_deref());
        if !n.reachable {
            let error = dash(n.error.as_deref());
            rows.push(vec![
                label,
                "-".into(),
                "unreachable".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                fingerprint,
                error,
            ]);
            continue;
        }
        if n.domains.is_empty() {
            let none = || "-".to_string();
            rows.push(vec![
                label.clone(),
                none(),
                none(),
                none(),
                none(),
                none(),
                none(),
                fingerprint.clone(),
                none(),
            ]);
        }
        for d in &n.domains {
            let shards = d
                .serving
                .as_deref()
                .and_then(|v| d.held(v))
                .map(|h| format!("{}/{}", h.held.len(), h.shard_count))
                .unwrap_or_else(|| "-".into());
            let error = match (&d.last_error, &d.failed_version) {
                (Some(e), Some(v)) => format!("{v}: {e}"),
                (Some(e), None) => e.clone(),
                _ => "-".into(),
            };
            rows.push(vec![
                label.clone(),
                d.name.clone(),
                d.state.clone(),
                dash(d.serving.as_deref()),
                dash(Some(&d.loaded_versions.join(","))),
                shards,
                downloading(d.downloading.as_ref()),
                fingerprint.clone(),
                error.replace('\n', " "),
            ]);
        }
    }
    rows
}

/// Prints the table, then the flags one per line (or that there are none).
pub fn print_human(nodes: &[NodeReport], flags: &[Flag]) -> Result<(), StdoutError> {
    write_table(
        &[
            "NODE",
            "DOMAIN",
            "STATE",
            "SERVING",
            "LOADED",
            "SHARDS",
            "DOWNLOADING",
            "FINGERPRINT",
            "LAST ERROR",
        ],
        &rows(nodes),
    )?;
    outln!()?;
    if flags.is_empty() {
        outln!("no flags: every node answered and agrees")?;
    }
    for f in flags {
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        outln!("{severity:<7}  {:<20}  {}", f.kind, f.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::flags::fleet_flags;

    #[test]
    fn json_has_the_stable_keys() {
        let nodes = vec![NodeReport::unreachable("a:1", "refused".into())];
        let flags = fleet_flags(&nodes);
        let v = to_json(&nodes, &flags);
        assert_eq!(v["nodes"][0]["address"], "a:1");
        assert_eq!(v["nodes"][0]["reachable"], false);
        assert_eq!(v["nodes"][0]["error"], "refused");
        assert_eq!(v["flags"][0]["severity"], "error");
        assert_eq!(v["flags"][0]["kind"], "unreachable");
        assert_eq!(v["flags"][0]["nodes"][0], "a:1");
        assert!(
            v["flags"][0]["message"]
                .as_str()
                .unwrap()
                .contains("refused")
        );
    }

    #[test]
    fn an_unreachable_node_is_one_row_with_its_error() {
        let rows = rows(&[NodeReport::unreachable("a:1", "refused".into())]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][2], "unreachable");
        assert_eq!(rows[0][8], "refused");
    }

    #[test]
    fn a_download_shows_version_percent_and_eta() {
        let d = Downloading {
            version: "v3".into(),
            percent: 33.5,
            eta_seconds: Some(75),
        };
        assert_eq!(downloading(Some(&d)), "v3 33.5% ETA 1m 15s");
        let unknown = Downloading {
            eta_seconds: None,
            ..d
        };
        assert_eq!(downloading(Some(&unknown)), "v3 33.5% ETA ?");
        assert_eq!(downloading(None), "-");
    }
}
