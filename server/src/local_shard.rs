//! One shard file on local disk, opened and checked against its manifest entry, and
//! the background re-check of its bytes (the scrubber's pass).
//!
//! [`LocalShard::open`] is the one way a shard is opened from disk. It checks what
//! costs nothing: the file's size and, from the footer, its record count, both
//! against the manifest entry, plus the format's constant-time `open` (magic,
//! version, footer, section bounds). It reads the whole file only when its bytes
//! were not checked already:
//! - a file just downloaded had its CRC32 checked by the download (the store
//!   verifies each chunk's CRC as it arrives and the combined CRC against the
//!   manifest before the file appears under its name); it also gets the format's
//!   full `verify` (every region's checksum and every lookup path) while its bytes
//!   are still in the page cache, so a shard the writer built wrong is refused
//!   before it is ever served;
//! - a file reopened at restart is trusted while it is still the very file an
//!   earlier run checked, as that run's stamp records ([`crate::stamp`]: size,
//!   inode, mtime); a file without a matching stamp gets `verify` and its CRC32
//!   compared with the manifest before it is served.
//!
//! The scrubber ([`LocalShard::scrub`]) re-reads every served file in the
//! background, so a restart never waits for a full pass and damage that happens
//! later is still found.
//!
//! An open warms the shard's hash index as its caller says ([`Warm`],
//! [`warm_index`]). When another
//! version is being served meanwhile ([`Warm::Now`]), the kernel reads it in and
//! maps it before `open` returns, so the first requests after the swap find it in
//! memory instead of faulting on it. When nothing is served yet (a start on
//! versions already on disk, [`Warm::Ahead`]), the node answers at once, its
//! first lookups perhaps from disk, and the loader pages the index in behind it,
//! on a low-priority thread ([`LocalShard::touch_index`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use memmap2::{Advice, Mmap};
use tusk_format::{Shard, ShardFormat};
use tusk_store::ShardEntry;

use crate::error::LoadError;
use crate::stamp::{self, FileStamp};

/// Most bytes read per step of a scrub pass (and between two checks of the rate).
const SCRUB_STEP: u64 = 1 << 20;
/// Fewest bytes read per step.
const MIN_SCRUB_STEP: u64 = 4096;
/// Longest sleep between two looks at the cancel flag.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// A shard file, memory-mapped and open. The file handle is kept so the scrubber
/// re-reads the very file (inode) the map shows, even after it was renamed over.
pub struct LocalShard {
    entry: ShardEntry,
    path: PathBuf,
    file: File,
    /// The map, shared as [`Bytes`] so a read hands out slices of it (values
    /// answered without a copy) that keep it mapped until they are dropped.
    shard: Shard<Bytes>,
    /// True once its bytes were checked in this process: by the download that
    /// wrote it, or by a scrub pass. False for a file reopened from disk.
    checked: AtomicBool,
}

/// How the CRC32 of a file being opened was checked (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// By the download that just wrote it.
    ByDownload,
    /// By a download in an earlier run, which stamped the file it checked
    /// (`None`: no stamp kept). The file is trusted only while it still matches
    /// that stamp ([`crate::stamp::trusts`]); otherwise it is checked in full at
    /// open. Either way the scrubber re-reads it soon.
    Recorded(Option<FileStamp>),
}

impl std::fmt::Debug for LocalShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalShard")
            .field("path", &self.path)
            .field("bytes", &self.entry.bytes)
            .finish()
    }
}

/// Why a scrub pass finds a shard no longer matching its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrubFinding {
    /// The file's size changed (it was truncated or grown in place).
    Size {
        /// Bytes now.
        actual: u64,
    },
    /// The bytes' CRC32 differs from the manifest's.
    Crc {
        /// CRC32 of the bytes now.
        actual: u32,
    },
}

impl ScrubFinding {
    /// A sentence naming what differs from `entry`.
    pub fn describe(&self, entry: &ShardEntry) -> String {
        match self {
            ScrubFinding::Size { actual } => format!(
                "has {actual} bytes, manifest says {} (changed in place)",
                entry.bytes
            ),
            ScrubFinding::Crc { actual } => format!(
                "crc32 of its bytes is {actual:08x}, manifest says {:08x}",
                entry.crc32
            ),
        }
    }
}

