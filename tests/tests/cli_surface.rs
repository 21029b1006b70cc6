//! The command line as a user meets it, through the real `tusk` binary: help and
//! version, a closed stdout, mistyped stores and domains, `serve` from TUSK_*
//! variables and host names, errors that name flags and gRPC codes, log format,
//! verbosity and colour, shell completions.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tusk_tests::{ServerProcess, Tusk, free_port, tusk, tusk_err, tusk_ok, wait_for, write_tsv};

/// Writes a version of `domain` with two records into the local store `store`.
fn publish(store: &Path, domain: &str) {
    let input = store.with_extension(format!("{domain}.tsv"));
    write_tsv(
        &input,
        &[
            ("home".to_string(), format!("{domain}-home")),
            ("about".to_string(), format!("{domain}-about")),
        ],
    );
    tusk_ok(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        domain,
        "--format",
        "tsv",
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "2",
    ]);
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `cmd` with stdout a pipe whose reader is already gone, as after `| head`
/// once head has exited: every write to stdout fails with EPIPE.
fn run_with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().expect("tusk starts");
    // The command's own copy of the write end is closed when it is dropped.
    drop(cmd);
    child.wait_with_output().expect("tusk runs")
}

fn assert_quiet_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} with a closed stdout: {} (101 is a panic)\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "{what} says nothing on stderr");
}

#[test]
fn subcommand_help_is_long_and_the_overview_stays_short() {
    let serve = tusk_ok(&["serve", "--help"]);
    assert!(
        serve.contains("On restart, versions already in the data dir are reopened"),
        "{serve}"
    );
    let get = tusk_ok(&["get", "--help"]);
    assert!(
        get.contains("One key uses Get; several use one MultiGet"),
        "{get}"
    );
    let overview = tusk_ok(&["--help"]);
    assert!(
        overview.contains("Serve domains over gRPC, following each domain's CURRENT version"),
        "{overview}"
    );
    assert!(!overview.contains("On restart"), "{overview}");
    // -h stays short too.
    let short = tusk_ok(&["serve", "-h"]);
    assert!(!short.contains("On restart"), "{short}");
}

#[test]
fn version_names_the_commit() {
    for flag in ["--version", "-V"] {
        let out = tusk_ok(&[flag]);
        let line = out.trim();
        let rest = line
            .strip_prefix(&format!("tusk {} (", env!("CARGO_PKG_VERSION")))
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{flag}: {line:?}"));
        // A test run from a git checkout has a commit: "abc1234 2026-12-02".
        let (commit, date) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        assert!(
            commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{line:?}"
        );
        assert_eq!(date.len(), 10, "{line:?}");
        assert_eq!(date.as_bytes()[4], b'-', "{line:?}");
    }
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    publish(&store, "pages");
    let server = ServerProcess::start(
        &[
            "--store",
            store_arg,
            "--domain",
            "pages",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            tmp.path().join("data").to_str().unwrap(),
            "--poll-interval",
            "100ms",
        ],
        &tmp.path().join("server.log"),
    );
    let addr = server.server_arg();
    let get = [
        "get", "--server", &addr, "--domain", "pages", "home", "about",
    ];
    wait_for("the domain to load", Duration::from_secs(30), || {
        tusk(&get).status.success().then_some(())
    });
    let runs: [&[&str]; 7] = [
        &get,
        &["status", "--server", &addr],
        &["status", "--server", &addr, "--json"],
        &["versions", "--store", store_arg, "--domain", "pages"],
        &[
            "history", "--store", store_arg, "--domain", "pages", "--json",
        ],
        &["policy", "show", "--store", store_arg, "--domain", "pages"],
        &["completions", "bash"],
    ];
    for args in runs {
        let out = run_with_closed_stdout(Tusk::default().command(args));
        assert_quiet_success(&args.join(" "), &out);
    }
    assert!(server.terminate());
}

#[test]
fn commands_other_than_write_never_create_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nostore");
    let url = missing.to_str().unwrap();
    let file_url = format!("file://{url}");
    let runs: Vec<Vec<&str>> = vec![
        vec!["versions"],
        vec!["history"],
        vec!["verify"],
        vec!["diff", "v1", "v2"],
        vec!["gc", "--keep", "1", "--dry-run"],
        vec!["gc", "--keep", "1"],
        vec!["activate", "v1"],
        vec!["rollback"],
        vec!["policy", "show"],
        vec!["policy", "history"],
        vec!["policy", "check", "v1"],
        vec!["policy", "set", "--min-records", "5"],
    ];
    for store in [url, file_url.as_str()] {
        for run in &runs {
            let mut args = run.clone();
            args.extend(["--store", store, "--domain", "pages"]);
            let err = tusk_err(&args);
            assert!(
                err.contains(&format!("no store at {store}")),
                "tusk {}: {err}",
                args.join(" ")
            );
            assert!(
                !missing.exists(),
                "tusk {} created the store",
                args.join(" ")
            );
        }
    }
    // write is the one command that starts a store.
    publish(&missing, "pages");
    assert!(missing.is_dir());
    let versions = tusk_ok(&["versions", "--store", url, "--domain", "pages"]);
    assert_eq!(
        versions.lines().count(),
        2,
        "a header and the version: {versions}"
    );
}

