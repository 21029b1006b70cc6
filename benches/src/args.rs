//! Command-line options of the `lookup` bench.

use std::path::PathBuf;

use tusk_format::ShardFormat;

use crate::{BenchError, Result};

/// Usage text.
pub const USAGE: &str = "\
usage: lookup [--keys N[,N...]] [--probes N] [--passes N] [--writer-shards N]
              [--only PART[,PART...]] [--sled-cache-mib N] [--shard-format NAME]
              [--dir PATH] [--quick] [--json]

  --keys            record counts to run, comma separated (default 1000000,10000000)
  --probes          hit probes per pass, and as many miss probes (default 2000000)
  --passes          timed passes per measurement; the median is reported (default 5)
  --writer-shards   shard count for the tusk_writer build rate (default 8)
  --only            parts among tusk, tusk-heap, writer, hashmap, sled, lmdb, redb
                    (default all)
  --sled-cache-mib  sled's cache_capacity in MiB (default 1024, sled's own default)
  --shard-format    the tusk shard's format, tusk-native-v1 or tusk-native-v2
                    (default: the writer's default, tusk-native-v2)
  --dir             parent of the temp dir for shard files and sled (default $TMPDIR)
  --quick           smoke run: --keys 100000 --probes 200000 --passes 3
  --json            print one JSON object instead of the table
";

/// Which parts of the bench run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// The tusk shard: build rate and lookups through `mmap`.
    pub tusk: bool,
    /// The same shard file read into a heap buffer: lookups.
    pub tusk_heap: bool,
    /// The batch writer's build rate.
    pub writer: bool,
    /// The std HashMap: load rate and lookups.
    pub hashmap: bool,
    /// sled: load rate and lookups.
    pub sled: bool,
    /// LMDB (heed): load rate and lookups.
    pub lmdb: bool,
    /// redb: load rate and lookups.
    pub redb: bool,
}

impl Parts {
    /// Every part.
    pub const ALL: Parts = Parts {
        tusk: true,
        tusk_heap: true,
        writer: true,
        hashmap: true,
        sled: true,
        lmdb: true,
        redb: true,
    };