impl LocalShard {
    /// Opens `path` as shard `entry` of `version`, whose manifest names shard
    /// format `format`: size, record count and format against the manifest,
    /// constant-time format checks, memory map. Blocking (a few system
    /// calls): call from `spawn_blocking`. See the module docs for why there is no
    /// checksum pass here.
    pub fn open(
        version: &str,
        path: &Path,
        entry: &ShardEntry,
        format: ShardFormat,
        checked: Checked,
        warm: Warm,
    ) -> Result<LocalShard, LoadError> {
        let file = File::open(path).map_err(|e| LoadError::io(path, e))?;
        let meta = file.metadata().map_err(|e| LoadError::io(path, e))?;
        let actual = meta.len();
        if actual != entry.bytes {
            return Err(LoadError::ShardSize {
                version: version.to_string(),
                shard: entry.index,
                path: path.display().to_string(),
                expected: entry.bytes,
                actual,
            });
        }
        // SAFETY: shard files live in the server's private data dir and are written
        // once (download to `.part`, verify, rename); the server never modifies one
        // in place, and replaces or deletes them only by rename or unlink, which
        // keeps existing mappings valid. Damage from outside is found by the
        // scrubber, which re-reads through `file`, not through the map.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| LoadError::io(path, e))?;
        let format_error = |source| LoadError::Shard {
            version: version.to_string(),
            shard: entry.index,
            path: path.display().to_string(),
            source,
        };
        let shard = Shard::open(mmap).map_err(format_error)?;
        if shard.format() != format {
            return Err(LoadError::ShardFormat {
                version: version.to_string(),
                shard: entry.index,
                path: path.display().to_string(),
                expected: format,
                actual: shard.format(),
            });
        }
        // Whether every byte is checked now (then the scrubber need not hurry).
        let full_check = match checked {
            // The download checked the CRC32; the format's own pass remains.
            Checked::ByDownload => {
                shard.verify().map_err(format_error)?;
                true
            }
            Checked::Recorded(recorded)
                if stamp::trusts(recorded.as_ref(), &FileStamp::of(&meta)) =>
            {
                false
            }
            // Replaced or written to since its check (or never stamped): every
            // byte against the manifest before it is served.
            Checked::Recorded(_) => {
                let crc = shard.verify_with_crc32().map_err(format_error)?;
                if crc != entry.crc32 {
                    return Err(LoadError::ShardCrc {
                        version: version.to_string(),
                        shard: entry.index,
                        path: path.display().to_string(),
                        expected: entry.crc32,
                        actual: crc,
                    });
                }
                true
            }
        };
        warm_index(&shard, warm);
        let shard = Shard::open(Bytes::from_owner(shard.into_inner())).map_err(format_error)?;
        let records = shard.len();
        if records != entry.records {
            return Err(LoadError::ShardRecords {
                version: version.to_string(),
                shard: entry.index,
                path: path.display().to_string(),
                expected: entry.records,
                actual: records,
            });
        }
        Ok(LocalShard {
            entry: entry.clone(),
            path: path.to_path_buf(),
            file,
            shard,
            checked: AtomicBool::new(full_check),
        })
    }

    /// Reads one byte of every page of the hash index through the map, so the
    /// kernel pages it in (with its read-ahead) and later lookups find it in
    /// memory: the warm-up of a shard opened with [`Warm::Ahead`]. Blocking, as
    /// long as reading the index from disk takes: run it in the background.
    /// Returns the bytes of index it went over.
    pub fn touch_index(&self) -> usize {
        const PAGE: usize = 4096;
        let index = &self.shard.as_bytes()[self.shard.index_range()];
        let mut sum = 0u8;
        for page in index.chunks(PAGE) {
            sum = sum.wrapping_add(page[0]);
        }
        std::hint::black_box(sum);
        index.len()
    }

