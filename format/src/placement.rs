//! Placement: which nodes of a fleet hold a shard.
//!
//! Rendezvous (highest-random-weight) hashing: every node gets a weight for each
//! `(domain, shard)`, `xxh64(domain ++ 0x00 ++ shard as u32 LE ++ 0x00 ++ node,
//! seed 0)`, and the shard lives on the `replication` nodes with the highest
//! weights (ties, which need a 64-bit collision, go to the smaller node name).
//! Every server and every client computes the same answer from the same node
//! list, in any order, with no coordination. Adding a node moves only the shards
//! whose top `replication` now include it; removing one moves only its own.
//!
//! A node is named by the address clients dial, exactly as configured
//! (`"10.0.0.1:7070"`): the name is what is hashed.
//!
//! ```
//! use tusk_format::placement::{Fleet, replicas};
//!
//! let fleet = Fleet::new(vec!["a:1".into(), "b:1".into(), "c:1".into()], 2).expect("three distinct nodes");
//! let holders = replicas(&fleet, "pages", 0);
//! assert_eq!(holders.len(), 2);
//! assert_ne!(holders[0], holders[1]);
//! ```

use std::fmt;

/// A fleet's node list and replication factor, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    nodes: Vec<String>,
    replication: usize,
}

/// Why a node list and replication factor do not make a fleet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// No nodes.
    #[error("the node list is empty")]
    NoNodes,
    /// An empty node name.
    #[error("node {index} is empty")]
    EmptyNode {
        /// Position in the list (0-based).
        index: usize,
    },
    /// A node listed twice.
    #[error("node {node:?} is listed twice")]
    Duplicate {
        /// The node.
        node: String,
    },
    /// Replication outside `1..=nodes`.
    #[error("replication {replication} must be between 1 and the number of nodes ({nodes})")]
    Replication {
        /// The configured replication.
        replication: usize,
        /// The number of nodes.
        nodes: usize,
    },
}

impl Fleet {
    /// A fleet of `nodes` (each a distinct, non-empty address) holding every shard
    /// `replication` times (`1..=nodes.len()`).
    pub fn new(nodes: Vec<String>, replication: usize) -> Result<Fleet, FleetError> {
        if nodes.is_empty() {
            return Err(FleetError::NoNodes);
        }
        for (index, node) in nodes.iter().enumerate() {
            if node.trim().is_empty() {
                return Err(FleetError::EmptyNode { index });
            }
            if nodes[..index].contains(node) {
                return Err(FleetError::Duplicate { node: node.clone() });
            }
        }
        if replication == 0 || replication > nodes.len() {
            return Err(FleetError::Replication {
                replication,
                nodes: nodes.len(),
            });
        }
        Ok(Fleet { nodes, replication })
    }

    /// A fleet of one node holding everything.
    pub fn single(node: impl Into<String>) -> Fleet {
        Fleet {
            nodes: vec![node.into()],
            replication: 1,
        }
    }

    /// The nodes, as listed.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// How many nodes hold each shard.
    pub fn replication(&self) -> usize {
        self.replication
    }

    /// Names the placement: equal for two fleets exactly when they place every
    /// shard on the same nodes (same node set, in any order, same replication).
    pub fn fingerprint(&self) -> Fingerprint {
        let mut sorted: Vec<&str> = self.nodes.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let mut text = format!("rendezvous-xxh64 r={}", self.replication);
        for node in sorted {
            text.push('\n');
            text.push_str(node);
        }
        Fingerprint(xxhash_rust::xxh64::xxh64(text.as_bytes(), 0))
    }
}

/// A fleet's placement identity; printed as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The weight of `node` for shard `shard` of `domain`.
pub fn weight(domain: &str, shard: u32, node: &str) -> u64 {
    let mut bytes = Vec::with_capacity(domain.len() + node.len() + 6);
    bytes.extend_from_slice(domain.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&shard.to_le_bytes());
    bytes.push(0);
    bytes.extend_from_slice(node.as_bytes());
    xxhash_rust::xxh64::xxh64(&bytes, 0)
}

/// The nodes holding shard `shard` of `domain`, as indexes into
/// [`Fleet::nodes`], highest weight first (the order clients try them in).
pub fn replicas(fleet: &Fleet, domain: &str, shard: u32) -> Vec<usize> {
    let mut ranked: Vec<(u64, usize)> = fleet
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (weight(domain, shard, node), i))
        .collect();
    ranked.sort_unstable_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| fleet.nodes[a.1].cmp(&fleet.nodes[b.1]))
    });
    ranked
        .into_iter()
        .take(fleet.replication)
        .map(|(_, i)| i)
        .collect()
}

