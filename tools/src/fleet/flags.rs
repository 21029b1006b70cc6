//! The checks `tusk status --servers` runs over the node reports: a pure function
//! from what the nodes answered to what an operator should look at.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::report::NodeReport;

/// How much a flag matters. Any [`Severity::Error`] makes `tusk status --servers`
/// exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The fleet cannot answer every key correctly: a node is down, nodes disagree
    /// on placement, or shards of a served version are held by no reachable node.
    Error,
    /// Worth a look, normal for a short while (a rollout in progress).
    Warning,
    /// For information only.
    Info,
}

/// One finding about the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// How much it matters.
    pub severity: Severity,
    /// A stable, machine-readable name: `unreachable`, `topology-unavailable`,
    /// `fingerprint-mismatch`, `version-skew`, `format-skew`, `unlisted-node` or
    /// `coverage-gap`.
    pub kind: &'static str,
    /// One line for a human, naming the nodes, versions and shards concerned.
    pub message: String,
    /// The nodes concerned, as given in `--servers` (or as a topology names them).
    pub nodes: Vec<String>,
}

/// True when any flag is an error (the exit status is then 1).
pub fn has_errors(flags: &[Flag]) -> bool {
    flags.iter().any(|f| f.severity == Severity::Error)
}

/// Every finding about the fleet made of `nodes`, errors first (each severity in
/// the order the checks run: reachability, topology, placement, versions, nodes
/// left out, coverage).
pub fn fleet_flags(nodes: &[NodeReport]) -> Vec<Flag> {
    let mut flags = Vec::new();
    unreachable(nodes, &mut flags);
    fingerprints(nodes, &mut flags);
    version_skew(nodes, &mut flags);
    format_skew(nodes, &mut flags);
    unlisted(nodes, &mut flags);
    coverage(nodes, &mut flags);
    flags.sort_by_key(|f| f.severity);
    flags
}

fn reachable(nodes: &[NodeReport]) -> impl Iterator<Item = &NodeReport> {
    nodes.iter().filter(|n| n.reachable)
}

fn unreachable(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    for n in nodes {
        if !n.reachable {
            flags.push(Flag {
                severity: Severity::Error,
                kind: "unreachable",
                message: format!(
                    "{} is unreachable: {}",
                    n.address,
                    n.error.as_deref().unwrap_or("no answer")
                ),
                nodes: vec![n.address.clone()],
            });
        } else if let Some(err) = &n.topology_error {
            flags.push(Flag {
                severity: Severity::Warning,
                kind: "topology-unavailable",
                message: format!(
                    "{} answered Status but not Topology ({err}): its placement and shards are not checked",
                    n.address
                ),
                nodes: vec![n.address.clone()],
            });
        }
    }
}