    fn parse(list: &str) -> Result<Self> {
        let mut p = Parts {
            tusk: false,
            tusk_heap: false,
            writer: false,
            hashmap: false,
            sled: false,
            lmdb: false,
            redb: false,
        };
        for name in list.split(',').map(str::trim) {
            match name {
                "tusk" => p.tusk = true,
                "tusk-heap" => p.tusk_heap = true,
                "writer" => p.writer = true,
                "hashmap" => p.hashmap = true,
                "sled" => p.sled = true,
                "lmdb" => p.lmdb = true,
                "redb" => p.redb = true,
                other => {
                    return Err(BenchError::Args(format!(
                        "--only: unknown part {other:?} (expected tusk, tusk-heap, writer, hashmap, sled, lmdb, redb)"
                    )));
                }
            }
        }
        Ok(p)
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Record counts, one run each.
    pub keys: Vec<usize>,
    /// Hit probes per pass (and as many miss probes).
    pub probes: usize,
    /// Timed passes per measurement.
    pub passes: usize,
    /// Shards for the writer build.
    pub writer_shards: u32,
    /// Which parts to run.
    pub parts: Parts,
    /// sled's `cache_capacity` in bytes.
    pub sled_cache_bytes: u64,
    /// Where to put temp files (`None`: the system temp dir).
    pub dir: Option<PathBuf>,
    /// Print JSON instead of the table.
    pub json: bool,
    /// The format of the tusk shard (`tusk` and `tusk-heap`).
    pub shard_format: ShardFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keys: vec![1_000_000, 10_000_000],
            probes: 2_000_000,
            passes: 5,
            writer_shards: 8,
            parts: Parts::ALL,
            sled_cache_bytes: 1 << 30,
            dir: None,
            json: false,
            shard_format: ShardFormat::default(),
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T> {
    text.replace('_', "")
        .parse()
        .map_err(|_| BenchError::Args(format!("{flag} wants a number, got {text:?}")))
}

impl Config {
    /// Parses the arguments after the program name. `Ok(None)` for `--help`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Self>> {
        let mut c = Config::default();
        let mut quick = false;
        let (mut keys, mut probes, mut passes) = (None, None, None);
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| BenchError::Args(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--keys" => {
                    let list = value()?;
                    let parsed = list
                        .split(',')
                        .map(|n| number("--keys", n.trim()))
                        .collect::<Result<Vec<usize>>>()?;
                    keys = Some(parsed);
                }
                "--probes" => probes = Some(number("--probes", &value()?)?),
                "--passes" => passes = Some(number("--passes", &value()?)?),
                "--writer-shards" => c.writer_shards = number("--writer-shards", &value()?)?,
                "--only" => c.parts = Parts::parse(&value()?)?,
                "--sled-cache-mib" => {
                    let mb: u64 = number("--sled-cache-mib", &value()?)?;
                    c.sled_cache_bytes = mb << 20;
                }
                "--shard-format" => {
                    c.shard_format = value()?
                        .parse()
                        .map_err(|e| BenchError::Args(format!("--shard-format: {e}")))?;
                }
                "--dir" => c.dir = Some(PathBuf::from(value()?)),
                "--quick" => quick = true,
                "--json" => c.json = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(BenchError::Args(format!("unknown flag {other:?}\n{USAGE}"))),
            }
        }
        if quick {
            c.keys = vec![100_000];
            c.probes = 200_000;
            c.passes = 3;
        }
        c.keys = keys.unwrap_or(c.keys);
        c.probes = probes.unwrap_or(c.probes);
        c.passes = passes.unwrap_or(c.passes);
        if c.keys.is_empty() || c.keys.contains(&0) {
            return Err(BenchError::Args("--keys wants counts above zero".into()));
        }
        if c.probes == 0 || c.passes == 0 || c.writer_shards == 0 {
            return Err(BenchError::Args(
                "--probes, --passes and --writer-shards must be above zero".into(),
            ));
        }
        Ok(Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Config>> {
        Config::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_quick_and_overrides() {
        assert_eq!(parse(&[]).unwrap(), Some(Config::default()));
        let q = parse(&["--quick", "--passes", "4"]).unwrap().unwrap();
        assert_eq!((q.keys, q.probes, q.passes), (vec![100_000], 200_000, 4));
        let c = parse(&["--keys", "1_000,20000", "--json"])
            .unwrap()
            .unwrap();
        assert_eq!(c.keys, vec![1000, 20000]);
        assert!(c.json);
        let v1 = parse(&["--shard-format", "tusk-native-v1"])
            .unwrap()
            .unwrap();
        assert_eq!(v1.shard_format, ShardFormat::V1);
        let e = parse(&["--shard-format", "v3"]).unwrap_err().to_string();
        assert!(e.contains("--shard-format") && e.contains("\"v3\""), "{e}");
        assert_eq!(parse(&["--help"]).unwrap(), None);
        let o = parse(&["--only", "tusk,sled,redb", "--sled-cache-mib", "64"])
            .unwrap()
            .unwrap();
        assert_eq!(
            o.parts,
            Parts {
                tusk: true,
                tusk_heap: false,
                writer: false,
                hashmap: false,
                sled: true,
                lmdb: false,
                redb: true,
            }
        );
        assert_eq!(o.sled_cache_bytes, 64 << 20);
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = parse(&["--keys", "10,x"]).unwrap_err().to_string();
        assert!(e.contains("--keys") && e.contains("\"x\""), "{e}");
        let e = parse(&["--probes"]).unwrap_err().to_string();
        assert!(e.contains("--probes needs a value"), "{e}");
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--keys", "0"]).is_err());
        let e = parse(&["--only", "tusk,redis"]).unwrap_err().to_string();
        assert!(e.contains("\"redis\""), "{e}");
    }
}
