"""`metrics get` benchmark: one series over 15 days of 1-minute data, against bare DuckDB.

    .venv/bin/python -m benchmarks.bench_metrics [--small] [--runs N] [--daily]

Data (generated under benchmarks/.data/, reused when present; the shapes of perf-baseline.md's
15-day query lakes): 463 series (``--small``: 46) × 15 days at 1-minute spacing — 10M (1M)
datapoints, a daily wave with log-normal noise and 0.1 % ×10 spikes — written by DuckDB as
Hive-partitioned zstd Parquet in the lake layout (``raw/metrics/dt=/hour=``), then rolled up
into the 1m/5m/1h tiers by the real job (``run_rollups``, DuckDB engine, default settings: a
sketch for every series). The rollup time is printed once, when the lake is built; every run then
takes one incremental rollup step (nothing new: a no-op, except on a lake built before closed days
were merged, whose days it merges once — :mod:`pipeline.rollup.settle`). The tier's layout: each
day older than the recompute window is one file sorted by series; the last day is a few block
files of settled hours plus the bucket files of the open hour.

Measured in one run, on the same files:

* ``get_metric_data`` in-process for ``p99`` and ``Average`` of one series over the last 15
  days (the planner picks the 5m tier at a 15-minute period: 1,440 points): median and 99th
  percentile of ``--runs`` calls after one warm-up call, on one thread's reused connection as a dashboard
  would, and the median CPU time (all of DuckDB's threads; what other load on the machine
  disturbs least); targets < 30 ms (p99) and < 20 ms (Average). Cold: the process's cache of
  series rows (:mod:`pipeline.query.tiercache`) emptied before each call, so every file is read
  (the headline, against bare DuckDB); warm: the rows held from the call before (an extra line);
* the bare DuckDB query a user would write for the same answer on the same tier files (for p99:
  unnest the sketches, cumulative counts, pick the bucket; for Average: Σsum / Σcount) on a
  reused connection, and the ratio;
* with ``--daily``, the in-process queries again on a copy of the tier rewritten as one file per
  day, the open last day included (the best a file layout can do for this query);
* ``watchlake metrics get`` as a whole command (a fresh process: imports, settings, planning,
  query, printing), against a bare script (``python -c "import duckdb; …"`` running the same
  bare query); target < 0.25 s. Their difference is the command's start-up overhead (imports,
  settings, listing the lake; target ≤ 0.15 s), in wall and in CPU seconds (CPU is what other
  load on the machine disturbs least).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.rawgen import write_raw_metrics
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.query import metrics, tiercache
from pipeline.query.metrics import canonical, get_metric_data
from pipeline.query.planner import plan
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.sketch import sql_bin_value

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / ".data"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 15
NAMESPACE, METRIC, DIMS = "Bench", "Latency3", {"Host": "h43"}


def generate(root: Path, series: int) -> None:
    """``series`` series × 15 days at 60 s spacing into ``root/raw/metrics`` (dt/hour partitions)."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SELECT setseed(0.42)")
    write_raw_metrics(con, f"""
        WITH g AS (
            SELECT 'Bench' AS namespace, 'Latency' || (s % 10) AS metric_name,
                   '{{"Host":"h' || s || '"}}' AS dimensions, 'Milliseconds' AS unit,
                   TIMESTAMPTZ '{T0.isoformat()}' + to_seconds(i * 60 + s % 60) AS ts, i, s
            FROM range({series}) t(s), range({DAYS * 1440}) u(i))
        SELECT *, round((100 + 10 * (s % 7)) * (1.5 + sin(2 * pi() * (i % 1440) / 1440.0))
                  * exp(0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                  * CASE WHEN random() < 0.001 THEN 10 ELSE 1 END, 3) AS v
        FROM g""", root)
    con.close()


def build(root: Path, series: int) -> None:
    """The raw data and its tiers, built by the real rollup job (prints its time)."""
    t0 = time.perf_counter()
    generate(root, series)
    t1 = time.perf_counter()
    settings = load_settings(env={}, overrides={"lake.root": str(root)})
    engine = DuckDBEngine()
    report = run_rollups(Lake.from_settings(settings), settings, engine)
    engine.close()
    rows = ", ".join(f"{t} {n:,}" for t, n in report.rows_by_table().items())
    print(f"built {series * DAYS * 1440:,} datapoints in {t1 - t0:.1f} s, rolled up in {report.seconds:.1f} s "
          f"({rows} rows)")


