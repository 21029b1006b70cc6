//! Blocking file operations behind [`super::LocalStore`]. Every function here runs on
//! a blocking thread (`spawn_blocking`), never on an async worker.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind as IoKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::etag::{content_etag, is_content_etag, metadata_etag};
use super::lock::lock_object;
use crate::{GetResult, ObjectMeta, PutMode, Result, StoreError};

/// Buffer size for copying files.
const COPY_BUFFER: usize = 1 << 20;

/// A temporary file next to its object, removed on drop unless it was moved into
/// place. Its name starts with `.`, which no valid key segment does, so a leftover
/// temp file (after a crash) is never visible as an object.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(object: &Path) -> TempFile {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = object
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut seed = [0u8; 28];
        seed[..16].copy_from_slice(&nanos.to_le_bytes());
        seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        seed[20..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let random = xxhash_rust::xxh3::xxh3_64(&seed);
        TempFile {
            path: object.with_file_name(format!(".{name}.tmp-{random:016x}")),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == IoKind::NotFound => {}
            Err(e) => {
                tracing::warn!(temp = %self.path.display(), error = %e, "could not remove temp file")
            }
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

fn not_found(key: &str) -> StoreError {
    StoreError::NotFound {
        key: key.to_string(),
    }
}

/// Creates the parent directory of `object`.
fn create_parent(object: &Path) -> Result<()> {
    match object.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(io(parent)),
        None => Ok(()),
    }
}

/// Fsyncs the directory holding `object`, so a rename or link survives a crash.
fn sync_parent(object: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(parent) = object.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent))?;
    }
    #[cfg(not(unix))]
    let _ = object;
    Ok(())
}

/// Opens an object for reading; `None` when it does not exist (or is a directory).
fn open_object(object: &Path) -> Result<Option<(File, Metadata)>> {
    let file = match File::open(object) {
        Ok(f) => f,
        Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(StoreError::io(object, e)),
    };
    let meta = file.metadata().map_err(io(object))?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((file, meta)))
}

fn read_all(object: &Path, mut file: &File, size: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut buf).map_err(io(object))?;
    Ok(buf)
}

/// ETag of an open object; for small objects also their bytes (read to hash them).
fn etag_of(object: &Path, file: &File, meta: &Metadata) -> Result<(String, Option<Vec<u8>>)> {
    if is_content_etag(meta.len()) {
        let bytes = read_all(object, file, meta.len())?;
        Ok((content_etag(&bytes), Some(bytes)))
    } else {
        Ok((metadata_etag(meta), None))
    }
}

fn object_meta(key: &str, etag: String, meta: &Metadata) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size: meta.len(),
        etag,
        last_modified: meta.modified().ok(),
    }
}

/// Writes `data` to a new temp file next to `object` and fsyncs it.
fn write_temp(object: &Path, data: &[u8]) -> Result<(TempFile, Metadata)> {
    create_parent(object)?;
    let tmp = TempFile::new(object);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp.path)
        .map_err(io(&tmp.path))?;
    f.write_all(data).map_err(io(&tmp.path))?;
    f.sync_all().map_err(io(&tmp.path))?;
    let meta = f.metadata().map_err(io(&tmp.path))?;
    Ok((tmp, meta))
}

/// Current ETag of `object`, `None` when it does not exist.
fn current_etag(object: &Path) -> Result<Option<String>> {
    match open_object(object)? {
        Some((file, meta)) => Ok(Some(etag_of(object, &file, &meta)?.0)),
        None => Ok(None),
    }
}

/// `ObjectStore::put` for one object path.
pub(crate) fn put(key: &str, object: &Path, data: &[u8], mode: &PutMode) -> Result<ObjectMeta> {
    let (tmp, meta) = write_temp(object, data)?;
    let etag = if is_content_etag(meta.len()) {
        content_etag(data)
    } else {
        metadata_etag(&meta)
    };
    match mode {
        PutMode::Create => match std::fs::hard_link(&tmp.path, object) {
            Ok(()) => {}
            Err(e) if e.kind() == IoKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists {
                    key: key.to_string(),
                });
            }
            Err(e) => return Err(StoreError::io(object, e)),
        },
        PutMode::Overwrite => {
            let _lock = lock_object(key, object)?;
            std::fs::rename(&tmp.path, object).map_err(io(object))?;
        }
        PutMode::UpdateIf(expected) => {
            let _lock = lock_object(key, object)?;
            let found = current_etag(object)?;
            if found.as_deref() != Some(expected.as_str()) {
                return Err(StoreError::Conflict {
                    key: key.to_string(),
                    detail: format!(
                        "expected etag {expected}, found {}; re-read and retry",
                        found.as_deref().unwrap_or("no object")
                    ),
                });
            }
            std::fs::rename(&tmp.path, object).map_err(io(object))?;
        }
    }
    drop(tmp);
    sync_parent(object)?;
    Ok(object_meta(key, etag, &meta))
}

