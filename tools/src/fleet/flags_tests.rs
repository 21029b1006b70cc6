use super::*;
use crate::fleet::report::{DomainReport, ShardsHeld};

/// A reachable node in the fleet `fleet` (alone when `fleet == [addr]`), serving
/// `version` of `pages` and holding `held` of its `count` shards.
fn node(
    addr: &str,
    fp: &str,
    fleet: &[&str],
    version: &str,
    count: u32,
    held: &[u32],
) -> NodeReport {
    NodeReport {
        address: addr.to_string(),
        reachable: true,
        error: None,
        name: Some(addr.to_string()),
        tusk_version: Some("0.1.0".into()),
        shard_formats: vec!["tusk-native-v1".into(), "tusk-native-v2".into()],
        fingerprint: Some(fp.to_string()),
        fleet_nodes: fleet.iter().map(|s| s.to_string()).collect(),
        replication: Some(1),
        topology_error: None,
        domains: vec![DomainReport {
            name: "pages".into(),
            state: "serving".into(),
            serving: Some(version.to_string()),
            loaded_versions: vec![version.to_string()],
            local_versions: vec![version.to_string()],
            last_error: None,
            failed_version: None,
            shards: vec![ShardsHeld {
                version: version.to_string(),
                shard_count: count,
                held: held.to_vec(),
            }],
            downloading: None,
        }],
    }
}

const FLEET: &[&str] = &["a:1", "b:1", "c:1"];

fn healthy() -> Vec<NodeReport> {
    vec![
        node("a:1", "f1", FLEET, "v2", 6, &[0, 1]),
        node("b:1", "f1", FLEET, "v2", 6, &[2, 3]),
        node("c:1", "f1", FLEET, "v2", 6, &[4, 5]),
    ]
}

fn kinds(flags: &[Flag]) -> Vec<&'static str> {
    flags.iter().map(|f| f.kind).collect()
}

#[test]
fn a_healthy_fleet_has_no_flags() {
    let flags = fleet_flags(&healthy());
    assert!(flags.is_empty(), "{flags:?}");
    assert!(!has_errors(&flags));
}

#[test]
fn nodes_running_alone_agree_although_their_fingerprints_differ() {
    let nodes = vec![
        node("a:1", "fa", &["a:1"], "v1", 2, &[0, 1]),
        node("b:1", "fb", &["b:1"], "v1", 2, &[0, 1]),
    ];
    assert!(fleet_flags(&nodes).is_empty());
}

#[test]
fn an_unreachable_node_is_an_error_naming_it_and_its_shards_become_a_gap() {
    let mut nodes = healthy();
    nodes[1] = NodeReport::unreachable("b:1", "deadline of 2s passed".into());
    let flags = fleet_flags(&nodes);
    assert_eq!(kinds(&flags), ["unreachable", "coverage-gap"]);
    assert!(has_errors(&flags));
    assert_eq!(flags[0].nodes, ["b:1"]);
    assert!(
        flags[0].message.contains("deadline of 2s passed"),
        "{}",
        flags[0].message
    );
    assert_eq!(
        flags[1].message,
        "domain pages version v2: shards 2-3 (2 of 6) are held by no reachable node"
    );
    assert_eq!(flags[1].nodes, ["a:1", "c:1"]);
}

