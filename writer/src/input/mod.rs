//! Input sources: expanding paths into files, opening them (with transparent
//! decompression), and feeding their parsed records to the collector. Line formats
//! (TSV, JSONL) are read here; CSV in `csv.rs`, Parquet in `parquet.rs`.

mod csv;
mod parquet;
mod zstd;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use flate2::read::MultiGzDecoder;

use crate::collect::Collector;
use crate::error::{Location, Result, WriteError};
use crate::options::{InputFormat, InputOptions, InputSource};
use crate::parse::LineParser;
use crate::progress::Progress;
use crate::record::{Origin, Record};
use crate::segment::Segment;

const READ_BUFFER: usize = 256 * 1024;

/// One file (or stdin) to read, with the name used in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    path: Option<PathBuf>,
}

/// Expands the sources: a directory becomes its regular files, recursively, in name
/// order, without hidden entries (for CSV and Parquet also without a job's marker
/// and checksum files: see [`skipped_in_job_output`]).
pub(crate) fn expand(sources: &[InputSource], format: InputFormat) -> Result<Vec<SourceFile>> {
    let job_output = format.is_columnar();
    let mut files = Vec::new();
    for source in sources {
        match source {
            InputSource::Stdin => files.push(SourceFile {
                name: "stdin".to_string(),
                path: None,
            }),
            InputSource::Path(path) => {
                let meta = std::fs::metadata(path).map_err(|e| open_error(path, e))?;
                if meta.is_dir() {
                    walk(path, job_output, &mut files)?;
                } else {
                    files.push(SourceFile::file(path));
                }
            }
        }
    }
    Ok(files)
}

/// The input's size as stored (what `BytesRead` will add up to): the sum of the
/// files' sizes, or `None` when one is stdin or not a regular file (a pipe or a
/// device, whose size says nothing), or cannot be looked at.
pub(crate) fn total_size(files: &[SourceFile]) -> Option<u64> {
    files.iter().try_fold(0u64, |sum, file| {
        let meta = std::fs::metadata(file.path.as_ref()?).ok()?;
        meta.is_file().then(|| sum.saturating_add(meta.len()))
    })
}

impl SourceFile {
    fn file(path: &Path) -> Self {
        SourceFile {
            name: path.display().to_string(),
            path: Some(path.to_path_buf()),
        }
    }
}

fn open_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Open {
        path: path.display().to_string(),
        source,
    }
}

/// True for the names a directory of Spark or Hadoop output holds beside its part
/// files: `_SUCCESS`, `_committed_*`, `_started_*`, `_metadata` (Hadoop hides names
/// starting with `_` or `.`) and `.crc` checksum files.
pub(crate) fn skipped_in_job_output(name: &[u8]) -> bool {
    name.starts_with(b"_") || name.starts_with(b".") || name.ends_with(b".crc")
}

fn walk(dir: &Path, job_output: bool, out: &mut Vec<SourceFile>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .and_then(|rd| rd.collect::<io::Result<Vec<_>>>())
        .map_err(|e| open_error(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        if name.starts_with(b".") || (job_output && skipped_in_job_output(name)) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| open_error(&path, e))?;
        if kind.is_dir() {
            walk(&path, job_output, out)?;
        } else if kind.is_file() {
            out.push(SourceFile::file(&path));
        } else if kind.is_symlink() {
            // Follow links to files; links to directories are skipped (no cycles).
            let meta = std::fs::metadata(&path).map_err(|e| open_error(&path, e))?;
            if meta.is_file() {
                out.push(SourceFile::file(&path));
            }
        }
    }
    Ok(())
}

/// Counts the bytes read from the underlying file or stdin.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a source; `.gz` and `.zst` files are decompressed.
fn open(source: &SourceFile, count: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let Some(path) = &source.path else {
        let stdin = Counting {
            inner: io::stdin(),
            count,
        };
        return Ok(Box::new(BufReader::with_capacity(READ_BUFFER, stdin)));
    };
    let file = File::open(path).map_err(|e| open_error(path, e))?;
    let raw = Counting { inner: file, count };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(match ext {
        "gz" => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(BufReader::new(raw)),
        )),
        "zst" => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            zstd::ZstdReader::new(BufReader::new(raw)),
        )),
        _ => Box::new(BufReader::with_capacity(READ_BUFFER, raw)),
    })
}

/// Reads one line into `buf` without its `\n` or `\r\n`. `false` at the end of the
/// input. A line longer than `max` bytes is an `InvalidData` error.
pub(crate) fn read_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<bool> {
    buf.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line longer than {max} bytes"),
        ));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(true)
}

/// Longest input line accepted: room for the largest key and value in any encoding.
fn max_line_len(max_value_len: u64) -> usize {
    let content = (tusk_format::MAX_KEY_LEN as u64).saturating_add(max_value_len);
    usize::try_from(content.saturating_mul(8).saturating_add(4096)).unwrap_or(usize::MAX)
}

