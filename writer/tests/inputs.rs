//! Building from input files: formats, encodings, compression, directories, errors.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use tusk_writer::{
    Encoding, InputOptions, OnDuplicate, ProgressEvent, ProgressFn, WriteError, build_from_inputs,
};

#[test]
fn tsv_with_crlf_tabs_in_values_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.tsv");
    std::fs::write(&file, "k1\tv1\r\nk2\tv\twith\ttabs\n\nk3\t\nk4\tlast").unwrap();
    let built = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap();
    assert_eq!(
        text(&built),
        map(&[
            ("k1", "v1"),
            ("k2", "v\twith\ttabs"),
            ("k3", ""),
            ("k4", "last")
        ])
    );
    assert_eq!(built.stats.records, 4);
    assert_eq!(
        built.stats.input_bytes,
        std::fs::metadata(&file).unwrap().len()
    );
    assert_eq!(built.manifest.writer["input_format"], "tsv");
    assert_eq!(built.manifest.writer["tool"], "tusk-writer");
}

#[test]
fn tsv_line_without_tab_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.tsv");
    std::fs::write(&file, "a\t1\nb\t2\nno-tab-here\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(err.is_input_error());
    assert_eq!(
        err.to_string(),
        format!("{}:3: no TAB between key and value", file.display())
    );
}

#[test]
fn jsonl_values_fields_and_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"id\": \"6869\", \"doc\": \"aGVsbG8=\", \"key\": \"ignored\"}\n",
            "\n",
            "{\"id\": \"6e756d\", \"doc\": 42}\n",
            "{\"doc\": {\"b\": [1, 2.50], \"a\": null}, \"id\": \"6f626a\"}\n",
        ),
    )
    .unwrap();
    let input = InputOptions {
        key_encoding: Encoding::Hex,
        value_encoding: Encoding::Base64,
        key_field: "id".into(),
        value_field: "doc".into(),
        ..jsonl()
    };
    let built = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap();
    assert_eq!(
        text(&built),
        map(&[
            ("hi", "hello"),
            ("num", "42"),
            ("obj", r#"{"b":[1,2.50],"a":null}"#)
        ])
    );
}

#[test]
fn malformed_jsonl_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.jsonl");
    let mut lines: Vec<String> = (0..6)
        .map(|i| format!(r#"{{"key": "k{i}", "value": "v"}}"#))
        .collect();
    lines.insert(4, r#"{"key": "k9", "value": "v""#.to_string());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let err = build_from_inputs(&[path(&file)], &jsonl(), &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:5: invalid JSON", file.display())),
        "{msg}"
    );

    std::fs::write(
        &file,
        "{\"key\": \"a\", \"value\": \"b\"}\n{\"key\": \"a2\"}\n",
    )
    .unwrap();
    let err = build_from_inputs(&[path(&file)], &jsonl(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2: missing field \"value\"", file.display())
    );
}

#[test]
fn invalid_base64_names_place_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.tsv");
    std::fs::write(&file, "a\taGk=\nb\tnot base64!\n").unwrap();
    let input = InputOptions {
        value_encoding: Encoding::Base64,
        ..tsv()
    };
    let err = build_from_inputs(&[path(&file)], &input, &opts(dir.path()), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:2: invalid base64 in value: ", file.display())),
        "{msg}"
    );
}

#[test]
fn limits_and_empty_keys_are_errors_with_places() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("l.tsv");
    std::fs::write(&file, "a\tshort\n\tempty key\n").unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert_eq!(err.to_string(), format!("{}:2: empty key", file.display()));

    std::fs::write(&file, "a\tshort\nb\ttoo long\n").unwrap();
    let mut o = opts(dir.path());
    o.max_value_len = 5;
    let err = build_from_inputs(&[path(&file)], &tsv(), &o, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: value of 8 bytes exceeds the limit of 5 bytes",
            file.display()
        )
    );

    let big_key = "k".repeat(64 * 1024 + 1);
    std::fs::write(&file, format!("{big_key}\tv\n")).unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1: key of 65537 bytes", file.display())),
        "{err}"
    );
}

