//! Fuzz the shard reader: any bytes, opened, verified, looked up and scanned, must never
//! panic; once `verify` accepts a file, every lookup and the scan must succeed and
//! agree with each other. A format 1 file's lookups agree with its scan even when it
//! is damaged (both check each record's CRC); a damaged format 2 file's scan may
//! yield what its damaged bytes say (FORMAT.md, "What the reader guarantees").
//!
//! Random bytes rarely get past the header and footer CRCs, so each input is also tried
//! with those two CRCs recomputed ("repaired"), which lets the fuzzer reach the section
//! bounds checks, the index walk and record parsing. Offsets follow FORMAT.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tusk_format::{Shard, ShardFormat};

const HEADER_LEN: usize = 16;
const FOOTER_LEN: usize = 64;

/// Recomputes the header CRC (bytes 12..16 over 0..12) and the footer CRC (footer
/// bytes 52..56 over footer bytes 0..52).
fn repair(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < HEADER_LEN + FOOTER_LEN {
        return None;
    }
    let mut f = data.to_vec();
    let h = crc32fast::hash(&f[0..12]);
    f[12..16].copy_from_slice(&h.to_le_bytes());
    let at = f.len() - FOOTER_LEN;
    let c = crc32fast::hash(&f[at..at + 52]);
    f[at + 52..at + 56].copy_from_slice(&c.to_le_bytes());
    Some(f)
}

fn exercise(file: &[u8], probes: &[&[u8]]) {
    let Ok(shard) = Shard::open(file) else {
        return;
    };
    let info = shard.info();
    assert_eq!(info.file_bytes, file.len() as u64);
    let verified = shard.verify_with_crc32();
    if let Ok(crc) = verified {
        assert_eq!(crc, crc32fast::hash(file));
    }
    for probe in probes {
        let _ = shard.get(probe);
    }
    let mut scanned = 0u64;
    for item in shard.iter().take(10_000) {
        match item {
            Ok((k, v)) => {
                scanned += 1;
                match shard.get(k) {
                    Ok(Some(got)) if verified.is_ok() || info.format == ShardFormat::V1 => {
                        assert_eq!(got, v, "get disagrees with iter")
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => assert!(verified.is_err(), "verified file lost a key"),
                }
            }
            Err(_) => {
                assert!(verified.is_err(), "verified file failed to scan");
                break;
            }
        }
    }
    if verified.is_ok() && scanned < 10_000 {
        assert_eq!(scanned, info.records);
    }
}

fuzz_target!(|data: &[u8]| {
    let n = data.len();
    let probes: [&[u8]; 4] = [
        b"",
        &data[..n.min(8)],
        &data[n / 2..(n / 2 + 5).min(n)],
        &data[n.saturating_sub(3)..],
    ];
    exercise(data, &probes);
    if let Some(fixed) = repair(data) {
        exercise(&fixed, &probes);
    }
});
