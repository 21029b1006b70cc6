//! Unit tests of the parent module.

use super::*;

const FULL: &str = r#"
listen = "127.0.0.1:7070"
data_dir = "/var/lib/tusk"
poll_interval = "5s"
keep_versions = 3
metrics_listen = "127.0.0.1:9090"
max_batch = 500
max_key_len = 1024

[[domains]]
name = "pages"
store = "file:///srv/tusk-store"

[[domains]]
name = "users"
store = "/srv/other"
"#;

/// The one example file (README, `tusk serve --help`) parses, and says the defaults.
#[test]
fn the_example_file_parses_and_states_the_defaults() {
    let text = include_str!("../../server.example.toml");
    let c = ServerConfig::from_toml_str(text, "server.example.toml").expect("valid");
    assert_eq!(c.listen, DEFAULT_LISTEN.parse().expect("addr"));
    assert_eq!(c.poll_interval, DEFAULT_POLL_INTERVAL);
    assert_eq!(c.keep_versions, DEFAULT_KEEP_VERSIONS);
    assert_eq!(c.max_batch, DEFAULT_MAX_BATCH);
    assert_eq!(c.max_key_len, DEFAULT_MAX_KEY_LEN);
    assert_eq!(c.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
    assert_eq!(c.download_concurrency, DEFAULT_DOWNLOAD_CONCURRENCY);
    assert_eq!(c.download_chunk_size, default_download_chunk_size());
    assert_eq!(c.retry_failed_after, DEFAULT_RETRY_FAILED_AFTER);
    assert_eq!(c.scrub_interval, default_scrub_interval());
    assert_eq!(c.scrub_rate, default_scrub_rate());
    assert_eq!(c.download_rate_limit, Some(100 << 20));
    assert!(c.metrics_listen.is_some());
    let names: Vec<&str> = c.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["pages"]);
    let cluster = c.cluster.expect("the example shows [cluster]");
    assert_eq!(cluster.replication, DEFAULT_REPLICATION);
    assert_eq!(cluster.self_node, DEFAULT_LISTEN);
    assert_eq!(cluster.forward_timeout, DEFAULT_FORWARD_TIMEOUT);
    assert_eq!(cluster.tls_ca, None);
    assert_eq!((c.tls_cert, c.tls_key, c.tls_client_ca), (None, None, None));
}

