//! Operators moving CURRENT at the same moment, on S3 and on a local directory.

use std::path::Path;
use std::time::Duration;

use tusk_store::Catalog;
use tusk_tests::Tusk;

use crate::helpers::{DOMAIN, S3, Spawned, error_line, json, records, runtime, write_version};

/// Six operators move CURRENT of `url` at the same moment, `rounds` times. Each
/// either succeeds (`--json` says whether it moved and to which seq) or fails with a
/// conflict, or with the plain refusal its own view implies (already current,
/// nothing to roll back to). Every move that reported success and moved is on the
/// chain of moves that took effect; the chain grows by exactly those; CURRENT is
/// its last record.
fn concurrent_pointer_moves(tusk: &Tusk, url: &str, catalog: &Catalog, dir: &Path, rounds: usize) {
    let rt = runtime();
    let small = |tag: &str| records(tag, 10, 8);
    let v1 = write_version(tusk, url, dir, &small("one"), 1, &[]);
    let v2 = write_version(tusk, url, dir, &small("two"), 1, &["--no-activate"]);
    let v3 = write_version(tusk, url, dir, &small("three"), 1, &["--no-activate"]);
    tusk.ok(&["activate", "--store", url, "--domain", DOMAIN, &v2]);
    let took_effect = |tusk: &Tusk| -> Vec<u64> {
        let out = tusk.ok(&["history", "--store", url, "--domain", DOMAIN, "--json"]);
        json(&out)
            .as_array()
            .expect("a JSON array")
            .iter()
            .filter(|r| r["took_effect"].as_bool() == Some(true))
            .map(|r| r["seq"].as_u64().expect("seq"))
            .collect()
    };
    let moves: [Vec<&str>; 6] = [
        vec!["activate", &v1],
        vec!["activate", &v2],
        vec!["activate", &v3],
        vec!["rollback"],
        vec!["rollback", "--to", &v1],
        vec!["rollback", "--to", &v3],
    ];
    for round in 0..rounds {
        let before = took_effect(tusk);
        let running: Vec<Spawned> = moves
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let args = [
                    m.as_slice(),
                    &["--store", url, "--domain", DOMAIN, "--json"],
                ]
                .concat();
                Spawned::new(&args, tusk.env(), dir, &format!("move-{round}-{i}"))
            })
            .collect();
        let mut moved = Vec::new();
        for (m, process) in moves.iter().zip(running) {
            let (status, stdout, stderr) = process.finish(Duration::from_secs(60));
            if status.success() {
                let out = json(&stdout);
                if out["moved"].as_bool() == Some(true) {
                    moved.push(out["seq"].as_u64().expect("seq"));
                }
            } else {
                let line = error_line(&stderr);
                assert!(
                    line.contains("conflict")
                        || line.contains("already current")
                        || line.contains("nothing to roll back to"),
                    "{m:?} failed otherwise: {line}"
                );
            }
        }
        let after = took_effect(tusk);
        assert_eq!(
            after.len(),
            before.len() + moved.len(),
            "round {round}: {after:?}"
        );
        for seq in &moved {
            assert!(
                after.contains(seq),
                "round {round}: move {seq} reported success but did not take effect"
            );
        }
        let current = rt
            .block_on(catalog.current(DOMAIN))
            .expect("read CURRENT")
            .expect("a CURRENT");
        assert_eq!(Some(&current.seq), after.last(), "round {round}");
        eprintln!(
            "round {round}: {} of 6 moves moved CURRENT on {url}",
            moved.len()
        );
    }
}

/// Concurrent activate/rollback processes never corrupt the pointer on S3.
#[test]
fn s3_concurrent_pointer_moves_keep_history_and_current_consistent() {
    let s3 = S3::start("moves");
    let tmp = tempfile::tempdir().expect("tempdir");
    // Default timeouts: a slow answer on a loaded machine must not turn into a
    // failure that is not a conflict.
    concurrent_pointer_moves(&s3.tusk, &s3.plain_url(), &s3.catalog(), tmp.path(), 3);
}

/// The same on the local-directory store.
#[test]
fn local_concurrent_pointer_moves_keep_history_and_current_consistent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let url = root.to_str().expect("utf-8 path").to_string();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    std::fs::create_dir(&root).expect("store dir");
    let catalog = Catalog::open(&url).expect("open the local store");
    concurrent_pointer_moves(&Tusk::default(), &url, &catalog, &work, 3);
}
