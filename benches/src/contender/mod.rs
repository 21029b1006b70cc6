//! The stores under test, each loaded from the same [`Dataset`](crate::data::Dataset).

pub mod hash_map;
pub mod sled_tree;
pub mod tusk_shard;
