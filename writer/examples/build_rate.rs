//! Measures the writer's build rate: `cargo run --release -p tusk-writer --example
//! build_rate -- [records] [memory_budget_bytes]`.
//!
//! Generates records with 24-byte keys and 150-byte values, writes them once as a
//! TSV file, then builds 8 shards from an iterator and from the file.

use std::io::{BufWriter, Write};
use std::time::Instant;

use tusk_writer::{InputOptions, InputSource, WriteOptions, build_from_inputs, build_from_iter};

fn record(i: u64) -> (String, String) {
    let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let key = format!("user:{h:016x}:{:02}", i % 100); // 24 bytes
    let value = format!("{h:032x}").repeat(5)[..150].to_string();
    (key, value)
}

fn report(what: &str, stats: &tusk_writer::BuildStats, bytes: u64) {
    let secs = stats.elapsed.as_secs_f64();
    println!(
        "{what}: {} records in {secs:.2} s = {:.0} records/s, {:.1} MB/s of key+value input; {} spilled runs, {} shard bytes",
        stats.records,
        stats.records as f64 / secs,
        bytes as f64 / secs / 1e6,
        stats.spilled_runs,
        stats.shard_bytes
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let budget: Option<u64> = args.next().map(|a| a.parse()).transpose()?;
    let dir = tempfile::tempdir()?;
    let mut opts = WriteOptions::new("bench");
    opts.temp_dir = Some(dir.path().to_path_buf());
    if let Some(b) = budget {
        opts.memory_budget = b;
    }
    let payload = n * (24 + 150);

    let built = build_from_iter((0..n).map(record), &opts, None)?;
    report("iterator", &built.stats, payload);
    drop(built);

    let file = dir.path().join("input.tsv");
    let mut out = BufWriter::new(std::fs::File::create(&file)?);
    for i in 0..n {
        let (k, v) = record(i);
        writeln!(out, "{k}\t{v}")?;
    }
    out.flush()?;
    drop(out);
    let started = Instant::now();
    let built = build_from_inputs(
        &[InputSource::Path(file)],
        &InputOptions::default(),
        &opts,
        None,
    )?;
    report("tsv file", &built.stats, payload);
    println!(
        "(tsv total including setup: {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
