//! Where tusk versions live.
//!
//! Two layers:
//! - [`ObjectStore`]: a small trait of object primitives (create-only put,
//!   compare-and-swap put, conditional get, ranged read, list, delete). The
//!   local-directory store implements it today; S3 implements the same trait.
//! - [`Catalog`]: the store layout of tusk on top of any `ObjectStore`: publishing a
//!   version (shards first, create-only `MANIFEST.json` last), listing versions,
//!   moving the `CURRENT` pointer (activate, rollback) with create-only history
//!   records, and verified shard downloads.
//!
//! ```text
//! <root>/<domain>/versions/<version>/shard-00000.tsk ...   immutable shard files
//! <root>/<domain>/versions/<version>/MANIFEST.json         written last, create-only
//! <root>/<domain>/versions/<version>/PUBLISHING.json       publish in progress (a renewed lease)
//! <root>/<domain>/CURRENT                                  {version, seq, updated_at, actor, reason}
//! <root>/<domain>/history/<seq>.json                       create-only record of each move
//! <root>/<domain>/policy/<seq>.json                        create-only write policy; newest in force
//! ```
#![deny(missing_docs)]

mod blocking;
mod catalog;
#[cfg(feature = "testing")]
pub mod conformance;
mod download;
mod encoding;
mod error;
mod host;
pub mod keys;
mod local;
mod manifest;
mod object;
mod open;
mod pointer;
pub mod policy;
#[cfg(feature = "s3")]
mod s3;
pub mod version_id;

pub use catalog::diff::{
    DiffCounts, DiffOptions, DiffProgress, DiffProgressFn, DiffReport, DiffSamples,
};
pub use catalog::gc::{DEFAULT_GC_GRACE, GcEntry, GcKind, GcOptions, GcReason, GcReport};
pub use catalog::lease::{DEFAULT_PUBLISH_LEASE, PublishMarker, PublishOptions};
pub use catalog::publish::{PendingPublish, ShardUploadedFn};
pub use catalog::{Catalog, CurrentPoll, Lineage, MoveOptions, MoveOutcome, VersionSummary};
pub use download::{
    DEFAULT_CHUNK_SIZE, DEFAULT_PARALLEL_RANGES, DownloadOptions, DownloadReport, RateLimiter,
    download_verified,
};
pub use encoding::{Encoding, ParseEncodingError};
pub use error::{ErrorKind, Result, StoreError};
pub use host::host_name;
pub use local::LocalStore;
pub use manifest::{
    ContentHash, MANIFEST_FORMAT_VERSION, Manifest, PartitionerSpec, ShardEntry,
    is_shard_object_name, shard_object_name,
};
pub use object::{GetResult, ObjectMeta, ObjectStore, PutMode};
pub use open::{open_existing_store, open_store};
pub use pointer::{Action, Current, HistoryRecord};
#[cfg(feature = "s3")]
pub use s3::{S3Config, S3Store};
