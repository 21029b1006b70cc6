"""tusk for Python: publish versions of a domain to a tusk store.

The package wraps tusk's own Rust writer and store (not a reimplementation):

- :func:`shard_for` is the partitioner servers and clients use, Spark's
  ``pmod(xxhash64(cast(key as binary)), n)``.
- :class:`ShardBuilder` builds one shard from records in any order, sorting and
  spilling within a memory budget like ``tusk write``.
- :func:`upload_shard` uploads a built shard to a store (a path, ``file://`` or
  ``s3://``, with the same AWS configuration as the ``tusk`` CLI).
- :class:`Publication` is a version in the making: ``begin`` announces it to gc,
  ``commit`` writes the manifest from the shards' entries and activates.
- :func:`tusk.spark.write` does all of this from one PySpark call, one task per
  shard.
"""

from ._tusk import (
    SHARD_FORMATS,
    BuiltShard,
    Publication,
    ShardBuilder,
    TuskError,
    __version__,
    new_version_id,
    shard_for,
    upload_shard,
)

__all__ = [
    "SHARD_FORMATS",
    "BuiltShard",
    "Publication",
    "ShardBuilder",
    "TuskError",
    "__version__",
    "new_version_id",
    "shard_for",
    "upload_shard",
]
