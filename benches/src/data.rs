//! Deterministic bench data: a SplitMix64 generator, the record set and probe lists.
//!
//! Keys are 24 random-looking bytes. The first 8 bytes of the key with index `i` are
//! the SplitMix64 output for state `KEY_SEED + i * GAMMA`; SplitMix64's output
//! function is a bijection and `GAMMA` is odd, so distinct indices give distinct
//! first words: hit keys (indices `0..n`) are unique, and miss keys (indices from
//! [`MISS_BASE`]) can never equal a hit key. The other 16 bytes come from the
//! same stream. Values are 150 bytes derived from the key, so any contender's answer
//! can be checked without storing the expected value.

/// Key length in bytes.
pub const KEY_LEN: usize = 24;
/// Value length in bytes.
pub const VALUE_LEN: usize = 150;
/// Index of the first miss key; far above any record count a machine can hold.
pub const MISS_BASE: u64 = 1 << 62;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const KEY_SEED: u64 = 0x7475_736B_2D6B_6579; // "tusk-key"
const PROBE_SEED: u64 = 0x7475_736B_2D70_7262; // "tusk-prb"

/// The SplitMix64 output function (a bijection on `u64`).
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A uniform number below `bound` (`bound > 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

/// The key with index `i` (hits use `0..n`, misses `MISS_BASE..`).
pub fn key(i: u64) -> [u8; KEY_LEN] {
    // The first word is mix(KEY_SEED + (i + 1) * GAMMA): unique per index.
    let mut g = SplitMix64::new(KEY_SEED.wrapping_add(i.wrapping_mul(GAMMA)));
    let mut k = [0u8; KEY_LEN];
    g.fill(&mut k);
    k
}

/// The value stored under `key`: 150 bytes from a generator seeded by the key.
pub fn value_for(key: &[u8], out: &mut [u8; VALUE_LEN]) {
    let mut seed = 0u64;
    for chunk in key.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        seed = mix(seed ^ u64::from_le_bytes(w));
    }
    SplitMix64::new(seed).fill(out);
}

/// `n` records in strictly increasing key order, keys and values each in one
/// contiguous buffer.
pub struct Dataset {
    keys: Vec<[u8; KEY_LEN]>,
    values: Vec<u8>,
}

impl Dataset {
    /// Generates the `n` hit records, sorted by key.
    pub fn generate(n: usize) -> Self {
        let mut keys: Vec<[u8; KEY_LEN]> = (0..n as u64).map(key).collect();
        keys.sort_unstable();
        let mut values = vec![0u8; n * VALUE_LEN];
        let mut v = [0u8; VALUE_LEN];
        for (k, out) in keys.iter().zip(values.chunks_exact_mut(VALUE_LEN)) {
            value_for(k, &mut v);
            out.copy_from_slice(&v);
        }
        Dataset { keys, values }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Record `i` in key order.
    #[inline]
    pub fn record(&self, i: usize) -> (&[u8], &[u8]) {
        let v = &self.values[i * VALUE_LEN..(i + 1) * VALUE_LEN];
        (&self.keys[i], v)
    }

    /// All records in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.keys
            .iter()
            .zip(self.values.chunks_exact(VALUE_LEN))
            .map(|(k, v)| (&k[..], v))
    }

    /// All records in a scrambled order (`i * p mod n` for a prime `p` not dividing
    /// `n`), so a consumer that sorts does real work.
    pub fn iter_scrambled(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let n = self.len() as u64;
        let p = scramble_step(n);
        (0..n).map(move |i| {
            self.record(((u128::from(i) * u128::from(p)) % u128::from(n.max(1))) as usize)
        })
    }

    /// Bytes of input: keys plus values.
    pub fn input_bytes(&self) -> u64 {
        (self.len() * (KEY_LEN + VALUE_LEN)) as u64
    }
}

/// The records of a [`Dataset`] in its scrambled order, copied into buffers of
/// their own so a consumer reads them front to back as it would read a file: the
/// reading costs memory bandwidth, not a cache miss per record. The writer bench
/// feeds the writer from it (made before the timed build).
pub struct ScrambledCopy {
    keys: Vec<[u8; KEY_LEN]>,
    values: Vec<u8>,
}

impl ScrambledCopy {
    /// `data`'s records in [`Dataset::iter_scrambled`] order.
    pub fn of(data: &Dataset) -> ScrambledCopy {
        let mut keys = Vec::with_capacity(data.len());
        let mut values = Vec::with_capacity(data.len() * VALUE_LEN);
        for (k, v) in data.iter_scrambled() {
            keys.push(k.try_into().expect("keys are KEY_LEN bytes"));
            values.extend_from_slice(v);
        }
        ScrambledCopy { keys, values }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes of input: keys plus values.
    pub fn input_bytes(&self) -> u64 {
        (self.len() * (KEY_LEN + VALUE_LEN)) as u64
    }

    /// The records, in the copy's (scrambled) order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.keys
            .iter()
            .zip(self.values.chunks_exact(VALUE_LEN))
            .map(|(k, v)| (&k[..], v))
    }
}

/// A step coprime with `n`: the first of a few large primes that does not divide it.
fn scramble_step(n: u64) -> u64 {
    const PRIMES: [u64; 3] = [2_654_435_761, 2_246_822_519, 3_266_489_917];
    PRIMES
        .into_iter()
        .find(|p| !n.is_multiple_of(*p))
        .expect("n cannot be divisible by three distinct primes this large and fit in memory")
}

/// Pre-generated lookup keys, so key generation is not timed.
pub struct Probes {
    /// Keys present in the dataset, in random order (with repeats).
    pub hits: Vec<[u8; KEY_LEN]>,
    /// Keys absent from the dataset.
    pub misses: Vec<[u8; KEY_LEN]>,
}

impl Probes {
    /// `count` hit probes drawn uniformly from the `n` records and `count` misses.
    pub fn generate(n: usize, count: usize) -> Self {
        let mut g = SplitMix64::new(PROBE_SEED);
        let hits = if n == 0 {
            Vec::new()
        } else {
            (0..count).map(|_| key(g.below(n as u64))).collect()
        };
        let misses = (0..count as u64).map(|j| key(MISS_BASE + j)).collect();
        Probes { hits, misses }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        assert_eq!(key(7), key(7));
        assert_ne!(key(7), key(8));
        assert_ne!(key(0), key(MISS_BASE));
        let mut v1 = [0u8; VALUE_LEN];
        let mut v2 = [0u8; VALUE_LEN];
        value_for(&key(3), &mut v1);
        value_for(&key(3), &mut v2);
        assert_eq!(v1, v2);
        value_for(&key(4), &mut v2);
        assert_ne!(v1, v2);
    }

    #[test]
    fn dataset_is_sorted_and_scramble_is_a_permutation() {
        let d = Dataset::generate(1000);
        assert!(d.iter().zip(d.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        let sorted: Vec<&[u8]> = d.iter().map(|(k, _)| k).collect();
        let mut seen: Vec<&[u8]> = d.iter_scrambled().map(|(k, _)| k).collect();
        assert_ne!(seen, sorted, "scrambled order must differ from key order");
        seen.sort_unstable();
        assert_eq!(seen, sorted);
        let copy = ScrambledCopy::of(&d);
        assert_eq!(copy.len(), d.len());
        assert!(
            copy.iter().eq(d.iter_scrambled()),
            "the copy keeps the scrambled order"
        );
        let (k, v) = d.record(10);
        let mut want = [0u8; VALUE_LEN];
        value_for(k, &mut want);
        assert_eq!(v, &want[..]);
    }

    #[test]
    fn below_stays_in_range() {
        let mut g = SplitMix64::new(1);
        assert!((0..10_000).all(|_| g.below(17) < 17));
    }
}
