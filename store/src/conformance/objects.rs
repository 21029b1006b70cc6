//! Checks of the object primitives.

use std::sync::Arc;

use bytes::Bytes;

use super::{expect_kind, fresh, ok, pseudo_random, write_file};
use crate::{ErrorKind, ObjectStore, PutMode};

/// put / get / head, ETags changing with content, missing objects.
pub async fn check_put_get_head(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/a", fresh("put-get"));
    let put = ok(
        s,
        "put",
        s.put(&key, Bytes::from_static(b"hello"), PutMode::Overwrite)
            .await,
    );
    assert_eq!(put.key, key, "[{}] put returns its key", s.url());
    assert_eq!(put.size, 5, "[{}] put returns the size", s.url());
    let got = ok(s, "get", s.get(&key).await);
    assert_eq!(
        &got.bytes[..],
        b"hello",
        "[{}] get returns what was put",
        s.url()
    );
    assert_eq!(got.etag, put.etag, "[{}] get's etag equals put's", s.url());
    let head = ok(s, "head", s.head(&key).await);
    assert_eq!(
        (head.size, &head.etag),
        (5, &put.etag),
        "[{}] head after put",
        s.url()
    );

    // Same length, different content: the ETag must change.
    let put2 = ok(
        s,
        "overwrite",
        s.put(&key, Bytes::from_static(b"world"), PutMode::Overwrite)
            .await,
    );
    assert_ne!(
        put2.etag,
        put.etag,
        "[{}] etag must change when content changes",
        s.url()
    );
    assert_eq!(&ok(s, "get", s.get(&key).await).bytes[..], b"world");

    let empty = format!("{key}-empty");
    ok(
        s,
        "put empty",
        s.put(&empty, Bytes::new(), PutMode::Overwrite).await,
    );
    assert!(ok(s, "get empty", s.get(&empty).await).bytes.is_empty());
    assert_eq!(ok(s, "head empty", s.head(&empty).await).size, 0);

    let missing = format!("{key}-missing");
    expect_kind(
        s,
        "get of a missing object",
        s.get(&missing).await,
        ErrorKind::NotFound,
    );
    expect_kind(
        s,
        "head of a missing object",
        s.head(&missing).await,
        ErrorKind::NotFound,
    );
}

/// list: prefix filtering (also inside a name), key order, sizes and ETags.
pub async fn check_list(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let p = fresh("list");
    let keys = [
        format!("{p}/y"),
        format!("{p}/x/2"),
        format!("{p}/xz"),
        format!("{p}/x/1"),
    ];
    for (i, k) in keys.iter().enumerate() {
        ok(
            s,
            "put",
            s.put(k, Bytes::from(vec![b'v'; i + 1]), PutMode::Overwrite)
                .await,
        );
    }
    let all = ok(s, "list", s.list(&format!("{p}/")).await);
    let listed: Vec<&str> = all.iter().map(|m| m.key.as_str()).collect();
    let expected = [
        format!("{p}/x/1"),
        format!("{p}/x/2"),
        format!("{p}/xz"),
        format!("{p}/y"),
    ];
    assert_eq!(
        listed,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "[{}] list in key order",
        s.url()
    );
    for m in &all {
        let head = ok(s, "head", s.head(&m.key).await);
        assert_eq!(
            (m.size, &m.etag),
            (head.size, &head.etag),
            "[{}] list meta of {} = head",
            s.url(),
            m.key
        );
    }
    assert_eq!(all[3].size, 1, "[{}] size of {}", s.url(), all[3].key);

    let partial = ok(s, "list partial", s.list(&format!("{p}/x")).await);
    assert_eq!(
        partial.len(),
        3,
        "[{}] prefix {p}/x matches x/1, x/2 and xz: {partial:?}",
        s.url()
    );
    let dir = ok(s, "list dir", s.list(&format!("{p}/x/")).await);
    assert_eq!(dir.len(), 2, "[{}] prefix {p}/x/: {dir:?}", s.url());
    let none = ok(s, "list nothing", s.list(&format!("{p}/nothing/")).await);
    assert!(
        none.is_empty(),
        "[{}] empty prefix listing: {none:?}",
        s.url()
    );
}