/// The shards of `domain` (out of `shard_count`) that `node` holds, ascending.
pub fn shards_of(fleet: &Fleet, domain: &str, shard_count: u32, node: &str) -> Vec<u32> {
    let Some(me) = fleet.nodes.iter().position(|n| n == node) else {
        return Vec::new();
    };
    (0..shard_count)
        .filter(|&shard| replicas(fleet, domain, shard).contains(&me))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(n: usize, replication: usize) -> Fleet {
        let nodes = (0..n).map(|i| format!("10.0.0.{}:7070", i + 1)).collect();
        Fleet::new(nodes, replication).expect("valid fleet")
    }

    #[test]
    fn bad_fleets_are_refused_with_the_reason() {
        assert_eq!(Fleet::new(vec![], 1), Err(FleetError::NoNodes));
        assert_eq!(
            Fleet::new(vec!["a".into(), " ".into()], 1),
            Err(FleetError::EmptyNode { index: 1 })
        );
        assert_eq!(
            Fleet::new(vec!["a".into(), "a".into()], 1),
            Err(FleetError::Duplicate { node: "a".into() })
        );
        assert_eq!(
            Fleet::new(vec!["a".into()], 2),
            Err(FleetError::Replication {
                replication: 2,
                nodes: 1
            })
        );
        assert!(Fleet::new(vec!["a".into()], 0).is_err());
    }

    #[test]
    fn every_shard_lives_on_distinct_replicas() {
        let f = fleet(5, 3);
        for shard in 0..200 {
            let r = replicas(&f, "pages", shard);
            assert_eq!(r.len(), 3);
            let mut sorted = r.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "shard {shard}: {r:?}");
        }
    }

    #[test]
    fn the_node_order_does_not_matter() {
        let a = fleet(4, 2);
        let mut reversed: Vec<String> = a.nodes().to_vec();
        reversed.reverse();
        let b = Fleet::new(reversed, 2).expect("valid");
        assert_eq!(a.fingerprint(), b.fingerprint());
        for shard in 0..64 {
            let by_name = |f: &Fleet| {
                let mut names: Vec<String> = replicas(f, "d", shard)
                    .into_iter()
                    .map(|i| f.nodes()[i].clone())
                    .collect();
                names.sort();
                names
            };
            assert_eq!(by_name(&a), by_name(&b), "shard {shard}");
        }
    }

    #[test]
    fn the_fingerprint_changes_with_the_nodes_or_the_replication() {
        let base = fleet(3, 2).fingerprint();
        assert_ne!(base, fleet(3, 1).fingerprint());
        assert_ne!(base, fleet(4, 2).fingerprint());
        assert_eq!(base.to_string().len(), 16);
    }

    #[test]
    fn shards_spread_evenly() {
        let f = fleet(4, 2);
        let counts: Vec<usize> = f
            .nodes()
            .iter()
            .map(|n| shards_of(&f, "pages", 4096, n).len())
            .collect();
        // 4096 shards * 2 replicas / 4 nodes = 2048 each; allow 10%.
        for (node, count) in f.nodes().iter().zip(&counts) {
            assert!(
                (1843..=2253).contains(count),
                "{node}: {count} ({counts:?})"
            );
        }
        assert_eq!(counts.iter().sum::<usize>(), 4096 * 2);
    }

    #[test]
    fn adding_a_node_moves_only_shards_onto_it() {
        let old = fleet(3, 2);
        let new = fleet(4, 2);
        let added = new.nodes()[3].clone();
        let mut moved = 0;
        for shard in 0..1000 {
            let names = |f: &Fleet| -> Vec<String> {
                replicas(f, "d", shard)
                    .into_iter()
                    .map(|i| f.nodes()[i].clone())
                    .collect()
            };
            let (before, after) = (names(&old), names(&new));
            if before != after {
                moved += 1;
                // The only change: the new node took one place.
                assert!(
                    after.contains(&added),
                    "shard {shard}: {before:?} -> {after:?}"
                );
                let kept = before.iter().filter(|n| after.contains(n)).count();
                assert_eq!(kept, 1, "shard {shard}: {before:?} -> {after:?}");
            }
        }
        // The new node should take about half the shards' second (or first) places.
        assert!((350..=650).contains(&moved), "moved {moved} of 1000");
    }

    #[test]
    fn the_worked_example_of_architecture_md_holds() {
        // ARCHITECTURE.md ("Placement") walks through this case by hand.
        let f = Fleet::new(
            vec![
                "10.0.0.1:7070".into(),
                "10.0.0.2:7070".into(),
                "10.0.0.3:7070".into(),
            ],
            2,
        )
        .expect("valid");
        let names: Vec<&str> = replicas(&f, "pages", 0)
            .into_iter()
            .map(|i| f.nodes()[i].as_str())
            .collect();
        assert_eq!(weight("pages", 0, "10.0.0.1:7070"), 0x8eb1_1a84_3271_db9c);
        assert_eq!(weight("pages", 0, "10.0.0.2:7070"), 0x27d1_6dd6_8a1b_44a2);
        assert_eq!(weight("pages", 0, "10.0.0.3:7070"), 0xe17a_f7e4_fbf0_e7a9);
        assert_eq!(names, ["10.0.0.3:7070", "10.0.0.1:7070"]);
        assert_eq!(f.fingerprint().to_string(), "6589fcc64ebb33cf");
        assert_eq!(
            shards_of(&f, "pages", 4, "10.0.0.9:7070"),
            Vec::<u32>::new()
        );
    }
}
