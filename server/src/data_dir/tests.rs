//! Unit tests of the parent module.

use super::*;

fn manifest(domain: &str, version: &str) -> Manifest {
    let shard = tusk_store::ShardEntry {
        index: 0,
        object: "shard-00000.tsk".into(),
        bytes: 10,
        records: 1,
        crc32: 0,
        content_hash: Some(tusk_store::ContentHash(0)),
    };
    Manifest::new(domain, version, "2026-01-01T00:00:00Z", vec![shard])
}

#[test]
fn the_manifest_copy_marks_a_version_complete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.create().expect("create");
    dir.prepare_download("v1").expect("prepare");
    assert!(!dir.is_complete("v1"));
    assert!(dir.complete_versions().expect("list").is_empty());
    dir.write_manifest(&manifest("pages", "v1"))
        .expect("write marker");
    assert!(dir.is_complete("v1"));
    assert_eq!(dir.complete_versions().expect("list"), ["v1"]);
    assert_eq!(dir.read_manifest("v1").expect("read").version, "v1");
    assert!(!dir.version_dir("v1").join("MANIFEST.json.tmp").exists());
}

#[test]
fn a_manifest_copy_of_another_version_is_rejected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.prepare_download("v2").expect("prepare");
    let wrong = manifest("pages", "v1");
    let bytes = wrong.to_json();
    std::fs::write(dir.version_dir("v2").join(LOCAL_MANIFEST), bytes).expect("write");
    let err = dir.read_manifest("v2").expect_err("mismatch");
    assert!(err.to_string().contains("expected pages/v2"), "{err}");
}

#[test]
fn sweep_removes_partial_versions_and_temp_files_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.prepare_download("v1").expect("prepare");
    dir.write_manifest(&manifest("pages", "v1"))
        .expect("marker");
    std::fs::write(dir.shard_path("v1", "shard-00000.tsk"), b"0123456789").expect("shard");
    std::fs::write(dir.shard_path("v1", "shard-00001.tsk.part"), b"half").expect("part");
    dir.prepare_download("v2").expect("partial version");
    std::fs::write(dir.shard_path("v2", "shard-00000.tsk"), b"half").expect("shard");

    let removed = dir.sweep(&KeepPartial::Nothing).expect("sweep");
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(!dir.version_dir("v2").exists());
    assert!(!dir.shard_path("v1", "shard-00001.tsk.part").exists());
    assert!(dir.shard_path("v1", "shard-00000.tsk").exists());
    assert_eq!(dir.complete_versions().expect("list"), ["v1"]);
}

#[test]
fn unmark_makes_a_version_partial_and_drops_the_bad_file_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.prepare_download("v1").expect("prepare");
    dir.write_manifest(&manifest("pages", "v1"))
        .expect("marker");
    for name in ["shard-00000.tsk", "shard-00001.tsk"] {
        std::fs::write(dir.shard_path("v1", name), b"x").expect("shard");
    }
    let bad = dir.shard_path("v1", "shard-00001.tsk");
    dir.unmark("v1", Some(&bad)).expect("unmark");
    assert!(!dir.is_complete("v1"));
    assert!(!bad.exists());
    assert!(dir.shard_path("v1", "shard-00000.tsk").exists());
    // A path outside the version is never deleted.
    let outside = tmp.path().join("elsewhere");
    std::fs::write(&outside, b"x").expect("file");
    dir.unmark("v1", Some(&outside)).expect("unmark again");
    assert!(outside.exists());
}

#[test]
fn a_missing_domain_dir_is_empty_not_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "never");
    assert!(dir.sweep(&KeepPartial::Nothing).expect("sweep").is_empty());
    assert!(dir.complete_versions().expect("list").is_empty());
}

#[test]
fn sweep_keeps_the_resumable_download_of_the_named_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.prepare_download("v1").expect("complete version");
    dir.write_manifest(&manifest("pages", "v1"))
        .expect("marker");
    std::fs::write(dir.shard_path("v1", "shard-00000.tsk.part.progress"), b"{}")
        .expect("stale sidecar");
    for v in ["v2", "v3"] {
        dir.prepare_download(v).expect("partial version");
        for name in [
            "shard-00000.tsk",
            "shard-00001.tsk.part",
            "shard-00001.tsk.part.progress",
            "shard-00001.tsk.part.progress.tmp",
        ] {
            std::fs::write(dir.shard_path(v, name), b"x").expect("file");
        }
    }

    let removed = dir.sweep(&KeepPartial::Only("v2".into())).expect("sweep");
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(!dir.version_dir("v3").exists(), "other partial versions go");
    assert!(
        !dir.shard_path("v1", "shard-00000.tsk.part.progress")
            .exists()
    );
    for kept in [
        "shard-00000.tsk",
        "shard-00001.tsk.part",
        "shard-00001.tsk.part.progress",
    ] {
        assert!(
            dir.shard_path("v2", kept).exists(),
            "{kept} kept for resume"
        );
    }
    assert!(
        !dir.shard_path("v2", "shard-00001.tsk.part.progress.tmp")
            .exists()
    );

    // Not knowing the target keeps every partial version.
    dir.prepare_download("v4").expect("partial version");
    assert!(dir.sweep(&KeepPartial::All).expect("sweep").is_empty());
    assert!(dir.version_dir("v4").exists() && dir.version_dir("v2").exists());
    // prepare_download keeps what is there.
    dir.prepare_download("v2").expect("again");
    assert!(dir.shard_path("v2", "shard-00001.tsk.part").exists());

    // A download's sweep removes other partial versions but leaves complete
    // ones alone (a repair may be writing a `.part` there).
    std::fs::write(dir.shard_path("v1", "shard-00000.tsk.part"), b"x").expect("part");
    let removed = dir
        .sweep_partial(&KeepPartial::Only("v2".into()))
        .expect("sweep");
    assert_eq!(removed, [dir.version_dir("v4")]);
    assert!(dir.shard_path("v1", "shard-00000.tsk.part").exists());
}

#[test]
fn stamps_round_trip_and_unreadable_ones_mean_none() {
    use crate::stamp::FileStamp;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DomainDir::new(tmp.path(), "pages");
    dir.prepare_download("v1").expect("prepare");
    assert!(dir.read_stamps("v1").is_empty(), "none written yet");
    let stamp = FileStamp {
        bytes: 10,
        inode: 3,
        mtime_ns: 1_800_000_000_000_000_001,
    };
    let stamps = Stamps::from([("shard-00000.tsk".to_string(), stamp)]);
    dir.write_stamps("v1", &stamps).expect("write");
    assert_eq!(dir.read_stamps("v1"), stamps);
    assert!(!dir.version_dir("v1").join("STAMPS.json.tmp").exists());
    // Damaged stamps trust nothing (every file is then checked in full).
    std::fs::write(dir.version_dir("v1").join(STAMPS), b"{not json").expect("write");
    assert!(dir.read_stamps("v1").is_empty());
}