    /// True once its bytes were checked in this process (see [`Checked`]).
    pub fn is_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }

    /// Records a scrub pass that found the bytes matching.
    pub fn mark_checked(&self) {
        self.checked.store(true, Ordering::Relaxed);
    }

    /// The open shard, for lookups.
    pub fn shard(&self) -> &Shard<Bytes> {
        &self.shard
    }

    /// `value`, a slice a lookup in [`LocalShard::shard`] returned, as [`Bytes`]
    /// sharing the map: no copy, and the map stays alive while it is held. A
    /// slice from anywhere else (never passed here) is copied, not a panic.
    pub fn share(&self, value: &[u8]) -> Bytes {
        let map = self.shard.inner();
        let start = (value.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize);
        match start.checked_add(value.len()) {
            Some(end) if !value.is_empty() && end <= map.len() => map.slice(start..end),
            _ => Bytes::copy_from_slice(value),
        }
    }

    /// The manifest entry it was checked against.
    pub fn entry(&self) -> &ShardEntry {
        &self.entry
    }

    /// The local path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stamp of the open file as it is now (see [`crate::stamp`]).
    pub fn stamp(&self) -> std::io::Result<FileStamp> {
        self.file.metadata().map(|m| FileStamp::of(&m))
    }

    /// Re-reads the whole file through its handle (never through the map, so a
    /// file truncated in place cannot fault) at no more than `rate` bytes per
    /// second, and compares size and CRC32 with the manifest entry. `Ok(None)`: it
    /// still matches; `Ok(Some(_))`: it does not. Stops early (answering
    /// `Ok(None)`) once `cancel` is set. Blocking, long: run on a blocking thread.
    pub fn scrub(
        &self,
        rate: u64,
        cancel: &AtomicBool,
        scrubbed: &dyn Fn(u64),
    ) -> std::io::Result<Option<ScrubFinding>> {
        let actual = self.file.metadata()?.len();
        if actual != self.entry.bytes {
            return Ok(Some(ScrubFinding::Size { actual }));
        }
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; step_len(rate) as usize];
        let started = Instant::now();
        let mut done = 0u64;
        while done < actual {
            let want = (actual - done).min(buf.len() as u64) as usize;
            let n = self.file.read_at(&mut buf[..want], done)?;
            if n == 0 {
                // Shrunk while being read.
                return Ok(Some(ScrubFinding::Size { actual: done }));
            }
            hasher.update(&buf[..n]);
            done += n as u64;
            scrubbed(n as u64);
            let mut wait = pause(done, rate, started.elapsed());
            loop {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                if wait.is_zero() {
                    break;
                }
                let slice = wait.min(SLEEP_SLICE);
                std::thread::sleep(slice);
                wait -= slice;
            }
        }
        let crc = hasher.finalize();
        Ok((crc != self.entry.crc32).then_some(ScrubFinding::Crc { actual: crc }))
    }

    /// The format's own full verification over the mapped bytes (every block,
    /// record and index checksum). Used on a shard a read found damaged whose bytes
    /// still match the manifest: then the stored object itself is bad.
    pub fn verify_format(&self) -> Result<(), tusk_format::FormatError> {
        self.shard.verify()
    }
}

/// How [`LocalShard::open`] warms a shard's hash index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warm {
    /// Read in and mapped before `open` returns: the version is swapped in under
    /// traffic (the version served meanwhile answers it), and its first lookups
    /// must not fault.
    Now,
    /// Nothing done at open: nothing is served yet, and answering at once beats
    /// first lookups that never fault. A cold start would otherwise read every
    /// index (about 5 % of the shard bytes, and `MADV_WILLNEED` alone waits for
    /// much of it) before its first answer. The caller warms the index after the
    /// swap, in the background ([`LocalShard::touch_index`]).
    Ahead,
}

impl Warm {
    /// How to warm a version about to be swapped in, given whether the domain
    /// serves another one (`serving`) meanwhile.
    pub fn for_swap(serving: bool) -> Warm {
        if serving { Warm::Now } else { Warm::Ahead }
    }
}

/// With [`Warm::Now`], asks the kernel to read `shard`'s hash index in
/// (`MADV_WILLNEED`) and, on Linux, to map its pages into this process before
/// returning (`MADV_POPULATE_READ`, Linux 5.14+), so no lookup faults on it later.
/// Advice only: a kernel that refuses it changes nothing but the speed of the
/// first lookups. With [`Warm::Ahead`], nothing.
pub fn warm_index(shard: &Shard<Mmap>, warm: Warm) {
    let range = shard.index_range();
    if range.is_empty() || warm == Warm::Ahead {
        return;
    }
    let map = shard.inner();
    let _ = map.advise_range(Advice::WillNeed, range.start, range.len());
    #[cfg(target_os = "linux")]
    let _ = map.advise_range(Advice::PopulateRead, range.start, range.len());
}

