//! Merging sorted record streams, and applying the duplicate policy to the result.

use crate::error::{Result, WriteError};
use crate::options::OnDuplicate;
use crate::record::{InputRecord, Names, Origin, Record, display_key, head_less};
use crate::run::RunReader;
use crate::segment::{RecordRef, SegmentMerge};
use crate::tournament::LoserTree;

/// A sorted stream of records: a spilled run, or a shard's sorted in-memory
/// segments.
pub(crate) enum Source<'a> {
    /// A run file, read back record by record.
    Run(RunReader),
    /// The shard's segments, merged in memory.
    Memory(SegmentMerge<'a>),
}

/// A record out of a [`Merge`]: read back from a run, or borrowed from a segment.
pub(crate) enum Merged<'a> {
    /// Read back from a run, into an allocation of its own.
    Run(InputRecord),
    /// Borrowed from a segment.
    Memory(RecordRef<'a>),
}

impl Record for Merged<'_> {
    fn key(&self) -> &[u8] {
        match self {
            Merged::Run(r) => r.key(),
            Merged::Memory(r) => r.key(),
        }
    }

    fn value(&self) -> &[u8] {
        match self {
            Merged::Run(r) => r.value(),
            Merged::Memory(r) => r.value(),
        }
    }

    fn origin(&self) -> Origin {
        match self {
            Merged::Run(r) => r.origin(),
            Merged::Memory(r) => r.origin(),
        }
    }
}

impl<'a> Source<'a> {
    fn next_record(&mut self) -> Result<Option<Merged<'a>>> {
        Ok(match self {
            Source::Run(run) => run.next_record()?.map(Merged::Run),
            Source::Memory(segments) => segments.next_record().map(Merged::Memory),
        })
    }
}

/// K-way merge of sorted sources into one stream ordered by key, then input order.
pub(crate) struct Merge<'a> {
    sources: Vec<Source<'a>>,
    heads: Vec<Option<Merged<'a>>>,
    tree: LoserTree,
}

impl<'a> Merge<'a> {
    /// Merges `sources`, each sorted in merge order.
    pub(crate) fn new(mut sources: Vec<Source<'a>>) -> Result<Self> {
        let heads = sources
            .iter_mut()
            .map(Source::next_record)
            .collect::<Result<Vec<_>>>()?;
        let tree = LoserTree::new(sources.len(), |a, b| {
            head_less(heads[a].as_ref(), heads[b].as_ref())
        });
        Ok(Merge {
            sources,
            heads,
            tree,
        })
    }

    /// The next record in merge order, or `None` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<Merged<'a>>> {
        let source = self.tree.winner();
        let Some(next) = self.sources.get_mut(source) else {
            return Ok(None);
        };
        let next = next.next_record()?;
        let Some(rec) = std::mem::replace(&mut self.heads[source], next) else {
            return Ok(None);
        };
        let heads = &self.heads;
        self.tree
            .replay(|a, b| head_less(heads[a].as_ref(), heads[b].as_ref()));
        Ok(Some(rec))
    }
}

/// Applies the duplicate policy to records arriving in (key, input order) order.
pub(crate) struct Dedup<'a, R> {
    policy: OnDuplicate,
    names: &'a Names,
    pending: Option<R>,
    dropped: u64,
}

impl<'a, R: Record> Dedup<'a, R> {
    pub(crate) fn new(policy: OnDuplicate, names: &'a Names) -> Self {
        Dedup {
            policy,
            names,
            pending: None,
            dropped: 0,
        }
    }

    /// Takes the next record; returns the previous one once it is known to be kept.
    pub(crate) fn push(&mut self, rec: R) -> Result<Option<R>> {
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
                first: self.names.location(prev.origin()),
                second: self.names.location(rec.origin()),
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
    pub(crate) fn finish(self) -> (Option<R>, u64) {
        (self.pending, self.dropped)
    }
}

/// Feeds the records `next` yields (in merge order) through a [`Dedup`] into
/// `sink`; returns the records dropped.
pub(crate) fn drain_deduped<R: Record>(
    mut next: impl FnMut() -> Result<Option<R>>,
    policy: OnDuplicate,
    names: &Names,
    mut sink: impl FnMut(R) -> Result<()>,
) -> Result<u64> {
    let mut dedup = Dedup::new(policy, names);
    while let Some(rec) = next()? {
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
    use crate::run::RunWriter;

    fn rec(key: &str, value: &str, line: u64) -> InputRecord {
        InputRecord::new(key.as_bytes(), value.as_bytes(), Origin { source: 0, line })
    }

    /// Sorts `recs` and writes them as a run in `dir`.
    fn run_of(dir: &std::path::Path, name: &str, mut recs: Vec<InputRecord>) -> RunReader {
        recs.sort_by(crate::record::merge_order);
        let mut writer = RunWriter::create(dir.join(name)).unwrap();
        for r in &recs {
            writer.write(r).unwrap();
        }
        RunReader::open(&writer.finish().unwrap(), 64, 1 << 20).unwrap()
    }

    fn segment(recs: &[(&str, &str, u64)]) -> crate::segment::Segment {
        let mut s = crate::segment::Segment::default();
        for (k, v, line) in recs {
            s.push(
                k.as_bytes(),
                v.as_bytes(),
                Origin {
                    source: 0,
                    line: *line,
                },
            );
        }
        s.sort();
        s
    }

    fn run(policy: OnDuplicate) -> Result<(Vec<(String, String)>, u64)> {
        let dir = tempfile::tempdir().unwrap();
        // Runs and in-memory segments merge alike.
        let memory = [segment(&[("b", "b9", 9), ("a", "a3", 3)]), segment(&[])];
        let sources = vec![
            Source::Run(run_of(
                dir.path(),
                "0",
                vec![rec("b", "b2", 2), rec("a", "a5", 5), rec("c", "c1", 1)],
            )),
            Source::Memory(SegmentMerge::new(&memory)),
            Source::Run(run_of(dir.path(), "2", vec![])),
            Source::Run(run_of(dir.path(), "3", vec![rec("b", "b4", 4)])),
        ];
        let names = Names(vec!["a.tsv".into()]);
        let mut out = Vec::new();
        let mut merge = Merge::new(sources)?;
        let dropped = drain_deduped(
            || merge.next_record(),
            policy,
            &names,
            |r| {
                out.push((
                    String::from_utf8(r.key().to_vec()).unwrap(),
                    String::from_utf8(r.value().to_vec()).unwrap(),
                ));
                Ok(())
            },
        )?;
        Ok((out, dropped))
    }

    #[test]
    fn merge_orders_by_key_and_keeps_first_or_last_in_input_order() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (out, dropped) = run(OnDuplicate::First).unwrap();
        assert_eq!(out, pairs(&[("a", "a3"), ("b", "b2"), ("c", "c1")]));
        assert_eq!(dropped, 3);
        let (out, dropped) = run(OnDuplicate::Last).unwrap();
        assert_eq!(out, pairs(&[("a", "a5"), ("b", "b9"), ("c", "c1")]));
        assert_eq!(dropped, 3);
    }

    #[test]
    fn duplicate_error_names_both_places() {
        let err = run(OnDuplicate::Error).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate key \"a\" at a.tsv:3 and a.tsv:5"
        );
    }
}
