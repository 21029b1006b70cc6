//! Prints where the bytes of a shard go, for N records of fixed-size keys and values,
//! in every format version.
//!
//! `cargo run -p tusk-format --release --example shard_size -- 1000000 24 150`

use tusk_format::{BuildOptions, Shard, ShardBuilder, ShardFormat};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (n, key_len, value_len) = match args[..] {
        [] => (1_000_000, 24, 150),
        [n, k, v] => (n, k as usize, v as usize),
        _ => return Err("usage: shard_size [RECORDS KEY_BYTES VALUE_BYTES]".into()),
    };
    for format in ShardFormat::ALL {
        println!("== {format}");
        report(format, n, key_len, value_len)?;
    }
    Ok(())
}

fn report(
    format: ShardFormat,
    n: u64,
    key_len: usize,
    value_len: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let opts = BuildOptions {
        format,
        ..BuildOptions::default()
    };
    let mut builder = ShardBuilder::new(Vec::new(), opts)?;
    let mut key = vec![b'k'; key_len.max(8)];
    let value = vec![b'v'; value_len];
    let key_at = key.len() - 8;
    for i in 0..n {
        // Big-endian counter at the end keeps keys in order.
        key[key_at..].copy_from_slice(&i.to_be_bytes());
        builder.add(&key[..key_len.max(8)], &value)?;
    }
    let (bytes, summary) = builder.finish()?;
    let shard = Shard::open(&bytes[..])?;
    shard.verify()?;
    let info = shard.info();
    let payload = n * (key_len.max(8) + value_len) as u64;
    let per = |x: u64| x as f64 / n.max(1) as f64;
    println!(
        "records               {n} ({}-byte keys, {value_len}-byte values)",
        key_len.max(8)
    );
    println!(
        "file bytes            {} (crc32 {:#010x})",
        summary.bytes, summary.crc32
    );
    println!("payload bytes         {payload}");
    println!("data blocks           {}", info.blocks);
    println!(
        "framing per record    {:.2} bytes (varints, and in v1 the record CRC)",
        per(info.data_bytes - payload)
    );
    println!(
        "index per record      {:.2} bytes ({} buckets)",
        per(info.index_bytes),
        info.index_buckets
    );
    println!(
        "other per record      {:.3} bytes (header, padding, block table, footer)",
        per(info.file_bytes - info.data_bytes - info.index_bytes)
    );
    println!(
        "total overhead        {:.2} bytes per record",
        per(info.file_bytes - payload)
    );
    Ok(())
}