/// Copies `src` to `dest` (a new file), returning the CRC32 of the bytes copied.
fn copy_with_crc(src: &Path, dest: &Path) -> Result<u32> {
    let mut from = File::open(src).map_err(io(src))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(io(dest))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => return Err(StoreError::io(src, e)),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n]).map_err(io(dest))?;
    }
    to.sync_all().map_err(io(dest))?;
    Ok(hasher.finalize())
}

/// Puts `src` in place of `tmp` by hard link (same filesystem) or copy. With
/// `allow_link = false` it always copies (tests use this to exercise the copy).
///
/// Either way the object's modification time is the time of this put, as on S3: gc
/// judges ages by it. A link shares its inode (and so its times) with `src`, which
/// the producer wrote earlier, so the time is set to now after linking; that also
/// touches `src`, which is harmless. Where it cannot be set (a file owned by another
/// user), the link is dropped for a copy.
fn link_or_copy(key: &str, src: &Path, tmp: &Path, crc32: u32, allow_link: bool) -> Result<()> {
    if allow_link && std::fs::hard_link(src, tmp).is_ok() {
        match stamp_and_sync(tmp) {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::debug!(path = %tmp.display(), error = %e, "cannot set the time of a linked upload; copying instead");
                std::fs::remove_file(tmp).map_err(io(tmp))?;
            }
        }
    }
    let copied = copy_with_crc(src, tmp)?;
    if copied != crc32 {
        return Err(StoreError::Checksum {
            key: key.to_string(),
            detail: format!(
                "uploading {}: expected crc32 {crc32:08x}, the bytes copied have {copied:08x}",
                src.display()
            ),
        });
    }
    Ok(())
}

/// Sets the modification time of `path` to now and fsyncs it (the source was
/// written by its producer, maybe without a sync).
fn stamp_and_sync(path: &Path) -> std::io::Result<()> {
    let file = File::open(path)?;
    file.set_modified(std::time::SystemTime::now())?;
    file.sync_all()
}

/// `ObjectStore::put_file` for one object path.
pub(crate) fn put_file(
    key: &str,
    object: &Path,
    src: &Path,
    crc32: u32,
    allow_link: bool,
) -> Result<ObjectMeta> {
    let src_meta = std::fs::metadata(src).map_err(io(src))?;
    if !src_meta.is_file() {
        return Err(StoreError::Invalid {
            what: "upload source".to_string(),
            detail: format!("{} is not a regular file", src.display()),
        });
    }
    create_parent(object)?;
    let tmp = TempFile::new(object);
    link_or_copy(key, src, &tmp.path, crc32, allow_link)?;
    let file = File::open(&tmp.path).map_err(io(&tmp.path))?;
    let meta = file.metadata().map_err(io(&tmp.path))?;
    let (etag, _) = etag_of(&tmp.path, &file, &meta)?;
    {
        let _lock = lock_object(key, object)?;
        std::fs::rename(&tmp.path, object).map_err(io(object))?;
    }
    drop(tmp);
    sync_parent(object)?;
    Ok(object_meta(key, etag, &meta))
}

/// `ObjectStore::get`.
pub(crate) fn get(key: &str, object: &Path) -> Result<GetResult> {
    let (file, meta) = open_object(object)?.ok_or_else(|| not_found(key))?;
    let (etag, bytes) = etag_of(object, &file, &meta)?;
    let bytes = match bytes {
        Some(b) => b,
        None => read_all(object, &file, meta.len())?,
    };
    Ok(GetResult {
        bytes: Bytes::from(bytes),
        etag,
    })
}

/// `ObjectStore::get_if_changed`.
pub(crate) fn get_if_changed(
    key: &str,
    object: &Path,
    known: Option<&str>,
) -> Result<Option<GetResult>> {
    let (file, meta) = open_object(object)?.ok_or_else(|| not_found(key))?;
    let (etag, bytes) = etag_of(object, &file, &meta)?;
    if known == Some(etag.as_str()) {
        return Ok(None);
    }
    let bytes = match bytes {
        Some(b) => b,
        None => read_all(object, &file, meta.len())?,
    };
    Ok(Some(GetResult {
        bytes: Bytes::from(bytes),
        etag,
    }))
}

/// `ObjectStore::get_range`.
pub(crate) fn get_range(key: &str, object: &Path, offset: u64, len: u64) -> Result<Bytes> {
    let (mut file, meta) = open_object(object)?.ok_or_else(|| not_found(key))?;
    let size = meta.len();
    if offset >= size || len == 0 {
        return Ok(Bytes::new());
    }
    let want = len.min(size - offset);
    let capacity = usize::try_from(want).map_err(|_| StoreError::Invalid {
        what: "range length".to_string(),
        detail: format!("{want} bytes of {key} do not fit in memory"),
    })?;
    file.seek(SeekFrom::Start(offset)).map_err(io(object))?;
    let mut buf = Vec::with_capacity(capacity);
    file.take(want).read_to_end(&mut buf).map_err(io(object))?;
    Ok(Bytes::from(buf))
}

