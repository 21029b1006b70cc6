//! Source files of random bytes (SplitMix64, deterministic per seed) with their CRC32.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{S3BenchError, S3Result};

/// Bytes generated per write.
const BLOCK: usize = 1 << 20;

/// One local file to transfer, with what the store must give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it is on local disk.
    pub path: PathBuf,
    /// Object key it is uploaded as.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// CRC32 (crc32fast) of its bytes.
    pub crc32: u32,
}

/// SplitMix64: a tiny, fast PRNG that is plenty for incompressible test bytes.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `buf` with random bytes (little-endian words, so the bytes are the
    /// same on every machine).
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut words = buf.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        let last = self.next_u64().to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
    }
}

/// Writes `size` random bytes from `seed` to `path` (blocking) and returns the file
/// with its CRC32, to be uploaded as `key`.
pub fn write_random_file(path: &Path, key: &str, size: u64, seed: u64) -> S3Result<SourceFile> {
    let file = File::create(path).map_err(|e| S3BenchError::io("creating", path, e))?;
    let mut out = BufWriter::with_capacity(BLOCK, file);
    let mut rng = SplitMix64::new(seed);
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; BLOCK];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(BLOCK as u64)).expect("at most BLOCK");
        rng.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| S3BenchError::io("writing", path, e))?;
        left -= n as u64;
    }
    out.into_inner()
        .map_err(|e| S3BenchError::io("flushing", path, e.into_error()))?
        .sync_all()
        .map_err(|e| S3BenchError::io("syncing", path, e))?;
    Ok(SourceFile {
        path: path.to_path_buf(),
        key: key.to_string(),
        size,
        crc32: hasher.finalize(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_deterministic_and_differ_by_seed() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_random_file(&dir.path().join("a"), "a", 3 * 1000 + 5, 1).unwrap();
        let b = write_random_file(&dir.path().join("b"), "b", 3 * 1000 + 5, 1).unwrap();
        let c = write_random_file(&dir.path().join("c"), "c", 3 * 1000 + 5, 2).unwrap();
        let bytes = std::fs::read(&a.path).unwrap();
        assert_eq!(bytes.len(), 3005);
        assert_eq!(bytes, std::fs::read(&b.path).unwrap());
        assert_ne!(bytes, std::fs::read(&c.path).unwrap());
        assert_eq!(a.crc32, crc32fast::hash(&bytes));
        assert_ne!(a.crc32, c.crc32);
    }
}
