//! Sorted run files: records spilled to disk when the memory budget is reached.
//!
//! Framing, all little-endian: `key_len: u32, value_len: u64, source: u32, line: u64`,
//! then the key and value bytes. Runs are private temporary files, read back once.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, WriteError};
use crate::record::{InputRecord, Origin, Record};

const HEADER: usize = 4 + 8 + 4 + 8;
const WRITE_BUFFER: usize = 64 * 1024;

/// Writes one sorted run.
pub(crate) struct RunWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl RunWriter {
    pub(crate) fn create(path: PathBuf) -> Result<Self> {
        let file = File::create(&path).map_err(|e| WriteError::temp(&path, e))?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            path,
        })
    }

    pub(crate) fn write(&mut self, rec: &impl Record) -> Result<()> {
        let (key, value, origin) = (rec.key(), rec.value(), rec.origin());
        let mut header = [0u8; HEADER];
        header[0..4].copy_from_slice(&(key.len() as u32).to_le_bytes());
        header[4..12].copy_from_slice(&(value.len() as u64).to_le_bytes());
        header[12..16].copy_from_slice(&origin.source.to_le_bytes());
        header[16..24].copy_from_slice(&origin.line.to_le_bytes());
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(key))
            .and_then(|()| self.out.write_all(value))
            .map_err(|e| WriteError::temp(&self.path, e))
    }

    /// Flushes and closes the run; returns its path.
    pub(crate) fn finish(self) -> Result<PathBuf> {
        let RunWriter { out, path } = self;
        out.into_inner()
            .map_err(|e| WriteError::temp(&path, e.into_error()))?;
        Ok(path)
    }
}

/// Reads a run back in order.
pub(crate) struct RunReader {
    input: BufReader<File>,
    path: PathBuf,
    max_value_len: u64,
}

impl RunReader {
    pub(crate) fn open(path: &Path, buffer: usize, max_value_len: u64) -> Result<Self> {
        let file = File::open(path).map_err(|e| WriteError::temp(path, e))?;
        Ok(RunReader {
            input: BufReader::with_capacity(buffer, file),
            path: path.to_path_buf(),
            max_value_len,
        })
    }

    pub(crate) fn next_record(&mut self) -> Result<Option<InputRecord>> {
        self.read().map_err(|e| WriteError::temp(&self.path, e))
    }

    fn read(&mut self) -> io::Result<Option<InputRecord>> {
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut header = [0u8; HEADER];
        self.input.read_exact(&mut header)?;
        let u32_at =
            |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4-byte field"));
        let u64_at =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8-byte field"));
        let key_len = u32_at(0);
        let value_len = u64_at(4);
        let origin = Origin {
            source: u32_at(12),
            line: u64_at(16),
        };
        if key_len as usize > tusk_format::MAX_KEY_LEN || value_len > self.max_value_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt run record header",
            ));
        }
        let len = usize::try_from(u64::from(key_len) + value_len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "run record too large"))?;
        // Read straight into the record's allocation, without zeroing it first.
        let mut data = Vec::with_capacity(len);
        (&mut self.input).take(len as u64).read_to_end(&mut data)?;
        if data.len() != len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Some(InputRecord::from_parts(
            data.into_boxed_slice(),
            key_len,
            origin,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_and_detect_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let recs = vec![
            InputRecord::new(b"a", b"", Origin { source: 0, line: 1 }),
            InputRecord::new(
                b"b",
                &[7u8; 1000],
                Origin {
                    source: 3,
                    line: u64::MAX,
                },
            ),
        ];
        let mut w = RunWriter::create(dir.path().join("r")).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        let path = w.finish().unwrap();
        let mut reader = RunReader::open(&path, 16, 1 << 20).unwrap();
        let mut back = Vec::new();
        while let Some(r) = reader.next_record().unwrap() {
            back.push(r);
        }
        assert_eq!(back, recs);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let mut reader = RunReader::open(&path, 16, 1 << 20).unwrap();
        reader.next_record().unwrap();
        let err = reader.next_record().unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}
