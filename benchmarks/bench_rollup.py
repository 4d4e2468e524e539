"""Rollup benchmark: raw → 1m → 5m → 1h with both engines, against bare DuckDB, plus query latency.

    .venv/bin/python -m benchmarks.bench_rollup [--small] [--no-flink] [--flink-rows N]

Data (generated under benchmarks/.data/, as in perf-baseline.md §4): N raw datapoints (full
10M, --small 1M) over 10,000 series at 10 s spacing, one value per datapoint, written by DuckDB
as Hive-partitioned zstd Parquet in the lake layout (raw/metrics/dt=/hour=).

Measured in one run:
* the DuckDB engine per tier (the real job as ``watchlake rollup`` runs it, the whole chain in
  one call: planning, SQL with the sketch, atomic Parquet writes, each coarser tier merged from
  the rows of the one below still in memory, state; the data clock and the incremental state a
  first build records on their own line) and its ratio to a **bare DuckDB GROUP BY of the same aggregates** on the same
  Parquet, written to Parquet by one COPY (:func:`bare_query`: count/sum/min/max *and* the
  1 %-sketch in plain SQL; target ≤ 1.5×). The bare 1h tier is checked to equal ours, so the
  two really compute the same thing. For scale, also the ratio to a bare GROUP BY of
  count/sum/min/max alone (no percentiles at all), and the job with ``tiers.percentiles = ""``
  (no sketches) against that same bare GROUP BY (target ≤ 1.5×); and the chain run one tier
  per call (each tier read back from its files: the chain without :mod:`pipeline.rollup.carry`);
* wall *and* CPU seconds (all threads of this process): the machine is shared, so wall times
  swing with other load while CPU seconds stay comparable;
* the Flink engine: JVM/TableEnvironment start-up separately, then per tier the NDJSON bridge
  (export), the Flink job and the assembly, and rows/s (on --flink-rows raw rows, default all);
* the peak RSS of each chain (each runs in a process of its own); target ≤ 1.5× the bare chain's.

``get_metric_data`` latency is measured on a lake of the right shape (15 days of 1-minute data)
by ``benchmarks/bench_metrics.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.rawgen import write_raw_metrics
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.sketch import sql_bin
from pipeline.rollup.tiers import JOBS

DATA = Path(__file__).resolve().parent / ".data"
T0 = datetime(2026, 11, 5, tzinfo=UTC)
SERIES = 10_000
TIER_JOBS = [j for j in JOBS if j.kind != "activity"]


def generate(root: Path, n: int, series: int = SERIES) -> None:
    """``n`` datapoints over ``series`` series (default 10,000), 10 s apart, into ``root/raw/metrics``."""
    per = n // series
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    write_raw_metrics(con, f"""
        SELECT 'Bench' AS namespace, 'Latency' || (s % 10) AS metric_name,
               '{{"Host":"h' || s || '"}}' AS dimensions, 'Milliseconds' AS unit,
               TIMESTAMPTZ '{T0.isoformat()}' + to_seconds(i * 10 + s % 10) AS ts,
               round(exp(random() * 4) * CASE WHEN random() < 0.01 THEN 10 ELSE 1 END, 3) AS v
        FROM range({series}) t(s), range({per}) u(i)""", root)
    con.close()


Times = dict[str, tuple[float, float]]
"""Per tier: (wall seconds, CPU seconds of this process, all threads)."""


_IDS = ("_wl_series_id, any_value(namespace) AS namespace, any_value(metric_name) AS metric_name, "
        "any_value(dimensions) AS dimensions, any_value(unit) AS unit")


def bare_query(src: list[str], period: int, kind: str, with_sketch: bool) -> str:
    """The bare DuckDB SQL a user would write for one tier, straight from Parquet.

    Without the sketch: one GROUP BY of count/sum/min/max. With it: the same GROUP BY plus the
    sketch as plain SQL, the way the aggregate is defined (pipeline.rollup.sketch): from raw
    values, group by (series, bucket, bin), count, and list the bins and their counts per
    bucket in bin order; from a finer tier, unnest its sketches, add the counts of equal bins
    per target bucket and list them, joined to the merged count/sum/min/max.
    """
    ts = f"time_bucket(INTERVAL '{period} seconds', \"timestamp\")"
    files = f"read_parquet({src!r})"
    stats = (f"SELECT {_IDS}, {ts} AS \"timestamp\", sum(sample_count) AS sample_count, sum(\"sum\") AS \"sum\", "
             f"min(\"min\") AS \"min\", max(\"max\") AS \"max\" FROM {files} GROUP BY _wl_series_id, {ts}")
    if not with_sketch:
        return stats
    if kind == "raw":  # the bench's raw rows are single datapoints: the value is "sum"
        return f"""