/// A batch (a [`Segment`] in input order) is handed over before it would pass
/// this many bytes of keys and values...
const BATCH_BYTES: usize = 1 << 20;
/// ... or this many records.
const BATCH_RECORDS: usize = 16 * 1024;
/// Batches read ahead of the collector: bounds the memory in flight to about
/// `(BATCHES_AHEAD + 2) * BATCH_BYTES` beside the budget (a record larger than a
/// batch travels alone).
const BATCHES_AHEAD: usize = 2;

/// Where a reader puts the records it parses, on its own thread: into batches, sent
/// to the calling thread, which hands them to the collector (see [`read_all`]).
pub(crate) struct Feed {
    batch: Segment,
    batches: mpsc::SyncSender<Result<Segment>>,
    count: Arc<AtomicU64>,
}

impl Feed {
    /// Adds one record to the batch, sending the batch first if the record would
    /// make it too large.
    fn push(&mut self, key: &[u8], value: &[u8], origin: Origin) -> Result<()> {
        if self.batch.is_full_for(key.len() + value.len(), BATCH_BYTES)
            || self.batch.len() >= BATCH_RECORDS
        {
            self.send()?;
        }
        self.batch.push(key, value, origin);
        Ok(())
    }

    /// Sends the batch. Fails only when the calling thread stopped taking batches
    /// (it met an error of its own, which is the one reported).
    fn send(&mut self) -> Result<()> {
        let batch = std::mem::replace(
            &mut self.batch,
            Segment::with_capacity(BATCH_BYTES, BATCH_RECORDS),
        );
        self.batches.send(Ok(batch)).map_err(|_| {
            WriteError::InvalidOptions("the collector stopped taking records".to_string())
        })
    }

    /// The count of input bytes read, for the [`Counting`] readers.
    fn count(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.count)
    }

    /// Counts bytes read without a [`Counting`] reader (Parquet row groups).
    fn add_bytes(&self, bytes: u64) {
        self.count.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Reads every source in order into `collector`; returns the input bytes read.
///
/// Each file is read and parsed on a thread of its own while the calling thread
/// hands the parsed records to the collector (which routes, copies and sorts
/// them), so parsing overlaps collecting. Records keep their input order.
pub(crate) fn read_all(
    files: &[SourceFile],
    input: &InputOptions,
    collector: &mut Collector,
    progress: &mut Progress,
) -> Result<u64> {
    match input.format {
        InputFormat::Csv => csv::check_columns(input)?,
        InputFormat::Parquet if files.iter().any(|f| f.path.is_none()) => {
            return Err(parquet::stdin_error());
        }
        _ => {}
    }
    let max_line = max_line_len(collector.max_value_len());
    let mut lines = LineReader {
        parser: LineParser::new(input),
        line: Vec::new(),
        max_line,
    };
    let count = Arc::new(AtomicU64::new(0));
    let mut reported = 0;
    for (index, file) in files.iter().enumerate() {
        let source = u32::try_from(index)
            .ok()
            .filter(|&s| s != crate::record::ITER_SOURCE)
            .ok_or_else(|| {
                WriteError::InvalidOptions(format!("too many input files ({})", files.len()))
            })?;
        let (batches, received) = mpsc::sync_channel::<Result<Segment>>(BATCHES_AHEAD);
        let mut feed = Feed {
            batch: Segment::with_capacity(BATCH_BYTES, BATCH_RECORDS),
            batches,
            count: Arc::clone(&count),
        };
        let lines = &mut lines;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let read = match input.format {
                    InputFormat::Tsv | InputFormat::Jsonl => lines.read(file, source, &mut feed),
                    InputFormat::Csv => csv::read(file, source, input, &mut feed),
                    InputFormat::Parquet => parquet::read(file, source, input, &mut feed),
                };
                // What was read before an error goes first, as it was read.
                if feed.send().is_ok()
                    && let Err(e) = read
                {
                    let _ = feed.batches.send(Err(e));
                }
            });
            // On an error `received` is dropped on return, the reading thread's next
            // send fails and it stops; the scope then joins it.
            for batch in received {
                let batch = batch?;
                for rec in batch.records() {
                    collector.push(rec.key(), rec.value(), rec.origin())?;
                }
                let total = count.load(Ordering::Relaxed);
                progress.read(total - reported, batch.len() as u64);
                reported = total;
            }
            Ok::<_, WriteError>(())
        })?;
    }
    progress.flush();
    Ok(count.load(Ordering::Relaxed))
}

/// Reads TSV or JSONL, line by line.
struct LineReader {
    parser: LineParser,
    line: Vec<u8>,
    max_line: usize,
}