/// delete removes; deleting a missing object is fine.
pub async fn check_delete(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let p = fresh("delete");
    let key = format!("{p}/gone");
    ok(
        s,
        "put",
        s.put(&key, Bytes::from_static(b"x"), PutMode::Overwrite)
            .await,
    );
    ok(s, "delete", s.delete(&key).await);
    expect_kind(
        s,
        "get after delete",
        s.get(&key).await,
        ErrorKind::NotFound,
    );
    assert!(
        ok(s, "list", s.list(&format!("{p}/")).await).is_empty(),
        "[{}] deleted object listed",
        s.url()
    );
    ok(s, "delete again", s.delete(&key).await);
    ok(
        s,
        "delete never-existing",
        s.delete(&format!("{p}/never")).await,
    );
}

/// get_range: inside, across the end, at and past the end.
pub async fn check_get_range(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/r", fresh("range"));
    let data = pseudo_random(1000, 11);
    ok(
        s,
        "put",
        s.put(&key, Bytes::from(data.clone()), PutMode::Overwrite)
            .await,
    );
    let cases: [(u64, u64, &[u8]); 6] = [
        (0, 1000, &data[..]),
        (10, 20, &data[10..30]),
        (990, 100, &data[990..]),
        (1000, 10, &[]),
        (5000, 10, &[]),
        (3, 0, &[]),
    ];
    for (offset, len, want) in cases {
        let got = ok(s, "get_range", s.get_range(&key, offset, len).await);
        assert_eq!(&got[..], want, "[{}] get_range({offset}, {len})", s.url());
    }
    expect_kind(
        s,
        "get_range of a missing object",
        s.get_range(&format!("{key}-missing"), 0, 1).await,
        ErrorKind::NotFound,
    );
}

/// Create-only writes fail on an existing object and leave it untouched.
pub async fn check_create_conflict(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/once", fresh("create"));
    ok(
        s,
        "create",
        s.put(&key, Bytes::from_static(b"first"), PutMode::Create)
            .await,
    );
    let msg = expect_kind(
        s,
        "second create",
        s.put(&key, Bytes::from_static(b"second"), PutMode::Create)
            .await,
        ErrorKind::Conflict,
    );
    assert!(
        msg.contains(&key),
        "[{}] the error names the key: {msg}",
        s.url()
    );
    assert_eq!(
        &ok(s, "get", s.get(&key).await).bytes[..],
        b"first",
        "[{}] loser changed the object",
        s.url()
    );
}

/// Compare-and-swap: succeeds on the current ETag, fails on a stale one or a
/// missing object.
pub async fn check_update_if(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/cas", fresh("update-if"));
    let e1 = ok(
        s,
        "put",
        s.put(&key, Bytes::from_static(b"v1"), PutMode::Overwrite)
            .await,
    )
    .etag;
    let e2 = ok(
        s,
        "update_if current",
        s.put(
            &key,
            Bytes::from_static(b"v2"),
            PutMode::UpdateIf(e1.clone()),
        )
        .await,
    )
    .etag;
    assert_ne!(e1, e2, "[{}] etag changes on update", s.url());
    expect_kind(
        s,
        "update_if with a stale etag",
        s.put(&key, Bytes::from_static(b"v3"), PutMode::UpdateIf(e1))
            .await,
        ErrorKind::Conflict,
    );
    assert_eq!(
        &ok(s, "get", s.get(&key).await).bytes[..],
        b"v2",
        "[{}] a failed update_if wrote",
        s.url()
    );
    let head_etag = ok(s, "head", s.head(&key).await).etag;
    ok(
        s,
        "update_if with head's etag",
        s.put(
            &key,
            Bytes::from_static(b"v4"),
            PutMode::UpdateIf(head_etag),
        )
        .await,
    );
    assert_eq!(&ok(s, "get", s.get(&key).await).bytes[..], b"v4");
    expect_kind(
        s,
        "update_if of a missing object",
        s.put(
            &format!("{key}-missing"),
            Bytes::from_static(b"x"),
            PutMode::UpdateIf(e2),
        )
        .await,
        ErrorKind::Conflict,
    );
}

