//! Building from Parquet files written by the parquet crate's own writer: string and
//! binary columns, row groups, nulls, wrong types, Spark output directories.

mod common;

use std::sync::{Arc, Mutex};

use common::pq::{self, Cells, SPARK_KV, strings};
use common::*;
use tusk_writer::{
    Column, Encoding, InputFormat, InputOptions, InputSource, ProgressEvent, build_from_inputs,
};

fn parquet() -> InputOptions {
    InputOptions {
        format: InputFormat::Parquet,
        ..InputOptions::default()
    }
}

fn bytes(items: &[Option<&[u8]>]) -> Cells {
    Cells::Bytes(items.iter().map(|v| v.map(<[u8]>::to_vec)).collect())
}

#[test]
fn string_and_binary_columns_over_several_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("part-00000.snappy.parquet");
    // Extra columns around the two, the value before the key, a binary value that
    // is not UTF-8, and three row groups.
    let schema = "message spark_schema { optional int64 id; required binary value; \
                  optional binary key (STRING); }";
    let groups: Vec<Vec<Cells>> = (0..3)
        .map(|g| {
            let keys: Vec<String> = (0..5).map(|i| format!("k{g}{i}")).collect();
            vec![
                Cells::Long((0..5).map(|i| Some(g * 10 + i)).collect()),
                bytes(&[
                    Some(&[0xff, g as u8]),
                    Some(b""),
                    Some(b"v2"),
                    Some(b"v3"),
                    Some(b"v4"),
                ]),
                strings(&keys),
            ]
        })
        .collect();
    pq::write(&file, schema, &groups);

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let progress: tusk_writer::ProgressFn = Arc::new(move |e| sink.lock().unwrap().push(e));
    let built = build_from_inputs(
        &[path(&file)],
        &parquet(),
        &opts(dir.path()),
        Some(progress),
    )
    .unwrap();
    let all = contents(&built);
    assert_eq!(all.len(), 15);
    assert_eq!(all[&b"k10".to_vec()], vec![0xff, 1]);
    assert_eq!(all[&b"k21".to_vec()], b"".to_vec());
    assert_eq!(all[&b"k04".to_vec()], b"v4".to_vec());
    assert_eq!(built.manifest.writer["input_format"], "parquet");

    // Bytes read are the row groups' compressed sizes as each is read, then the
    // footer: the whole file, which is the input size announced before reading.
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(built.stats.input_bytes, size);
    let events = events.lock().unwrap();
    let read: u64 = events
        .iter()
        .map(|e| match e {
            ProgressEvent::BytesRead(n) => *n,
            _ => 0,
        })
        .sum();
    let records: u64 = events
        .iter()
        .map(|e| match e {
            ProgressEvent::RecordsRead(n) => *n,
            _ => 0,
        })
        .sum();
    assert_eq!((read, records), (built.stats.input_bytes, 15));
    let announced = events.iter().find_map(|e| match e {
        ProgressEvent::InputSize(n) => *n,
        _ => None,
    });
    assert_eq!(announced, Some(size), "{events:?}");
}

#[test]
fn string_columns_take_encodings_and_columns_go_by_index() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enc.parquet");
    pq::write(
        &file,
        "message m { required binary a (STRING); required binary b (UTF8); }",
        &[vec![
            strings(&["6869", "6a6f"]),
            strings(&["aGVsbG8=", "d29ybGQ="]),
        ]],
    );
    let input = InputOptions {
        key_column: Column::Index(0),
        value_column: Column::Name("b".into()),
        key_encoding: Encoding::Hex,
        value_encoding: Encoding::Base64,
        ..parquet()
    };
    let built = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap();
    assert_eq!(text(&built), map(&[("hi", "hello"), ("jo", "world")]));

    // A bad encoding names the file, the row and the column.
    let input = InputOptions {
        key_column: "b".parse().unwrap(),
        value_column: "a".parse().unwrap(),
        key_encoding: Encoding::Hex,
        ..parquet()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}:1: row group 1, row 1: column \"b\": invalid hex in key",
            file.display()
        )),
        "{msg}"
    );
}

#[test]
fn null_keys_and_values_name_file_row_group_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nulls.parquet");
    pq::write(
        &file,
        SPARK_KV,
        &[
            vec![strings(&["a", "b"]), strings(&["1", "2"])],
            vec![
                bytes(&[Some(b"c"), Some(b"d"), None]),
                bytes(&[Some(b"3"), Some(b"4"), Some(b"5")]),
            ],
        ],
    );
    let err = build_from_inputs(&[path(&file)], &parquet(), &opts(dir.path()), None).unwrap_err();
    assert!(err.is_input_error());
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5: row group 2, row 3: null key in column \"key\"",
            file.display()
        )
    );

    pq::write(
        &file,
        SPARK_KV,
        &[vec![
            bytes(&[Some(b"a"), Some(b"b")]),
            bytes(&[None, Some(b"2")]),
        ]],
    );
    let err = build_from_inputs(&[path(&file)], &parquet(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: row group 1, row 1: null value in column \"value\"",
            file.display()
        )
    );
}