def bare_where() -> str:
    """The bare queries' filter: the series, ``timestamp`` in ``[$2, $3)``."""
    return (f"namespace = '{NAMESPACE}' AND metric_name = '{METRIC}' AND dimensions = '{canonical(DIMS)}' "
            "AND \"timestamp\" >= $2::TIMESTAMPTZ AND \"timestamp\" < $3::TIMESTAMPTZ")


def bare_sql(stat: str) -> str:
    """The bare DuckDB query for one series' statistic per period over the tier files (params:
    files, start, end, period seconds)."""
    where = bare_where()
    b = "time_bucket(to_seconds($4), \"timestamp\", $2::TIMESTAMPTZ)"
    if stat == "Average":
        return (f"SELECT {b} AS t, sum(\"sum\") / sum(sample_count) FROM read_parquet($1) WHERE {where} "
                "GROUP BY t ORDER BY t")
    q = float(stat[1:]) / 100
    return f"""
WITH r AS (SELECT {b} AS t, "min", "max", sketch_bins, sketch_bin_counts FROM read_parquet($1) WHERE {where}),
e AS (SELECT t, bn, sum(c) AS c
      FROM (SELECT t, unnest(sketch_bins) AS bn, unnest(sketch_bin_counts) AS c FROM r) GROUP BY ALL),
cum AS (SELECT t, bn, sum(c) OVER (PARTITION BY t ORDER BY bn) AS cc, sum(c) OVER (PARTITION BY t) AS n FROM e),
pick AS (SELECT t, arg_min({sql_bin_value('bn')}, cc) AS v FROM cum WHERE cc > floor({q} * (n - 1)) GROUP BY t)
SELECT t, least(greatest(any_value(v), min(r."min")), max(r."max")) FROM pick JOIN r USING (t)
GROUP BY t ORDER BY t"""


