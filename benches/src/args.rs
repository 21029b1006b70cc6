//! Command-line options of the `lookup` bench.

use std::path::PathBuf;

use crate::{BenchError, Result};

/// Usage text.
pub const USAGE: &str = "\
usage: lookup [--keys N[,N...]] [--probes N] [--passes N] [--writer-shards N]
              [--dir PATH] [--quick] [--json]

  --keys           record counts to run, comma separated (default 1000000,10000000)
  --probes         hit probes per pass, and as many miss probes (default 2000000)
  --passes         timed passes per measurement; the median is reported (default 5)
  --writer-shards  shard count for the tusk_writer build rate (default 8)
  --dir            parent of the temp dir for shard files and sled (default $TMPDIR)
  --quick          smoke run: --keys 100000 --probes 200000 --passes 3
  --json           print one JSON object instead of the table
";

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
    /// Where to put temp files (`None`: the system temp dir).
    pub dir: Option<PathBuf>,
    /// Print JSON instead of the table.
    pub json: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keys: vec![1_000_000, 10_000_000],
            probes: 2_000_000,
            passes: 5,
            writer_shards: 8,
            dir: None,
            json: false,
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
        assert_eq!(parse(&["--help"]).unwrap(), None);
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = parse(&["--keys", "10,x"]).unwrap_err().to_string();
        assert!(e.contains("--keys") && e.contains("\"x\""), "{e}");
        let e = parse(&["--probes"]).unwrap_err().to_string();
        assert!(e.contains("--probes needs a value"), "{e}");
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--keys", "0"]).is_err());
    }
}
