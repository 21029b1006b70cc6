//! S3 faults seen through real `tusk` processes on a real S3-protocol server (moto on
//! 127.0.0.1): the server stops answering in the middle of `tusk write` and in the
//! middle of a `tusk serve` download, a shard object is corrupted or truncated in the
//! bucket, operators move CURRENT at the same moment, and the bucket or the
//! credentials are wrong.
//!
//! Each test starts its own moto; every wait is bounded; processes die on drop.
//!
//! One module per scenario; `helpers` holds what they share.

mod bad_access;
mod damaged_shards;
mod helpers;
mod mid_download;
mod mid_write;
mod pointer_moves;
