//! [`Pool`]: one lazily connected [`Node`] per address, created once and reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{ClientError, Node, NodeOptions};

/// Channels to the nodes of a fleet: the first [`Pool::node`] for an address
/// creates a lazily connected [`Node`] (no I/O until its first call); later ones
/// return a clone sharing its HTTP/2 connection. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Pool {
    options: NodeOptions,
    nodes: Arc<Mutex<HashMap<String, Node>>>,
}

impl Pool {
    /// An empty pool whose nodes connect with `options`.
    pub fn new(options: NodeOptions) -> Pool {
        Pool {
            options,
            nodes: Arc::default(),
        }
    }

    /// The node at `addr` (`host:port` or a URI), created on first use.
    pub fn node(&self, addr: &str) -> Result<Node, ClientError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(node) = nodes.get(addr) {
            return Ok(node.clone());
        }
        let node = Node::lazy(addr, &self.options)?;
        nodes.insert(addr.to_string(), node.clone());
        Ok(node)
    }

    /// How many addresses the pool holds a channel for.
    pub fn len(&self) -> usize {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no channel was created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_channel_per_address_and_no_io() {
        let pool = Pool::new(NodeOptions::default());
        // Nothing listens on port 1: a lazy node is still created.
        pool.node("127.0.0.1:1").expect("lazy");
        pool.node("127.0.0.1:1").expect("reused");
        pool.node("127.0.0.1:2").expect("lazy");
        assert_eq!(pool.len(), 2);
        let err = pool.node("not a uri").expect_err("bad address");
        assert!(matches!(err, ClientError::InvalidAddress { .. }), "{err}");
        assert_eq!(pool.len(), 2);
    }
}
