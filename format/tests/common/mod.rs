//! Helpers shared by the integration tests.
#![allow(dead_code)]

use tusk_format::{BuildOptions, ShardBuilder, ShardFormat, ShardSummary};

/// Key/value pairs in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Builds a shard of `format` in memory from records already in key order.
pub fn build(
    format: ShardFormat,
    records: &[(Vec<u8>, Vec<u8>)],
    block_size: usize,
) -> (Vec<u8>, ShardSummary) {
    let opts = BuildOptions {
        block_size,
        format,
        ..BuildOptions::default()
    };
    let mut b = ShardBuilder::new(Vec::new(), opts).expect("header write to a Vec");
    for (k, v) in records {
        b.add(k, v).expect("records are sorted and within limits");
    }
    b.finish().expect("finish into a Vec")
}

/// A deterministic set of `n` records: mixed lengths, empty values, binary bytes.
pub fn sample_records(n: usize) -> Records {
    let mut out: Records = (0..n)
        .map(|i| {
            let key = match i % 7 {
                0 => format!("k{i:03}").into_bytes(),
                3 => {
                    let mut k = format!("k{i:03}-bin-").into_bytes();
                    k.extend_from_slice(&[0x00, 0xFF, i as u8]);
                    k
                }
                _ => format!("k{i:03}-{}", "x".repeat(i % 5)).into_bytes(),
            };
            let value: Vec<u8> = if i % 5 == 0 {
                Vec::new()
            } else {
                (0..(i * 7) % 40).map(|j| (i * 31 + j * 17) as u8).collect()
            };
            (key, value)
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}