WITH per_bin AS (
    SELECT {_IDS}, {ts} AS ts, {sql_bin('"sum"')} AS bn,
           sum(sample_count) AS c, sum("sum") AS s, min("min") AS lo, max("max") AS hi
    FROM {files} GROUP BY _wl_series_id, ts, bn)
SELECT _wl_series_id, any_value(namespace) AS namespace, any_value(metric_name) AS metric_name,
       any_value(dimensions) AS dimensions, any_value(unit) AS unit, ts AS "timestamp", sum(c) AS sample_count,
       sum(s) AS "sum", min(lo) AS "min", max(hi) AS "max", list(bn ORDER BY bn) AS sketch_bins,
       list(c ORDER BY bn) AS sketch_bin_counts
FROM per_bin GROUP BY _wl_series_id, ts"""
    return f"""
WITH st AS ({stats}),
sk AS (
    SELECT _wl_series_id, ts, list(bn ORDER BY bn) AS sketch_bins, list(c ORDER BY bn) AS sketch_bin_counts
    FROM (SELECT _wl_series_id, ts, bn, sum(c) AS c
          FROM (SELECT _wl_series_id, {ts} AS ts, unnest(sketch_bins) AS bn, unnest(sketch_bin_counts) AS c
                FROM {files}) GROUP BY ALL)
    GROUP BY _wl_series_id, ts)
SELECT st.*, sk.sketch_bins, sk.sketch_bin_counts
FROM st JOIN sk ON st._wl_series_id = sk._wl_series_id AND st."timestamp" = sk.ts"""


def bare_chain(raw_glob: str, work: Path, with_sketch: bool) -> Times:
    """The bare DuckDB chain (each level read from and written to Parquet); times per tier."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    times: Times = {}
    src = [raw_glob]
    for job in TIER_JOBS:
        target = str(work / f"{job.target}-{'sk' if with_sketch else 'plain'}.parquet")
        t0, c0 = time.perf_counter(), time.process_time()
        con.execute(f"COPY ({bare_query(src, job.period, job.kind, with_sketch)}) TO '{target}' "
                    "(FORMAT PARQUET, COMPRESSION ZSTD)")
        times[job.name] = (time.perf_counter() - t0, time.process_time() - c0)
        src = [target]
    con.close()
    return times