/// The example's commented TLS lines, uncommented, are valid and set every TLS field.
#[test]
fn the_example_tls_lines_parse() {
    let text: String = include_str!("../../server.example.toml")
        .lines()
        .map(|line| {
            line.strip_prefix("# ")
                .filter(|l| l.starts_with("tls_"))
                .unwrap_or(line)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = ServerConfig::from_toml_str(&text, "server.example.toml").expect("valid");
    assert_eq!(c.tls_cert, Some(PathBuf::from("/etc/tusk/node.pem")));
    assert_eq!(c.tls_key, Some(PathBuf::from("/etc/tusk/node-key.pem")));
    assert_eq!(c.tls_client_ca, Some(PathBuf::from("/etc/tusk/ca.pem")));
    let cluster = c.cluster.expect("cluster");
    assert_eq!(cluster.tls_ca, Some(PathBuf::from("/etc/tusk/ca.pem")));
}

#[test]
fn tls_fields_go_together() {
    let base = "data_dir = \"/d\"\n";
    let domain = "[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let fleet = "[cluster]\nnodes = [\"a:1\", \"b:1\"]\nself = \"a:1\"\n";
    let pair = "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";
    for (tls, cluster, field) in [
        ("tls_cert = \"c.pem\"\n", "", "tls_key"),
        ("tls_key = \"k.pem\"\n", "", "tls_cert"),
        ("tls_client_ca = \"ca.pem\"\n", "", "tls_client_ca"),
        (
            "",
            "[cluster]\nnodes = [\"a:1\"]\nself = \"a:1\"\ntls_ca = \"ca.pem\"\n",
            "cluster.tls_ca",
        ),
        (pair, fleet, "cluster.tls_ca"),
    ] {
        let text = format!("{base}{tls}{cluster}{domain}");
        let err = ServerConfig::from_toml_str(&text, "t.toml").expect_err(&text);
        assert!(
            matches!(&err, ConfigError::Invalid { field: f, .. } if f == field),
            "{text}: {err}"
        );
    }
    for (tls, cluster) in [(pair, ""), (pair, fleet), ("", fleet)] {
        let tls = if cluster.is_empty() || tls.is_empty() {
            tls.to_string()
        } else {
            format!("{tls}tls_client_ca = \"ca.pem\"\n")
        };
        let text = format!("{base}{tls}{cluster}{domain}");
        ServerConfig::from_toml_str(&text, "t.toml").expect(&text);
    }
}

const CLUSTER: &str = r#"
data_dir = "/d"
[cluster]
nodes = ["10.0.0.1:7070", "10.0.0.2:7070", "10.0.0.3:7070"]
self = "10.0.0.2:7070"
replication = 2
[[domains]]
name = "a"
store = "/s"
"#;

#[test]
fn a_cluster_section_describes_the_fleet() {
    let c = ServerConfig::from_toml_str(CLUSTER, "fleet.toml").expect("valid");
    let cluster = c.cluster.expect("cluster");
    assert_eq!(cluster.self_node, "10.0.0.2:7070");
    let fleet = cluster.fleet().expect("fleet");
    assert_eq!(fleet.nodes().len(), 3);
    assert_eq!(fleet.replication(), 2);
}

#[test]
fn cluster_mistakes_name_the_field() {
    let cases = [
        (
            "self = \"10.0.0.2:7070\"",
            "self = \"10.0.0.9:7070\"",
            "cluster.self",
            "not one of the nodes",
        ),
        (
            "replication = 2",
            "replication = 4",
            "cluster",
            "between 1 and the number of nodes (3)",
        ),
        ("replication = 2", "replication = 0", "cluster", "between 1"),
        (
            "\"10.0.0.3:7070\"]",
            "\"10.0.0.1:7070\"]",
            "cluster",
            "listed twice",
        ),
    ];
    for (from, to, field, detail) in cases {
        let text = CLUSTER.replace(from, to);
        assert_ne!(text, CLUSTER, "{from}");
        let err = ServerConfig::from_toml_str(&text, "fleet.toml").expect_err(to);
        let msg = err.to_string();
        assert!(
            matches!(&err, ConfigError::Invalid { field: f, .. } if f == field),
            "{to}: {msg}"
        );
        assert!(
            msg.contains(detail) && msg.starts_with("fleet.toml"),
            "{to}: {msg}"
        );
    }
    let text = CLUSTER.replace("self = ", "me = ");
    let msg = ServerConfig::from_toml_str(&text, "fleet.toml")
        .expect_err("unknown key")
        .to_string();
    assert!(
        msg.contains("`me`") && msg.starts_with("fleet.toml:5:"),
        "{msg}"
    );
}

#[test]
fn parses_the_documented_example() {
    let c = ServerConfig::from_toml_str(FULL, "tusk.toml").expect("valid");
    assert_eq!(c.listen, "127.0.0.1:7070".parse().expect("addr"));
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/tusk"));
    assert_eq!(c.poll_interval, Duration::from_secs(5));
    assert_eq!(c.keep_versions, 3);
    assert_eq!(
        c.metrics_listen,
        Some("127.0.0.1:9090".parse().expect("addr"))
    );
    assert_eq!(c.max_batch, 500);
    assert_eq!(c.max_key_len, 1024);
    assert_eq!(c.domains.len(), 2);
    assert_eq!(c.domains[1].name, "users");
    assert_eq!(c.domains[1].store, "/srv/other");
}

#[test]
fn optional_fields_take_defaults() {
    let text = "data_dir = \"/d\"\n[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let c = ServerConfig::from_toml_str(text, "x.toml").expect("valid");
    assert_eq!(c, ServerConfig::new(default_listen(), "/d", "/s", &["a"]));
    assert_eq!(c.max_batch, DEFAULT_MAX_BATCH);
    assert_eq!(c.metrics_listen, None);
}

#[test]
fn unknown_key_is_rejected_with_its_name_and_line() {
    let text = "data_dir = \"/d\"\nlisten_port = 1\n[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let err = ServerConfig::from_toml_str(text, "bad.toml").expect_err("unknown key");
    let msg = err.to_string();
    assert!(msg.contains("listen_port"), "{msg}");
    assert!(msg.starts_with("bad.toml:2:"), "{msg}");
}

#[test]
fn unknown_key_inside_a_domain_is_rejected() {
    let text = "data_dir = \"/d\"\n[[domains]]\nname = \"a\"\nstore = \"/s\"\nreplicas = 2\n";
    let msg = ServerConfig::from_toml_str(text, "bad.toml")
        .expect_err("unknown")
        .to_string();
    assert!(msg.contains("replicas"), "{msg}");
    assert!(msg.starts_with("bad.toml:5:"), "{msg}");
}

#[test]
fn bad_duration_is_explained() {
    let text =
        "data_dir = \"/d\"\npoll_interval = \"soon\"\n[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let msg = ServerConfig::from_toml_str(text, "c.toml")
        .expect_err("bad")
        .to_string();
    assert!(msg.contains("soon") && msg.contains("c.toml:2"), "{msg}");
}

#[test]
fn validation_rules() {
    let base = ServerConfig::new(default_listen(), "/d", "/s", &["a", "b"]);
    assert!(base.validate("flags").is_ok());

    let mut c = base.clone();
    c.domains.clear();
    assert!(
        matches!(c.validate("f"), Err(ConfigError::Invalid { field, .. }) if field == "domains")
    );

    let mut c = base.clone();
    c.domains[1].name = "a".into();
    let err = c.validate("f").expect_err("duplicate");
    assert!(err.to_string().contains("domains[1].name"), "{err}");

    let mut c = base.clone();
    c.domains[0].name = "no/slash".into();
    assert!(
        c.validate("f")
            .expect_err("bad name")
            .to_string()
            .contains("domains[0].name")
    );

    let mut c = base.clone();
    c.keep_versions = 0;
    assert!(
        c.validate("f")
            .expect_err("zero")
            .to_string()
            .contains("keep_versions")
    );

    let mut c = base;
    c.domains[0].store = " ".into();
    assert!(
        c.validate("f")
            .expect_err("empty store")
            .to_string()
            .contains("domains[0].store")
    );
}

#[test]
fn download_limits_take_sizes_or_integers() {
    let base = "data_dir = \"/d\"\n[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let c = ServerConfig::from_toml_str(base, "c.toml").expect("defaults");
    assert_eq!(c.download_rate_limit, None);
    assert_eq!(c.download_chunk_size, DEFAULT_DOWNLOAD_CHUNK_SIZE);

    let text = format!("download_rate_limit = \"100MiB\"\ndownload_chunk_size = 65536\n{base}");
    let c = ServerConfig::from_toml_str(&text, "c.toml").expect("sizes");
    assert_eq!(c.download_rate_limit, Some(100 << 20));
    assert_eq!(c.download_chunk_size, 65536);

    let text = format!("download_rate_limit = 5000000\ndownload_chunk_size = \"4MiB\"\n{base}");
    let c = ServerConfig::from_toml_str(&text, "c.toml").expect("sizes");
    assert_eq!(c.download_rate_limit, Some(5_000_000));
    assert_eq!(c.download_chunk_size, 4 << 20);
}

#[test]
fn bad_download_limits_are_explained() {
    let base = "[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    for (line, needle) in [
        ("download_rate_limit = \"fast\"", "fast"),
        ("download_rate_limit = 0", "at least 1 byte"),
        ("download_chunk_size = \"8 parsecs\"", "parsecs"),
    ] {
        let text = format!("data_dir = \"/d\"\n{line}\n{base}");
        let msg = ServerConfig::from_toml_str(&text, "c.toml")
            .expect_err(line)
            .to_string();
        assert!(
            msg.contains(needle) && msg.starts_with("c.toml:2"),
            "{line}: {msg}"
        );
    }
    let mut c = ServerConfig::new(default_listen(), "/d", "/s", &["a"]);
    c.download_rate_limit = Some(0);
    let msg = c.validate("flags").expect_err("zero rate").to_string();
    assert!(msg.contains("download_rate_limit"), "{msg}");
    c.download_rate_limit = None;
    c.download_chunk_size = 100;
    let msg = c.validate("flags").expect_err("tiny chunks").to_string();
    assert!(msg.contains("download_chunk_size"), "{msg}");
}

#[test]
fn scrub_settings_take_durations_off_and_sizes() {
    let base = "data_dir = \"/d\"\n[[domains]]\nname = \"a\"\nstore = \"/s\"\n";
    let c = ServerConfig::from_toml_str(base, "c.toml").expect("defaults");
    assert_eq!(c.scrub_interval, DEFAULT_SCRUB_INTERVAL);
    assert_eq!(c.scrub_rate, DEFAULT_SCRUB_RATE);
    let text = format!("scrub_interval = \"off\"\nscrub_rate = \"4MiB\"\n{base}");
    let c = ServerConfig::from_toml_str(&text, "c.toml").expect("off");
    assert_eq!((c.scrub_interval, c.scrub_rate), (Duration::ZERO, 4 << 20));
    let text = format!("scrub_interval = \"daily\"\n{base}");
    let msg = ServerConfig::from_toml_str(&text, "c.toml")
        .expect_err("bad interval")
        .to_string();
    assert!(
        msg.contains("daily") && msg.starts_with("c.toml:1"),
        "{msg}"
    );
    let text = format!("scrub_rate = 0\n{base}");
    let msg = ServerConfig::from_toml_str(&text, "c.toml")
        .expect_err("zero rate")
        .to_string();
    assert!(msg.contains("at least 1 byte"), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let err = ServerConfig::from_file("/nonexistent/tusk.toml").expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/tusk.toml"), "{err}");
}
