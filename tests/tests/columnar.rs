//! `tusk write --format parquet|csv` through the real binary: the same records as
//! TSV, as a Spark-style Parquet directory and as gzipped CSV parts build
//! byte-identical shards.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use tusk_tests::{tusk_err, tusk_ok, write_tsv};

const RECORDS: usize = 3_000;

/// Records whose values hold what CSV must quote: commas, quotes, tabs.
fn records() -> Vec<(String, String)> {
    (0..RECORDS)
        .map(|i| {
            let value = match i % 4 {
                0 => format!("plain {i}"),
                1 => format!("comma, {i}"),
                2 => format!("say \"{i}\""),
                _ => format!("tab\there {i}"),
            };
            (format!("key-{i:05}"), value)
        })
        .collect()
}

/// A Parquet part file as Spark writes it: nullable string columns, snappy, with an
/// extra column before them; one row group per slice of `rows`.
fn write_parquet(path: &Path, rows: &[(String, String)], per_group: usize) {
    let schema = parse_message_type(
        "message spark_schema { optional binary id (STRING); optional binary key (STRING); \
         optional binary value (STRING); }",
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    for chunk in rows.chunks(per_group) {
        let mut group = writer.next_row_group().unwrap();
        let columns: [Vec<&str>; 3] = [
            chunk.iter().map(|_| "ignored").collect(),
            chunk.iter().map(|(k, _)| k.as_str()).collect(),
            chunk.iter().map(|(_, v)| v.as_str()).collect(),
        ];
        for cells in columns {
            let mut col = group.next_column().unwrap().unwrap();
            let values: Vec<ByteArray> = cells.iter().map(|s| ByteArray::from(*s)).collect();
            let levels = vec![1i16; values.len()];
            col.typed::<ByteArrayType>()
                .write_batch(&values, Some(&levels), None)
                .unwrap();
            col.close().unwrap();
        }
        group.close().unwrap();
    }
    writer.close().unwrap();
}

/// One CSV field, quoted when RFC 4180 requires it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Publishes `input` to `domain`; returns the new version's shard entries
/// (index, records, bytes, crc32) from its MANIFEST.json.
fn write(store: &Path, domain: &str, format: &str, input: &Path, extra: &[&str]) -> Vec<[u64; 4]> {
    let mut args = vec![
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        domain,
        "--format",
        format,
        "--input",
        input.to_str().unwrap(),
        "--shards",
        "5",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = tusk_ok(&args);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["records"], RECORDS as u64, "{out}");
    let version = summary["version"].as_str().unwrap();
    let manifest = store
        .join(domain)
        .join("versions")
        .join(version)
        .join("MANIFEST.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    assert_eq!(manifest["writer"]["input_format"], format);
    manifest["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| ["index", "records", "bytes", "crc32"].map(|f| s[f].as_u64().unwrap()))
        .collect()
}

#[test]
fn tsv_parquet_and_csv_of_the_same_records_build_identical_shards() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let records = records();

    let tsv = dir.path().join("in.tsv");
    write_tsv(&tsv, &records);
    let from_tsv = write(&store, "from-tsv", "tsv", &tsv, &[]);
    assert_eq!(from_tsv.len(), 5);
    assert_eq!(from_tsv.iter().map(|s| s[1]).sum::<u64>(), RECORDS as u64);

    // Spark's output directory: part files in several row groups, _SUCCESS, .crc files.
    let pq = dir.path().join("pq");
    std::fs::create_dir(&pq).unwrap();
    let (first, second) = records.split_at(RECORDS / 3);
    write_parquet(&pq.join("part-00000-7e1f-c000.snappy.parquet"), first, 400);
    write_parquet(&pq.join("part-00001-7e1f-c000.snappy.parquet"), second, 700);
    for name in [
        ".part-00000-7e1f-c000.snappy.parquet.crc",
        ".part-00001-7e1f-c000.snappy.parquet.crc",
        "._SUCCESS.crc",
        "_SUCCESS",
    ] {
        std::fs::write(pq.join(name), b"").unwrap();
    }
    let from_parquet = write(&store, "from-parquet", "parquet", &pq, &[]);
    assert_eq!(from_parquet, from_tsv);

    // CSV without a header, value before key, gzipped parts, in reverse order.
    let csv = dir.path().join("csv");
    std::fs::create_dir(&csv).unwrap();
    for (part, chunk) in records.rchunks(1_000).enumerate() {
        let file = std::fs::File::create(csv.join(format!("part-{part:05}.csv.gz"))).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        for (k, v) in chunk.iter().rev() {
            writeln!(gz, "{},{}", csv_field(v), csv_field(k)).unwrap();
        }
        gz.finish().unwrap();
    }
    std::fs::write(csv.join("_SUCCESS"), b"").unwrap();
    let from_csv = write(
        &store,
        "from-csv",
        "csv",
        &csv,
        &[
            "--csv-no-header",
            "--key-column",
            "1",
            "--value-column",
            "0",
        ],
    );
    assert_eq!(from_csv, from_tsv);
}

#[test]
fn bad_columnar_input_names_the_place_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pq = dir.path().join("part-0.parquet");
    write_parquet(&pq, &records()[..10], 10);
    let err = tusk_err(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
        "--format",
        "parquet",
        "--input",
        pq.to_str().unwrap(),
        "--key-column",
        "url",
    ]);
    assert!(
        err.contains(&format!(
            "cannot open input {}: no key column \"url\" (columns: id, key, value)",
            pq.display()
        )),
        "{err}"
    );
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "key,value\na,1\nb\n").unwrap();
    let err = tusk_err(&[
        "write",
        "--store",
        store.to_str().unwrap(),
        "--domain",
        "d",
        "--format",
        "csv",
        "--input",
        csv.to_str().unwrap(),
    ]);
    assert!(
        err.contains(&format!(
            "{}:3: 1 field in this record, but the header has 2",
            csv.display()
        )),
        "{err}"
    );
    assert_eq!(manifests(&store), 0, "a failed write publishes nothing");
}

/// MANIFEST.json files anywhere under `dir`.
fn manifests(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                manifests(&path)
            } else {
                usize::from(path.ends_with("MANIFEST.json"))
            }
        })
        .sum()
}

#[test]
fn csv_delimiter_flag_takes_one_character_or_tab() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let input = dir.path().join("t.csv");
    std::fs::write(&input, "value\tkey\n\"a\tb\"\tk1\nc\tk2\n").unwrap();
    let args = |delimiter: &'static str| {
        [
            "write",
            "--store",
            store.to_str().unwrap(),
            "--domain",
            "d",
            "--format",
            "csv",
            "--input",
            input.to_str().unwrap(),
            "--csv-delimiter",
            delimiter,
            "--json",
        ]
        .map(str::to_string)
    };
    let run = |delimiter| {
        let args = args(delimiter);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        (tusk_tests::tusk(&args), args.join(" "))
    };
    let (out, cmd) = run("tab");
    assert!(out.status.success(), "{cmd}: {out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // With `,` the header would be one column named "value<TAB>key" and fail.
    assert_eq!(summary["records"], 2);
    let (out, _) = run("ab");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--csv-delimiter") && err.contains("\"ab\" is not a delimiter"),
        "{err}"
    );
}
