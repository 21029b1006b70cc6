"""Per-task build rate of tusk.spark.write beside `tusk write` on the same records.

    python3 task_rate.py TUSK_BIN WORK_DIR RECORDS SHARDS VALUE_BYTES BUDGET_MIB

Run by scripts/bench-spark (which builds the release wheel and CLI). Publishes
RECORDS records (``key-<i>`` -> a VALUE_BYTES value) twice to a local store under
WORK_DIR: with tusk.spark.write on local[2] (every task timed from its first
batch to its upload, with its worker's peak RSS), and with `tusk write --threads 1`
from a TSV of the same records. Prints one JSON object with both rates and their
ratio; the shards of both versions must be byte-identical (checked).
"""

import json
import os
import resource
import subprocess
import sys
import time

from pyspark import TaskContext
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import tusk.spark


class TimedTask(tusk.spark._ShardTask):
    """Records, per task: seconds to feed all batches, to build, to upload; input
    bytes; the worker's peak RSS."""

    out_dir = None

    def __call__(self, batches):
        import pyarrow as pa  # noqa: F401 - loaded before the clock starts

        started = time.perf_counter()
        cpu_started = _cpu_seconds()
        ctx = TaskContext.get()
        index = ctx.partitionId()
        builder = self.builder(index)
        input_bytes = 0
        first = None
        for batch in batches:
            if first is None:
                first = time.perf_counter()
            input_bytes += batch.nbytes
            tusk.spark._feed(builder, batch, "key", "value")
        fed = time.perf_counter()
        built = builder.finish()
        finished = time.perf_counter()
        cpu = _cpu_seconds() - cpu_started
        result = self.upload(built, f"a{ctx.taskAttemptId()}")
        uploaded = time.perf_counter()
        stats = {
            "shard": index,
            "records": built.records,
            "shard_bytes": built.bytes,
            "input_bytes": input_bytes,
            "wait_first_batch_s": (first or fed) - started,
            "feed_s": fed - (first or fed),
            "build_s": finished - fed,
            "upload_s": uploaded - finished,
            "task_s": uploaded - started,
            "worker_cpu_s": cpu,
            "spilled_runs": built.spilled_runs,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        with open(os.path.join(self.out_dir, f"task-{index}.json"), "w") as f:
            json.dump(stats, f)
        yield from self._result(result)

    def _result(self, result):
        import pyarrow as pa

        yield pa.RecordBatch.from_pylist([result], schema=tusk.spark._arrow_result_schema())


def _cpu_seconds():
    """User and system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    tusk_bin, work, records, shards, value_bytes, budget_mb = sys.argv[1:]
    records, shards, value_bytes = int(records), int(shards), int(value_bytes)
    budget = int(budget_mb) * 1024 * 1024 if int(budget_mb) else None
    store = os.path.join(work, "store")
    tasks_dir = os.path.join(work, "tasks")
    os.makedirs(tasks_dir, exist_ok=True)

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("tusk-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    padding = F.repeat(F.lit("x"), value_bytes)
    df = spark.range(records).select(
        F.concat(F.lit("key-"), F.col("id").cast("string")).alias("key"),
        F.substring(
            F.concat(F.lit("value-"), F.col("id").cast("string"), F.lit("-"), padding),
            1,
            value_bytes,
        ).alias("value"),
    )
    df = df.cache()
    df.count()
    # The same records as a TSV file for `tusk write`.
    tsv = os.path.join(work, "records.tsv")
    pad = "x" * value_bytes
    with open(tsv, "w") as f:
        for i in range(records):
            f.write(f"key-{i}\t{(f'value-{i}-' + pad)[:value_bytes]}\n")

    TimedTask.out_dir = tasks_dir
    tusk.spark._ShardTask = TimedTask
    started = time.perf_counter()
    spark_summary = tusk.spark.write(df, store, "bench", shards, memory_budget=budget)
    spark_wall = time.perf_counter() - started
    spark.stop()
    tasks = [
        json.load(open(os.path.join(tasks_dir, name)))
        for name in sorted(os.listdir(tasks_dir))
    ]

    started = time.perf_counter()
    memory = ["--memory", f"{budget_mb}MiB"] if budget else []
    out = subprocess.run(
        [tusk_bin, "write", "--store", store, "--domain", "bench", "--input", tsv,
         "--format", "tsv", "--shards", str(shards), "--threads", "1", "--no-activate",
         "--json", *memory],
        check=True, capture_output=True, text=True,
    )
    write_wall = time.perf_counter() - started
    write_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    write_summary = json.loads(out.stdout)

    def shard_sums(version):
        path = os.path.join(store, "bench", "versions", version, "MANIFEST.json")
        return [(s["bytes"], s["crc32"], s["content_hash"]) for s in json.load(open(path))["shards"]]

    identical = shard_sums(spark_summary["version"]) == shard_sums(write_summary["version"])
    input_mb = os.path.getsize(tsv) / 1e6
    task_records = sum(t["records"] for t in tasks)
    task_seconds = sum(t["feed_s"] + t["build_s"] for t in tasks)
    task_rate = task_records / task_seconds
    write_rate = records / write_wall
    report = {
        "records": records,
        "shards": shards,
        "value_bytes": value_bytes,
        "input_mb": round(input_mb, 1),
        "shards_identical": identical,
        "spark": {
            "job_wall_s": round(spark_wall, 2),
            "per_task_records_per_s": round(task_rate),
            "per_task_mb_per_s": round(input_mb / task_seconds, 1),
            "task_peak_rss_mb": round(max(t["peak_rss_bytes"] for t in tasks) / 1e6),
            "worker_cpu_ns_per_record": round(
                sum(t["worker_cpu_s"] for t in tasks) * 1e9 / task_records
            ),
            "spilled_runs": sum(t["spilled_runs"] for t in tasks),
            "tasks": tasks,
        },
        "tusk_write_threads_1": {
            "wall_s": round(write_wall, 2),
            "records_per_s": round(write_rate),
            "mb_per_s": round(input_mb / write_wall, 1),
            "peak_rss_mb": round(write_rss / 1e6),
            "spilled_runs": write_summary.get("spilled_runs"),
        },
        "ratio_task_to_tusk_write": round(task_rate / write_rate, 2),
    }
    print(json.dumps(report, indent=2))
    if not identical:
        raise SystemExit("FAIL: the Spark path and tusk write built different shards")


if __name__ == "__main__":
    main()