def same_as_ours(work: Path, lake_root: Path) -> str:
    """Compare the bare chain's 1h rows (with sketches) to the engine's: ``"yes (N rows)"`` or what differs."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    ours = f"read_parquet('{lake_root}/rollups/metrics_1h/**/*.parquet')"
    bare = f"read_parquet('{work}/metrics_1h-sk.parquet')"
    n_ours, n_bare = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (ours, bare))  # type: ignore[index]
    diff = con.execute(f"""
        SELECT count(*) FROM {ours} o FULL JOIN {bare} b
          ON o._wl_series_id = b._wl_series_id AND o."timestamp" = b."timestamp"
        WHERE o.sample_count IS DISTINCT FROM b.sample_count OR o."min" IS DISTINCT FROM b."min"
           OR o."max" IS DISTINCT FROM b."max" OR abs(o."sum" - b."sum") > 1e-9 * abs(b."sum")
           OR o.sketch_bins IS DISTINCT FROM b.sketch_bins
           OR o.sketch_bin_counts IS DISTINCT FROM b.sketch_bin_counts""").fetchone()[0]  # type: ignore[index]
    con.close()
    if diff == 0 and n_ours == n_bare:
        return f"yes ({n_ours:,} rows)"
    return f"NO: {diff:,} rows differ ({n_ours:,} vs {n_bare:,})"


OTHER = "clock, last writes"
"""The part of a one-call chain outside the jobs: the data clock, the incremental state a
first build records (:func:`pipeline.rollup.incremental.snapshot`), and the files still being
written when the last job has handed its own over (a job's files are written in the background,
:mod:`pipeline.rollup.commits`, while the next job computes: a tier's line counts its job until
its rows are handed over, with the CPU of the writes of the tier before it)."""


def run_engine(lake_root: Path, raw_src: Path, engine: object, percentiles: str = "*",
               one_call: bool = False) -> tuple[Times, dict[str, int]]:
    """The real rollup job: ``one_call``, the whole chain as ``watchlake rollup`` runs it (one
    :func:`run_rollups` call: each tier merged from the one below still in memory,
    :mod:`pipeline.rollup.carry`; per-job CPU from the report, the rest under :data:`OTHER`);
    else one tier per call, each reading its source tier from the files."""
    if lake_root.exists():
        shutil.rmtree(lake_root)
    (lake_root / "raw").mkdir(parents=True)
    shutil.copytree(raw_src, lake_root / "raw" / "metrics")
    settings = load_settings(env={}, overrides={"lake.root": str(lake_root), "tiers.percentiles": percentiles})
    lake = Lake.from_settings(settings)
    times: Times = {}
    rows: dict[str, int] = {}
    if one_call:
        w0, c0 = time.perf_counter(), time.process_time()
        report = run_rollups(lake, settings, engine)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        for jr in report.jobs:
            if jr.job in {j.name for j in TIER_JOBS}:
                times[jr.job], rows[jr.target] = (jr.seconds, jr.cpu_seconds), jr.rows
        times[OTHER] = (wall - sum(w for w, _ in times.values()), cpu - sum(c for _, c in times.values()))
        return times, rows
    for job in TIER_JOBS:
        w0, c0 = time.perf_counter(), time.process_time()
        report = run_rollups(lake, settings, engine, jobs=[job])  # type: ignore[arg-type]
        times[job.name] = (time.perf_counter() - w0, time.process_time() - c0)
        rows[job.target] = report.jobs[0].rows
    return times, rows


def run_part(part: str, base: Path, raw: Path) -> dict[str, Any]:
    """One measured chain, run in its own process so its peak RSS is its own."""
    if part == "bare":
        times, rows = bare_chain(str(raw) + "/**/*.parquet", base, with_sketch=False), {}
    elif part == "bare-sketch":
        times, rows = bare_chain(str(raw) + "/**/*.parquet", base, with_sketch=True), {}
    elif part == "job":
        times, rows = run_engine(base / "lake-duckdb", raw, DuckDBEngine(), one_call=True)
    elif part == "job-files":
        times, rows = run_engine(base / "lake-duckdb-files", raw, DuckDBEngine())
        shutil.rmtree(base / "lake-duckdb-files", ignore_errors=True)
    elif part == "job-plain":
        times, rows = run_engine(base / "lake-duckdb-plain", raw, DuckDBEngine(), percentiles="", one_call=True)
        shutil.rmtree(base / "lake-duckdb-plain", ignore_errors=True)
    else:
        raise ValueError(part)
    return {"times": times, "rows": rows, "peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it does not carry the parent's
    peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="1M datapoints instead of 10M")
    ap.add_argument("--no-flink", action="store_true", help="skip the Flink engine")
    ap.add_argument("--flink-rows", type=int, help="raw rows for the Flink run (default: all)")
    ap.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one chain, print JSON
    args = ap.parse_args(argv)
    n = 1_000_000 if args.small else 10_000_000
    base = DATA / f"rollup-{n // 1_000_000}M"
    raw = base / "raw-metrics"
    if args.part:
        print(json.dumps(run_part(args.part, base, raw)))
        return 0
    if not raw.exists():
        t0 = time.perf_counter()
        generate(base / "gen", n)
        shutil.move(str(base / "gen" / "raw" / "metrics"), raw)
        print(f"generated {n:,} datapoints in {time.perf_counter() - t0:.1f} s")
    print(f"== rollup benchmark: {n:,} raw datapoints, {SERIES:,} series, 10 s apart; "
          f"load average {os.getloadavg()[0]:.2f}")

    def part(name: str) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "benchmarks.bench_rollup", "--part", name] + (["--small"] if args.small else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]

    # the bare chain runs before and after the jobs (times averaged): load from other jobs changes
    bare_p, ours_p, files_p, same_p, plain_p, bare2_p = (
        part(p) for p in ("bare", "job", "job-files", "bare-sketch", "job-plain", "bare"))
    for name, (w2, c2) in bare2_p["times"].items():
        w1, c1 = bare_p["times"][name]
        bare_p["times"][name] = ((w1 + w2) / 2, (c1 + c2) / 2)
    bare_p["peak_mb"] = max(bare_p["peak_mb"], bare2_p["peak_mb"])
    bare, same, ours, rows = bare_p["times"], same_p["times"], ours_p["times"], ours_p["rows"]
    print(f"{'':<23} {'duckdb job':>15} {'bare c/s/m/m':>15} {'ratio':>11} {'bare + sketch':>15} {'ratio':>11}")
    print(f"{'tier':<12} {'rows':>10} " + f"{'wall':>7} {'cpu':>7} " * 2 + f"{'wall':>5} {'cpu':>5} "
          + f"{'wall':>7} {'cpu':>7} " + f"{'wall':>5} {'cpu':>5}")

    def line(name: str, rows_: str, o: tuple[float, float], b: tuple[float, float],
             s: tuple[float, float]) -> str:
        return (f"{name:<12} {rows_:>10} {o[0]:>6.2f}s {o[1]:>6.2f}s {b[0]:>6.2f}s {b[1]:>6.2f}s "
                f"{o[0] / b[0]:>4.2f}x {o[1] / b[1]:>4.2f}x {s[0]:>6.2f}s {s[1]:>6.2f}s "
                f"{o[0] / s[0]:>4.2f}x {o[1] / s[1]:>4.2f}x")

    for job in TIER_JOBS:
        print(line(job.name, f"{rows[job.target]:,}", ours[job.name], bare[job.name], same[job.name]))
    print(f"{OTHER:<23} {ours[OTHER][0]:>6.2f}s {ours[OTHER][1]:>6.2f}s   (once per run, no bare counterpart)")

    def total(t: Times) -> tuple[float, float]:
        return sum(w for w, _ in t.values()), sum(c for _, c in t.values())

    tot = total(ours)
    print(line("chain", "", tot, total(bare), total(same))
          + f"   ({n / tot[0]:,.0f} dp/s; target ≤ 1.5x the bare count/sum/min/max chain, aim 1.2x)")
    ft, bt = total(files_p["times"]), total(bare)
    print(f"one tier per call (each read back from its files, its own clock and state): "
          f"{ft[0]:.2f}s wall, {ft[1]:.2f}s cpu = {ft[1] / bt[1]:.2f}x the bare chain's cpu "
          f"(peak RSS {files_p['peak_mb']:,.0f} MB)")
    print(f"load average after the chains: {os.getloadavg()[0]:.2f} (CPU ratios are the reliable ones under load)")
    print(f"peak RSS: job {ours_p['peak_mb']:,.0f} MB, bare c/s/m/m {bare_p['peak_mb']:,.0f} MB "
          f"({ours_p['peak_mb'] / bare_p['peak_mb']:.2f}x; target ≤ 1.5x), bare + sketch {same_p['peak_mb']:,.0f} MB")
    print(f"bare 1h tier with sketches equals ours: {same_as_ours(base, base / 'lake-duckdb')}")

    plain = plain_p["times"]
    print("with tiers.percentiles = \"\" (no sketches; count/sum/min/max/Average only):")
    for job in TIER_JOBS:
        o, b = plain[job.name], bare[job.name]
        print(f"{job.name:<12} {'':>10} {o[0]:>6.2f}s {o[1]:>6.2f}s {b[0]:>6.2f}s {b[1]:>6.2f}s "
              f"{o[0] / b[0]:>4.2f}x {o[1] / b[1]:>4.2f}x")
    pt, bt = total(plain), total(bare)
    print(f"{'chain':<12} {'':>10} {pt[0]:>6.2f}s {pt[1]:>6.2f}s {bt[0]:>6.2f}s {bt[1]:>6.2f}s "
          f"{pt[0] / bt[0]:>4.2f}x {pt[1] / bt[1]:>4.2f}x   (peak RSS {plain_p['peak_mb']:,.0f} MB)")
    print("(metrics get latency over a 15-day 1-minute lake: python -m benchmarks.bench_metrics)")

    if not args.no_flink:
        from jobs.flink_rollup import FlinkEngine

        fraw = raw
        if args.flink_rows and args.flink_rows < n:
            fraw = DATA / f"rollup-flink-{args.flink_rows}"
            if not fraw.exists():
                generate(fraw.parent / f"gen-{args.flink_rows}", args.flink_rows)
                shutil.move(str(fraw.parent / f"gen-{args.flink_rows}" / "raw" / "metrics"), fraw)
        fn = args.flink_rows if args.flink_rows and args.flink_rows < n else n
        eng = FlinkEngine()
        _ = eng.t_env
        print(f"flink: TableEnvironment start-up {eng.timings['startup']:.1f} s")
        before = dict(eng.timings)
        per_job: dict[str, dict[str, float]] = {}
        orig = eng.compute

        def timed(job, tasks):  # type: ignore[no-untyped-def]
            snap = dict(eng.timings)
            yield from orig(job, tasks)
            per_job[job.name] = {k: eng.timings[k] - snap[k] for k in ("export", "flink", "assemble")}

        eng.compute = timed  # type: ignore[method-assign]
        fsec, frows = run_engine(base / "lake-flink", fraw, eng)
        print(f"{'tier':<12} {'rows':>10} {'total':>8} {'export':>8} {'flink':>8} {'assemble':>9} {'input rows/s':>13}")
        inputs = {"metrics→1m": fn, "1m→5m": frows["metrics_1m"], "5m→1h": frows["metrics_5m"]}
        for job in TIER_JOBS:
            pj = per_job.get(job.name, {"export": 0, "flink": 0, "assemble": 0})
            print(f"{job.name:<12} {frows[job.target]:>10,} {fsec[job.name][0]:>7.2f}s {pj['export']:>7.2f}s "
                  f"{pj['flink']:>7.2f}s {pj['assemble']:>8.2f}s {inputs[job.name] / max(pj['flink'], 1e-9):>13,.0f}")
        ftot = sum(w for w, _ in fsec.values())
        print(f"flink chain {ftot:.1f} s for {fn:,} raw rows ({fn / ftot:,.0f} raw rows/s end to end, "
              f"start-up excluded; {eng.timings['flink'] - before['flink']:.1f} s inside Flink)")
        eng.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
