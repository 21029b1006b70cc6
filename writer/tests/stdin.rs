//! Reading from stdin. The test re-runs this test binary as a child with its stdin
//! piped, since a test cannot replace its own process's stdin.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use tusk_writer::{InputSource, build_from_inputs};

const CHILD_ENV: &str = "TUSK_WRITER_STDIN_CHILD";

/// In the child: build from stdin and print the outcome.
#[test]
fn stdin_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    match build_from_inputs(&[InputSource::Stdin], &tsv(), &opts(dir.path()), None) {
        Ok(built) => println!("RESULT ok {:?}", text(&built)),
        Err(e) => println!("RESULT err {e}"),
    }
}

fn run_child(input: &str) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result in child output: {stdout}"))
        .to_string()
}

#[test]
fn stdin_is_read_and_errors_say_stdin_line() {
    let ok = run_child("b\t2\na\t1\n");
    assert_eq!(ok, format!("ok {:?}", map(&[("a", "1"), ("b", "2")])));
    let err = run_child("a\t1\nb\t2\nbad line\n");
    assert_eq!(err, "err stdin:3: no TAB between key and value");
}
