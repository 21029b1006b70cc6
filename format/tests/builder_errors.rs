//! The builder rejects bad input with errors that name the key, and stays usable.

use tusk_format::{BuildOptions, FormatError, MAX_KEY_LEN, Shard, ShardBuilder};

fn builder() -> ShardBuilder<Vec<u8>> {
    ShardBuilder::new(Vec::new(), BuildOptions::default()).unwrap()
}

#[test]
fn out_of_order_key_is_rejected_and_named() {
    let mut b = builder();
    b.add(b"m", b"1").unwrap();
    let err = b.add(b"a", b"2").unwrap_err();
    assert!(
        matches!(&err, FormatError::KeyOrder { previous, key } if previous == "m" && key == "a"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"a\""), "{err}");
    // The rejected record did not poison the builder.
    b.add(b"z", b"3").unwrap();
    let (bytes, summary) = b.finish().unwrap();
    assert_eq!(summary.records, 2);
    let shard = Shard::open(bytes).unwrap();
    assert_eq!(shard.get(b"a").unwrap(), None);
    assert_eq!(shard.get(b"z").unwrap(), Some(&b"3"[..]));
}

#[test]
fn duplicate_key_is_rejected() {
    let mut b = builder();
    b.add(b"same", b"1").unwrap();
    let err = b.add(b"same", b"2").unwrap_err();
    assert!(
        matches!(&err, FormatError::DuplicateKey { key } if key == "same"),
        "{err:?}"
    );
}

#[test]
fn long_keys_are_truncated_in_messages() {
    let mut b = builder();
    let long = vec![b'z'; 5000];
    b.add(&long, b"").unwrap();
    let err = b.add(&long, b"").unwrap_err();
    match err {
        FormatError::DuplicateKey { key } => assert!(key.chars().count() <= 101, "{key}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn oversized_key_and_value_are_rejected() {
    let mut b = ShardBuilder::new(
        Vec::new(),
        BuildOptions {
            max_value_len: 10,
            ..BuildOptions::default()
        },
    )
    .unwrap();
    let err = b.add(&vec![0u8; MAX_KEY_LEN + 1], b"").unwrap_err();
    assert!(
        matches!(err, FormatError::KeyTooLarge { len, max } if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN)
    );
    let err = b.add(b"k", &[0u8; 11]).unwrap_err();
    assert!(matches!(
        err,
        FormatError::ValueTooLarge { len: 11, max: 10 }
    ));
    b.add(b"k", &[0u8; 10]).unwrap();
    assert_eq!(b.finish().unwrap().1.records, 1);
}

/// A writer that fails after a byte budget.
struct Failing {
    budget: usize,
}

impl std::io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.budget {
            return Err(std::io::Error::other("disk full"));
        }
        self.budget -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_error_is_reported_and_poisons_the_builder() {
    let opts = BuildOptions {
        block_size: 1,
        ..BuildOptions::default()
    };
    let mut b = ShardBuilder::new(Failing { budget: 40 }, opts).unwrap();
    let mut failed = false;
    for i in 0..10u8 {
        if let Err(e) = b.add(&[i], b"0123456789") {
            assert!(matches!(e, FormatError::Io(_)), "{e:?}");
            failed = true;
            break;
        }
    }
    assert!(failed, "the budget must run out");
    assert!(matches!(
        b.add(&[200], b""),
        Err(FormatError::BuilderFailed)
    ));
    assert!(matches!(b.finish(), Err(FormatError::BuilderFailed)));
}
