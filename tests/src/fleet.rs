//! A fleet of real `tusk serve` processes on 127.0.0.1 sharing one local-directory
//! store, for end-to-end tests of placement, routing and failover.
//!
//! Ports are picked before the nodes start (bind port 0, read it, drop the
//! listener) so every node's `[cluster]` section can list them all. Each node has
//! its own data directory and log. Nodes can be killed (SIGKILL), restarted with
//! the same config and data, and paused (SIGSTOP) and resumed; dropping the
//! [`LocalFleet`] resumes paused nodes, then kills every node.
//!
//! ```no_run
//! let tmp = tempfile::tempdir().expect("a temp dir");
//! let store = tmp.path().join("store");
//! let fleet = tusk_tests::fleet::LocalFleet::start(tmp.path(), &store, &["pages"], 3, 2);
//! println!("{:?}", fleet.addrs());
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tusk_client::{Node, TopologyResponse};

use crate::{ServerProcess, free_port, wait_for};

/// One node of a [`LocalFleet`].
pub struct FleetNode {
    /// The address it listens on, as the fleet's node list names it.
    pub addr: String,
    /// Its TOML config file.
    pub config: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    log_dir: PathBuf,
    starts: usize,
    process: Option<ServerProcess>,
    paused: bool,
}

impl FleetNode {
    /// The running process, if the node is up.
    pub fn process(&self) -> Option<&ServerProcess> {
        self.process.as_ref()
    }

    /// What the node logged since its latest start.
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(ServerProcess::log)
            .unwrap_or_default()
    }

    fn start(&mut self) {
        self.starts += 1;
        let log = self.log_dir.join(format!(
            "node-{}-{}.log",
            self.addr.replace(':', "_"),
            self.starts
        ));
        let config = self.config.to_str().expect("UTF-8 path");
        self.process = Some(ServerProcess::start(&["--config", config], &log));
        self.paused = false;
    }
}

/// `n` `tusk serve --config` processes forming one fleet (see the module docs).
pub struct LocalFleet {
    nodes: Vec<FleetNode>,
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
    store: PathBuf,
    domains: Vec<String>,
    replication: usize,
    extra: String,
}

/// The TOML config of node `me` of `nodes`; `extra` holds more top-level settings
/// (TOML lines), e.g. a download rate limit.
pub fn node_config(
    nodes: &[String],
    me: usize,
    replication: usize,
    data_dir: &Path,
    store: &Path,
    domains: &[&str],
    extra: &str,
) -> String {
    let list: Vec<String> = nodes.iter().map(|n| format!("{n:?}")).collect();
    let mut text = format!(
        "listen = {:?}\ndata_dir = {:?}\npoll_interval = \"200ms\"\n{extra}\n\n[cluster]\nnodes = [{}]\nself = {:?}\nreplication = {replication}\n",
        nodes[me],
        data_dir.to_str().expect("UTF-8 path"),
        list.join(", "),
        nodes[me],
    );
    for domain in domains {
        text.push_str(&format!(
            "\n[[domains]]\nname = {domain:?}\nstore = {:?}\n",
            store.to_str().expect("UTF-8 path")
        ));
    }
    text
}

impl LocalFleet {
    /// Starts `n` nodes holding each shard `replication` times, serving `domains`
    /// from the local-directory store at `store`; configs, data and logs go under
    /// `dir`. Returns once every node listens (not once it serves: see
    /// [`LocalFleet::wait_serving`]).
    pub fn start(
        dir: &Path,
        store: &Path,
        domains: &[&str],
        n: usize,
        replication: usize,
    ) -> LocalFleet {
        LocalFleet::start_with(dir, store, domains, n, replication, "")
    }

    /// Like [`LocalFleet::start`], with `extra` top-level TOML lines in every
    /// node's config (e.g. `download_rate_limit = "1MiB"`).
    pub fn start_with(
        dir: &Path,
        store: &Path,
        domains: &[&str],
        n: usize,
        replication: usize,
        extra: &str,
    ) -> LocalFleet {
        std::fs::create_dir_all(store).expect("create the store directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the fleet's own checks");
        let mut fleet = LocalFleet {
            nodes: Vec::new(),
            runtime,
            dir: dir.to_path_buf(),
            store: store.to_path_buf(),
            domains: domains.iter().map(|d| (*d).to_string()).collect(),
            replication,
            extra: extra.to_string(),
        };
        for i in 0..n {
            fleet.nodes.push(FleetNode {
                addr: format!("127.0.0.1:{}", free_port()),
                config: dir.join(format!("node-{i}.toml")),
                data_dir: dir.join(format!("node-{i}")),
                log_dir: dir.to_path_buf(),
                starts: 0,
                process: None,
                paused: false,
            });
        }
        fleet.write_configs();
        for node in &mut fleet.nodes {
            node.start();
        }
        fleet
    }

    /// (Re)writes every node's config with the current node list. Running nodes
    /// read it at their next (re)start.
    fn write_configs(&self) {
        let addrs = self.addrs();
        let domains: Vec<&str> = self.domains.iter().map(String::as_str).collect();
        for (i, node) in self.nodes.iter().enumerate() {
            let text = node_config(
                &addrs,
                i,
                self.replication,
                &node.data_dir,
                &self.store,
                &domains,
                &self.extra,
            );
            std::fs::write(&node.config, text).expect("write the node config");
        }
    }

