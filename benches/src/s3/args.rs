//! Command-line options of the `s3` transfer bench.

use std::path::PathBuf;

use serde::Serialize;

use super::error::{S3BenchError, S3Result};

/// Usage text of the `s3` bench.
pub const S3_USAGE: &str = "\
usage: s3 [--big-mib N] [--shards N] [--shard-mib N] [--upload-files N]
          [--download-files N] [--ranges N] [--chunk-mib N] [--dir PATH] [--quick] [--json]

Starts moto (scripts/install-moto) on 127.0.0.1 and measures upload, verified parallel
download and one plain GET per object, for one big shard and a set of small shards.

  --big-mib         size of the single big shard in MiB (default 1024; 0 skips it)
  --shards          number of small shards (default 64; 0 skips them)
  --shard-mib       size of each small shard in MiB (default 16)
  --upload-files    files uploaded at once, each multipart (default 4, as Catalog::publish)
  --download-files  files downloaded at once (default 4, as tusk-server)
  --ranges          ranged GETs in flight per file and in total (default 4, as
                    tusk-server's download_concurrency)
  --chunk-mib       bytes per ranged GET in MiB (default 8)
  --dir             parent of the temp dir for source and downloaded files ($TMPDIR)
  --quick           smoke run: --big-mib 128 --shards 16
  --json            print one JSON object instead of the table
";

/// What the `s3` bench transfers and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3BenchConfig {
    /// Size of the one big shard (0: skip).
    pub big_bytes: u64,
    /// Number of small shards (0: skip).
    pub shards: usize,
    /// Size of each small shard.
    pub shard_bytes: u64,
    /// Files uploaded concurrently.
    pub upload_files: usize,
    /// Files downloaded concurrently.
    pub download_files: usize,
    /// Ranged GETs in flight per file, and in total across files.
    pub ranges: usize,
    /// Bytes per ranged GET.
    pub chunk_bytes: u64,
    /// Parent of the temp dir (`None`: the system temp dir).
    pub dir: Option<PathBuf>,
    /// Print JSON instead of the table.
    pub json: bool,
}

impl Default for S3BenchConfig {
    fn default() -> Self {
        S3BenchConfig {
            big_bytes: 1 << 30,
            shards: 64,
            shard_bytes: 16 << 20,
            upload_files: 4,
            download_files: 4,
            ranges: 4,
            chunk_bytes: 8 << 20,
            dir: None,
            json: false,
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> S3Result<T> {
    text.replace('_', "")
        .parse()
        .map_err(|_| S3BenchError::Args(format!("{flag} wants a number, got {text:?}")))
}

impl S3BenchConfig {
    /// Parses the arguments after the program name. `Ok(None)` for `--help`.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> S3Result<Option<Self>> {
        let mut c = S3BenchConfig::default();
        let mut quick = false;
        let (mut big_mib, mut shards) = (None, None);
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| S3BenchError::Args(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--big-mib" => big_mib = Some(number::<u64>("--big-mib", &value()?)?),
                "--shards" => shards = Some(number("--shards", &value()?)?),
                "--shard-mib" => c.shard_bytes = number::<u64>("--shard-mib", &value()?)? << 20,
                "--upload-files" => c.upload_files = number("--upload-files", &value()?)?,
                "--download-files" => c.download_files = number("--download-files", &value()?)?,
                "--ranges" => c.ranges = number("--ranges", &value()?)?,
                "--chunk-mib" => c.chunk_bytes = number::<u64>("--chunk-mib", &value()?)? << 20,
                "--dir" => c.dir = Some(PathBuf::from(value()?)),
                "--quick" => quick = true,
                "--json" => c.json = true,
                "-h" | "--help" => return Ok(None),
                other => {
                    return Err(S3BenchError::Args(format!(
                        "unknown flag {other:?}\n{S3_USAGE}"
                    )));
                }
            }
        }
        if quick {
            c.big_bytes = 128 << 20;
            c.shards = 16;
        }
        if let Some(mib) = big_mib {
            c.big_bytes = mib << 20;
        }
        c.shards = shards.unwrap_or(c.shards);
        if c.big_bytes == 0 && c.shards == 0 {
            return Err(S3BenchError::Args(
                "nothing to transfer: --big-mib and --shards are both 0".into(),
            ));
        }
        if c.shards > 0 && c.shard_bytes == 0 {
            return Err(S3BenchError::Args("--shard-mib must be above zero".into()));
        }
        if c.upload_files == 0 || c.download_files == 0 || c.ranges == 0 || c.chunk_bytes == 0 {
            return Err(S3BenchError::Args(
                "--upload-files, --download-files, --ranges and --chunk-mib must be above zero"
                    .into(),
            ));
        }
        Ok(Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> S3Result<Option<S3BenchConfig>> {
        S3BenchConfig::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_quick_and_overrides() {
        assert_eq!(parse(&[]).unwrap(), Some(S3BenchConfig::default()));
        let q = parse(&["--quick", "--shards", "8"]).unwrap().unwrap();
        assert_eq!((q.big_bytes, q.shards), (128 << 20, 8));
        let c = parse(&[
            "--big-mib",
            "0",
            "--ranges",
            "8",
            "--chunk-mib",
            "16",
            "--json",
        ])
        .unwrap()
        .unwrap();
        assert_eq!((c.big_bytes, c.ranges, c.chunk_bytes), (0, 8, 16 << 20));
        assert!(c.json);
        assert_eq!(parse(&["--help"]).unwrap(), None);
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &["--big-mib", "0", "--shards", "0"][..],
            &["--ranges", "0"],
            &["--shards", "x"],
            &["--bogus"],
            &["--dir"],
        ] {
            assert!(
                matches!(parse(bad), Err(S3BenchError::Args(_))),
                "{bad:?} was accepted"
            );
        }
    }
}