/// `ObjectStore::head`.
pub(crate) fn head(key: &str, object: &Path) -> Result<ObjectMeta> {
    let (file, meta) = open_object(object)?.ok_or_else(|| not_found(key))?;
    let (etag, _) = etag_of(object, &file, &meta)?;
    Ok(object_meta(key, etag, &meta))
}

/// `ObjectStore::delete`.
pub(crate) fn delete(key: &str, object: &Path) -> Result<()> {
    match std::fs::symlink_metadata(object) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => return Ok(()),
        Err(e) => return Err(StoreError::io(object, e)),
    }
    {
        let _lock = lock_object(key, object)?;
        match std::fs::remove_file(object) {
            Ok(()) => {}
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(object, e)),
        }
    }
    sync_parent(object)
}

/// `ObjectStore::list`: every object under `root` whose key starts with `prefix`,
/// in key order. Names starting with `.` (temp and lock files) are skipped.
pub(crate) fn list(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    let (dir_key, start) = match prefix.rfind('/') {
        Some(i) => (&prefix[..=i], root.join(&prefix[..i])),
        None => ("", root.to_path_buf()),
    };
    let mut out = Vec::new();
    walk(&start, dir_key, prefix, &mut out)?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

fn walk(dir: &Path, dir_key: &str, prefix: &str, out: &mut Vec<ObjectMeta>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => return Ok(()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %dir.display(), name = ?entry.file_name(), "skipping a file name that is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let key = format!("{dir_key}{name}");
        let path = entry.path();
        let file_type = entry.file_type().map_err(io(&path))?;
        if file_type.is_dir() {
            let sub_key = format!("{key}/");
            if sub_key.starts_with(prefix) || prefix.starts_with(&sub_key) {
                walk(&path, &sub_key, prefix, out)?;
            }
        } else if key.starts_with(prefix) {
            // Vanished since read_dir (deleted concurrently): not listed.
            if let Some((file, meta)) = open_object(&path)? {
                let (etag, _) = etag_of(&path, &file, &meta)?;
                out.push(object_meta(&key, etag, &meta));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_checks_crc_and_leaves_no_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"shard bytes").expect("write src");
        let object = dir.path().join("store").join("obj");
        let good = crc32fast::hash(b"shard bytes");
        let err =
            put_file("d/obj", &object, &src, good ^ 1, false).expect_err("wrong crc must fail");
        assert_eq!(err.kind(), crate::ErrorKind::Corrupt, "{err}");
        assert!(err.to_string().contains("d/obj"), "{err}");
        assert!(!object.exists());
        let leftovers: Vec<_> = std::fs::read_dir(object.parent().expect("parent"))
            .expect("read dir")
            .collect();
        assert!(leftovers.is_empty(), "temp file left behind: {leftovers:?}");

        let meta = put_file("d/obj", &object, &src, good, false).expect("copy");
        assert_eq!(meta.size, 11);
        assert_eq!(std::fs::read(&object).expect("read"), b"shard bytes");
        assert_eq!(
            std::fs::read(&src).expect("read src"),
            b"shard bytes",
            "source untouched"
        );
    }

    #[test]
    fn linked_upload_has_same_etag_as_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data).expect("write src");
        let object = dir.path().join("store").join("big");
        let put = put_file("d/big", &object, &src, crc32fast::hash(&data), true).expect("put_file");
        let headed = head("d/big", &object).expect("head");
        assert_eq!(put.etag, headed.etag);
        assert!(
            put.etag.starts_with('m'),
            "big objects get metadata etags: {}",
            put.etag
        );
        assert!(src.exists(), "source kept");
    }

    #[test]
    fn uploads_are_timed_by_the_put_not_the_build() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("built.tsk");
        let data: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 249) as u8).collect();
        std::fs::write(&src, &data).expect("write src");
        let built = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&src)
            .and_then(|f| f.set_modified(built))
            .expect("age the source");
        let crc = crc32fast::hash(&data);
        for allow_link in [true, false] {
            let object = dir.path().join("store").join(format!("obj-{allow_link}"));
            // File times come from the kernel's coarse clock, which may lag
            // `SystemTime::now()` by a tick: allow a second (the build was an hour ago).
            let before_put = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
            let put = put_file("d/obj", &object, &src, crc, allow_link).expect("put_file");
            let headed = head("d/obj", &object).expect("head");
            for (what, meta) in [("put", &put), ("head", &headed)] {
                let at = meta.last_modified.expect("local files have times");
                assert!(
                    at >= before_put,
                    "link {allow_link}: {what} reports {at:?}, before the put at {before_put:?} (the build time?)"
                );
            }
            assert_eq!(put.etag, headed.etag, "link {allow_link}");
            assert_eq!(std::fs::read(&object).expect("read"), data);
        }
    }
}
