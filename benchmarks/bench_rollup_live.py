"""Live rollup benchmark: per-step cost of the incremental rollup as a day fills up.

    .venv/bin/python -m benchmarks.bench_rollup_live [--hours 4] [--rate 20000] [--series 10000]
                                                     [--compact-every 10] [--json out.json]

A lake (under benchmarks/.data/rollup_live, recreated) receives raw metric files minute by minute,
as the loader delivers them: each simulated minute one Parquet file of ``rate × 60`` datapoints
(default 1.2 M: 20,000 datapoints/s over 10,000 series, one value each, log-normal values with
1 % ×10 spikes, written by DuckDB in the raw schema), into its ``dt=/hour=`` partition, with 0.1 %
late datapoints (1 to ``--late-minutes`` old, default 30: inside the recompute window, scattered
over that many buckets) in every file. Every
``--compact-every`` minutes the raw partitions are compacted (:mod:`pipeline.loader.compact`), as
``watchlake run`` does. After each file the real rollup step runs (``run_rollups``: the
incremental path of ``watchlake run``'s rollup stage, DuckDB engine, default settings: sketches for
every namespace; as the stage lets them, the 5m/1h tiers wait for their source buckets to close,
at most ``--defer`` s, and the 1m buckets of late data are recomputed together every
``--late-defer`` s of data clock).

Printed per simulated minute: the step's wall and CPU seconds and (every ``--bare-every`` minutes)
those of a **bare DuckDB GROUP BY** of the same new file into 1-minute buckets (count/sum/min/max
and the 1 %-sketch in plain SQL, written to Parquet by one COPY:
:func:`benchmarks.bench_rollup.bare_query`); at the end, the median and p95 step time per hour
already in the day (flat = the cost does not grow with the day) and the CPU ratio to the bare
query. The first minute is the batch build (not counted).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from benchmarks.bench_rollup import bare_query
from jobs.run.stages import RollupStage
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader.compact import compact
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups

DATA = Path(__file__).resolve().parent / ".data" / "rollup_live"
T0 = datetime(2026, 11, 5, tzinfo=UTC)


def make_series(con: duckdb.DuckDBPyConnection, series: int) -> None:
    """The series identities (and ids, as the readers compute them), once."""
    con.execute(f"""CREATE OR REPLACE TABLE series AS
        SELECT s, 'Bench' AS namespace, 'Latency' || (s % 10) AS metric_name,
               '{{"Host":"h' || s || '"}}' AS dimensions, 'Milliseconds' AS unit
        FROM range({series}) t(s)""")
    con.execute("ALTER TABLE series ADD COLUMN sid VARCHAR")
    con.execute("UPDATE series SET sid = left(md5(concat_ws(chr(31), namespace, metric_name, dimensions, unit)), 16)")


def write_minute(con: duckdb.DuckDBPyConnection, root: Path, minute: int, rate: int, series: int,
                 late_minutes: int) -> Path:
    """One loader-like raw file for simulated minute ``minute``: ``rate × 60`` datapoints spread
    over ``series`` series (:func:`make_series`), 0.1 % of them late by 1 to ``late_minutes``
    minutes. Returns its path."""
    start = T0 + timedelta(minutes=minute)
    n = rate * 60
    folder = root / "raw" / "metrics" / f"dt={start:%Y-%m-%d}" / f"hour={start:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{start:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}.parquet"
    spread = max(1, (late_minutes - 1) * 60)
    late = (f"CASE WHEN i % 1000 = 7 AND {minute} > {late_minutes} THEN -to_seconds(60 + (i * 7919) % {spread}) "
            "ELSE to_seconds(0) END")
    con.execute(f"""COPY (
        WITH v AS (
            SELECT namespace, metric_name, dimensions, unit, sid,
                   TIMESTAMPTZ '{start.isoformat()}' + to_milliseconds((i * 60000) // {n}) + {late} AS ts,
                   round(exp(random() * 4) * CASE WHEN random() < 0.01 THEN 10 ELSE 1 END, 3) AS v
            FROM range({n}) t(i) JOIN series ON series.s = i % {series})
        SELECT namespace, metric_name, dimensions, ts AS "timestamp", unit,
               CAST(60 AS INTEGER) AS storage_resolution, 1.0 AS sample_count, v AS "sum", v AS "min",
               v AS "max", CAST(NULL AS DOUBLE[]) AS "values", CAST(NULL AS DOUBLE[]) AS counts,
               '111122223333' AS account_id, 'us-east-1' AS region, CAST(NULL AS VARCHAR) AS metric_stream_name,
               sid AS _wl_series_id, 'bench' AS _wl_origin, ts AS _wl_ingest_time
        FROM v WHERE strftime(ts, '%Y-%m-%d/%H') = '{start:%Y-%m-%d/%H}' ORDER BY ts)
        TO '{path}' (FORMAT PARQUET, COMPRESSION ZSTD)""")
    return path


def bare_minute(con: duckdb.DuckDBPyConnection, path: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the bare DuckDB 1-minute GROUP BY (with the sketch) of one new file."""
    t0, c0 = time.perf_counter(), time.process_time()
    con.execute(f"COPY ({bare_query([str(path)], 60, 'raw', True)}) TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD)")
    return time.perf_counter() - t0, time.process_time() - c0


def p95(xs: list[float]) -> float:
    """The nearest-rank 95th percentile of sorted ``xs``."""
    return xs[max(0, math.ceil(0.95 * len(xs)) - 1)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--rate", type=int, default=20_000, help="datapoints per second")
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--bare-every", type=int, default=3, help="simulated minutes between bare queries")
    ap.add_argument("--compact-every", type=int, default=15, help="simulated minutes between compactions")
    ap.add_argument("--defer", type=float, default=RollupStage.DEFER_SECONDS,
                    help="seconds the 5m/1h tiers may wait for open source buckets (as watchlake run's stage)")
    ap.add_argument("--late-defer", type=float, default=RollupStage.LATE_SECONDS,
                    help="seconds the 1m buckets of late data may wait (as watchlake run's stage)")
    ap.add_argument("--late-minutes", type=int, default=30, help="how late the late datapoints are, at most")
    ap.add_argument("--json", type=Path, help="write the per-step numbers here")
    args = ap.parse_args(argv)

    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    settings = load_settings(env={}, overrides={"lake.root": str(DATA / "lake")})
    lake = Lake.from_settings(settings)
    engine = DuckDBEngine()
    gen, bare = duckdb.connect(), duckdb.connect()
    for c in (gen, bare):
        c.execute("SET TimeZone='UTC'")
    make_series(gen, args.series)
    steps: list[dict[str, float]] = []
    print(f"{args.rate:,} datapoints/s, {args.series:,} series, one file a minute for {args.hours} h")
    print("minute  hour  step wall/cpu s  bare wall/cpu s  cpu ratio  rows written  wall s per job "
          "(raw→1m, activity, →5m, →1h)")
    for minute in range(int(args.hours * 60)):
        path = write_minute(gen, DATA / "lake", minute, args.rate, args.series, args.late_minutes)
        b, b_cpu = bare_minute(bare, path, DATA / "bare.parquet") if minute % args.bare_every == 0 else (0.0, 0.0)
        if args.compact_every and minute and minute % args.compact_every == 0:
            compact(lake, ["metrics"])
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_rollups(lake, settings, engine, defer_seconds=args.defer, late_seconds=args.late_defer)
        step, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = sum(j.rows for j in report.jobs)
        per_job = {j.job: round(j.seconds, 3) for j in report.jobs}
        if minute:
            steps.append({"minute": minute, "step": step, "cpu": cpu, "bare": b, "bare_cpu": b_cpu, "rows": rows,
                          **per_job})
        ratio = f"{cpu / b_cpu:5.2f}" if b_cpu else "    -"
        print(f"{minute:6d}  {minute // 60:4d}  {step:6.2f} {cpu:6.2f}  {b:6.2f} {b_cpu:6.2f}  "
              f"{ratio}  {rows:7,}  " + " ".join(f"{v:.2f}" for v in per_job.values()), flush=True)
    print("\nper hour of the day: step wall median / p95, step CPU median / p95, bare CPU median, "
          "CPU ratio (median of per-step ratios; sum over the hour)")
    for hour in sorted({int(s["minute"]) // 60 for s in steps}):
        hs = [s for s in steps if int(s["minute"]) // 60 == hour]
        wall, cpus = sorted(s["step"] for s in hs), sorted(s["cpu"] for s in hs)
        sampled = [s for s in hs if s["bare_cpu"]] or [{"cpu": 0.0, "bare_cpu": 1.0}]
        print(f"  hour {hour}: wall {statistics.median(wall):.2f} / {p95(wall):.2f} s, "
              f"cpu {statistics.median(cpus):.2f} / {p95(cpus):.2f} s, "
              f"bare cpu {statistics.median(s['bare_cpu'] for s in sampled):.2f} s, "
              f"ratio {statistics.median(s['cpu'] / s['bare_cpu'] for s in sampled):.2f} "
              f"({sum(s['cpu'] for s in sampled) / sum(s['bare_cpu'] for s in sampled):.2f})")
    if args.json:
        args.json.write_text(json.dumps(steps, indent=1))
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
