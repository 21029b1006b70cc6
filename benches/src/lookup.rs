//! The contender interface, the correctness check and the timed lookup passes.

use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use crate::data::{KEY_LEN, VALUE_LEN, value_for};
use crate::{BenchError, Result};

/// A key-value store being measured.
pub trait Lookup {
    /// What a successful lookup hands back.
    type Value<'a>: AsRef<[u8]>
    where
        Self: 'a;

    /// Short name for tables (`tusk`, `hashmap`, `sled`).
    fn name(&self) -> &'static str;

    /// Looks `key` up.
    fn lookup<'a>(&'a self, key: &[u8]) -> Result<Option<Self::Value<'a>>>;
}

/// A store that also looks keys up a batch at a time, overlapping their memory
/// accesses (what a MultiGet does).
pub trait BatchLookup: Lookup {
    /// Name of the batched rows (`tusk-batch`).
    fn batch_name(&self) -> &'static str;

    /// Looks up every key of `keys`, calling `each(i, value)` in order.
    fn lookup_batch(
        &self,
        keys: &[[u8; KEY_LEN]],
        each: &mut dyn FnMut(usize, Option<&[u8]>),
    ) -> Result<()>;
}

/// Keys per batch of [`bench_batched`]: a MultiGet of 100.
pub const BATCH: usize = 100;

/// Median and every pass of one timed measurement, in nanoseconds per lookup.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Median over the passes.
    pub median_ns: f64,
    /// Each pass, in run order (the untimed warm-up pass excluded).
    pub passes_ns: Vec<f64>,
}

/// Hit and miss timings of one contender.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    /// The contender's name.
    pub name: &'static str,
    /// Random lookups of present keys.
    pub hit: Timing,
    /// Random lookups of absent keys.
    pub miss: Timing,
}

fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks every hit probe returns exactly its value and every miss probe nothing.
pub fn check<L: Lookup>(store: &L, hits: &[[u8; KEY_LEN]], misses: &[[u8; KEY_LEN]]) -> Result<()> {
    let wrong = |key: &[u8], detail: String| BenchError::WrongAnswer {
        contender: store.name(),
        key: hex(key),
        detail,
    };
    let mut want = [0u8; VALUE_LEN];
    for key in hits {
        value_for(key, &mut want);
        match store.lookup(key)? {
            None => return Err(wrong(key, "present key not found".into())),
            Some(v) if v.as_ref() != want => {
                return Err(wrong(
                    key,
                    format!("wrong value of {} bytes", v.as_ref().len()),
                ));
            }
            Some(_) => {}
        }
    }
    for key in misses {
        if let Some(v) = store.lookup(key)? {
            return Err(wrong(
                key,
                format!("absent key found ({} bytes)", v.as_ref().len()),
            ));
        }
    }
    Ok(())
}

/// One pass over `probes`; returns nanoseconds per lookup. Each value is consumed
/// (length plus first byte) so no lookup can be optimised away.
#[inline(never)]
fn pass<L: Lookup>(store: &L, probes: &[[u8; KEY_LEN]]) -> Result<f64> {
    let start = Instant::now();
    let mut acc = 0u64;
    for key in probes {
        if let Some(v) = store.lookup(black_box(key))? {
            let v = v.as_ref();
            acc = acc.wrapping_add(v.len() as u64 + u64::from(v.first().copied().unwrap_or(0)));
        } else {
            acc = acc.wrapping_add(1);
        }
    }
    black_box(acc);
    let ns = start.elapsed().as_nanos() as f64;
    Ok(ns / probes.len().max(1) as f64)
}

/// Runs one untimed warm-up pass, then `passes` timed passes; reports the median.
pub fn measure<L: Lookup>(store: &L, probes: &[[u8; KEY_LEN]], passes: usize) -> Result<Timing> {
    timed(passes, || pass(store, probes))
}

/// One untimed warm-up run of `pass`, then `passes` timed runs (ns per lookup
/// each); their median.
fn timed(passes: usize, mut pass: impl FnMut() -> Result<f64>) -> Result<Timing> {
    pass()?;
    let passes_ns = (0..passes.max(1))
        .map(|_| pass())
        .collect::<Result<Vec<f64>>>()?;
    Ok(Timing {
        median_ns: median(&passes_ns),
        passes_ns,
    })
}

/// Checks the contender, then times its hits and misses.
pub fn bench<L: Lookup>(
    store: &L,
    hits: &[[u8; KEY_LEN]],
    misses: &[[u8; KEY_LEN]],
    passes: usize,
) -> Result<LookupResult> {
    check(store, hits, misses)?;
    Ok(LookupResult {
        name: store.name(),
        hit: measure(store, hits, passes)?,
        miss: measure(store, misses, passes)?,
    })
}

/// One batched pass over `probes`, [`BATCH`] keys at a time; nanoseconds per key.
#[inline(never)]
fn batched_pass<L: BatchLookup>(store: &L, probes: &[[u8; KEY_LEN]]) -> Result<f64> {
    let start = Instant::now();
    let mut acc = 0u64;
    for batch in probes.chunks(BATCH) {
        store.lookup_batch(black_box(batch), &mut |_, v| {
            acc = acc.wrapping_add(match v {
                Some(v) => v.len() as u64 + u64::from(v.first().copied().unwrap_or(0)),
                None => 1,
            });
        })?;
    }
    black_box(acc);
    let ns = start.elapsed().as_nanos() as f64;
    Ok(ns / probes.len().max(1) as f64)
}

/// Checks that the batched lookups answer every hit with its value and every
/// miss with nothing, then times them as [`bench`] does.
pub fn bench_batched<L: BatchLookup>(
    store: &L,
    hits: &[[u8; KEY_LEN]],
    misses: &[[u8; KEY_LEN]],
    passes: usize,
) -> Result<LookupResult> {
    let mut want = [0u8; VALUE_LEN];
    for (probes, present) in [(hits, true), (misses, false)] {
        for batch in probes.chunks(BATCH) {
            let mut wrong = None;
            store.lookup_batch(batch, &mut |i, got| {
                let key = &batch[i];
                let ok = if present {
                    value_for(key, &mut want);
                    got == Some(&want[..])
                } else {
                    got.is_none()
                };
                if !ok && wrong.is_none() {
                    wrong = Some(BenchError::WrongAnswer {
                        contender: store.batch_name(),
                        key: hex(key),
                        detail: format!("answered {:?} bytes", got.map(<[u8]>::len)),
                    });
                }
            })?;
            if let Some(e) = wrong {
                return Err(e);
            }
        }
    }
    Ok(LookupResult {
        name: store.batch_name(),
        hit: timed(passes, || batched_pass(store, hits))?,
        miss: timed(passes, || batched_pass(store, misses))?,
    })
}

/// Median of `xs` (mean of the middle two for an even count; 0 when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