#[test]
fn a_mistyped_domain_fails_listing_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let store_arg = store.to_str().unwrap();
    publish(&store, "pages");
    publish(&store, "users");
    for run in [
        vec!["versions"],
        vec!["history"],
        vec!["verify"],
        vec!["gc", "--keep", "1", "--dry-run"],
        vec!["rollback"],
        vec!["policy", "show"],
    ] {
        let mut args = run.clone();
        args.extend(["--store", store_arg, "--domain", "pagez"]);
        let err = tusk_err(&args);
        assert!(
            err.contains(&format!(
                "unknown domain 'pagez' in {store_arg}; known: pages, users"
            )),
            "tusk {}: {err}",
            args.join(" ")
        );
    }
    assert!(!store.join("pagez").exists(), "nothing written for pagez");
    let versions = tusk_ok(&["versions", "--store", store_arg, "--domain", "users"]);
    assert!(versions.contains("VERSION"), "{versions}");
    // In a known domain, what is wrong is named instead.
    let base = ["--store", store_arg, "--domain", "pages"];
    let err = tusk_err(&[&["activate", "no-such-version"], &base[..]].concat());
    assert!(err.contains("no-such-version"), "{err}");
    let shown: serde_json::Value = serde_json::from_str(&tusk_ok(
        &[&["policy", "show", "--json"], &base[..]].concat(),
    ))
    .unwrap();
    assert_eq!(shown["default"], true, "no policy set: the default applies");
    assert_eq!(shown["policy"]["min_records"], 1);
}

#[test]
fn serve_takes_every_setting_from_the_environment_and_host_names() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    publish(&store, "pages");
    publish(&store, "users");
    let data = tmp.path().join("data");
    let env: Vec<(String, String)> = [
        ("TUSK_STORE", store.to_str().unwrap()),
        ("TUSK_DOMAIN", "pages,users"),
        ("TUSK_LISTEN", "localhost:0"),
        ("TUSK_DATA_DIR", data.to_str().unwrap()),
        ("TUSK_POLL_INTERVAL", "100ms"),
        ("TUSK_LOG_FORMAT", "json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let log = tmp.path().join("server.log");
    let server = ServerProcess::start_with_env(&["--metrics-listen", "localhost:0"], &log, &env);
    assert!(
        server.addr.ip().is_loopback() && server.addr.is_ipv4(),
        "{}",
        server.addr
    );
    let metrics = server.metrics_addr.expect("metrics address");
    assert!(metrics.ip().is_loopback(), "{metrics}");
    // --server takes a host name too.
    let by_name = format!("localhost:{}", server.addr.port());
    for domain in ["pages", "users"] {
        let out = wait_for(
            &format!("{domain} to load"),
            Duration::from_secs(30),
            || {
                let out = tusk(&["get", "--server", &by_name, "--domain", domain, "home"]);
                out.status.success().then(|| text(&out.stdout))
            },
        );
        assert_eq!(out, format!("home\t{domain}-home\n"));
    }
    assert!(data.join("pages").is_dir(), "TUSK_DATA_DIR is used");
    // gRPC errors carry their code by name.
    let err = tusk_err(&["get", "--server", &by_name, "--domain", "nosuch", "k"]);
    assert!(err.contains("NOT_FOUND"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(server.terminate());
    // TUSK_LOG_FORMAT=json: every log line is a JSON object.
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "the server logged something");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["level"].is_string() && value["fields"].is_object(),
            "{line}"
        );
    }
}

#[test]
fn flag_errors_name_the_flag_and_file_errors_the_key_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let base = ["serve", "--store", "/nonexistent/s", "--domain", "d"];
    let err = tusk_err(&[&base[..], &["--keep-versions", "0"]].concat());
    assert!(
        err.contains("--keep-versions") && !err.contains("keep_versions"),
        "{err}"
    );
    let err = tusk_err(&[&base[..], &["--domain", "bad/name"]].concat());
    assert!(
        err.contains("--domain") && !err.contains("domains["),
        "{err}"
    );
    let out = Tusk::with_env(&[("TUSK_MAX_BATCH".to_string(), "0".to_string())]).run(&base);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--max-batch"),
        "{}",
        text(&out.stderr)
    );

    let config = tmp.path().join("bad.toml");
    std::fs::write(
        &config,
        "data_dir = \"/tmp/x\"\nkeep_versions = 0\n[[domains]]\nname = \"a\"\nstore = \"/tmp/s\"\n",
    )
    .unwrap();
    let err = tusk_err(&["serve", "--config", config.to_str().unwrap()]);
    assert!(
        err.contains("bad.toml") && err.contains("keep_versions"),
        "{err}"
    );
}