#[test]
fn gzip_and_zstd_inputs_are_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2000).map(|i| format!("key{i}\tvalue{i}\n")).collect();
    let (first, second) = lines.split_at(lines.len() / 2);

    // Two gzip members, as `cat a.gz b.gz` produces.
    let gz = dir.path().join("part.tsv.gz");
    let mut bytes = Vec::new();
    for half in [first, second] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(half.as_bytes()).unwrap();
        bytes.extend(enc.finish().unwrap());
    }
    std::fs::write(&gz, bytes).unwrap();

    // Two zstd frames.
    let zst = dir.path().join("part.tsv.zst");
    let mut bytes = Vec::new();
    for half in [first, second] {
        bytes.extend(ruzstd::encoding::compress_to_vec(
            half.replace("value", "zvalue").as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
    }
    std::fs::write(&zst, bytes).unwrap();

    let mut o = opts(dir.path());
    o.on_duplicate = OnDuplicate::Last;
    let built = build_from_inputs(&[path(&gz), path(&zst)], &tsv(), &o, None).unwrap();
    let got = text(&built);
    assert_eq!(got.len(), 2000);
    assert_eq!(got["key0"], "zvalue0");
    assert_eq!(got["key1999"], "zvalue1999");
    assert_eq!(built.stats.duplicates_dropped, 2000);
    let on_disk = std::fs::metadata(&gz).unwrap().len() + std::fs::metadata(&zst).unwrap().len();
    assert_eq!(built.stats.input_bytes, on_disk);

    // The input size announced before reading is what the byte counts add up to
    // (compressed bytes as stored), so a progress display reaches 100%.
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let progress: ProgressFn = Arc::new(move |e| sink.lock().unwrap().push(e));
    build_from_inputs(&[path(&gz), path(&zst)], &tsv(), &o, Some(progress)).unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events[..2],
        [
            ProgressEvent::InputSize(Some(on_disk)),
            ProgressEvent::Phase("reading")
        ]
    );
    let read: u64 = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::BytesRead(n) => Some(*n),
            _ => None,
        })
        .sum();
    assert_eq!(read, on_disk);
}

#[test]
fn directories_are_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::write(input.join("b.tsv"), "k\tfrom-b\nonly-b\t1\n").unwrap();
    std::fs::write(input.join("a.tsv"), "k\tfrom-a\n").unwrap();
    std::fs::write(input.join("sub/c.tsv"), "k\tfrom-sub-c\n").unwrap();
    std::fs::write(input.join(".hidden.tsv"), "k\thidden\n").unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    let mut o = opts(&tmp);
    o.on_duplicate = OnDuplicate::First;
    let built = build_from_inputs(&[path(&input)], &tsv(), &o, None).unwrap();
    assert_eq!(text(&built), map(&[("k", "from-a"), ("only-b", "1")]));
    o.on_duplicate = OnDuplicate::Last;
    let built = build_from_inputs(&[path(&input)], &tsv(), &o, None).unwrap();
    assert_eq!(text(&built), map(&[("k", "from-sub-c"), ("only-b", "1")]));
    assert_eq!(built.stats.duplicates_dropped, 2);

    o.on_duplicate = OnDuplicate::Error;
    let err = build_from_inputs(&[path(&input)], &tsv(), &o, None).unwrap_err();
    let (a, b) = (input.join("a.tsv"), input.join("b.tsv"));
    assert_eq!(
        err.to_string(),
        format!(
            "duplicate key \"k\" at {}:1 and {}:1",
            a.display(),
            b.display()
        )
    );
}

#[test]
fn duplicate_error_names_key_and_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.tsv");
    let mut body: String = (0..20).map(|i| format!("u{i}\tv\n")).collect();
    body = body.replacen("u16\t", "u2\t", 1);
    std::fs::write(&file, body).unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(matches!(err, WriteError::Duplicate { .. }));
    assert_eq!(
        err.to_string(),
        format!("duplicate key \"u2\" at {0}:3 and {0}:17", file.display())
    );
}

