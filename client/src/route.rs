//! Where to send a key: the order in which the nodes of the fleet are tried.
//!
//! For a key of shard `s` (of the version being read):
//! 1. its replicas in placement order whose Topology answer lists `s`;
//! 2. its other replicas (not reported yet, or reporting otherwise), in placement order;
//! 3. other nodes whose answer lists `s` (a fleet being reshaped);
//! 4. every other node, in fleet order (a node forwards keys it does not hold).
//!
//! Nodes that failed at the transport level moments ago go after all others, in
//! the same order among themselves. When the shard is unknown (no node reported
//! the domain yet), every node is a candidate, in fleet order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tusk_format::partition::shard_for;
use tusk_format::placement::{self, Fleet};

use crate::topology::View;

/// The order to try the nodes of `fleet` in for shard `shard` of `domain`, as
/// indexes into [`Fleet::nodes`]. `holds(i)` says whether node `i` reported holding
/// the shard; `down(i)` whether it failed moments ago.
pub(crate) fn candidates(
    fleet: &Fleet,
    domain: &str,
    shard: Option<u32>,
    holds: impl Fn(usize) -> bool,
    down: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let n = fleet.nodes().len();
    let replicas = match shard {
        Some(s) => placement::replicas(fleet, domain, s),
        None => Vec::new(),
    };
    let mut ranked: Vec<(u8, usize, usize)> = (0..n)
        .map(|i| {
            let place = replicas.iter().position(|&r| r == i);
            let tier = match (place.is_some(), shard.is_some() && holds(i)) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            let tier = if down(i) { tier + 4 } else { tier };
            (tier, place.unwrap_or(n + i), i)
        })
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, _, i)| i).collect()
}

/// How long a node that failed at the transport level is tried last.
pub(crate) const DOWN_FOR: Duration = Duration::from_secs(3);

/// Nodes that failed at the transport level (refused, reset, timed out) recently.
#[derive(Debug, Default)]
pub(crate) struct DownList {
    failed_at: Mutex<HashMap<String, Instant>>,
}

impl DownList {
    /// Records a transport failure of `node`.
    pub fn failed(&self, node: &str) {
        self.lock().insert(node.to_string(), Instant::now());
    }

    /// Records an answer from `node`.
    pub fn answered(&self, node: &str) {
        let mut map = self.lock();
        if !map.is_empty() {
            map.remove(node);
        }
    }

    /// True when `node` failed within [`DOWN_FOR`] and answered nothing since.
    pub fn is_down(&self, node: &str) -> bool {
        self.lock()
            .get(node)
            .is_some_and(|at| at.elapsed() < DOWN_FOR)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.failed_at.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The order to try the fleet's nodes in for `key`: the shard is computed with
/// the shard count of `version` (or of the newest version the fleet serves).
pub(crate) fn key_candidates(
    view: &View,
    down: &DownList,
    domain: &str,
    key: &[u8],
    version: Option<&str>,
) -> Vec<usize> {
    let located = locate(view, domain, version);
    let shard = located.map(|(_, count)| shard_for(key, count.max(1)));
    shard_candidates(view, down, domain, located.map(|(v, _)| v), shard)
}

/// The version whose shard count places keys, with that count: `version` when a
/// node reported it, else the newest version the fleet serves (placement does not
/// depend on the version, only on the shard count).
pub(crate) fn locate<'a>(
    view: &'a View,
    domain: &str,
    version: Option<&'a str>,
) -> Option<(&'a str, u32)> {
    version
        .and_then(|v| view.shard_count(domain, v).map(|count| (v, count)))
        .or_else(|| view.newest_version(domain))
}

/// The candidates for `shard` of `version` (see [`crate::route`]).
pub(crate) fn shard_candidates(
    view: &View,
    down: &DownList,
    domain: &str,
    version: Option<&str>,
    shard: Option<u32>,
) -> Vec<usize> {
    let nodes = view.fleet.nodes();
    candidates(
        &view.fleet,
        domain,
        shard,
        |i| match (version, shard) {
            (Some(v), Some(s)) => view.holds(i, domain, v, s),
            _ => false,
        },
        |i| down.is_down(&nodes[i]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Fleet {
        let nodes = (1..=4).map(|i| format!("10.0.0.{i}:7070")).collect();
        Fleet::new(nodes, 2).expect("fleet")
    }

    #[test]
    fn replicas_come_first_in_placement_order() {
        let f = fleet();
        for shard in 0..32 {
            let replicas = placement::replicas(&f, "d", shard);
            let order = candidates(&f, "d", Some(shard), |i| replicas.contains(&i), |_| false);
            assert_eq!(order[..2], replicas[..], "shard {shard}");
            assert_eq!(order.len(), 4);
            // The rest in fleet order.
            let rest: Vec<usize> = (0..4).filter(|i| !replicas.contains(i)).collect();
            assert_eq!(order[2..], rest[..]);
        }
    }

    #[test]
    fn replicas_that_report_the_shard_go_before_those_that_do_not() {
        let f = fleet();
        let replicas = placement::replicas(&f, "d", 7);
        let (first, second) = (replicas[0], replicas[1]);
        // The first replica does not list the shard (still loading), the second does.
        let order = candidates(&f, "d", Some(7), |i| i == second, |_| false);
        assert_eq!(order[..2], [second, first]);
        // A non-replica that lists the shard goes after the replicas, before the rest.
        let other = (0..4)
            .find(|i| !replicas.contains(i))
            .expect("a non-replica");
        let order = candidates(&f, "d", Some(7), |i| i == other, |_| false);
        assert_eq!(order[..3], [first, second, other]);
    }

    #[test]
    fn nodes_down_go_last() {
        let f = fleet();
        let replicas = placement::replicas(&f, "d", 3);
        let order = candidates(
            &f,
            "d",
            Some(3),
            |i| replicas.contains(&i),
            |i| i == replicas[0],
        );
        assert_eq!(order[0], replicas[1]);
        assert_eq!(order[3], replicas[0]);
    }

    #[test]
    fn an_unknown_shard_tries_every_node_in_fleet_order() {
        let f = fleet();
        assert_eq!(candidates(&f, "d", None, |_| true, |_| false), [0, 1, 2, 3]);
        assert_eq!(
            candidates(&f, "d", None, |_| true, |i| i == 0),
            [1, 2, 3, 0]
        );
    }

    #[test]
    fn the_down_list_forgets_a_node_that_answers() {
        let down = DownList::default();
        assert!(!down.is_down("a"));
        down.failed("a");
        assert!(down.is_down("a"));
        down.answered("a");
        assert!(!down.is_down("a"));
    }
}
