//! The floor: `std::collections::HashMap<Vec<u8>, Vec<u8>>` with the default hasher.

use std::collections::HashMap;
use std::time::Instant;

use crate::Result;
use crate::data::Dataset;
use crate::lookup::Lookup;
use crate::report::Rate;

/// Every record in a std `HashMap` (SipHash-1-3, the std default), looked up by `&[u8]`.
pub struct StdHashMap {
    map: HashMap<Vec<u8>, Vec<u8>>,
}

impl StdHashMap {
    /// Copies every record of `data` into a new map.
    pub fn load(data: &Dataset) -> (Self, Rate) {
        let start = Instant::now();
        let mut map = HashMap::with_capacity(data.len());
        for (k, v) in data.iter() {
            map.insert(k.to_vec(), v.to_vec());
        }
        let rate = Rate::new(
            "HashMap insert",
            data.len() as u64,
            data.input_bytes(),
            0,
            start.elapsed(),
        );
        (StdHashMap { map }, rate)
    }
}

impl Lookup for StdHashMap {
    type Value<'a> = &'a [u8];

    fn name(&self) -> &'static str {
        "hashmap"
    }

    #[inline]
    fn lookup<'a>(&'a self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self.map.get(key).map(Vec::as_slice))
    }
}