#[test]
fn a_failed_build_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.tsv");
    // About 9 bytes of key and value and a 24-byte entry per record, charged as
    // allocated (vectors grow by doubling): 300,000 records spill at the 4 MiB floor.
    let body: String = (0..300_000)
        .map(|i| format!("k{i}\tv\n"))
        .chain(["k3\tagain\n".into()])
        .collect();
    std::fs::write(&file, body).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut o = opts(&tmp);
    o.memory_budget = tusk_writer::MIN_MEMORY_BUDGET; // spill runs on the way
    let err = build_from_inputs(&[path(&file)], &tsv(), &o, None).unwrap_err();
    assert!(matches!(err, WriteError::Duplicate { .. }), "{err}");
    assert!(is_empty_dir(&tmp));

    let built = build_from_inputs(
        &[path(&dir.path().join("a.tsv"))],
        &tsv(),
        &{
            let mut o = o.clone();
            o.on_duplicate = OnDuplicate::First;
            o
        },
        None,
    )
    .unwrap();
    assert!(built.stats.spilled_runs > 0);
    assert_eq!(text(&built)["k3"], "v");
    drop(built);
    assert!(is_empty_dir(&tmp));
}

#[test]
fn missing_input_and_bad_options_fail_early() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tsv");
    let err = build_from_inputs(&[path(&missing)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(err.to_string().contains("nope.tsv"), "{err}");

    let file = dir.path().join("a.tsv");
    std::fs::write(&file, "k\tv\n").unwrap();
    let mut o = opts(dir.path());
    o.shards = 0;
    let err = build_from_inputs(&[path(&file)], &tsv(), &o, None).unwrap_err();
    assert!(
        matches!(
            err,
            WriteError::OutOfRange {
                option: "shards",
                ..
            }
        ),
        "{err}"
    );
    let mut o = opts(dir.path());
    o.domain = "bad/domain".into();
    let err = build_from_inputs(&[path(&file)], &tsv(), &o, None).unwrap_err();
    assert!(matches!(err, WriteError::InvalidDomain(_)), "{err}");
}

#[test]
fn corrupt_compressed_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["broken.tsv.gz", "broken.tsv.zst"] {
        let file = dir.path().join(name);
        std::fs::write(&file, b"this is not compressed at all\n").unwrap();
        let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
        assert!(matches!(err, WriteError::Read { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("{}:1: read error", file.display())),
            "{msg}"
        );
    }
}

/// Files are read on a thread of their own and handed over in batches: an error
/// from either side, after many batches, still names its line, stops both threads,
/// and comes before anything later in the input.
#[test]
fn errors_many_batches_into_a_file_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = 200_000;
    let body = |bad_line: usize, bad: &str| -> String {
        (1..=lines)
            .map(|i| {
                if i == bad_line {
                    format!("{bad}\n")
                } else {
                    format!("key-{i}\tvalue-{i}\n")
                }
            })
            .collect()
    };
    // The reading thread's error: a line without a TAB.
    let file = dir.path().join("parse.tsv");
    std::fs::write(&file, body(150_001, "no tab here")).unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{}:150001: no TAB", file.display())),
        "{err}"
    );
    // The collector's error (an empty key), with a parse error later in the file:
    // the empty key, first in input order, is reported.
    let file = dir.path().join("collect.tsv");
    let mut text = body(120_001, "\tempty key");
    text.push_str("no tab at the end\n");
    std::fs::write(&file, text).unwrap();
    let err = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{}:120001: empty key", file.display())),
        "{err}"
    );
}

/// A record larger than a reading batch (1 MiB) travels alone, between records
/// that share batches, and arrives whole.
#[test]
fn a_record_larger_than_a_batch_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.tsv");
    let big = "x".repeat(3 << 20);
    std::fs::write(&file, format!("a\t1\nbig\t{big}\nb\t2\n")).unwrap();
    let built = build_from_inputs(&[path(&file)], &tsv(), &opts(dir.path()), None).unwrap();
    let all = text(&built);
    assert_eq!(all.len(), 3);
    assert_eq!((all["a"].as_str(), all["b"].as_str()), ("1", "2"));
    assert_eq!(all["big"], big);
}
