//! Operators racing real `tusk activate` / `tusk rollback` processes against each
//! other on the local-directory store: of moves conditioned on the same CURRENT,
//! exactly one wins, and the winner's own output names the versions it went
//! between; rollbacks never walk forward.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tusk_tests::{Tusk, write_tsv};

const DOMAIN: &str = "pages";

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A store with three versions, each activated in turn; returns their ids.
fn three_versions(tusk: &Tusk, dir: &Path, store: &str) -> Vec<String> {
    (0..3)
        .map(|n| {
            let input = dir.join(format!("in-{n}.tsv"));
            let records: Vec<(String, String)> = (0..20)
                .map(|i| (format!("k{i}"), format!("v{n}-{i}")))
                .collect();
            write_tsv(&input, &records);
            let out = tusk.ok(&[
                "write",
                "--store",
                store,
                "--domain",
                DOMAIN,
                "--format",
                "tsv",
                "--input",
                input.to_str().expect("utf-8"),
                "--shards",
                "1",
                "--json",
            ]);
            json(&out)["version"].as_str().expect("version").to_string()
        })
        .collect()
}

/// A temp dir holding a local store with three versions activated in turn: the
/// dir (keep it alive), the store path, the runner and the version ids.
fn fixture() -> (tempfile::TempDir, String, Tusk, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir
        .path()
        .join("store")
        .to_str()
        .expect("utf-8")
        .to_string();
    let tusk = Tusk::default();
    let versions = three_versions(&tusk, dir.path(), &store);
    (dir, store, tusk, versions)
}

/// Runs every command at once; returns (success, stdout, stderr) of each.
fn race(tusk: &Tusk, commands: &[Vec<String>]) -> Vec<(bool, String, String)> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tusk.command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn tusk")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("tusk exits");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

fn current(tusk: &Tusk, store: &str) -> (String, u64) {
    let versions = json(&tusk.ok(&["versions", "--store", store, "--domain", DOMAIN, "--json"]));
    let history = json(&tusk.ok(&["history", "--store", store, "--domain", DOMAIN, "--json"]));
    let version = versions
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["current"] == true)
        .expect("a current version")["version"]
        .as_str()
        .expect("id")
        .to_string();
    let seq = history
        .as_array()
        .expect("array")
        .iter()
        .rfind(|r| r["took_effect"] == true)
        .expect("a record that took effect")["seq"]
        .as_u64()
        .expect("seq");
    (version, seq)
}

/// 32 trials: three operators who all saw the newest version current roll back (two)
/// or activate the oldest (one) at the same moment, each with `--expect-current`.
/// Exactly one wins; the losers name the winner's version and seq; CURRENT is what
/// the winner printed.
#[test]
fn concurrent_moves_conditioned_on_the_same_current_have_one_winner() {
    let (_dir, store, tusk, v) = fixture();
    let (newest, oldest) = (&v[2], &v[0]);
    let base = [
        "--store",
        &store,
        "--domain",
        DOMAIN,
        "--expect-current",
        newest,
        "--json",
    ];
    let command = |head: &[&str], actor: &str| -> Vec<String> {
        let reason = format!("operator {actor}");
        head.iter()
            .chain(base.iter())
            .chain(["--reason", &reason].iter())
            .map(|s| s.to_string())
            .collect()
    };
    for trial in 0..32 {
        let results = race(
            &tusk,
            &[
                command(&["rollback"], "a"),
                command(&["rollback"], "b"),
                command(&["activate", oldest], "c"),
            ],
        );
        let winners: Vec<Value> = results
            .iter()
            .filter(|(ok, _, _)| *ok)
            .map(|(_, out, _)| json(out))
            .collect();
        assert_eq!(winners.len(), 1, "trial {trial}: {results:?}");
        let winner = &winners[0];
        assert_eq!(
            winner["from"].as_str(),
            Some(newest.as_str()),
            "trial {trial}"
        );
        let (to, seq) = (
            winner["version"].as_str().expect("to").to_string(),
            winner["seq"].as_u64().expect("seq"),
        );
        assert_eq!(current(&tusk, &store), (to.clone(), seq), "trial {trial}");
        for (ok, _, stderr) in &results {
            if !ok {
                assert!(
                    stderr.contains("conflict")
                        && stderr.contains(&to)
                        && stderr.contains(&format!("seq {seq}")),
                    "trial {trial}: a loser's error names the winning move: {stderr}"
                );
            }
        }
        // Reset for the next trial: the newest version current again.
        tusk.ok(&[
            "activate", newest, "--store", &store, "--domain", DOMAIN, "--reason", "reset",
        ]);
    }
}

