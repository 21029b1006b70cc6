//! Which shards this node holds, and which nodes hold the others.
//!
//! One rule for the loader (what to download, keep and open) and the read path
//! (what to forward, and where): rendezvous placement over the fleet's node list
//! ([`tusk_format::placement`]). A node running alone is a fleet of one that
//! holds every shard.

use tusk_format::placement::{self, Fingerprint, Fleet};
use tusk_store::Manifest;

/// This node's place in its fleet.
#[derive(Debug, Clone)]
pub struct Ownership {
    fleet: Fleet,
    node: String,
    me: usize,
}

impl Ownership {
    /// `node`'s place in `fleet`; `None` when `node` is not one of its nodes.
    pub fn new(fleet: Fleet, node: &str) -> Option<Ownership> {
        let me = fleet.nodes().iter().position(|n| n == node)?;
        Some(Ownership {
            fleet,
            node: node.to_string(),
            me,
        })
    }

    /// A node running alone: it holds every shard.
    pub fn single(node: &str) -> Ownership {
        Ownership {
            fleet: Fleet::single(node),
            node: node.to_string(),
            me: 0,
        }
    }

    /// The fleet.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// This node's name in the fleet.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The placement's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fleet.fingerprint()
    }

    /// Shard numbers of `manifest`'s version this node holds, ascending.
    pub fn owned_shards(&self, manifest: &Manifest) -> Vec<u32> {
        if self.fleet.replication() == self.fleet.nodes().len() {
            return (0..manifest.shard_count).collect();
        }
        placement::shards_of(
            &self.fleet,
            &manifest.domain,
            manifest.shard_count,
            &self.node,
        )
    }

    /// True when this node holds shard `shard` of `domain`.
    pub fn owns(&self, domain: &str, shard: u32) -> bool {
        self.fleet.replication() == self.fleet.nodes().len()
            || placement::replicas(&self.fleet, domain, shard).contains(&self.me)
    }

    /// The other nodes holding shard `shard` of `domain`, in the order to try them.
    pub fn other_replicas(&self, domain: &str, shard: u32) -> Vec<&str> {
        placement::replicas(&self.fleet, domain, shard)
            .into_iter()
            .filter(|&i| i != self.me)
            .map(|i| self.fleet.nodes()[i].as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(domain: &str, shards: u32) -> Manifest {
        let mut m = Manifest::new(domain, "v1", "2026-01-01T00:00:00Z", Vec::new());
        m.shard_count = shards;
        m
    }

    #[test]
    fn a_lone_node_holds_everything() {
        let o = Ownership::single("127.0.0.1:7070");
        assert_eq!(o.owned_shards(&manifest("d", 5)), [0, 1, 2, 3, 4]);
        assert!(o.owns("d", 3));
        assert!(o.other_replicas("d", 3).is_empty());
    }

    #[test]
    fn the_fleet_splits_the_shards_and_names_the_other_holders() {
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}:1")).collect();
        let fleet = Fleet::new(nodes.clone(), 2).expect("fleet");
        let each: Vec<Ownership> = nodes
            .iter()
            .map(|n| Ownership::new(fleet.clone(), n).expect("member"))
            .collect();
        let m = manifest("d", 32);
        for shard in 0..32 {
            let holders: Vec<&Ownership> = each.iter().filter(|o| o.owns("d", shard)).collect();
            assert_eq!(holders.len(), 2, "shard {shard}");
            for o in &each {
                assert_eq!(
                    o.owned_shards(&m).contains(&shard),
                    o.owns("d", shard),
                    "{}",
                    o.node()
                );
                let others = o.other_replicas("d", shard);
                assert_eq!(others.len(), if o.owns("d", shard) { 1 } else { 2 });
                assert!(!others.contains(&o.node()));
            }
        }
        assert!(Ownership::new(fleet, "n9:1").is_none());
    }
}
