"""Publish a version of a domain from a PySpark job: ``tusk.spark.write``.

One Spark task builds each shard: rows are routed to their shard with tusk's
partitioner (Spark's ``pmod(xxhash64(cast(key as binary)), shards)``) and
``repartitionById``, so task *i* receives exactly the rows of shard *i*. Each task
feeds its rows to tusk's Rust shard builder in Arrow batches (sorting and spilling
within ``memory_budget``), and uploads the shard under an object name unique to
its task attempt. The driver holds the version's publish marker from the start,
collects one entry per shard, writes the manifest naming exactly one attempt per
shard, and activates.

So a retried or speculative attempt never corrupts a version (the manifest names
one upload; the commit deletes the others), and a driver that dies before the
commit leaves no visible version (its uploads are debris for ``tusk gc``).

Needs PySpark 4.1 or later (``DataFrame.repartitionById``) and pyarrow, and the
``tusk`` package installed on the executors (see the README, "Publishing from
Spark").
"""

from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from . import _tusk

__all__ = ["write"]

# What each task returns to the driver: the manifest entry of its shard, and how
# the build went.
_RESULT_SCHEMA = (
    "index int, object string, bytes long, records long, crc32 long, "
    "content_hash string, shard_format string, records_in long, duplicates_dropped long, "
    "spilled_runs long"
)

# The column names inside the job; chosen so they never clash with the caller's.
_KEY, _VALUE, _SHARD = "__tusk_key", "__tusk_value", "__tusk_shard"


def write(
    df: Any,
    store: str,
    domain: str,
    shards: int,
    key: str = "key",
    value: str = "value",
    *,
    on_duplicate: str = "error",
    memory_budget: Optional[int] = None,
    temp_dir: Optional[str] = None,
    activate: bool = True,
    actor: Optional[str] = None,
    reason: Optional[str] = None,
    metadata: Optional[Mapping[str, str]] = None,
    lease_seconds: float = 60.0,
    progress: Optional[Callable[[str, Dict[str, Any]], None]] = None,
    shard_format: Optional[str] = None,
) -> Dict[str, Any]:
    """Publishes the rows of ``df`` as a new version of ``domain`` in ``store``.

    ``df[key]`` and ``df[value]`` must be string or binary columns (strings are
    stored as UTF-8); any other type is refused before the job runs. ``store`` is
    a path, ``file://`` or ``s3://`` URL reachable from the driver and every
    executor. Each task holds at most ``memory_budget`` bytes of records (default:
    ``tusk write``'s) and spills sorted runs to ``temp_dir`` past it.

    ``shard_format``: ``"tusk-native-v2"`` (default) or ``"tusk-native-v1"``,
    for a fleet whose servers do not all read version 2 yet (as ``tusk write
    --shard-format``).

    ``on_duplicate``: ``"error"`` (default) fails the job naming the key,
    ``"first"`` / ``"last"`` keep one occurrence (which one is Spark's row order
    within the shard, not stable across runs).

    With ``activate`` (default) the version becomes current, checked against the
    domain's write policy; ``actor`` and ``reason`` go into the history. Metadata
    goes into the manifest's writer section. ``progress``, when given, is called
    on the driver with a phase name and details: ``"begun"``, ``"built"`` (after
    the tasks), ``"committing"``, ``"done"``.

    Returns a dict: ``domain``, ``version``, ``shards``, ``records``, ``bytes``,
    ``activated``, ``duplicates_dropped``, ``spilled_runs``.

    Raises ``TuskError`` (or the Spark job's error, whose message carries the
    task's ``TuskError``) and publishes nothing on any failure.
    """
    from pyspark.sql import functions as F

    if not isinstance(shards, int) or not 1 <= shards <= 65536:
        raise ValueError(f"shards must be an int from 1 to 65536, not {shards!r}")
    if shard_format is not None and shard_format not in _tusk.SHARD_FORMATS:
        raise ValueError(
            f"shard_format must be one of {', '.join(_tusk.SHARD_FORMATS)}, "
            f"not {shard_format!r}"
        )
    _check_column(df, key, "key")
    _check_column(df, value, "value")
    if not hasattr(df, "repartitionById"):
        raise RuntimeError(
            "tusk.spark.write needs PySpark 4.1 or later (DataFrame.repartitionById)"
        )

    def emit(phase: str, **details: Any) -> None:
        if progress is not None:
            progress(phase, details)

    publication = _tusk.Publication.begin(
        store, domain, actor=actor, lease_seconds=lease_seconds
    )
    try:
        emit("begun", version=publication.version)
        rows = (
            df.select(
                F.col(key).cast("binary").alias(_KEY),
                F.col(value).cast("binary").alias(_VALUE),
            )
            .withColumn(_SHARD, F.expr(f"pmod(xxhash64({_KEY}), {shards})").cast("int"))
            .repartitionById(shards, F.col(_SHARD))
            .select(_KEY, _VALUE)
        )
        task = _ShardTask(
            store=store,
            domain=domain,
            version=publication.version,
            shards=shards,
            on_duplicate=on_duplicate,
            memory_budget=memory_budget,
            temp_dir=temp_dir,
            key=key,
            value=value,
            shard_format=shard_format,
        )
        results = [r.asDict() for r in rows.mapInArrow(task, _RESULT_SCHEMA).collect()]
        # Spark may skip the task of an empty partition: its shard still gets a file.
        built = {r["index"] for r in results}
        for index in range(shards):
            if index not in built:
                results.append(task.build_empty(index))
        emit(
            "built",
            version=publication.version,
            shards=len(results),
            records=sum(r["records"] for r in results),
        )
        # Each entry names the format its task built in; the commit checks that
        # they all match `shard_format`.
        fields = ("index", "object", "bytes", "records", "crc32", "content_hash", "shard_format")
        entries = [{k: r[k] for k in fields} for r in results]
        writer = {"tool": "tusk.spark", "spark_version": df.sparkSession.version}
        writer.update(metadata or {})
        emit("committing", version=publication.version)
        summary = publication.commit(
            entries,
            activate=activate,
            actor=actor,
            reason=reason,
            writer=writer,
            shard_format=shard_format,
        )
    except BaseException:
        publication.abort()
        raise
    summary["duplicates_dropped"] = sum(r["duplicates_dropped"] for r in results)
    summary["spilled_runs"] = sum(r["spilled_runs"] for r in results)
    emit("done", **summary)
    return summary


