"""PySpark jobs the Spark tests (tests/tests/spark.rs) run in local mode.

    python3 jobs.py SCENARIO OUT_JSON [ARGS...]

Each scenario starts one local[2] Spark session, runs its jobs through
``tusk.spark.write`` and writes what it saw to OUT_JSON for the Rust test to check
against the store and a real ``tusk serve``. Keys are ``key-<i>`` and values
``value-<i>`` unless a scenario says otherwise, so the test knows every record.
"""

import json
import os
import signal
import sys
import time

from pyspark import TaskContext
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import tusk
import tusk.spark


def session(extra=None, master="local[2]"):
    builder = (
        SparkSession.builder.master(master)
        .appName("tusk-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for k, v in (extra or {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def numbered(spark, rows):
    """``rows`` records ``key-<i>`` -> ``value-<i>``."""
    return spark.range(rows).select(
        F.concat(F.lit("key-"), F.col("id").cast("string")).alias("key"),
        F.concat(F.lit("value-"), F.col("id").cast("string")).alias("value"),
    )


def tricky_rows(n):
    """Keys and values that test quoting and encodings: commas, quotes, tabs,
    newlines, non-ASCII, empty values."""
    out = []
    for i in range(n):
        key = f"k{i:05d}" + ("-é✓" if i % 7 == 0 else "")
        value = [
            f"plain {i}",
            f'a "quoted", comma {i}',
            f"two\nlines {i}",
            "",
            f"tab\there {i}",
            f"ünïcødé {i} 🐘",
        ][i % 6]
        out.append((key, value))
    return out


def partitioner_keys():
    """8,600 keys for the partitioner parity check: empty, ASCII, non-ASCII text,
    invalid UTF-8 and random bytes."""
    import random

    rng = random.Random(7)
    keys = [b"", b"a", b"\x00", b"\xff\xfe", "é".encode(), "🐘".encode()]
    keys += [f"key-{i}".encode() for i in range(3000)]
    keys += [("ünï-" + str(i)).encode() for i in range(1000)]
    keys += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(4594)]
    return keys


def scenario_publish(out, stores, rows, data_dir):
    """Publishes ``rows`` numbered records to each store, checks the partitioner
    against Spark's, and writes the tricky records as Parquet and CSV (as Spark
    writes them) beside publishing them to the first store."""
    spark = session()
    result = {"versions": [], "timings": {}}
    df = numbered(spark, rows).cache()
    df.count()
    for i, store in enumerate(stores):
        started = time.time()
        # The first store's tasks get the smallest budget (4 MiB): they spill.
        budget = 4 * 1024 * 1024 if i == 0 else None
        summary = tusk.spark.write(
            df, store, "pages", 8, reason="spark test", memory_budget=budget
        )
        result["timings"][store] = time.time() - started
        result["versions"].append(summary)

    # Partitioner parity: Spark's pmod(xxhash64(binary), n) against tusk.shard_for.
    keys = partitioner_keys()
    kdf = spark.createDataFrame([(k,) for k in keys], "k binary")
    mismatches = 0
    for n in (1, 7, 64, 1000, 65536):
        spark_shards = [
            (bytes(r.k), r.s)
            for r in kdf.select("k", F.expr(f"pmod(xxhash64(k), {n})").alias("s")).collect()
        ]
        mismatches += sum(1 for k, s in spark_shards if tusk.shard_for(k, n) != s)
    result["parity_keys"] = len(keys)
    result["parity_mismatches"] = mismatches

    tricky = spark.createDataFrame(tricky_rows(5000), "key string, value string")
    tricky.repartition(3).write.parquet(os.path.join(data_dir, "parquet"))
    (
        tricky.repartition(3)
        .write.option("header", True)
        .option("quote", '"')
        .option("escape", '"')
        .option("quoteAll", True)
        .csv(os.path.join(data_dir, "csv"))
    )
    result["tricky"] = tusk.spark.write(tricky, stores[0], "tricky", 4)
    # Binary keys and values, to the same store.
    binary = spark.createDataFrame(
        [(bytes([i % 256, (i * 7) % 256, 255]) + str(i).encode(), bytes([0, i % 256])) for i in range(3000)],
        "k binary, v binary",
    )
    # In format 1, as for a fleet whose servers do not read format 2 yet.
    result["binary"] = tusk.spark.write(
        binary, stores[0], "binary", 3, key="k", value="v", shard_format="tusk-native-v1"
    )
    try:
        tusk.spark.write(binary, stores[0], "binary", 3, key="k", value="v", shard_format="v9")
        result["bad_shard_format"] = None
    except ValueError as e:
        result["bad_shard_format"] = str(e)
    spark.stop()
    write_json(out, result)


class FlakyTask(tusk.spark._ShardTask):
    """Shard 1's first attempt fails after uploading its shard, as a task that
    dies between its upload and its result would. Every attempt is recorded in
    ``attempts_dir``."""

    attempts_dir = None

    def __call__(self, batches):
        ctx = TaskContext.get()
        shard, attempt = ctx.partitionId(), ctx.attemptNumber()
        name = f"shard{shard}-attempt{attempt}-task{ctx.taskAttemptId()}"
        open(os.path.join(self.attempts_dir, name), "w").close()
        yield from super().__call__(batches)
        if shard == 1 and attempt == 0:
            raise RuntimeError("injected failure of shard 1's first attempt, after its upload")


class SkippingTask(tusk.spark._ShardTask):
    """Returns no entry for an empty partition, as a Spark that skipped the task of
    an empty partition would: the driver must build those shards itself."""

    def __call__(self, batches):
        batches = list(batches)
        if sum(b.num_rows for b in batches) == 0:
            return
        yield from super().__call__(iter(batches))


def scenario_faults(out, store, rows, attempts_dir):
    """A job with a task that fails once after its upload still publishes a
    correct version, and so does a late upload of a losing attempt; bad input
    publishes nothing."""
    # local[2,4]: two threads, and a failed task is tried up to 4 times (plain
    # local[2] never retries).
    spark = session({"spark.task.maxFailures": "4"}, master="local[2,4]")
    result = {}
    FlakyTask.attempts_dir = attempts_dir
    tusk.spark._ShardTask = FlakyTask
    df = numbered(spark, rows)
    result["flaky"] = tusk.spark.write(df, store, "pages", 4)
    tusk.spark._ShardTask = FlakyTask.__mro__[1]

    # A losing attempt (a speculative copy Spark did not kill in time) that uploads
    # its shard after the commit: a second, complete shard 2 under its own name.
    version = result["flaky"]["version"]
    builder = tusk.ShardBuilder("pages", 2, 4)
    for i in range(rows):
        key = f"key-{i}"
        if tusk.shard_for(key, 4) == 2:
            builder.add(key, f"late-{i}")
    built = builder.finish()
    builder_hash = built.content_hash
    late = tusk.upload_shard(store, "pages", version, "shard-00002-late.tsk", built)
    result["late_object"] = late["object"]
    result["late_content_hash"] = late["content_hash"]
    result["late_built_hash"] = builder_hash

    errors = {}
    # The low-level API: an uploaded entry names the format its shard was built
    # in, so a commit records it unasked, and refuses to record another.
    lowlevel = tusk.Publication.begin(store, "lowlevel")
    builder = tusk.ShardBuilder("lowlevel", 0, 1, shard_format="tusk-native-v1")
    builder.add("k", "v")
    built = builder.finish()
    result["lowlevel_built_format"] = built.shard_format
    entry = tusk.upload_shard(store, "lowlevel", lowlevel.version, "shard-00000.tsk", built)
    result["lowlevel_entry_format"] = entry["shard_format"]
    errors["format_mismatch"] = failure(
        lambda: lowlevel.commit([entry], shard_format="tusk-native-v2")
    )
    # Entries that disagree among themselves: one version holds one format.
    other = dict(entry, index=1, shard_format="tusk-native-v2")
    errors["format_mix"] = failure(lambda: lowlevel.commit([entry, other]))
    result["lowlevel"] = lowlevel.commit([entry], activate=False)
    dup = df.union(spark.createDataFrame([("key-17", "again")], "key string, value string"))
    errors["duplicate"] = failure(lambda: tusk.spark.write(dup, store, "pages", 4))
    ints = spark.range(10).select(F.col("id").cast("string").alias("key"), F.col("id").alias("value"))
    errors["int_value"] = failure(lambda: tusk.spark.write(ints, store, "pages", 4))
    nulls = spark.createDataFrame([("a", "1"), (None, "2")], "key string, value string")
    errors["null_key"] = failure(lambda: tusk.spark.write(nulls, store, "pages", 4))
    errors["missing_column"] = failure(lambda: tusk.spark.write(df, store, "pages", 4, key="nope"))
    # The "gated" domain's write policy (set by the test) wants a million records:
    # the version is published, its activation refused.
    errors["policy"] = failure(lambda: tusk.spark.write(df, store, "gated", 4))
    # Three records in eight shards: most shards are empty and still get a file,
    # whether their tasks run (Spark 4.3 runs them) or not (then the driver builds
    # them).
    sparse = numbered(spark, 3)
    result["sparse"] = tusk.spark.write(sparse, store, "sparse", 8)
    tusk.spark._ShardTask = SkippingTask
    result["sparse_skipped"] = tusk.spark.write(sparse, store, "sparse", 8, activate=False)
    tusk.spark._ShardTask = SkippingTask.__mro__[1]
    # on_duplicate="last" publishes despite the repeat.
    result["dedup"] = tusk.spark.write(
        dup, store, "pages", 4, on_duplicate="last", activate=False
    )
    result["errors"] = errors
    spark.stop()
    write_json(out, result)


def scenario_killed(out, store, rows):
    """The driver (and its JVM: the whole process group) is killed once the tasks
    have uploaded every shard, right before the commit."""
    spark = session()
    df = numbered(spark, rows)

    def progress(phase, details):
        if phase == "begun":
            write_json(out, {"version": details["version"]})
        if phase == "committing":
            os.killpg(os.getpgid(0), signal.SIGKILL)

    tusk.spark.write(df, store, "pages", 4, lease_seconds=2.0, progress=progress)
    raise SystemExit("the commit ran: the driver was not killed")


def failure(call):
    """The type and message of the exception ``call`` raises."""
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the test reads the message
        return {"type": type(e).__name__, "message": str(e)}
    return {"type": None, "message": "no error"}


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def main():
    scenario, out, *args = sys.argv[1:]
    if scenario == "publish":
        stores = args[0].split(",")
        scenario_publish(out, stores, int(args[1]), args[2])
    elif scenario == "faults":
        scenario_faults(out, args[0], int(args[1]), args[2])
    elif scenario == "killed":
        scenario_killed(out, args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main()