#[test]
fn wrong_types_and_missing_columns_name_file_column_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ints.parquet");
    pq::write(
        &file,
        "message m { required int64 key; required binary value (STRING); }",
        &[vec![Cells::Long(vec![Some(1)]), strings(&["one"])]],
    );
    let err = build_from_inputs(&[path(&file)], &parquet(), &opts(dir.path()), None).unwrap_err();
    assert!(err.is_input_error());
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot open input {}: key column \"key\" has type INT64, expected a string or \
             binary (BYTE_ARRAY) column; cast it to a string",
            file.display()
        )),
        "{msg}"
    );

    let input = InputOptions {
        value_column: Column::Name("payload".into()),
        key_column: Column::Name("value".into()),
        ..parquet()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open input {}: no value column \"payload\" (columns: key, value)",
            file.display()
        )
    );
    let input = InputOptions {
        key_column: Column::Name("value".into()),
        value_column: Column::Index(2),
        ..parquet()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open input {}: no value column #2 (columns: key, value)",
            file.display()
        )
    );
}

#[test]
fn binary_columns_refuse_an_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bin.parquet");
    pq::write(
        &file,
        "message m { required binary key; required binary value; }",
        &[vec![strings(&["k"]), strings(&["aGk="])]],
    );
    let input = InputOptions {
        value_encoding: Encoding::Base64,
        ..parquet()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&file.display().to_string())
            && msg.contains("value column \"value\" is binary, but --value-encoding is base64"),
        "{msg}"
    );
}

#[test]
fn spark_output_directory_skips_markers_and_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for (part, keys) in [(0, ["a", "b"]), (1, ["c", "d"])] {
        let name = format!("part-0000{part}-5f1c-c000.snappy.parquet");
        pq::write(
            &out.join(&name),
            SPARK_KV,
            &[vec![
                strings(&keys),
                strings(&keys.map(|k| k.to_uppercase())),
            ]],
        );
        std::fs::write(out.join(format!(".{name}.crc")), b"crc bytes").unwrap();
    }
    std::fs::write(out.join("_SUCCESS"), b"").unwrap();
    std::fs::write(out.join("._SUCCESS.crc"), b"crc").unwrap();
    std::fs::write(out.join("_committed_4242"), b"{}").unwrap();
    std::fs::write(out.join("part-00001.parquet.crc"), b"crc").unwrap();

    let built = build_from_inputs(&[path(&out)], &parquet(), &opts(dir.path()), None).unwrap();
    assert_eq!(
        text(&built),
        map(&[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")])
    );

    // Any other file must be Parquet: it is named, not skipped.
    let stray = out.join("notes.txt");
    std::fs::write(&stray, "k\tv\n").unwrap();
    let err = build_from_inputs(&[path(&out)], &parquet(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open input {}: not a Parquet file (it does not start with PAR1)",
            stray.display()
        )
    );
}

#[test]
fn parquet_is_not_read_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // Refused before any file is read (this one would fail on its own).
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, "not parquet").unwrap();
    let err = build_from_inputs(
        &[path(&junk), InputSource::Stdin],
        &parquet(),
        &opts(dir.path()),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid write options: Parquet cannot be read from stdin"),
        "{err}"
    );
}

#[test]
fn rows_are_counted_across_batches_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.parquet");
    // Row groups larger than one read batch (4,096 rows), a null deep in the second.
    let keys: Vec<String> = (0..10_000).map(|i| format!("key-{i:05}")).collect();
    let mut second: Vec<Option<Vec<u8>>> = (0..10_000)
        .map(|i| Some(format!("more-{i:05}").into_bytes()))
        .collect();
    let values = strings(&keys);
    pq::write(&file, SPARK_KV, &[vec![strings(&keys), values]]);
    let built = build_from_inputs(&[path(&file)], &parquet(), &opts(dir.path()), None).unwrap();
    let all = text(&built);
    assert_eq!(all.len(), 10_000);
    assert!(all.iter().all(|(k, v)| k == v));

    second[9_000] = None;
    let again: Vec<Option<Vec<u8>>> = second.iter().map(|_| Some(b"v".to_vec())).collect();
    pq::write(
        &file,
        SPARK_KV,
        &[
            vec![strings(&keys), strings(&keys)],
            vec![Cells::Bytes(second), Cells::Bytes(again)],
        ],
    );
    let err = build_from_inputs(&[path(&file)], &parquet(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:19001: row group 2, row 9001: null key in column \"key\"",
            file.display()
        )
    );
}