def daily_copy(root: Path, table: str) -> Path:
    """A lake holding ``table`` of ``root`` rewritten as one file per day partition (the rows of its
    chunk files, in the tier's sort order and series-aligned row groups): what the 15-day query costs when a
    settled day is one file instead of 24 hourly chunk files (:mod:`pipeline.rollup.chunks`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.lake.encoding import dictionary_columns_cached
    from pipeline.lake.store import PARQUET_COMPRESSION, write_row_groups
    from pipeline.rollup.rowgroups import lengths
    from pipeline.rollup.schema import SORT_KEYS

    out = root.parent / f"{root.name}-daily"
    if (out / "rollups" / table).exists():
        return out
    src = Lake(str(root))
    for _values, folder in src.iter_partitions(table):
        t = pa.concat_tables([pq.read_table(src.path(f)) for f in src.table_files(table, folder)])
        target = out / folder / "part-00000000T000000Z-000000000000-rollup.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        t = t.sort_by([(c, "ascending") for c in SORT_KEYS])
        with pq.ParquetWriter(str(target), t.schema, compression=PARQUET_COMPRESSION,
                              use_dictionary=dictionary_columns_cached(t)) as w:
            write_row_groups(w, t, lengths(t))
    return out


def _percentile(xs: list[float], q: float) -> float:
    """The ``q``-quantile of ``xs`` (rank ``ceil(q · n) − 1``, nearest rank: the 99th of 100)."""
    return sorted(xs)[max(0, math.ceil(q * len(xs)) - 1)]


def _median_ms(fn: object, runs: int) -> tuple[float, float, float]:
    """Median and 99th-percentile wall ms of ``runs`` calls of ``fn``, and median CPU ms (this
    process, all threads)."""
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times) * 1000, _percentile(times, 0.99) * 1000, statistics.median(cpu) * 1000


def _interleaved(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, float, float]]:
    """:func:`_median_ms` of each of ``fns``, called in turn ``runs`` times (round-robin)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (statistics.median(times[k]) * 1000, _percentile(times[k], 0.99) * 1000,
                statistics.median(cpu[k]) * 1000) for k in fns}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="46 series (1M datapoints) instead of 463 (10M)")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--threads", type=int, help="DuckDB threads for the in-process and bare queries (default: "
                    "DuckDB's, one per core)")
    ap.add_argument("--daily", action="store_true",
                    help="also time the queries on a copy of the tier with one file per day instead of hourly chunks")
    args = ap.parse_args(argv)
    series = 46 if args.small else 463
    root = DATA / f"metrics-15d-{series}"
    if not (root / "rollups").exists():
        build(root, series)
    settings = load_settings(env={}, overrides={"lake.root": str(root)})
    lake = Lake.from_settings(settings)
    engine = DuckDBEngine()
    step = run_rollups(lake, settings, engine)
    engine.close()
    print(f"one rollup step: {step.seconds:.2f} s")
    end = T0 + timedelta(days=DAYS)
    start = end - timedelta(days=DAYS)
    p = plan(start, end, now=end)
    files = [lake.uri(f) for f in lake.table_files(p.table)]
    load = os.getloadavg()
    print(f"== metrics get benchmark: {series * DAYS * 1440:,} datapoints, {series} series, 15 days at 1 min; "
          f"one series over 15 days = {p.points:,} points at {p.period} s from {p.tier} ({len(files)} files); "
          f"load average {load[0]:.2f}")
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if args.threads:
        for c in (con, metrics._con()):
            c.execute(f"SET threads = {int(args.threads)}")
    print(f"{'stat':<8} {'watchlake':>10} {'(p99)':>8} {'(CPU)':>8} {'bare DuckDB':>12} {'(p99)':>8} {'(CPU)':>8} "
          f"{'ratio':>6} {'CPU':>6}  target (medians of {args.runs} runs; p99 of the runs)")
    # every in-process query is timed round-robin, so that other load on the machine weighs on
    # all of them alike: ours, the bare query, ours with the other pNN path (the SQL a one-shot
    # command runs, or numpy), and reading the series' tier rows alone (the floor on this layout)
    chooser = metrics.vectorised
    fast = chooser()

    def other_path() -> Any:
        metrics.vectorised = lambda: not fast  # type: ignore[assignment]
        try:
            return get_metric_data(lake, NAMESPACE, METRIC, DIMS, "p99", start, end, now=end)
        finally:
            metrics.vectorised = chooser  # type: ignore[assignment]

    rows_sql = (f"SELECT unit, \"timestamp\", sample_count, sketch_count, \"min\", \"max\", sketch_bins, "
                f"sketch_bin_counts FROM read_parquet($1) WHERE {bare_where()}")
    fns: dict[str, Callable[[], Any]] = {"rows": lambda: con.sql(rows_sql, params=[files, start, end]).to_arrow_table(),
                                         "other": other_path}
    def ours(stat: str, cold: bool) -> Callable[[], Any]:
        def call() -> Any:
            if cold:
                tiercache.CACHE.clear()
            return get_metric_data(lake, NAMESPACE, METRIC, DIMS, stat, start, end, now=end)
        return call

    def bare_query(sql: str) -> Callable[[], Any]:
        return lambda: con.execute(sql, [files, start, end, p.period]).fetchall()

    for stat in ("p99", "Average"):  # warm right after cold: the cold call filled the cache with its rows
        fns[stat], fns[f"{stat} warm"] = ours(stat, cold=True), ours(stat, cold=False)
        fns[f"bare {stat}"] = bare_query(bare_sql(stat))
    first = {k: f() for k, f in fns.items()}
    t = _interleaved(fns, args.runs)
    for stat, target in (("p99", 30), ("Average", 20)):
        mine, bare, bare_rows, got = t[stat], t[f"bare {stat}"], first[f"bare {stat}"], first[stat]
        same = len(bare_rows) == len(got.values) and all(
            abs(v - b[1]) <= 1e-9 * abs(b[1]) for v, b in zip(got.values, bare_rows))
        print(f"{stat:<8} {mine[0]:>8.1f}ms {mine[1]:>6.1f}ms {mine[2]:>6.1f}ms {bare[0]:>10.1f}ms {bare[1]:>6.1f}ms "
              f"{bare[2]:>6.1f}ms {mine[0] / bare[0]:>5.2f}x {mine[2] / bare[2]:>5.2f}x  < {target} ms; "
              f"{len(got.values)} points, "
              f"{'same values as bare' if same else 'VALUES DIFFER from bare'}")
        w = t[f"{stat} warm"]
        print(f"{'':<8} {w[0]:>8.1f}ms {w[1]:>6.1f}ms {w[2]:>6.1f}ms  warm: the series' rows of every file held "
              f"by this process (pipeline.query.tiercache) — the line above is cold (cache emptied before each call)")
    o, floor = t["other"], t["rows"]
    same = first["other"].values == first["p99"].values and first["other"].timestamps == first["p99"].timestamps
    print(f"p99      {o[0]:>8.1f}ms {o[1]:>6.1f}ms {o[2]:>6.1f}ms  with pNN periods {'in SQL' if fast else 'in numpy'} "
          f"instead of {'numpy' if fast else 'SQL'} ({'same values' if same else 'VALUES DIFFER'}); reading the "
          f"series' tier rows alone (bare DuckDB, as Arrow): {floor[0]:.1f} ms (p99 {floor[1]:.1f}; "
          f"{floor[2]:.1f} ms CPU)")
    if args.daily:
        dlake = Lake(str(daily_copy(root, p.table)))
        n_files = len(dlake.table_files(p.table))
        for stat in ("p99", "Average"):
            get_metric_data(dlake, NAMESPACE, METRIC, DIMS, stat, start, end, now=end)
            d = _median_ms(lambda s=stat: get_metric_data(dlake, NAMESPACE, METRIC, DIMS, s, start, end, now=end),
                           args.runs)
            print(f"{stat:<8} {d[0]:>8.1f}ms {d[1]:>6.1f}ms {d[2]:>6.1f}ms  on the {p.tier} tier rewritten as one "
                  f"file per day, the last one too ({n_files} files)")

    # bytecode is written by the warm-up runs, as an installed package's is (PYTHONDONTWRITEBYTECODE
    # would make every run compile its modules again: 0.1–0.2 s)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO), WATCHLAKE__LAKE__ROOT=str(root))
    cmd = [sys.executable, "-m", "jobs.cli", "metrics", "get", "--namespace", NAMESPACE, "--metric", METRIC,
           "--dim", "Host=h43", "--stat", "p99", "--start", start.isoformat(), "--end", end.isoformat(),
           "--now", end.isoformat(), "--format", "csv"]
    script = ("import sys, glob, duckdb; con = duckdb.connect(); con.execute(\"SET TimeZone='UTC'\"); "
              f"rows = con.execute({bare_sql('p99')!r}, [sorted(glob.glob(sys.argv[1] + '/**/*.parquet', "
              "recursive=True)), sys.argv[2], sys.argv[3], int(sys.argv[4])]).fetchall(); "
              "print('\\n'.join(f'{t},{v!r}' for t, v in rows))")
    bare_cmd = [sys.executable, "-c", script, str(root / "rollups" / p.table), start.isoformat(), end.isoformat(),
                str(p.period)]
    startup = [sys.executable, "-c", "import duckdb"]

    def run(c: list[str]) -> None:
        subprocess.run(c, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cpu(c: list[str]) -> float:
        """CPU seconds (user + system) of one run of ``c``: unlike wall time, not stretched by
        other jobs waiting for the same cores."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run(c)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    runs = max(5, args.runs // 2)
    for c in (cmd, bare_cmd, startup):
        run(c)  # warm the OS cache and .pyc files
    walls: list[list[float]] = [[], [], []]
    cpus: list[list[float]] = [[], [], []]
    for _ in range(runs):  # round-robin, as the in-process queries
        for i, c in enumerate((cmd, bare_cmd, startup)):
            t0 = time.perf_counter()
            cpus[i].append(cpu(c))
            walls[i].append(time.perf_counter() - t0)
    c_ours, c_bare, c_imp = ((statistics.median(w) * 1000, _percentile(w, 0.99) * 1000) for w in walls)
    u_ours, u_bare, u_imp = (statistics.median(u) for u in cpus)
    print(f"command  `watchlake metrics get --stat p99` {c_ours[0] / 1000:.3f} s (p99 {c_ours[1] / 1000:.3f}; "
          f"{u_ours:.3f} s CPU); bare script {c_bare[0] / 1000:.3f} s ({u_bare:.3f} s CPU); "
          f"ratio {c_ours[0] / c_bare[0]:.2f}x wall, {u_ours / u_bare:.2f}x CPU; target < 0.25 s")
    print(f"start-up  the command over the bare script (same query and output): "
          f"{(c_ours[0] - c_bare[0]) / 1000:+.3f} s "
          f"wall, {u_ours - u_bare:+.3f} s CPU (issue #21 target ≤ 0.15 s); `python -c 'import duckdb'` alone "
          f"{c_imp[0] / 1000:.3f} s ({u_imp:.3f} s CPU); load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
