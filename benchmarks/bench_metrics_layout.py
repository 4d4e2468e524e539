"""Row-group layouts of a tier, compared: one-series reads against full scans, size, write time.

    .venv/bin/python -m benchmarks.bench_metrics_layout [--small] [--runs N] [--table metrics_5m]
                                                        [--targets 1024,2048,4096,8192]

On the lake of :mod:`benchmarks.bench_metrics` (463 series × 15 days of 1-minute data, built
there when missing), every file of the tier is rewritten as it is (same rows, same order, same
files) with the row groups of each layout into a copy of the tier:

* ``fixed``: every :data:`~pipeline.rollup.schema.ROW_GROUP_ROWS` rows (the layout before series-aligned
  groups);
* ``series T``: :func:`pipeline.rollup.rowgroups.lengths` with target ``T`` rows.

Measured on each copy, round-robin (medians of ``--runs``; CPU ms beside wall ms):

* ``rows``: bare DuckDB reading one series' rows over the 15 days (the columns a pNN query reads),
  and the row groups its scan reads (EXPLAIN ANALYZE), and the same through pyarrow.dataset with the
  filter (pyarrow prunes row groups on the same statistics);
* ``p99`` / ``Average``: :func:`pipeline.query.metrics.get_metric_data`, cold (the process's
  cache of series rows emptied first);
* ``scan``: a full scan (per series: Σsum, max over all rows of the tier) — what a dashboard
  overview or an export pays for smaller row groups;
* the tier's bytes, its row groups, and the time pyarrow took to write it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.bench_metrics import DATA, DAYS, DIMS, METRIC, NAMESPACE, T0, _interleaved, bare_where, build
from pipeline.lake import Lake
from pipeline.query import tiercache
from pipeline.query.metrics import canonical, get_metric_data


def relaid(root: Path, table: str, name: str, groups: Callable[[Any], list[int]]) -> tuple[Path, float, int, int]:
    """A lake holding ``table`` of ``root`` with every file rewritten (same rows and order) in the
    row groups ``groups`` gives; returns (root, pyarrow CPU s writing, bytes, row groups)."""
    import pyarrow.parquet as pq

    from pipeline.lake.encoding import dictionary_columns_cached
    from pipeline.lake.store import PARQUET_COMPRESSION, write_row_groups

    out = root.parent / f"{root.name}-layout-{name}"
    shutil.rmtree(out, ignore_errors=True)
    src = Lake(str(root))
    cpu, size, n_groups = 0.0, 0, 0
    for rel in src.table_files(table):
        t = pq.read_table(src.path(rel))
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        c0 = time.process_time()
        with pq.ParquetWriter(str(target), t.schema, compression=PARQUET_COMPRESSION,
                              use_dictionary=dictionary_columns_cached(t)) as w:
            g = groups(t)
            write_row_groups(w, t, g)
        cpu += time.process_time() - c0
        size += target.stat().st_size
        n_groups += len(g)
    return out, cpu, size, n_groups


def main(argv: list[str] | None = None) -> int:
    from pipeline.rollup import rowgroups
    from pipeline.rollup.schema import ROW_GROUP_ROWS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--table", default="metrics_5m")
    ap.add_argument("--targets", default="1024,2048,4096,8192")
    args = ap.parse_args(argv)
    series = 46 if args.small else 463
    root = DATA / f"metrics-15d-{series}"
    if not (root / "rollups").exists():
        build(root, series)
    layouts: dict[str, Callable[[Any], list[int]]] = {
        "fixed": lambda t: [min(ROW_GROUP_ROWS, t.num_rows - i) for i in range(0, t.num_rows, ROW_GROUP_ROWS)]}
    for target in (int(x) for x in args.targets.split(",")):
        layouts[f"series {target}"] = lambda t, n=target: rowgroups.lengths(t, n, n // 4)
    end = T0 + timedelta(days=DAYS)
    start = end - timedelta(days=DAYS)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    rows_sql = (f"SELECT unit, \"timestamp\", sample_count, sketch_count, \"min\", \"max\", sketch_bins, "
                f"sketch_bin_counts FROM read_parquet($1) WHERE {bare_where()}")
    scan_sql = ("SELECT namespace, metric_name, dimensions, sum(\"sum\"), max(\"max\") FROM read_parquet($1) "
                "GROUP BY ALL")
    print(f"== tier layouts of {args.table}: {series} series × {DAYS} days; load average {os.getloadavg()[0]:.2f}")
    fns: dict[str, Callable[[], Any]] = {}
    info: dict[str, str] = {}
    for name, fn in layouts.items():
        lroot, cpu, size, n_groups = relaid(root, args.table, name.replace(" ", "-"), fn)
        lake = Lake(str(lroot))
        files = [lake.uri(f) for f in lake.table_files(args.table)]
        plan = con.execute("EXPLAIN ANALYZE " + rows_sql, [files, start, end]).fetchall()
        scanned = [(int(a), int(b)) for a, b in re.findall(r"Row Groups Scanned: *([\d,]+) */ *([\d,]+)",
                                                           str(plan).replace(",", ""))]
        read = f"{sum(a for a, _ in scanned)}/{sum(b for _, b in scanned)}" if scanned else "?"
        info[name] = (f"{size / 1e6:.1f} MB, {n_groups} row groups, written in {cpu:.2f} CPU-s; a series' read "
                      f"scans {read} row groups")
        fns[f"{name}|rows"] = lambda f=files: con.sql(rows_sql, params=[f, start, end]).to_arrow_table()
        fns[f"{name}|pyarrow"] = lambda f=files: _pyarrow_rows(f, start, end)
        for stat in ("p99", "Average"):
            fns[f"{name}|{stat}"] = lambda lk=lake, s=stat: _cold(lk, s, start, end)
        fns[f"{name}|scan"] = lambda f=files: con.execute(scan_sql, [f]).fetchall()
    first = {k: f() for k, f in fns.items()}
    ref = first["fixed|p99"].values
    t = _interleaved(fns, args.runs)
    print(f"{'layout':<12} {'rows':>14} {'pyarrow':>14} {'p99':>14} {'Average':>14} {'full scan':>16}   "
          f"(median wall ms / CPU ms of {args.runs} runs)")
    for name in layouts:
        cells = [f"{t[f'{name}|{k}'][0]:>6.1f}/{t[f'{name}|{k}'][2]:<6.1f}" for k in ("rows", "pyarrow", "p99",
                                                                                    "Average", "scan")]
        same = first[f"{name}|p99"].values == ref and first[f"{name}|rows"].num_rows == first["fixed|rows"].num_rows
        print(f"{name:<12} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} {cells[3]:>14} {cells[4]:>16}   "
              f"{info[name]}{'' if same else '; VALUES DIFFER'}")
    print(f"load average now {os.getloadavg()[0]:.2f}")
    return 0


def _cold(lake: Lake, stat: str, start: Any, end: Any) -> Any:
    """``get_metric_data`` with the process's series-row cache emptied first (every file read)."""
    tiercache.CACHE.clear()
    return get_metric_data(lake, NAMESPACE, METRIC, DIMS, stat, start, end, now=end)


def _pyarrow_rows(files: list[str], start: Any, end: Any) -> Any:
    import pyarrow.dataset as ds

    f = ((ds.field("namespace") == NAMESPACE) & (ds.field("metric_name") == METRIC)
         & (ds.field("dimensions") == canonical(DIMS)) & (ds.field("timestamp") >= start)
         & (ds.field("timestamp") < end))
    cols = ["unit", "timestamp", "sample_count", "sketch_count", "min", "max", "sketch_bins", "sketch_bin_counts"]
    return ds.dataset(files, format="parquet").to_table(columns=cols, filter=f)


if __name__ == "__main__":
    raise SystemExit(main())