#[test]
fn a_fingerprint_off_the_majority_names_both_and_the_odd_node() {
    let mut nodes = healthy();
    nodes[2] = node("c:1", "f9", &["a:1", "c:1"], "v2", 6, &[2, 3, 4, 5]);
    let flags = fleet_flags(&nodes);
    assert_eq!(kinds(&flags), ["fingerprint-mismatch"]);
    let f = &flags[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.nodes, ["c:1"]);
    assert!(
        f.message.contains("c:1 has fingerprint f9"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("a:1, b:1 have fingerprint f1"),
        "{}",
        f.message
    );
}

#[test]
fn a_clustered_node_among_nodes_running_alone_is_flagged() {
    let nodes = vec![
        node("a:1", "fa", &["a:1"], "v1", 2, &[0, 1]),
        node("b:1", "fb", &["b:1"], "v1", 2, &[0, 1]),
        node("c:1", "fc", &["c:1", "d:1"], "v1", 2, &[1]),
    ];
    let flags = fleet_flags(&nodes);
    assert_eq!(kinds(&flags), ["fingerprint-mismatch", "unlisted-node"]);
    assert_eq!(flags[0].nodes, ["c:1"]);
    let m = &flags[0].message;
    assert!(m.contains("c:1 has fingerprint fc (nodes c:1, d:1)"), "{m}");
    assert!(
        m.contains("a:1 (fingerprint fa), b:1 (fingerprint fb) run alone"),
        "{m}"
    );
    assert_eq!(flags[1].severity, Severity::Info);
    assert_eq!(flags[1].nodes, ["d:1"]);
}

#[test]
fn a_tie_has_no_majority_and_flags_everyone() {
    let nodes = vec![
        node("a:1", "f1", &["a:1", "b:1"], "v1", 2, &[0]),
        node("b:1", "f2", &["a:1", "b:1", "x:1"], "v1", 2, &[1]),
    ];
    let flags = fleet_flags(&nodes);
    let mismatch: Vec<_> = flags
        .iter()
        .filter(|f| f.kind == "fingerprint-mismatch")
        .collect();
    assert_eq!(mismatch.len(), 1);
    assert!(
        mismatch[0]
            .message
            .contains("no fingerprint has a majority")
    );
    assert_eq!(mismatch[0].nodes, ["a:1", "b:1"]);
}

#[test]
fn different_served_versions_are_a_warning_naming_who_serves_what() {
    let mut nodes = healthy();
    nodes[0] = node("a:1", "f1", FLEET, "v1", 6, &[0, 1]);
    let flags = fleet_flags(&nodes);
    // v1 is served only by a:1, and only a:1's shards of it are held; v2 lacks 0-1.
    assert_eq!(
        kinds(&flags),
        ["coverage-gap", "coverage-gap", "version-skew"],
        "{flags:?}"
    );
    let skew = &flags[2];
    assert_eq!(skew.severity, Severity::Warning);
    assert_eq!(
        skew.message,
        "domain pages is served in 2 versions: v1 on a:1; v2 on b:1, c:1"
    );
    assert!(flags[0].message.contains("version v1: shards 2-5 (4 of 6)"));
    assert!(flags[1].message.contains("version v2: shards 0-1 (2 of 6)"));
}

#[test]
fn nodes_left_out_of_servers_are_information_only() {
    let nodes = healthy()[..2].to_vec();
    let mut nodes = nodes;
    // c:1 still holds 4-5, so its absence is also a coverage gap; give b:1 them.
    nodes[1].domains[0].shards[0].held = vec![2, 3, 4, 5];
    let flags = fleet_flags(&nodes);
    assert_eq!(kinds(&flags), ["unlisted-node"]);
    assert_eq!(flags[0].severity, Severity::Info);
    assert_eq!(flags[0].nodes, ["c:1"]);
    assert_eq!(
        flags[0].message,
        "c:1 is in the topology of a:1, b:1 but was not given in --servers"
    );
    assert!(!has_errors(&flags));
}

#[test]
fn addresses_match_names_with_or_without_a_scheme() {
    let mut nodes = healthy();
    nodes[2].address = "http://c:1/".into();
    assert!(fleet_flags(&nodes).is_empty());
}

#[test]
fn a_missing_topology_is_a_warning_and_skips_its_checks() {
    let mut nodes = healthy();
    nodes[1].topology_error = Some("unimplemented".into());
    nodes[1].fingerprint = None;
    nodes[1].fleet_nodes.clear();
    nodes[1].domains[0].shards.clear();
    let flags = fleet_flags(&nodes);
    // Without b:1's shards, 2-3 are not known to be held.
    assert_eq!(kinds(&flags), ["coverage-gap", "topology-unavailable"]);
    assert!(flags[1].message.contains("unimplemented"));
}

#[test]
fn shard_lists_print_as_ranges() {
    assert_eq!(shard_ranges(&[]), "");
    assert_eq!(shard_ranges(&[3]), "3");
    assert_eq!(shard_ranges(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
}

#[test]
fn a_node_that_does_not_read_a_format_the_others_read_is_named() {
    let mut nodes = healthy();
    nodes[1].shard_formats = vec!["tusk-native-v1".into()];
    // A build older than the field says nothing, and is not counted either way.
    nodes[2].shard_formats.clear();
    let flags = fleet_flags(&nodes);
    assert_eq!(kinds(&flags), ["format-skew"], "{flags:?}");
    let flag = &flags[0];
    assert_eq!(flag.severity, Severity::Warning);
    assert_eq!(flag.nodes, ["b:1"]);
    assert!(
        flag.message.contains("tusk-native-v2 is not read by b:1")
            && flag.message.contains("--shard-format tusk-native-v1"),
        "{}",
        flag.message
    );
    assert!(!has_errors(&flags), "a rollout in progress is not an error");

    // Every node reading the same formats, or none saying, is no finding.
    nodes[1].shard_formats = nodes[0].shard_formats.clone();
    assert!(fleet_flags(&nodes).is_empty());
    for n in &mut nodes {
        n.shard_formats.clear();
    }
    assert!(fleet_flags(&nodes).is_empty());
}