#[test]
fn serve_config_ignores_exported_variables_and_refuses_typed_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    publish(&store, "pages");
    let config = tmp.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[[domains]]\nname = \"pages\"\nstore = {:?}\n",
            tmp.path().join("data"),
            store
        ),
    )
    .unwrap();
    // An operator's shell exports the store and a domain for the other commands.
    let env: Vec<(String, String)> = [
        ("TUSK_STORE", "/no/such/store"),
        ("TUSK_DOMAIN", "other"),
        ("TUSK_LISTEN", "127.0.0.1:1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let log = tmp.path().join("server.log");
    let server = ServerProcess::start_with_env(&["--config", config.to_str().unwrap()], &log, &env);
    assert_ne!(server.addr.port(), 1, "the file's listen address is used");
    let addr = server.addr.to_string();
    let out = wait_for("pages to load", Duration::from_secs(30), || {
        let out = tusk(&["get", "--server", &addr, "--domain", "pages", "home"]);
        out.status.success().then(|| text(&out.stdout))
    });
    assert_eq!(out, "home\tpages-home\n");
    assert!(server.terminate());
    // A flag typed beside --config is refused, named.
    let err = tusk_err(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--max-batch",
        "5",
    ]);
    assert!(
        err.contains("--config cannot be used with --max-batch"),
        "{err}"
    );
}

#[test]
fn a_refused_connection_says_to_start_a_server() {
    let addr = format!("127.0.0.1:{}", free_port());
    for args in [
        vec!["get", "--server", &addr, "--domain", "pages", "k"],
        vec!["status", "--server", &addr],
    ] {
        let err = tusk_err(&args);
        assert!(
            err.contains(&format!(
                "could not connect to {addr} — is `tusk serve` running there?"
            )),
            "{args:?}: {err}"
        );
        assert!(
            err.to_lowercase().contains("refused"),
            "the cause is kept: {err}"
        );
    }
}

#[test]
fn verbosity_log_format_and_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.tsv");
    write_tsv(&input, &[("k".to_string(), "v".to_string())]);
    let store = tmp.path().join("store");
    let write = |flags: &[&str], env: &[(&str, &str)]| -> String {
        let mut cmd = Tusk::default().command(flags);
        cmd.args([
            "write",
            "--store",
            store.to_str().unwrap(),
            "--domain",
            "pages",
            "--format",
            "tsv",
            "--input",
            input.to_str().unwrap(),
            "--no-activate",
        ]);
        cmd.env_remove("RUST_LOG").env_remove("NO_COLOR");
        cmd.envs(env.iter().copied());
        let out = cmd.output().expect("tusk runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    assert!(!write(&[], &[]).contains("DEBUG"));
    let verbose = write(&["-v"], &[]);
    assert!(
        verbose.contains("DEBUG") && !verbose.contains('\x1b'),
        "{verbose}"
    );
    assert!(
        !write(&["-v"], &[("RUST_LOG", "error")]).contains("DEBUG"),
        "RUST_LOG wins"
    );
    assert_eq!(write(&["-q"], &[]), "");
    let json = write(&["-v", "--log-format", "json"], &[]);
    for line in json.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(write(&["-v", "--color", "always"], &[("NO_COLOR", "1")]).contains('\x1b'));
    assert!(!write(&["-v", "--color", "never"], &[]).contains('\x1b'));

    let help = tusk_ok(&["--color", "always", "--help"]);
    assert!(help.contains('\x1b'), "--color always colours help");
    let out = Tusk::with_env(&[("NO_COLOR".to_string(), "1".to_string())]).run(&["--help"]);
    assert!(!text(&out.stdout).contains('\x1b'));
}

#[test]
fn completions_cover_the_subcommands() {
    let bash = tusk_ok(&["completions", "bash"]);
    for word in [
        "versions",
        "rollback",
        "completions",
        "--store",
        "--log-format",
    ] {
        assert!(bash.contains(word), "bash completions lack {word}");
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert!(
            tusk_ok(&["completions", shell]).contains("rollback"),
            "{shell}"
        );
    }
    let err = tusk_err(&["completions", "tcsh"]);
    assert!(err.contains("tcsh"), "{err}");
}
