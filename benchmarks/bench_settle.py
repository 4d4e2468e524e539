"""The daily merge of a closed tier day (:mod:`pipeline.rollup.settle`): CPU, wall and peak memory,
streamed (this code) against the in-memory merge it replaced and a bare DuckDB sort.

    .venv/bin/python -m benchmarks.bench_settle [--series N ...] [--tier 1m|5m]

Data (generated under benchmarks/.data/settle-<tier>-<series>/, reused when present): one day
partition of the tier as the incremental step leaves it before the day closes — one chunk file
per chunk (1m: 144 ten-minute files, 5m: 24 hourly ones), each sorted by series and time, every
series present in every bucket (the bench_rollup shape: 1m rows of 6 samples at 10 s spacing,
about 6 sketch entries; 5m rows about 20 entries with counts of 1-3), written by
:meth:`pipeline.lake.Lake.write_parquet` as the job writes them. Series: 463 (the bench_metrics
lake) and 10,000 (the bench_rollup lake) by default.

Each variant runs in a process of its own on a hard-linked copy of the day (peak RSS is its own;
CPU is all threads of that process):

* ``stream`` — :func:`pipeline.rollup.settle.merge` (DuckDB sorts, batches written as they come,
  series-aligned row groups: :mod:`pipeline.rollup.rowgroups`);
* ``fixed`` — the same merge writing a row group every ``ROW_GROUP_ROWS`` rows (the layout before);
* ``memory`` — the merge before it: :func:`pipeline.rollup.chunks.replace_runs` on the closed day
  (reads every file into one Arrow table, sorts it, writes it);
* ``bare`` — ``COPY (SELECT * FROM read_parquet([...]) ORDER BY …) TO … (FORMAT parquet)`` in a
  bare DuckDB connection (no memory limit, DuckDB's own types).

Printed: per variant wall s, CPU s, peak RSS MB, the output's size and row groups, and the ratios
stream/fixed, stream/memory and stream/bare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.lake import Lake, layout
from pipeline.rollup.tiers import JOBS, Job

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / ".data"
DAY = "2026-11-05"
T0_MS = int(datetime(2026, 11, 5, tzinfo=UTC).timestamp() * 1000)
JOB = {"1m": JOBS[0], "5m": JOBS[2]}
ENTRIES = {"1m": (6, "1.0"), "5m": (20, "CAST(1 + floor(random() * 3) AS DOUBLE)")}


def _job(tier: str) -> Job:
    job = JOB[tier]
    assert job.period == {"1m": 60, "5m": 300}[tier] and job.kind in ("raw", "merge"), job
    return job


def generate(root: Path, tier: str, series: int) -> None:
    """One day of ``tier`` chunk files for ``series`` series under ``root`` (a lake)."""
    import duckdb

    from pipeline.rollup import chunks
    from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS, SORT_KEYS

    job = _job(tier)
    lake = Lake(root)
    folder = layout.partition_path(job.target, {"dt": DAY})
    per_chunk = chunks.CHUNK_BUCKETS[job.period]
    n_entries, count = ENTRIES[tier]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    span = chunks.chunk_ms(job.period)
    for c in range(86_400_000 // span):
        t = con.sql(f"""
            WITH r AS (
                SELECT s, b, list_sort(list_distinct(list_transform(range({n_entries}),
                           lambda x: CAST(300 + floor(random() * 400) AS INTEGER)))) AS bins
                FROM range({series}) t(s), range({c * per_chunk}, {(c + 1) * per_chunk}) u(b)),
            k AS (SELECT *, list_transform(bins, lambda x: {count}) AS counts FROM r)
            SELECT printf('%016x', hash(s) >> 1) AS _wl_series_id, 'Bench' AS namespace,
                   'Latency' || (s % 10) AS metric_name, '{{"Host":"h' || s || '"}}' AS dimensions,
                   'Milliseconds' AS unit, make_timestamptz(({T0_MS} + b * {job.period * 1000}) * 1000) AS "timestamp",
                   CAST({job.period} AS INTEGER) AS period, list_sum(counts) AS sample_count,
                   list_sum(counts) * 40.0 AS "sum", 1.0 AS "min", 900.0 AS "max",
                   bins AS sketch_bins, counts AS sketch_bin_counts, list_sum(counts) AS sketch_count
            FROM k""").arrow().read_all()
        t = t.select(ROLLUP.names).cast(ROLLUP)
        rel = f"{folder}/{layout.file_name(tag=chunks.tag(job, T0_MS + c * span, span))}"
        lake.write_parquet(rel, t, sort_by=SORT_KEYS, row_group_size=ROW_GROUP_ROWS)
    con.close()


def run_part(part: str, root: Path, tier: str) -> dict[str, Any]:
    """Merge the day of the lake at ``root`` one way; wall, CPU, peak RSS."""
    job = _job(tier)
    lake = Lake(root)
    folder = layout.partition_path(job.target, {"dt": DAY})
    files = lake.table_files(job.target, folder)
    clock = T0_MS + 2 * 86_400_000
    import duckdb

    from pipeline.lake.replace import replacing
    from pipeline.rollup import chunks, rowgroups, settle
    from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS

    if part == "fixed":  # the row groups before series-aligned ones: every ROW_GROUP_ROWS rows
        rowgroups.lengths = lambda t, *a, **k: [min(ROW_GROUP_ROWS, t.num_rows - i)  # type: ignore[assignment]
                                                for i in range(0, t.num_rows, ROW_GROUP_ROWS)]
    w0, c0 = time.perf_counter(), time.process_time()
    if part in ("stream", "fixed"):
        rows = settle.merge(lake, job, folder, clock, clock - 7_200_000)
    elif part == "memory":
        with replacing(lake, job.target) as tx:
            rows = chunks.replace_runs(tx, job, folder, {"dt": DAY}, [], ROLLUP.empty_table(), clock,
                                       cutoff_ms=clock - 7_200_000)
    elif part == "bare":
        con = duckdb.connect()
        listing = ", ".join(f"'{lake.path(f)}'" for f in files)
        out = root / "bare.parquet"
        con.execute(f"COPY (SELECT * FROM read_parquet([{listing}], hive_partitioning = false) ORDER BY namespace, "
                    f"metric_name, dimensions, unit, \"timestamp\") TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
                    "ROW_GROUP_SIZE 16384)")
        rows = int(con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0])  # type: ignore[index]
        con.close()
    else:
        raise ValueError(part)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    import pyarrow.parquet as pq

    written = [lake.path(f) for f in lake.table_files(job.target, folder)] if part != "bare" else [str(out)]
    groups = sum(pq.read_metadata(f).num_row_groups for f in written)
    size = sum(os.path.getsize(f) for f in written)
    return {"rows": rows, "files_in": len(files), "wall": wall, "cpu": cpu, "peak_mb": peak_rss_mb(),
            "groups": groups, "mb": size / 1e6}


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--series", type=int, nargs="+", default=[463, 10_000])
    ap.add_argument("--tier", choices=sorted(JOB), default="1m")
    ap.add_argument("--parts", nargs="+", default=["stream", "fixed", "memory", "bare"])
    ap.add_argument("--part", help=argparse.SUPPRESS)  # internal: one merge, print JSON
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part:
        print(json.dumps(run_part(args.part, Path(args.root), args.tier)))
        return 0
    for series in args.series:
        base = DATA / f"settle-{args.tier}-{series}"
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            t0 = time.perf_counter()
            generate(base / "lake", args.tier, series)
            (base / "done").write_text("")
            print(f"generated {series:,} series x 1 day of {args.tier} in {time.perf_counter() - t0:.1f} s")
        print(f"== {args.tier} day merge, {series:,} series; load average {os.getloadavg()[0]:.2f}")
        got: dict[str, dict[str, Any]] = {}
        for part in args.parts:
            work = base / f"work-{part}"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base / "lake", work, copy_function=os.link)  # merges unlink, never write in place
            try:
                out = subprocess.run([sys.executable, "-m", "benchmarks.bench_settle", "--part", part, "--root",
                                      str(work), "--tier", args.tier], check=True, capture_output=True, text=True,
                                     cwd=REPO).stdout
            finally:
                shutil.rmtree(work, ignore_errors=True)
            got[part] = json.loads(out.strip().splitlines()[-1])
            g = got[part]
            print(f"{part:<7} {g['rows']:>11,} rows from {g['files_in']:>3} files  wall {g['wall']:>6.2f} s  "
                  f"cpu {g['cpu']:>6.2f} s  peak RSS {g['peak_mb']:>7,.0f} MB  out {g['mb']:>7.1f} MB in "
                  f"{g['groups']:,} row groups")
        s = got.get("stream")
        for other in ("fixed", "memory", "bare"):
            o = got.get(other)
            if s and o:
                print(f"stream / {other}: cpu {s['cpu'] / o['cpu']:.2f}x, wall {s['wall'] / o['wall']:.2f}x, "
                      f"peak RSS {s['peak_mb'] / o['peak_mb']:.2f}x")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