impl LineReader {
    fn read(&mut self, file: &SourceFile, source: u32, feed: &mut Feed) -> Result<()> {
        let mut reader = open(file, feed.count())?;
        let mut line_no = 0u64;
        loop {
            line_no += 1;
            let location = || Location::Line {
                source: file.name.clone(),
                line: line_no,
            };
            match read_line(&mut *reader, &mut self.line, self.max_line) {
                Ok(true) => {}
                Ok(false) => break,
                Err(source) => {
                    return Err(WriteError::Read {
                        location: location(),
                        source,
                    });
                }
            }
            let parsed = self
                .parser
                .parse(&self.line)
                .map_err(|detail| WriteError::Input {
                    location: location(),
                    detail,
                })?;
            if let Some((key, value)) = parsed {
                let origin = Origin {
                    source,
                    line: line_no,
                };
                feed.push(key, value, origin)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_crlf_and_keep_a_last_line_without_newline() {
        let mut input: &[u8] = b"a\r\nb\n\nlast";
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut input, &mut buf, 100).unwrap() {
            lines.push(String::from_utf8(buf.clone()).unwrap());
        }
        assert_eq!(lines, ["a", "b", "", "last"]);
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut input: &[u8] = b"0123456789\nshort\n";
        let mut buf = Vec::new();
        let err = read_line(&mut input, &mut buf, 5).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut input: &[u8] = b"12345\n";
        assert!(read_line(&mut input, &mut buf, 5).unwrap());
        assert_eq!(buf, b"12345");
    }

    #[test]
    fn total_size_sums_regular_files_and_is_unknown_with_stdin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.tsv"), "k\tv\n").unwrap();
        std::fs::write(dir.path().join("b.tsv"), "key\tvalue\n").unwrap();
        let files = expand(
            &[InputSource::Path(dir.path().to_path_buf())],
            InputFormat::Tsv,
        )
        .unwrap();
        assert_eq!(total_size(&files), Some(4 + 10));
        assert_eq!(total_size(&[]), Some(0));
        let with_stdin = expand(
            &[
                InputSource::Path(dir.path().join("a.tsv")),
                InputSource::Stdin,
            ],
            InputFormat::Tsv,
        )
        .unwrap();
        assert_eq!(total_size(&with_stdin), None);
        #[cfg(unix)]
        {
            let pipe = expand(&[InputSource::Path("/dev/null".into())], InputFormat::Tsv).unwrap();
            assert_eq!(total_size(&pipe), None, "a device's size is unknown");
        }
    }

    #[test]
    fn directories_expand_in_name_order_without_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("b")).unwrap();
        std::fs::create_dir(root.join(".hidden")).unwrap();
        for name in [
            "c.tsv",
            "a.tsv",
            "b/z.tsv",
            "b/a.tsv",
            ".dot.tsv",
            ".hidden/x.tsv",
        ] {
            std::fs::write(root.join(name), "k\tv\n").unwrap();
        }
        let files = expand(
            &[InputSource::Path(root.to_path_buf()), InputSource::Stdin],
            InputFormat::Tsv,
        )
        .unwrap();
        let names: Vec<_> = files.iter().map(|f| f.name.clone()).collect();
        let expect = |p: &str| root.join(p).display().to_string();
        assert_eq!(
            names,
            [
                expect("a.tsv"),
                expect("b/a.tsv"),
                expect("b/z.tsv"),
                expect("c.tsv"),
                "stdin".to_string()
            ]
        );
        let err = expand(&[InputSource::Path(root.join("missing"))], InputFormat::Tsv).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn job_output_directories_skip_markers_and_checksums() {
        for name in [
            "_SUCCESS",
            "_committed_123",
            "_started_123",
            "_metadata",
            ".part-00000.snappy.parquet.crc",
            "part-00000.csv.crc",
        ] {
            assert!(skipped_in_job_output(name.as_bytes()), "{name}");
        }
        for name in [
            "part-00000-abc-c000.snappy.parquet",
            "part-00001.csv",
            "data",
        ] {
            assert!(!skipped_in_job_output(name.as_bytes()), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        for name in ["_SUCCESS", "part-0.csv", "part-0.csv.crc", "sub/_SUCCESS"] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let names = |format| {
            expand(&[InputSource::Path(dir.path().to_path_buf())], format)
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
        };
        let expect = |p: &str| dir.path().join(p).display().to_string();
        assert_eq!(names(InputFormat::Csv), [expect("part-0.csv")]);
        assert_eq!(names(InputFormat::Parquet), [expect("part-0.csv")]);
        // Line formats keep their rule: only dot-files are hidden.
        assert_eq!(
            names(InputFormat::Tsv),
            [
                expect("_SUCCESS"),
                expect("part-0.csv"),
                expect("part-0.csv.crc"),
                expect("sub/_SUCCESS")
            ]
        );
    }
}
