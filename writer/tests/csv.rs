//! Building from CSV (RFC 4180): quoting, headers, column choice, errors with places.

mod common;

use std::io::Write;

use common::*;
use tusk_writer::{Column, Encoding, InputFormat, InputOptions, build_from_inputs};

fn csv() -> InputOptions {
    InputOptions {
        format: InputFormat::Csv,
        ..InputOptions::default()
    }
}

fn no_header(key: usize, value: usize) -> InputOptions {
    InputOptions {
        csv_header: false,
        key_column: Column::Index(key),
        value_column: Column::Index(value),
        ..csv()
    }
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.csv");
    std::fs::write(
        &file,
        concat!(
            "id,value,key\r\n",
            "1,plain,a\r\n",
            "2,\"with, comma\",b\r\n",
            "3,\"say \"\"hi\"\"\",c\n",
            "4,\"two\nlines\",\"d\"\n",
            "\n",
            "5,,e\n",
            "6,\"\",\"f,g\"",
        ),
    )
    .unwrap();
    let built = build_from_inputs(&[path(&file)], &csv(), &opts(dir.path()), None).unwrap();
    assert_eq!(
        text(&built),
        map(&[
            ("a", "plain"),
            ("b", "with, comma"),
            ("c", "say \"hi\""),
            ("d", "two\nlines"),
            ("e", ""),
            ("f,g", ""),
        ])
    );
    assert_eq!(built.manifest.writer["input_format"], "csv");
    assert_eq!(
        built.stats.input_bytes,
        std::fs::metadata(&file).unwrap().len()
    );
}

#[test]
fn rows_after_a_multiline_field_are_named_by_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    // Line 3 holds a field over two lines; the short record starts on line 5.
    std::fs::write(&file, "key,value\na,1\nb,\"x\ny\"\nc\nd,4\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &csv(), &opts(dir.path()), None).unwrap_err();
    assert!(err.is_input_error());
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5: 1 field in this record, but the header has 2",
            file.display()
        )
    );

    // Duplicates name the lines too.
    std::fs::write(&file, "key,value\na,1\n\"b\",\"x\ny\"\nb,2\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &csv(), &opts(dir.path()), None).unwrap_err();
    let f = file.display();
    assert_eq!(
        err.to_string(),
        format!("duplicate key \"b\" at {f}:3 and {f}:5")
    );
}

#[test]
fn without_a_header_columns_are_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nh.csv");
    std::fs::write(&file, "x,6869,aGVsbG8=\ny,6a6f,d29ybGQ=\n").unwrap();
    let input = InputOptions {
        key_encoding: Encoding::Hex,
        value_encoding: Encoding::Base64,
        ..no_header(1, 2)
    };
    let built = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap();
    assert_eq!(text(&built), map(&[("hi", "hello"), ("jo", "world")]));

    // The default names cannot be found without a header.
    let input = InputOptions {
        csv_header: false,
        ..csv()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("key column \"key\"") && msg.contains("0-based index"),
        "{msg}"
    );
    // An index past the first record's fields names file, line and column.
    let err =
        build_from_inputs(&[path(&file)], &no_header(0, 3), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: no value column #3: the first record has 3 fields",
            file.display()
        )
    );
    // A record of another width names its line and the first record's.
    std::fs::write(&file, "a,1\nb,2,extra\n").unwrap();
    let err =
        build_from_inputs(&[path(&file)], &no_header(0, 1), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: 3 fields in this record, but line 1 has 2",
            file.display()
        )
    );
}

#[test]
fn header_errors_name_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.csv");
    std::fs::write(&file, "id,name\n1,one\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &csv(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: no key column \"key\" in the header (columns: id, name)",
            file.display()
        )
    );
    // A byte order mark before the header is not part of the first name (the csv
    // crate drops it).
    std::fs::write(&file, "\u{feff}key,value\nk,v\n").unwrap();
    let built = build_from_inputs(&[path(&file)], &csv(), &opts(dir.path()), None).unwrap();
    assert_eq!(text(&built), map(&[("k", "v")]));
    let input = InputOptions {
        key_column: "name".parse().unwrap(),
        value_column: "id".parse().unwrap(),
        value_encoding: Encoding::Base64,
        ..csv()
    };
    std::fs::write(&file, "id,name\naGk=,one\n!!,two\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}:3: column \"id\": invalid base64 in value",
            file.display()
        )),
        "{msg}"
    );
}

#[test]
fn compressed_csv_delimiters_and_spark_directories() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let gz = std::fs::File::create(out.join("part-00000-1a2b.csv.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::default());
    enc.write_all(b"key;value\na;\"1;2\"\n").unwrap();
    enc.finish().unwrap();
    std::fs::write(out.join("part-00001-1a2b.csv"), "key;value\nb;3\n").unwrap();
    std::fs::write(out.join("_SUCCESS"), "").unwrap();
    std::fs::write(out.join(".part-00001-1a2b.csv.crc"), "crc").unwrap();
    std::fs::write(out.join("part-00001-1a2b.csv.crc"), "crc,crc\n").unwrap();
    let input = InputOptions {
        csv_delimiter: b';',
        ..csv()
    };
    let built = build_from_inputs(&[path(&out)], &input, &opts(dir.path()), None).unwrap();
    assert_eq!(text(&built), map(&[("a", "1;2"), ("b", "3")]));
}