/// Nodes that run alone each form a fleet of one and so each have their own
/// fingerprint; they agree with one another (every one holds every shard).
fn fingerprints(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    // Key None: runs alone. Groups keep the order the nodes were given in.
    let mut groups: Vec<(Option<String>, Vec<&NodeReport>)> = Vec::new();
    for n in reachable(nodes).filter(|n| n.fingerprint.is_some()) {
        let key = if n.runs_alone() {
            None
        } else {
            n.fingerprint.clone()
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(n),
            None => groups.push((key, vec![n])),
        }
    }
    if groups.len() < 2 {
        return;
    }
    let largest = groups.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let majorities: Vec<usize> = (0..groups.len())
        .filter(|&i| groups[i].1.len() == largest)
        .collect();
    if let [majority] = majorities[..] {
        let (_, ref reference) = groups[majority];
        for (i, (_, members)) in groups.iter().enumerate() {
            if i == majority {
                continue;
            }
            flags.push(Flag {
                severity: Severity::Error,
                kind: "fingerprint-mismatch",
                message: format!(
                    "topology differs: {} but the majority has {}; they disagree on which node holds which shard",
                    describe_group(members),
                    describe_group(reference)
                ),
                nodes: members.iter().map(|n| n.address.clone()).collect(),
            });
        }
    } else {
        flags.push(Flag {
            severity: Severity::Error,
            kind: "fingerprint-mismatch",
            message: format!(
                "topology differs and no fingerprint has a majority: {}",
                groups
                    .iter()
                    .map(|(_, m)| describe_group(m))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            nodes: groups
                .iter()
                .flat_map(|(_, m)| m.iter().map(|n| n.address.clone()))
                .collect(),
        });
    }
}

/// `a:1, b:1 have fingerprint X` or `a:1 (X), b:1 (Y) run alone`.
fn describe_group(members: &[&NodeReport]) -> String {
    let fp = |n: &NodeReport| n.fingerprint.clone().unwrap_or_default();
    if members.iter().all(|n| n.runs_alone()) {
        let list: Vec<String> = members
            .iter()
            .map(|n| format!("{} (fingerprint {})", n.address, fp(n)))
            .collect();
        let verb = if members.len() == 1 { "runs" } else { "run" };
        format!("{} {verb} alone", list.join(", "))
    } else {
        let list: Vec<&str> = members.iter().map(|n| n.address.as_str()).collect();
        let verb = if members.len() == 1 { "has" } else { "have" };
        let fleet = members
            .first()
            .map(|n| n.fleet_nodes.join(", "))
            .unwrap_or_default();
        format!(
            "{} {verb} fingerprint {} (nodes {fleet})",
            list.join(", "),
            members.first().map(|n| fp(n)).unwrap_or_default()
        )
    }
}

/// Every domain any reachable node reports, in the order first seen.
fn domain_names(nodes: &[NodeReport]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for n in reachable(nodes) {
        for d in &n.domains {
            if !names.contains(&d.name) {
                names.push(d.name.clone());
            }
        }
    }
    names
}

/// Served version -> the nodes serving it, for `domain`.
fn served(nodes: &[NodeReport], domain: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in reachable(nodes) {
        for d in n.domains.iter().filter(|d| d.name == domain) {
            if let Some(v) = &d.serving {
                by_version
                    .entry(v.clone())
                    .or_default()
                    .push(n.address.clone());
            }
        }
    }
    by_version
}

fn version_skew(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    for domain in domain_names(nodes) {
        let by_version = served(nodes, &domain);
        if by_version.len() < 2 {
            continue;
        }
        let who: Vec<String> = by_version
            .iter()
            .map(|(v, ns)| format!("{v} on {}", ns.join(", ")))
            .collect();
        flags.push(Flag {
            severity: Severity::Warning,
            kind: "version-skew",
            message: format!(
                "domain {domain} is served in {} versions: {}",
                by_version.len(),
                who.join("; ")
            ),
            nodes: by_version.into_values().flatten().collect(),
        });
    }
}

/// Shard formats some reachable nodes read and others do not (mid-upgrade): a
/// version in such a format is refused by the nodes that do not read it. Nodes
/// that do not say which formats they read (older builds) are left out.
fn format_skew(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    let saying: Vec<&NodeReport> = reachable(nodes)
        .filter(|n| !n.shard_formats.is_empty())
        .collect();
    // Format -> the nodes that do not read it, formats in the order nodes list them.
    let mut lacking: Vec<(&str, Vec<String>)> = Vec::new();
    for n in &saying {
        for format in &n.shard_formats {
            if lacking.iter().any(|(f, _)| f == format) {
                continue;
            }
            let without: Vec<String> = saying
                .iter()
                .filter(|m| !m.shard_formats.contains(format))
                .map(|m| m.address.clone())
                .collect();
            lacking.push((format, without));
        }
    }
    let lacking: Vec<(&str, Vec<String>)> = lacking
        .into_iter()
        .filter(|(_, ns)| !ns.is_empty())
        .collect();
    if lacking.is_empty() {
        return;
    }
    // Formats every saying node reads: what a writer may use meanwhile.
    let common: Vec<&str> = saying[0]
        .shard_formats
        .iter()
        .map(String::as_str)
        .filter(|f| {
            saying
                .iter()
                .all(|n| n.shard_formats.iter().any(|g| g == f))
        })
        .collect();
    let advice = match common.last() {
        Some(newest) => format!("write --shard-format {newest} until every node is upgraded"),
        None => "no format is read by every node".to_string(),
    };
    let what: Vec<String> = lacking
        .iter()
        .map(|(f, ns)| format!("{f} is not read by {}", ns.join(", ")))
        .collect();
    let mut concerned: Vec<String> = lacking.into_iter().flat_map(|(_, ns)| ns).collect();
    concerned.sort();
    concerned.dedup();
    flags.push(Flag {
        severity: Severity::Warning,
        kind: "format-skew",
        message: format!(
            "nodes read different shard formats: {}; {advice}",
            what.join("; ")
        ),
        nodes: concerned,
    });
}

/// `http://h:1/` and `h:1` name the same node.
fn normalize(addr: &str) -> &str {
    let addr = addr.trim();
    let addr = addr
        .strip_prefix("http://")
        .or_else(|| addr.strip_prefix("https://"))
        .unwrap_or(addr);
    addr.trim_end_matches('/')
}

fn unlisted(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    let known: BTreeSet<&str> = nodes
        .iter()
        .map(|n| normalize(&n.address))
        .chain(reachable(nodes).filter_map(|n| n.name.as_deref().map(normalize)))
        .collect();
    // Unlisted node -> the nodes whose topology names it, in first-seen order.
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for n in reachable(nodes) {
        for member in &n.fleet_nodes {
            if known.contains(normalize(member)) {
                continue;
            }
            match missing.iter_mut().find(|(m, _)| m == member) {
                Some((_, by)) => by.push(n.address.clone()),
                None => missing.push((member.clone(), vec![n.address.clone()])),
            }
        }
    }
    for (member, by) in missing {
        flags.push(Flag {
            severity: Severity::Info,
            kind: "unlisted-node",
            message: format!(
                "{member} is in the topology of {} but was not given in --servers",
                by.join(", ")
            ),
            nodes: vec![member],
        });
    }
}

fn coverage(nodes: &[NodeReport], flags: &mut Vec<Flag>) {
    for domain in domain_names(nodes) {
        for (version, servers) in served(nodes, &domain) {
            let held: Vec<_> = reachable(nodes)
                .flat_map(|n| n.domains.iter().filter(|d| d.name == domain))
                .filter_map(|d| d.held(&version))
                .collect();
            let Some(shard_count) = held.first().map(|h| h.shard_count) else {
                continue; // no node reported its shards: nothing to check against
            };
            let covered: BTreeSet<u32> = held.iter().flat_map(|h| h.held.iter().copied()).collect();
            let gap: Vec<u32> = (0..shard_count).filter(|s| !covered.contains(s)).collect();
            if gap.is_empty() {
                continue;
            }
            flags.push(Flag {
                severity: Severity::Error,
                kind: "coverage-gap",
                message: format!(
                    "domain {domain} version {version}: shards {} ({} of {shard_count}) are held by no reachable node",
                    shard_ranges(&gap),
                    gap.len()
                ),
                nodes: servers,
            });
        }
    }
}

/// Ascending shard numbers as ranges: `[0, 1, 2, 5]` -> `0-2, 5`.
pub fn shard_ranges(shards: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let start = shards[i];
        let mut end = start;
        while i + 1 < shards.len() && shards[i + 1] == end + 1 {
            i += 1;
            end = shards[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
#[path = "flags_tests.rs"]
mod tests;