/// Conditional get: `None` while unchanged, the new bytes once changed.
pub async fn check_get_if_changed(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/poll", fresh("if-changed"));
    let e1 = ok(
        s,
        "put",
        s.put(&key, Bytes::from_static(b"one"), PutMode::Overwrite)
            .await,
    )
    .etag;
    let unchanged = ok(s, "get_if_changed", s.get_if_changed(&key, Some(&e1)).await);
    assert!(
        unchanged.is_none(),
        "[{}] unchanged object returned again: {unchanged:?}",
        s.url()
    );
    let first = ok(
        s,
        "get_if_changed(None)",
        s.get_if_changed(&key, None).await,
    )
    .unwrap_or_else(|| {
        panic!(
            "[{}] get_if_changed without etag must return the object",
            s.url()
        )
    });
    assert_eq!((&first.bytes[..], &first.etag), (&b"one"[..], &e1));
    let e2 = ok(
        s,
        "put",
        s.put(&key, Bytes::from_static(b"two"), PutMode::Overwrite)
            .await,
    )
    .etag;
    let changed = ok(s, "get_if_changed", s.get_if_changed(&key, Some(&e1)).await)
        .unwrap_or_else(|| panic!("[{}] changed object reported unchanged", s.url()));
    assert_eq!((&changed.bytes[..], &changed.etag), (&b"two"[..], &e2));
    expect_kind(
        s,
        "get_if_changed of a missing object",
        s.get_if_changed(&format!("{key}-missing"), None).await,
        ErrorKind::NotFound,
    );
}

/// put_file of a multi-MiB file: the bytes read back equal the file, which is
/// left unchanged.
pub async fn check_put_file_round_trip(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    let key = format!("{}/big.tsk", fresh("put-file"));
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("big.tsk");
    let data = pseudo_random((12 << 20) + 12_345, 42);
    write_file(&src, &data);
    let crc = crc32fast::hash(&data);
    let meta = ok(s, "put_file", s.put_file(&key, &src, crc).await);
    assert_eq!(meta.size, data.len() as u64, "[{}] put_file size", s.url());
    let head = ok(s, "head", s.head(&key).await);
    assert_eq!(
        (head.size, &head.etag),
        (meta.size, &meta.etag),
        "[{}] head after put_file",
        s.url()
    );
    let mut offset = 0u64;
    let mut hasher = crc32fast::Hasher::new();
    while offset < meta.size {
        let chunk = ok(s, "get_range", s.get_range(&key, offset, 5 << 20).await);
        let end = offset as usize + chunk.len();
        assert!(!chunk.is_empty(), "[{}] empty read at {offset}", s.url());
        assert!(
            chunk[..] == data[offset as usize..end],
            "[{}] bytes differ in {offset}..{end}",
            s.url()
        );
        hasher.update(&chunk);
        offset = end as u64;
    }
    assert_eq!(
        hasher.finalize(),
        crc,
        "[{}] crc of the bytes read back",
        s.url()
    );
    let whole = ok(s, "get", s.get(&key).await);
    assert!(
        whole.bytes[..] == data[..],
        "[{}] get of the uploaded file differs",
        s.url()
    );
    let after = std::fs::read(&src).expect("read source");
    assert!(after == data, "[{}] put_file modified its source", s.url());

    // Overwriting with another file replaces the content.
    let small = dir.path().join("small.tsk");
    write_file(&small, b"small");
    ok(
        s,
        "put_file overwrite",
        s.put_file(&key, &small, crc32fast::hash(b"small")).await,
    );
    assert_eq!(&ok(s, "get", s.get(&key).await).bytes[..], b"small");
}

/// Many concurrent create-only writes of one key: exactly one wins, and the object
/// holds the winner's bytes.
pub async fn check_concurrent_create(store: Arc<dyn ObjectStore>) {
    const WRITERS: usize = 16;
    let key = format!("{}/race", fresh("create-race"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            let body = Bytes::from(format!("writer {i}"));
            (i, store.put(&key, body, PutMode::Create).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("writer task");
        match result {
            Ok(_) => winners.push(i),
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::Conflict,
                "[{}] writer {i}: {e}",
                store.url()
            ),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{}] exactly one create must win, got {winners:?}",
        store.url()
    );
    let got = ok(store.as_ref(), "get", store.get(&key).await);
    assert_eq!(
        got.bytes,
        Bytes::from(format!("writer {}", winners[0])),
        "[{}] object holds the winner's bytes",
        store.url()
    );
}