def _check_column(df: Any, name: str, role: str) -> None:
    """``name`` is a string or binary column of ``df``; else a clear error."""
    from pyspark.sql.types import BinaryType, StringType

    fields = {f.name: f for f in df.schema.fields}
    if name not in fields:
        raise ValueError(
            f"the {role} column {name!r} is not in the DataFrame (columns: "
            f"{', '.join(fields) or 'none'})"
        )
    data_type = fields[name].dataType
    if not isinstance(data_type, (StringType, BinaryType)):
        raise TypeError(
            f"the {role} column {name!r} has type {data_type.simpleString()}; tusk "
            f"stores bytes: use a string or binary column (cast it, or serialize "
            f"the {role} yourself, e.g. with to_json)"
        )


class _ShardTask:
    """The function each Spark task runs over its partition's Arrow batches:
    builds the partition's shard, uploads it under a name unique to the task
    attempt, and yields its manifest entry. Pickled to the executors."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def builder(self, index: int) -> "_tusk.ShardBuilder":
        s = self.settings
        return _tusk.ShardBuilder(
            s["domain"],
            index,
            s["shards"],
            memory_budget=s["memory_budget"],
            on_duplicate=s["on_duplicate"],
            temp_dir=s["temp_dir"],
            shard_format=s.get("shard_format"),
        )

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        context = TaskContext.get()
        index = context.partitionId()
        builder = self.builder(index)
        for batch in batches:
            _feed(builder, batch, self.settings["key"], self.settings["value"])
        built = builder.finish()
        result = self.upload(built, f"a{context.taskAttemptId()}")
        yield pa.RecordBatch.from_pylist([result], schema=_arrow_result_schema())

    def upload(self, built: "_tusk.BuiltShard", attempt: str) -> Dict[str, Any]:
        """Uploads ``built`` as ``shard-NNNNN-<attempt>.tsk``; its result row."""
        s = self.settings
        obj = f"shard-{built.index:05d}-{attempt}.tsk"
        entry = _tusk.upload_shard(s["store"], s["domain"], s["version"], obj, built)
        entry.update(
            records_in=built.records_in,
            duplicates_dropped=built.duplicates_dropped,
            spilled_runs=built.spilled_runs,
        )
        return entry

    def build_empty(self, index: int) -> Dict[str, Any]:
        """Builds and uploads shard ``index`` with no records, on the driver."""
        return self.upload(self.builder(index).finish(), "driver")


def _arrow_result_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("index", pa.int32()),
            ("object", pa.string()),
            ("bytes", pa.int64()),
            ("records", pa.int64()),
            ("crc32", pa.int64()),
            ("content_hash", pa.string()),
            ("shard_format", pa.string()),
            ("records_in", pa.int64()),
            ("duplicates_dropped", pa.int64()),
            ("spilled_runs", pa.int64()),
        ]
    )


def _feed(builder: "_tusk.ShardBuilder", batch: Any, key: str, value: str) -> None:
    """Hands one Arrow batch of (key, value) binary columns to ``builder``: one
    native call per batch, the buffers copied once."""
    import pyarrow as pa

    keys, values = batch.column(0), batch.column(1)
    for column, name, role in ((keys, key, "key"), (values, value, "value")):
        if column.null_count:
            first = column.is_null().index(True).as_py()
            raise _tusk.TuskError(
                f"null {role} in column {name!r} (record {builder.added + first + 1} "
                f"of shard {builder.index})"
            )
    large = pa.types.is_large_binary(keys.type)
    if pa.types.is_large_binary(values.type) != large:
        keys = keys.cast(pa.large_binary())
        values = values.cast(pa.large_binary())
        large = True
    key_buffers, value_buffers = keys.buffers(), values.buffers()
    if keys.offset != values.offset:
        keys, values = _unsliced(keys), _unsliced(values)
        key_buffers, value_buffers = keys.buffers(), values.buffers()
    builder.add_arrow_columns(
        _bytes(key_buffers[1]),
        _bytes(key_buffers[2]),
        _bytes(value_buffers[1]),
        _bytes(value_buffers[2]),
        keys.offset,
        len(keys),
        large,
    )


def _unsliced(column: Any) -> Any:
    """``column`` copied to offset 0."""
    import pyarrow as pa

    return pa.concat_arrays([column])


def _bytes(buffer: Any) -> bytes:
    """An Arrow buffer's bytes (empty for a missing buffer)."""
    return b"" if buffer is None else buffer.to_pybytes()
