//! Runs the whole bench on a tiny dataset: every contender must answer every hit with
//! its exact value and every miss with nothing, and every build must hold every record.

use tusk_benches::data::{Dataset, KEY_LEN, Probes};
use tusk_benches::lookup::{BatchLookup, Lookup, bench_batched, check};
use tusk_benches::{BenchError, Config, Parts, Result, run_size};

#[test]
fn tiny_run_checks_every_contender() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        keys: vec![10_000],
        probes: 10_000,
        passes: 1,
        writer_shards: 4,
        parts: Parts::ALL,
        sled_cache_bytes: 16 << 20,
        dir: Some(dir.path().to_path_buf()),
        json: false,
        shard_format: tusk_format::ShardFormat::default(),
    };
    let mut lines = Vec::new();
    let report = run_size(10_000, &config, dir.path(), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();

    let names: Vec<&str> = report.lookups.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        [
            "tusk",
            "tusk-batch",
            "tusk-heap",
            "hashmap",
            "sled",
            "lmdb",
            "redb"
        ]
    );
    for l in &report.lookups {
        assert_eq!(l.hit.passes_ns.len(), 1);
        assert!(l.hit.median_ns > 0.0 && l.miss.median_ns > 0.0, "{l:?}");
    }
    assert_eq!(report.builds.len(), 6);
    for b in &report.builds {
        assert_eq!(b.records, 10_000, "{}", b.name);
        assert_eq!(b.input_bytes, 10_000 * 174, "{}", b.name);
    }
    assert!(
        report.builds[1].note.starts_with("4 shards"),
        "{}",
        report.builds[1].note
    );
    assert!(report.tusk_file_bytes > 10_000 * 174);
    assert_eq!(report.targets.len(), 7);
    let bytes = report
        .targets
        .iter()
        .find(|t| t.what == "tusk bytes/record beyond data / lmdb's")
        .expect("the size goal");
    assert!(bytes.ratio.is_some_and(|r| r > 0.0), "{bytes:?}");
    let writer = report
        .targets
        .iter()
        .find(|t| t.what == "writer M records/s")
        .expect("the writer's goal");
    assert!(writer.ratio.is_some_and(|r| r > 0.0), "{writer:?}");
    // Every build reports how far it raised the peak RSS (Linux), and the writer's
    // is compared with its budget.
    if cfg!(target_os = "linux") {
        for b in &report.builds {
            assert!(b.peak_rss_added.is_some(), "{}: {b:?}", b.name);
        }
        let rss = report
            .targets
            .iter()
            .find(|t| t.what == "writer peak RSS+ / budget")
            .expect("the writer's memory goal");
        assert!(rss.ratio.is_some_and(|r| r > 0.0), "{rss:?}");
    }
    assert!(report.ratios.sled_vs_tusk_hit.is_some_and(f64::is_finite));
    assert!(report.ratios.lmdb_vs_tusk_hit.is_some_and(f64::is_finite));
    assert!(report.ratios.redb_vs_tusk_hit.is_some_and(f64::is_finite));
    // Every on-disk contender reports its bytes beyond the keys and values.
    for name in ["LMDB (heed) append + commit", "redb insert + commit"] {
        let b = report.builds.iter().find(|b| b.name == name).expect(name);
        assert!(
            b.overhead_per_record().is_some_and(|o| o > 0.0),
            "{name}: {b:?}"
        );
    }
    assert!(report.targets.iter().all(|t| t.pass.is_some()));
    let table = report.to_table();
    assert!(
        table.contains("10000 keys") && table.contains("sled") && table.contains("peak RSS+"),
        "{table}"
    );
    assert!(lines.iter().any(|l| l.contains("sled")));
    // Everything the run created is gone: only the (empty) parent remains.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A contender that loses one key and invents another: the check must catch both.
struct Faulty<'a> {
    data: &'a Dataset,
    lost: [u8; KEY_LEN],
    invented: [u8; KEY_LEN],
}

impl Lookup for Faulty<'_> {
    type Value<'a>
        = Vec<u8>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        "faulty"
    }

    fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if key == self.lost {
            return Ok(None);
        }
        if key == self.invented {
            return Ok(Some(b"made up".to_vec()));
        }
        Ok(self
            .data
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_vec()))
    }
}

#[test]
fn check_catches_lost_and_invented_keys() {
    let data = Dataset::generate(200);
    let probes = Probes::generate(200, 50);
    let honest = Faulty {
        data: &data,
        lost: [0; KEY_LEN],
        invented: [0; KEY_LEN],
    };
    check(&honest, &probes.hits, &probes.misses).unwrap();

    let lossy = Faulty {
        lost: probes.hits[7],
        ..honest
    };
    let err = check(&lossy, &probes.hits, &probes.misses).unwrap_err();
    assert!(
        matches!(
            err,
            BenchError::WrongAnswer {
                contender: "faulty",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("present key not found"), "{err}");

    let inventive = Faulty {
        data: &data,
        lost: [0; KEY_LEN],
        invented: probes.misses[3],
    };
    let err = check(&inventive, &probes.hits, &probes.misses).unwrap_err();
    assert!(err.to_string().contains("absent key found"), "{err}");
}

impl BatchLookup for Faulty<'_> {
    fn batch_name(&self) -> &'static str {
        "faulty-batch"
    }

    fn lookup_batch(
        &self,
        keys: &[[u8; KEY_LEN]],
        each: &mut dyn FnMut(usize, Option<&[u8]>),
    ) -> Result<()> {
        for (i, key) in keys.iter().enumerate() {
            let got = self.lookup(key)?;
            each(i, got.as_deref());
        }
        Ok(())
    }
}

#[test]
fn the_batched_check_catches_lost_and_invented_keys() {
    let data = Dataset::generate(200);
    let probes = Probes::generate(200, 250);
    let honest = Faulty {
        data: &data,
        lost: [0; KEY_LEN],
        invented: [0; KEY_LEN],
    };
    let timed = bench_batched(&honest, &probes.hits, &probes.misses, 1).unwrap();
    assert_eq!(timed.name, "faulty-batch");
    // A wrong answer in a later batch (key 170 of 250: batch 2) is caught too.
    for faulty in [
        Faulty {
            lost: probes.hits[170],
            ..honest
        },
        Faulty {
            invented: probes.misses[170],
            ..honest
        },
    ] {
        let err = bench_batched(&faulty, &probes.hits, &probes.misses, 1).unwrap_err();
        assert!(
            matches!(
                err,
                BenchError::WrongAnswer {
                    contender: "faulty-batch",
                    ..
                }
            ),
            "{err}"
        );
    }
}
