//! The stores under test, each loaded from the same [`Dataset`](crate::data::Dataset).

pub mod hash_map;
pub mod lmdb;
pub mod redb_table;
pub mod sled_tree;
pub mod tusk_shard;
