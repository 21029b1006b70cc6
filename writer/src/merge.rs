//! Merging sorted record streams, and applying the duplicate policy to the result.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{Result, WriteError};
use crate::options::OnDuplicate;
use crate::record::{InputRecord, Names, display_key};
use crate::run::RunReader;

/// A sorted stream of records: a spilled run, or a sorted in-memory buffer.
pub(crate) enum Source {
    Run(RunReader),
    Memory(std::vec::IntoIter<InputRecord>),
}

impl Source {
    fn next_record(&mut self) -> Result<Option<InputRecord>> {
        match self {
            Source::Run(run) => run.next_record(),
            Source::Memory(iter) => Ok(iter.next()),
        }
    }
}

/// The smallest pending record of one source.
struct Head {
    rec: InputRecord,
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    /// Reversed, so the max-heap pops the smallest (key, origin) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.rec.order(&self.rec)
    }
}

/// K-way merge of sorted sources into one stream ordered by key, then input order.
/// A single source (a shard that never spilled) passes straight through.
pub(crate) struct Merge {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    single: bool,
}

impl Merge {
    pub(crate) fn new(mut sources: Vec<Source>) -> Result<Self> {
        if sources.len() == 1 {
            return Ok(Merge {
                sources,
                heap: BinaryHeap::new(),
                single: true,
            });
        }
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (source, s) in sources.iter_mut().enumerate() {
            if let Some(rec) = s.next_record()? {
                heap.push(Head { rec, source });
            }
        }
        Ok(Merge {
            sources,
            heap,
            single: false,
        })
    }

    pub(crate) fn next_record(&mut self) -> Result<Option<InputRecord>> {
        if self.single {
            return self.sources[0].next_record();
        }
        let Some(Head { rec, source }) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.sources[source].next_record()? {
            self.heap.push(Head { rec: next, source });
        }
        Ok(Some(rec))
    }
}

/// Applies the duplicate policy to records arriving in (key, input order) order.
pub(crate) struct Dedup<'a> {
    policy: OnDuplicate,
    names: &'a Names,
    pending: Option<InputRecord>,
    dropped: u64,
}

impl<'a> Dedup<'a> {
    pub(crate) fn new(policy: OnDuplicate, names: &'a Names) -> Self {
        Dedup {
            policy,
            names,
            pending: None,
            dropped: 0,
        }
    }

    /// Takes the next record; returns the previous one once it is known to be kept.
    pub(crate) fn push(&mut self, rec: InputRecord) -> Result<Option<InputRecord>> {
        let Some(prev) = self.pending.take() else {
            self.pending = Some(rec);
            return Ok(None);
        };
        if prev.key() != rec.key() {
            self.pending = Some(rec);
            return Ok(Some(prev));
        }
        self.dropped += 1;
        match self.policy {
            OnDuplicate::Error => Err(WriteError::Duplicate {
                key: display_key(rec.key()),
                first: self.names.location(prev.origin),
                second: self.names.location(rec.origin),
            }),
            OnDuplicate::First => {
                self.pending = Some(prev);
                Ok(None)
            }
            OnDuplicate::Last => {
                self.pending = Some(rec);
                Ok(None)
            }
        }
    }

    /// The last kept record, and how many records were dropped.
    pub(crate) fn finish(self) -> (Option<InputRecord>, u64) {
        (self.pending, self.dropped)
    }
}

/// Feeds `merge` through a [`Dedup`] into `sink`; returns the records dropped.
pub(crate) fn drain_deduped(
    mut merge: Merge,
    policy: OnDuplicate,
    names: &Names,
    mut sink: impl FnMut(InputRecord) -> Result<()>,
) -> Result<u64> {
    let mut dedup = Dedup::new(policy, names);
    while let Some(rec) = merge.next_record()? {
        if let Some(kept) = dedup.push(rec)? {
            sink(kept)?;
        }
    }
    let (last, dropped) = dedup.finish();
    if let Some(kept) = last {
        sink(kept)?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;

    fn rec(key: &str, value: &str, line: u64) -> InputRecord {
        InputRecord::new(key.as_bytes(), value.as_bytes(), Origin { source: 0, line })
    }

    fn memory(mut recs: Vec<InputRecord>) -> Source {
        recs.sort_by(InputRecord::order);
        Source::Memory(recs.into_iter())
    }

    fn run(policy: OnDuplicate, sources: Vec<Source>) -> Result<(Vec<(String, String)>, u64)> {
        let names = Names(vec!["a.tsv".into()]);
        let mut out = Vec::new();
        let dropped = drain_deduped(Merge::new(sources)?, policy, &names, |r| {
            out.push((
                String::from_utf8(r.key().to_vec()).unwrap(),
                String::from_utf8(r.value().to_vec()).unwrap(),
            ));
            Ok(())
        })?;
        Ok((out, dropped))
    }

    fn sources() -> Vec<Source> {
        vec![
            memory(vec![
                rec("b", "b2", 2),
                rec("a", "a5", 5),
                rec("c", "c1", 1),
            ]),
            memory(vec![rec("b", "b9", 9), rec("a", "a3", 3)]),
            memory(vec![]),
            memory(vec![rec("b", "b4", 4)]),
        ]
    }

    #[test]
    fn merge_orders_by_key_and_keeps_first_or_last_in_input_order() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (out, dropped) = run(OnDuplicate::First, sources()).unwrap();
        assert_eq!(out, pairs(&[("a", "a3"), ("b", "b2"), ("c", "c1")]));
        assert_eq!(dropped, 3);
        let (out, dropped) = run(OnDuplicate::Last, sources()).unwrap();
        assert_eq!(out, pairs(&[("a", "a5"), ("b", "b9"), ("c", "c1")]));
        assert_eq!(dropped, 3);
    }

    #[test]
    fn duplicate_error_names_both_places() {
        let err = run(OnDuplicate::Error, sources()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate key \"a\" at a.tsv:3 and a.tsv:5"
        );
    }
}
