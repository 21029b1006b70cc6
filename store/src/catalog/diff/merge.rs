//! The pure part of a diff: a k-way merge of sorted record streams into one, and a
//! two-way compare of two such streams.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::{Result, StoreError};

/// A record borrowed from a shard: `(key, value)`.
pub(crate) type Record<'a> = (&'a [u8], &'a [u8]);

/// Merges streams that are each sorted by key (the shards of one version) into one
/// stream sorted by key. A key that appears in two streams is an error (a key
/// belongs to exactly one shard), as is any error of a stream; the merge stops after
/// the first error.
pub(crate) struct KMerge<'a, I> {
    name: String,
    streams: Vec<I>,
    heads: Vec<Option<&'a [u8]>>,
    heap: BinaryHeap<Reverse<(&'a [u8], usize)>>,
    last: Option<&'a [u8]>,
    primed: bool,
    failed: bool,
}

impl<'a, I: Iterator<Item = Result<Record<'a>>>> KMerge<'a, I> {
    /// A merge of `streams`; `name` (e.g. `pages version V`) names it in errors.
    pub(crate) fn new(name: String, streams: Vec<I>) -> Self {
        let heads = vec![None; streams.len()];
        KMerge {
            name,
            streams,
            heads,
            heap: BinaryHeap::new(),
            last: None,
            primed: false,
            failed: false,
        }
    }

    /// Pulls the next record of stream `i` into the heap.
    fn advance(&mut self, i: usize) -> Result<()> {
        match self.streams[i].next() {
            Some(Ok((key, value))) => {
                self.heads[i] = Some(value);
                self.heap.push(Reverse((key, i)));
            }
            Some(Err(e)) => return Err(e),
            None => self.heads[i] = None,
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Record<'a>>> {
        if !self.primed {
            self.primed = true;
            for i in 0..self.streams.len() {
                self.advance(i)?;
            }
        }
        let Some(Reverse((key, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let value = self.heads[i]
            .take()
            .expect("a stream in the heap has a head");
        if self.last == Some(key) {
            return Err(StoreError::CorruptDocument {
                key: self.name.clone(),
                detail: format!(
                    "key {} is stored in two shards",
                    crate::policy::show_bytes(key)
                ),
            });
        }
        self.last = Some(key);
        self.advance(i)?;
        Ok(Some((key, value)))
    }
}

impl<'a, I: Iterator<Item = Result<Record<'a>>>> Iterator for KMerge<'a, I> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Counts and example keys of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffCounts {
    /// Keys only in the new version.
    pub added: u64,
    /// Keys only in the old version.
    pub removed: u64,
    /// Keys in both with different values.
    pub changed: u64,
    /// Keys in both with the same value.
    pub unchanged: u64,
    /// Up to `sample` keys of each kind, in key order.
    pub samples: DiffSamples,
}

/// Example keys of each kind of difference, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffSamples {
    /// Keys only in the new version.
    pub added: Vec<Vec<u8>>,
    /// Keys only in the old version.
    pub removed: Vec<Vec<u8>>,
    /// Keys whose value changed.
    pub changed: Vec<Vec<u8>>,
}

/// How often (in records compared) [`compare`] reports progress.
pub(crate) const PROGRESS_EVERY: u64 = 1 << 16;

/// Compares two key-sorted streams: `old` and `new`. Keeps up to `sample` keys of
/// each kind. Calls `progress` with the records consumed since its last call, every
/// [`PROGRESS_EVERY`] records and at the end.
pub(crate) fn compare<'a>(
    old: impl Iterator<Item = Result<Record<'a>>>,
    new: impl Iterator<Item = Result<Record<'a>>>,
    sample: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<DiffCounts> {
    let mut out = DiffCounts::default();
    let (mut old, mut new) = (old.peekable(), new.peekable());
    let keep = |list: &mut Vec<Vec<u8>>, key: &[u8]| {
        if list.len() < sample {
            list.push(key.to_vec());
        }
    };
    let mut pending = 0u64;
    loop {
        // An error at the head of either side ends the compare.
        if let Some(Err(e)) = old.next_if(Result::is_err) {
            return Err(e);
        }
        if let Some(Err(e)) = new.next_if(Result::is_err) {
            return Err(e);
        }
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(Ok((a, _))), Some(Ok((b, _)))) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            // Only (None, Some): errors were taken above.
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                let (key, _) = old.next().expect("peeked")?;
                out.removed += 1;
                keep(&mut out.samples.removed, key);
                pending += 1;
            }
            Ordering::Greater => {
                let (key, _) = new.next().expect("peeked")?;
                out.added += 1;
                keep(&mut out.samples.added, key);
                pending += 1;
            }
            Ordering::Equal => {
                let (key, a) = old.next().expect("peeked")?;
                let (_, b) = new.next().expect("peeked")?;
                if a == b {
                    out.unchanged += 1;
                } else {
                    out.changed += 1;
                    keep(&mut out.samples.changed, key);
                }
                pending += 2;
            }
        }
        if pending >= PROGRESS_EVERY {
            progress(pending);
            pending = 0;
        }
    }
    if pending > 0 {
        progress(pending);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = Vec<(Vec<u8>, Vec<u8>)>;

    fn owned(pairs: &[(&str, &str)]) -> Owned {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn stream(records: &Owned) -> impl Iterator<Item = Result<Record<'_>>> {
        records
            .iter()
            .map(|(k, v)| Ok((k.as_slice(), v.as_slice())))
    }

    fn merged(shards: &[Owned]) -> Result<Vec<(String, String)>> {
        KMerge::new("t".into(), shards.iter().map(stream).collect())
            .map(|r| {
                r.map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn kmerge_interleaves_sorted_streams() {
        let shards = [
            owned(&[("b", "2"), ("e", "5")]),
            owned(&[]),
            owned(&[("a", "1"), ("c", "3"), ("f", "6")]),
            owned(&[("d", "4")]),
        ];
        let keys: Vec<String> = merged(&shards)
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(keys, ["a=1", "b=2", "c=3", "d=4", "e=5", "f=6"]);
        assert!(merged(&[]).unwrap().is_empty());
    }

    #[test]
    fn kmerge_refuses_a_key_in_two_streams() {
        let shards = [owned(&[("a", "1"), ("k", "x")]), owned(&[("k", "y")])];
        let err = merged(&shards).expect_err("duplicate");
        assert!(
            err.to_string().contains("\"k\" is stored in two shards"),
            "{err}"
        );
    }

    #[test]
    fn kmerge_passes_a_stream_error_on_and_stops() {
        let good = owned(&[("a", "1"), ("c", "3")]);
        let failing = vec![
            Ok((&b"b"[..], &b"2"[..])),
            Err(StoreError::CorruptDocument {
                key: "shard-00001.tsk".into(),
                detail: "bad record".into(),
            }),
        ];
        let mut m = KMerge::new(
            "t".into(),
            vec![
                Box::new(stream(&good)) as Box<dyn Iterator<Item = Result<Record<'_>>>>,
                Box::new(failing.into_iter()),
            ],
        );
        assert_eq!(m.next().unwrap().unwrap().0, b"a");
        let err = m.next().unwrap().expect_err("the stream's error");
        assert!(err.to_string().contains("shard-00001.tsk"), "{err}");
        assert!(m.next().is_none(), "fused after an error");
    }

    fn diff(old: &Owned, new: &Owned, sample: usize) -> DiffCounts {
        let mut seen = 0;
        let counts = compare(stream(old), stream(new), sample, &mut |n| seen += n).unwrap();
        assert_eq!(
            seen,
            old.len() as u64 + new.len() as u64,
            "progress covers every record"
        );
        counts
    }

    #[test]
    fn compare_counts_each_kind_and_samples_in_key_order() {
        let old = owned(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("f", "")]);
        let new = owned(&[
            ("b", "2"),
            ("c", "33"),
            ("d", "44"),
            ("e", "5"),
            ("f", ""),
            ("g", "7"),
        ]);
        let c = diff(&old, &new, 1);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (2, 1, 2, 2));
        assert_eq!(c.samples.added, [b"e".to_vec()]);
        assert_eq!(c.samples.removed, [b"a".to_vec()]);
        assert_eq!(c.samples.changed, [b"c".to_vec()]);
        let all = diff(&old, &new, 10);
        assert_eq!(all.samples.added, [b"e".to_vec(), b"g".to_vec()]);
        assert_eq!(all.samples.changed, [b"c".to_vec(), b"d".to_vec()]);
        assert!(diff(&old, &new, 0).samples.added.is_empty());
    }

    #[test]
    fn compare_with_an_empty_side() {
        let some = owned(&[("a", "1"), ("b", "2")]);
        let c = diff(&Owned::new(), &some, 5);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (2, 0, 0, 0));
        let c = diff(&some, &Owned::new(), 5);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (0, 2, 0, 0));
        let c = diff(&some, &some, 5);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (0, 0, 0, 2));
    }

    #[test]
    fn compare_reports_progress_in_batches() {
        let old: Owned = (0..PROGRESS_EVERY + 3)
            .map(|i| (format!("{i:08}").into_bytes(), Vec::new()))
            .collect();
        let mut calls = Vec::new();
        compare(stream(&old), stream(&Owned::new()), 0, &mut |n| {
            calls.push(n)
        })
        .unwrap();
        assert_eq!(calls, [PROGRESS_EVERY, 3]);
    }

    #[test]
    fn compare_surfaces_an_error_from_either_side() {
        let good = owned(&[("a", "1")]);
        let bad = || {
            vec![Err(StoreError::CorruptDocument {
                key: "x".into(),
                detail: "broken".into(),
            })]
            .into_iter()
        };
        let err = compare(stream(&good), bad(), 0, &mut |_| {}).expect_err("new side");
        assert!(err.to_string().contains("broken"));
        let err = compare(bad(), stream(&good), 0, &mut |_| {}).expect_err("old side");
        assert!(err.to_string().contains("broken"));
    }
}
