//! Rendering a server's Status answer for humans and as JSON.

use serde_json::{Value, json};
use tusk_client::{DomainState, StatusResponse};

/// The readable name of a Status `DomainState` value.
pub fn state_name(state: i32) -> &'static str {
    match DomainState::try_from(state) {
        Ok(DomainState::Loading) => "loading",
        Ok(DomainState::Serving) => "serving",
        Ok(DomainState::Failed) => "failed",
        _ => "unknown",
    }
}

/// The status as a JSON document with snake_case fields and readable states.
pub fn to_json(status: &StatusResponse) -> Value {
    let node = status.node.clone().unwrap_or_default();
    json!({
        "node": {
            "listen_addr": node.listen_addr,
            "tusk_version": node.tusk_version,
            "uptime_seconds": node.uptime_seconds,
            "started_at": node.started_at,
            "node_name": node.node_name,
            "topology_fingerprint": node.topology_fingerprint,
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
        })).collect::<Vec<_>>(),
    })
}

/// Prints the status as indented text.
pub fn print_human(status: &StatusResponse) {
    let node = status.node.clone().unwrap_or_default();
    println!(
        "node {} (tusk {}, up {}s since {})",
        node.listen_addr, node.tusk_version, node.uptime_seconds, node.started_at
    );
    if !node.topology_fingerprint.is_empty() {
        println!(
            "fleet member {}, placement fingerprint {}",
            node.node_name, node.topology_fingerprint
        );
    }
    for d in &status.domains {
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        println!("\ndomain {}  [{}]", d.name, state_name(d.state));
        println!("  store            {}", d.store_url);
        println!("  serving          {}", dash(&d.current_version));
        println!("  store CURRENT    {}", dash(&d.store_current_version));
        println!("  on local disk    {}", dash(&d.local_versions.join(", ")));
        println!("  swaps            {}", d.swaps);
        println!("  last poll        {}", dash(&d.last_poll_at));
        if !d.note.is_empty() {
            println!("  note             {}", d.note);
        }
        if !d.failed_version.is_empty() || !d.last_error.is_empty() {
            println!("  failed version   {}", dash(&d.failed_version));
            println!("  last error       {}", dash(&d.last_error));
        }
    }
}
