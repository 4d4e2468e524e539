"""The loader's de-duplication as an hour partition fills: cost per commit and index memory.

    .venv/bin/python -m benchmarks.bench_loader_index [--rate 20000] [--seconds 5] [--batches 240]
                                                      [--late 0.001] [--late-minutes 30] [--bare-every 20]

Commits ``--batches`` batches of Metric Streams-shaped datapoints (``rate × seconds`` rows each,
default 100,000: 20,000 datapoints/s over 10,000 series, flushed every 5 s as ``watchlake run``'s
loader does) into one ``dt=/hour=`` partition through the real commit path
(:func:`pipeline.loader.commit.commit`: de-duplication against every visible file, Parquet
write, ledger entry). A fraction ``--late`` of each batch's rows are late (1 to
``--late-minutes`` minutes old, new keys), and every 30th batch also re-delivers 2,000 rows of
the batch 8 minutes earlier (duplicates that must be rejected from files whose hashes left the
hot window).

Printed per ``--bare-every`` batches: the commit's CPU seconds, the de-duplication's share, row
groups read back, the index's memory (its own account) against the keys' Arrow strings (what the
earlier in-memory set held), and — the bare tool on the same data — a **DuckDB anti-join** of the
batch against the partition's files followed by the same Parquet write (exactly-once without an
index: every commit reads every key written so far). At the end: median commit CPU over the first
and the last quarter (flat = does not grow with the partition) and the ratio to the bare tool.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.lake import Lake, layout, ledger  # noqa: E402
from pipeline.loader.commit import Work, commit  # noqa: E402
from pipeline.loader.index import KeyIndex  # noqa: E402
from pipeline.loader.partition import key_array  # noqa: E402
from pipeline.schemas import METRICS, RECORD_KEYS  # noqa: E402

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SERIES = 10_000


def batch(b: int, n: int, seconds: float, late: float, late_min: int, rng: np.random.Generator) -> pa.Table:
    """Batch ``b``: ``n`` datapoints spread over its ``seconds``, ``late`` of them 1..late_min minutes old."""
    i = np.arange(n)
    t0_ms = int(T0.timestamp() * 1000) + int(b * seconds * 1000)
    ts = t0_ms + (i * int(seconds * 1000)) // n
    n_late = int(n * late)
    if n_late:
        idx = rng.choice(n, n_late, replace=False)
        ts[idx] = np.maximum(int(T0.timestamp() * 1000), ts[idx] - rng.integers(60_000, late_min * 60_000, n_late))
    sid = pa.array([f"Bench/Load|Requests|{{\"Service\":\"s{s}\"}}|Count" for s in range(SERIES)])
    v = rng.random(n)
    cols = {f.name: pa.nulls(n, f.type) for f in METRICS}
    cols.update({
        "namespace": pa.array(np.full(n, "Bench/Load")), "metric_name": pa.array(np.full(n, "Requests")),
        "timestamp": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "sample_count": pa.array(np.ones(n)), "sum": pa.array(v), "min": pa.array(v), "max": pa.array(v),
        "_wl_series_id": sid.take(pa.array(i % SERIES)), "_wl_origin": pa.array(np.full(n, "stream:live/0")),
    })
    return pa.table([cols[f.name].cast(f.type) for f in METRICS], schema=METRICS)


def bare(lake: Lake, folder: str, table: pa.Table) -> float:
    """CPU seconds of a DuckDB anti-join of ``table`` against the partition's files + the same write."""
    import duckdb
    import pyarrow.parquet as pq

    keys = ", ".join(f'"{c}"' for c in RECORD_KEYS["metrics"])
    files = [lake.path(f) for f in lake.table_files("metrics", folder)]
    c0 = time.process_time()
    con = duckdb.connect()
    con.register("batch", table)
    fresh = con.sql(f"SELECT * FROM batch ANTI JOIN (SELECT {keys} FROM read_parquet({files!r})) "
                    f"USING ({keys})").to_arrow_table()
    pq.write_table(fresh, pa.BufferOutputStream(), compression="zstd", row_group_size=128 * 1024)
    con.close()
    return time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batches", type=int, default=240)
    ap.add_argument("--late", type=float, default=0.001)
    ap.add_argument("--late-minutes", type=int, default=30)
    ap.add_argument("--bare-every", type=int, default=20)
    args = ap.parse_args()
    n = int(args.rate * args.seconds)
    work = Path(tempfile.mkdtemp(prefix="bench_index_"))
    lake = Lake(str(work / "lake"))
    index, ids = KeyIndex(lake, "metrics"), ledger.CommitIds(ledger.new_run_id())
    folder = layout.partition_path("metrics", layout.time_partitions("metrics", T0))
    rng = np.random.default_rng(7)
    string_bytes = 0
    rows: list[tuple[int, float, float, int, float, float, float]] = []
    print(f"{n:,} datapoints per batch ({args.rate:,}/s × {args.seconds:g} s), {args.late:.1%} late (≤ "
          f"{args.late_minutes} min), a re-delivery every 30 batches; {args.batches} batches = "
          f"{args.batches * args.seconds / 60:.0f} min of one hour partition")
    print(" batch  commit CPU s  dedup s  loads  index MiB  key strings MiB  bare DuckDB CPU s  ratio")
    replay: dict[int, pa.Table] = {}
    try:
        for b in range(args.batches):
            t = batch(b, n, args.seconds, args.late, args.late_minutes, rng)
            replay[b] = t.slice(0, 2000)
            replay.pop(b - 100, None)
            dups = 0
            if b % 30 == 29 and b - 96 in replay:  # 8 minutes back at 5 s a batch
                t = pa.concat_tables([t, replay[b - 96]])
                dups = 2000
            string_bytes += key_array("metrics", t).nbytes
            loads0 = index.stats.loads
            c0, w0 = time.process_time(), time.perf_counter()
            out = commit(lake, index, Work("metrics", folder, [t], t.num_rows, t.nbytes), ids.next())
            cpu = time.process_time() - c0
            if out.duplicates != dups:
                raise AssertionError(f"batch {b}: {out.duplicates} duplicates, expected {dups}")
            bare_cpu = bare(lake, folder, t) if (b + 1) % args.bare_every == 0 else float("nan")
            rows.append((b, cpu, time.perf_counter() - w0, index.stats.loads - loads0, index.nbytes() / 2**20,
                         string_bytes / 2**20, bare_cpu))
            if (b + 1) % args.bare_every == 0:
                r = rows[-1]
                print(f"{b + 1:6d}  {r[1]:12.2f}  {'':7s}  {r[3]:5d}  {r[4]:9.1f}  {r[5]:15.0f}  {r[6]:17.2f}  "
                      f"{r[1] / r[6]:5.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    q = max(1, len(rows) // 4)
    first, last = statistics.median(r[1] for r in rows[:q]), statistics.median(r[1] for r in rows[-q:])
    bares = [(r[1], r[6]) for r in rows if r[6] == r[6]]
    late_bare = statistics.median(b for _, b in bares[-max(1, len(bares) // 4):])
    print(f"\ncommit CPU median: first quarter {first:.2f} s, last quarter {last:.2f} s ({last / first - 1:+.0%}); "
          f"bare DuckDB anti-join + write, last quarter {late_bare:.2f} s (ratio {last / late_bare:.2f}); "
          f"row groups read back {index.stats.loads} ({index.stats.loaded_rows:,} rows), "
          f"hash collisions {index.stats.collisions}")
    print(f"index memory at the end {rows[-1][4]:.1f} MiB (its own account) vs {rows[-1][5]:.0f} MiB of key strings "
          f"(the earlier in-memory set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