/// 8 trials of two unconditioned rollbacks at once from the newest version: each
/// success walks back from what it saw, and no rollback ever lands on a version that
/// was rolled back (never forward, never undoing the other).
#[test]
fn unconditioned_concurrent_rollbacks_never_walk_forward() {
    let (_dir, store, tusk, v) = fixture();
    let rollback: Vec<String> = ["rollback", "--store", &store, "--domain", DOMAIN, "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for trial in 0..8 {
        let results = race(&tusk, &[rollback.clone(), rollback.clone()]);
        let mut moves: Vec<(String, String)> = results
            .iter()
            .filter(|(ok, _, _)| *ok)
            .map(|(_, out, _)| {
                let out = json(out);
                (
                    out["from"].as_str().expect("from").to_string(),
                    out["version"].as_str().expect("to").to_string(),
                )
            })
            .collect();
        assert!(
            !moves.is_empty(),
            "trial {trial}: neither rollback won: {results:?}"
        );
        for (ok, _, stderr) in &results {
            assert!(
                *ok || stderr.contains("conflict"),
                "trial {trial}: {stderr}"
            );
        }
        moves.sort();
        let allowed: Vec<Vec<(String, String)>> = vec![
            vec![(v[2].clone(), v[1].clone())],
            vec![(v[1].clone(), v[0].clone()), (v[2].clone(), v[1].clone())],
        ];
        assert!(allowed.contains(&moves), "trial {trial}: {moves:?}");
        let (now, _) = current(&tusk, &store);
        assert!(now < v[2], "trial {trial}: CURRENT walked forward to {now}");
        tusk.ok(&[
            "activate", &v[2], "--store", &store, "--domain", DOMAIN, "--reason", "reset",
        ]);
        tusk.ok(&[
            "activate", &v[1], "--store", &store, "--domain", DOMAIN, "--reason", "reset",
        ]);
        tusk.ok(&[
            "activate", &v[2], "--store", &store, "--domain", DOMAIN, "--reason", "reset",
        ]);
    }
}

/// `tusk activate` of the version that is already current changes nothing and says
/// so; `tusk rollback` prints the versions it went between and marks the one it left,
/// which `tusk versions` and `tusk history` show.
#[test]
fn the_cli_says_what_each_move_did() {
    let (_dir, store, tusk, v) = fixture();
    let at = ["--store", store.as_str(), "--domain", DOMAIN];
    let history_len = |tusk: &Tusk| {
        json(&tusk.ok(&[&["history", "--json"], &at[..]].concat()))
            .as_array()
            .expect("array")
            .len()
    };
    let before = history_len(&tusk);
    let out = tusk.ok(&[&["activate", v[2].as_str()], &at[..]].concat());
    assert!(
        out.contains("is already current") && out.contains("nothing changed"),
        "{out}"
    );
    assert_eq!(history_len(&tusk), before, "a no-op wrote a history record");

    let out = tusk.ok(&[&["rollback", "--reason", "bad"], &at[..]].concat());
    assert_eq!(
        out.trim(),
        format!(
            "{DOMAIN}: rolled back {} -> {} (seq {}); {} is marked rolled back",
            v[2],
            v[1],
            before + 1,
            v[2]
        )
    );
    let versions = json(&tusk.ok(&[&["versions", "--json"], &at[..]].concat()));
    let marked: Vec<&str> = versions
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["rolled_back"] == true)
        .map(|r| r["version"].as_str().expect("id"))
        .collect();
    assert_eq!(marked, [v[2].as_str()]);
    let table = tusk.ok(&[&["history"], &at[..]].concat());
    assert!(
        table.contains(&format!("marked {} rolled back", v[2])),
        "{table}"
    );
}