/// Bytes per read step at `rate` bytes per second: about an eighth of a second's
/// worth, so the reads come in small, even bursts.
pub fn step_len(rate: u64) -> u64 {
    if rate == 0 {
        return SCRUB_STEP;
    }
    (rate / 8).clamp(MIN_SCRUB_STEP, SCRUB_STEP)
}

/// How long to sleep after `done` bytes read in `elapsed` so the pass stays at or
/// under `rate` bytes per second (0 = no bound).
pub fn pause(done: u64, rate: u64, elapsed: Duration) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let due = Duration::from_secs_f64(done as f64 / rate as f64);
    due.saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_keeps_the_pass_under_the_rate() {
        let mib = 1 << 20;
        // 1 MiB at 1 MiB/s after 0.25 s: wait the remaining 0.75 s.
        assert_eq!(
            pause(mib, mib, Duration::from_millis(250)),
            Duration::from_millis(750)
        );
        // Behind schedule: no wait.
        assert_eq!(pause(mib, mib, Duration::from_secs(2)), Duration::ZERO);
        assert_eq!(pause(mib, 0, Duration::ZERO), Duration::ZERO);
        assert_eq!(step_len(32 * mib), mib);
        assert_eq!(step_len(mib), mib / 8);
        assert_eq!(step_len(1000), MIN_SCRUB_STEP);
        assert_eq!(step_len(0), SCRUB_STEP);
    }

    /// Opens `path` as shard `entry` of version `v1`, whose manifest names the
    /// default format.
    fn open_v2(path: &Path, entry: &ShardEntry, checked: Checked) -> Result<LocalShard, LoadError> {
        LocalShard::open(
            "v1",
            path,
            entry,
            ShardFormat::default(),
            checked,
            Warm::Now,
        )
    }

    fn build(dir: &Path, records: &[(&[u8], &[u8])]) -> (PathBuf, ShardEntry) {
        build_in(dir, records, tusk_format::ShardFormat::default())
    }

    fn build_in(
        dir: &Path,
        records: &[(&[u8], &[u8])],
        format: tusk_format::ShardFormat,
    ) -> (PathBuf, ShardEntry) {
        let path = dir.join("shard-00000.tsk");
        let file = std::io::BufWriter::new(File::create(&path).expect("create"));
        let opts = tusk_format::BuildOptions {
            format,
            ..tusk_format::BuildOptions::default()
        };
        let mut builder = tusk_format::ShardBuilder::new(file, opts).expect("builder");
        for (k, v) in records {
            builder.add(k, v).expect("add");
        }
        let (writer, summary) = builder.finish().expect("finish");
        drop(writer.into_inner().expect("flush"));
        let bytes = std::fs::read(&path).expect("read");
        let entry = ShardEntry {
            index: 0,
            object: "shard-00000.tsk".into(),
            bytes: bytes.len() as u64,
            records: summary.records,
            crc32: crc32fast::hash(&bytes),
            content_hash: Some(tusk_store::ContentHash::of(&bytes)),
        };
        (path, entry)
    }

    #[test]
    fn a_shared_value_keeps_its_map_alive_after_the_shard_is_gone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (path, entry) = build(tmp.path(), &[(b"a", b""), (b"b", b"value of b")]);
        let shard = open_v2(&path, &entry, Checked::ByDownload).expect("opens");
        let found = shard.shard().get(b"b").expect("get").expect("present");
        let value = shard.share(found);
        // The same bytes, not a copy: the slice points into the map.
        assert_eq!(value.as_ptr(), found.as_ptr());
        let empty = shard.share(shard.shard().get(b"a").expect("get").expect("present"));
        assert!(empty.is_empty());
        // A slice of other memory is copied, never a panic.
        let elsewhere = shard.share(b"not from the map");
        assert_eq!(&elsewhere[..], b"not from the map");
        drop(shard);
        std::fs::remove_file(&path).expect("unlink");
        assert_eq!(&value[..], b"value of b");
    }

    #[test]
    fn open_checks_size_and_record_count_against_the_entry() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (path, entry) = build(tmp.path(), &[(b"a", b"1"), (b"b", b"2")]);
        let shard = open_v2(&path, &entry, Checked::ByDownload).expect("opens");
        assert_eq!(shard.shard().get(b"b").expect("get"), Some(&b"2"[..]));

        let mut wrong = entry.clone();
        wrong.records = 3;
        let err = open_v2(&path, &wrong, Checked::Recorded(None)).expect_err("record count");
        assert!(err.to_string().contains("2 records"), "{err}");
        wrong = entry.clone();
        wrong.bytes += 1;
        let err = open_v2(&path, &wrong, Checked::Recorded(None)).expect_err("size");
        assert!(err.to_string().contains("manifest says"), "{err}");
        let missing = tmp.path().join("nothing.tsk");
        assert!(open_v2(&missing, &entry, Checked::Recorded(None)).is_err());
    }

    /// The index is read in before the swap only when another version answers
    /// meanwhile; at a start the node answers at once.
    #[test]
    fn the_index_is_warmed_before_a_swap_only_under_traffic() {
        assert_eq!(Warm::for_swap(true), Warm::Now);
        assert_eq!(Warm::for_swap(false), Warm::Ahead);
    }

    #[test]
    fn touching_the_index_goes_over_exactly_the_index() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..2000)
            .map(|i| (format!("key-{i:05}").into_bytes(), vec![b'v'; 100]))
            .collect();
        let refs: Vec<(&[u8], &[u8])> = records.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let (path, entry) = build(tmp.path(), &refs);
        let shard = LocalShard::open(
            "v1",
            &path,
            &entry,
            ShardFormat::default(),
            Checked::ByDownload,
            Warm::Ahead,
        )
        .expect("opens");
        let index = shard.shard().index_range();
        assert!(!index.is_empty());
        assert_eq!(shard.touch_index(), index.len());
        assert_eq!(
            shard
                .shard()
                .get(b"key-01234")
                .expect("get")
                .map(<[u8]>::len),
            Some(100)
        );
    }

    /// A file whose header names another format than its manifest is refused,
    /// whichever way round, before it is checked or served.
    #[test]
    fn open_checks_the_format_against_the_manifest() {
        for (built, claimed) in [
            (ShardFormat::V1, ShardFormat::V2),
            (ShardFormat::V2, ShardFormat::V1),
        ] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let (path, entry) = build_in(tmp.path(), &[(b"a", b"1")], built);
            let err =
                LocalShard::open("v1", &path, &entry, claimed, Checked::ByDownload, Warm::Now)
                    .expect_err("another format");
            assert!(
                matches!(err, LoadError::ShardFormat { expected, actual, .. }
                    if expected == claimed && actual == built)
            );
            let text = err.to_string();
            assert!(
                text.contains(built.name()) && text.contains(claimed.name()),
                "{text}"
            );
            let shard =
                LocalShard::open("v1", &path, &entry, built, Checked::ByDownload, Warm::Now)
                    .expect("opens");
            assert_eq!(shard.shard().format(), built);
        }
    }

    /// Why a new version's shard is never taken from a local file with the same
    /// manifest entry: CRC32 is affine and format 1 stores each record's CRC
    /// beside it, so two well-formed shards whose records differ only in content
    /// (same lengths) have the same size, record count and whole-file CRC32.
    /// Servers still load format 1 shards, so the content hash stays needed.
    #[test]
    fn size_and_crc32_do_not_identify_a_shard() {
        let (one, two) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let v1 = tusk_format::ShardFormat::V1;
        let (path_1, entry_1) = build_in(one.path(), &[(b"a", b"v1:a"), (b"b", b"v1:b")], v1);
        let (path_2, entry_2) = build_in(two.path(), &[(b"a", b"v2:a"), (b"b", b"v2:b")], v1);
        assert_ne!(
            std::fs::read(path_1).expect("read"),
            std::fs::read(path_2).expect("read")
        );
        assert_eq!(
            (entry_1.bytes, entry_1.records, entry_1.crc32),
            (entry_2.bytes, entry_2.records, entry_2.crc32)
        );
    }

    #[test]
    fn a_file_matching_its_stamp_is_trusted_and_a_changed_one_is_checked_in_full() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (path, entry) = build(tmp.path(), &[(b"a", b"1"), (b"b", b"2")]);
        let stamp = FileStamp::of(&std::fs::metadata(&path).expect("stat"));

        // The very file that was checked: opened without reading it, left for
        // the scrubber.
        let trusted = open_v2(&path, &entry, Checked::Recorded(Some(stamp))).expect("opens");
        assert!(!trusted.is_checked());
        assert_eq!(trusted.stamp().expect("stat"), stamp);
        drop(trusted);

        // No stamp: checked in full, and it passes.
        let unstamped = open_v2(&path, &entry, Checked::Recorded(None)).expect("opens");
        assert!(unstamped.is_checked());
        drop(unstamped);

        // A manifest whose CRC32 is not the file's: the full check of an
        // unstamped file refuses it.
        let mut wrong = entry.clone();
        wrong.crc32 ^= 1;
        let err =
            open_v2(&path, &wrong, Checked::Recorded(None)).expect_err("not the manifest's bytes");
        assert!(matches!(err, LoadError::ShardCrc { .. }), "{err}");
        assert!(err.to_string().contains("manifest says"), "{err}");

        // One value byte changed in place, the size kept: the stamp no longer
        // matches (a later write moves the mtime; this one came within the same
        // clock tick as the stamp, so the test moves it), the full check runs and
        // the block's CRC refuses the file before it is served.
        let mut bytes = std::fs::read(&path).expect("read");
        let at = bytes.windows(2).position(|w| w == b"b2").expect("record b") + 1;
        bytes[at] = b'9';
        std::fs::write(&path, &bytes).expect("write in place");
        let later = std::time::SystemTime::UNIX_EPOCH
            + Duration::from_nanos(stamp.mtime_ns.unsigned_abs())
            + Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        let err = open_v2(&path, &entry, Checked::Recorded(Some(stamp)))
            .expect_err("a changed file is not trusted");
        assert!(matches!(err, LoadError::Shard { .. }), "{err}");
        assert_eq!(err.local_path(), Some(path.as_path()));
    }

    #[test]
    fn the_warmed_range_is_the_index_every_lookup_reads() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys: Vec<Vec<u8>> = (0..500u32)
            .map(|i| format!("k{i:04}").into_bytes())
            .collect();
        let records: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &b"v"[..])).collect();
        let (path, entry) = build(tmp.path(), &records);
        let shard = open_v2(&path, &entry, Checked::Recorded(None)).expect("opens");
        let range = shard.shard().index_range();
        assert_eq!(range.len() as u64, shard.shard().info().index_bytes);
        assert!(range.end as u64 <= entry.bytes && range.start > 0);
        // Zeroing that range in a copy makes lookups miss: it is the index.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[range].fill(0);
        let blanked = Shard::open(bytes).expect("open copy");
        assert_eq!(blanked.get(b"k0001").expect("get"), None);
        assert_eq!(shard.shard().get(b"k0001").expect("get"), Some(&b"v"[..]));
    }

    #[test]
    fn scrub_finds_bytes_changed_in_place_and_a_changed_size() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (path, entry) = build(tmp.path(), &[(b"key", b"value")]);
        let shard = open_v2(&path, &entry, Checked::ByDownload).expect("opens");
        let never = AtomicBool::new(false);
        let total = std::cell::Cell::new(0);
        let count = |n| total.set(total.get() + n);
        assert_eq!(shard.scrub(0, &never, &count).expect("scrub"), None);
        assert_eq!(total.get(), entry.bytes);

        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open for write");
        file.write_all_at(b"!", 20).expect("damage");
        let found = shard.scrub(0, &never, &count).expect("scrub");
        assert!(matches!(found, Some(ScrubFinding::Crc { .. })), "{found:?}");
        assert!(found.expect("finding").describe(&entry).contains("crc32"));

        file.set_len(entry.bytes - 1).expect("truncate");
        let found = shard.scrub(0, &never, &count).expect("scrub");
        assert_eq!(
            found,
            Some(ScrubFinding::Size {
                actual: entry.bytes - 1
            })
        );
    }
}