    /// Adds a node: every config is rewritten with the longer node list (running
    /// nodes keep the old list until [`LocalFleet::restart`]), and the new node
    /// starts. Returns its index.
    pub fn grow(&mut self) -> usize {
        let i = self.nodes.len();
        self.nodes.push(FleetNode {
            addr: format!("127.0.0.1:{}", free_port()),
            config: self.dir.join(format!("node-{i}.toml")),
            data_dir: self.dir.join(format!("node-{i}")),
            log_dir: self.dir.clone(),
            starts: 0,
            process: None,
            paused: false,
        });
        self.write_configs();
        self.nodes[i].start();
        i
    }

    /// The nodes' addresses, in fleet order.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &FleetNode {
        &self.nodes[i]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the fleet has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s Topology answer, or `None` when it does not answer within 2 s.
    pub fn topology(&self, i: usize) -> Option<TopologyResponse> {
        let addr = &self.nodes[i].addr;
        self.runtime.block_on(async {
            let ask = async { Node::connect(addr).await?.topology().await };
            tokio::time::timeout(Duration::from_secs(2), ask)
                .await
                .ok()?
                .ok()
        })
    }

    /// Waits (at most `timeout`) until every running node serves `version` of
    /// `domain` (lists it first in its Topology answer).
    pub fn wait_serving(&self, domain: &str, version: &str, timeout: Duration) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].process.is_none() {
                continue;
            }
            let what = format!("node {} to serve {domain}/{version}", self.nodes[i].addr);
            wait_for(&what, timeout, || {
                let topology = self.topology(i)?;
                let d = topology.domains.iter().find(|d| d.name == domain)?;
                let first = d.versions.first()?;
                (first.version == version).then_some(())
            });
        }
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.paused {
            resume(node);
        }
        // ServerProcess kills (SIGKILL) and waits when dropped.
        node.process = None;
    }

    /// Starts node `i` again with the same config and data directory.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.nodes[i].start();
    }

    /// Pauses node `i` (SIGSTOP): its sockets stay open but it answers nothing.
    pub fn pause(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let pid = node.process.as_ref().expect("node is running").pid();
        assert!(signal("-STOP", pid), "kill -STOP {pid} failed");
        node.paused = true;
        // SIGSTOP takes effect asynchronously: on a loaded machine the node could
        // still answer one more request. Wait (bounded) until the kernel reports it
        // stopped (state `T` in /proc/PID/stat).
        let stopped = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.rsplit_once(')')?.1.trim_start().to_string();
                    after_name.chars().next()
                })
                .is_some_and(|state| state == 'T' || state == 't')
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !stopped() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(stopped(), "node {i} (pid {pid}) did not stop within 10 s");
    }

    /// Resumes node `i` after [`LocalFleet::pause`] (SIGCONT).
    pub fn resume(&mut self, i: usize) {
        resume(&mut self.nodes[i]);
    }
}

/// Key `i` of the fleet tests' datasets.
pub fn key(i: usize) -> String {
    format!("key-{i:05}")
}

/// The value of key `i` in the version tagged `tag`.
pub fn value(tag: &str, i: usize) -> String {
    format!("{tag}-{i}")
}

/// Writes and activates, with `tusk write`, a version of `domain` holding keys
/// `0..keys` whose values carry `tag`, in `shards` shards; returns its id.
pub fn publish_tagged(
    dir: &Path,
    store: &Path,
    domain: &str,
    tag: &str,
    keys: usize,
    shards: u32,
) -> String {
    let records: Vec<(String, String)> = (0..keys).map(|i| (key(i), value(tag, i))).collect();
    publish_records(dir, store, domain, tag, &records, shards)
}

/// Writes and activates, with `tusk write`, a version of `domain` holding
/// `records` in `shards` shards (the input file is `<dir>/<name>.tsv`); returns its id.
pub fn publish_records(
    dir: &Path,
    store: &Path,
    domain: &str,
    name: &str,
    records: &[(String, String)],
    shards: u32,
) -> String {
    let input = dir.join(format!("{name}.tsv"));
    crate::write_tsv(&input, records);
    let out = crate::Tusk::default().ok(&[
        "write",
        "--store",
        store.to_str().expect("UTF-8 path"),
        "--domain",
        domain,
        "--format",
        "tsv",
        "--input",
        input.to_str().expect("UTF-8 path"),
        "--shards",
        &shards.to_string(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON summary");
    summary["version"]
        .as_str()
        .expect("the summary names the version")
        .to_string()
}

/// Sends `sig` to `pid`; true when `kill` succeeded.
fn signal(sig: &str, pid: u32) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

fn resume(node: &mut FleetNode) {
    if let Some(process) = &node.process
        && node.paused
    {
        // Best effort: the process may have exited meanwhile.
        let _ = signal("-CONT", process.pid());
    }
    node.paused = false;
}

impl Drop for LocalFleet {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            resume(node);
        }
        for node in &mut self.nodes {
            node.process = None;
        }
    }
}
