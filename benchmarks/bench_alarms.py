"""Alarm replay speed: 100 alarms × 30 days of 1-minute data (target < 30 s), vs bare polars.

    .venv/bin/python -m benchmarks.bench_alarms [--small] [--lake]

Generates 100 seeded 1-minute series (with gaps and incidents) as Parquet under
``benchmarks/.data/alarms/``, reads them back, and replays 100 alarms (mixed M-of-N, every
TreatMissingData, Period 60 and 300, Average/Sum/Maximum, two anomaly-band alarms) every minute over
the whole range with :meth:`pipeline.alarms.engine.Engine.replay` (datapoints fetched once per
alarm, vectorised decisions, reasons computed only at transitions). The bare-tool baseline is
polars computing "M of the last N 1-minute points breach" with a rolling sum on the same data.

``--lake`` also writes the series as raw metrics, rolls them up (DuckDB) and replays through the
lake source (``get_metric_data`` on the 1-minute tier, read in 14-day chunks), i.e. end to end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / ".data" / "alarms"
T0 = datetime(2026, 10, 1, tzinfo=UTC)
TMDS = ("missing", "notBreaching", "breaching", "ignore")


def generate(n_series: int, days: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"series_{n_series}x{days}d.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    minutes = days * 1440
    t0 = int(T0.timestamp())
    ts = t0 + 60 * np.arange(minutes, dtype=np.int64)
    cols: dict[str, list] = {"series": [], "ts": [], "value": []}
    for s in range(n_series):
        base = 50 + 20 * np.sin(np.arange(minutes) * 2 * np.pi / 1440) + rng.normal(0, 5, minutes)
        for _ in range(days // 2):  # incidents
            at = rng.integers(0, minutes - 60)
            base[at:at + rng.integers(3, 40)] += 60
        keep = rng.random(minutes) > 0.03  # 3 % missing minutes
        for _ in range(days // 5):  # outages: the metric stops for a while
            at = rng.integers(0, minutes - 200)
            keep[at:at + rng.integers(5, 180)] = False
        cols["series"].append(np.full(keep.sum(), s, dtype=np.int32))
        cols["ts"].append(ts[keep])
        cols["value"].append(base[keep])
    table = pa.table({k: np.concatenate(v) for k, v in cols.items()})
    pq.write_table(table, path, compression="zstd")
    return path


def alarm_docs(n: int) -> list[dict]:
    docs = []
    for i in range(n):
        period = 300 if i % 5 == 4 else 60
        nn = (1, 3, 5, 10)[i % 4]
        doc = {"AlarmName": f"alarm-{i:03d}", "Namespace": "Bench", "MetricName": "Load",
               "Dimensions": [{"Name": "Series", "Value": str(i)}],
               "Statistic": ("Average", "Sum", "Maximum")[i % 3], "Period": period,
               "EvaluationPeriods": nn, "DatapointsToAlarm": max(1, nn - (i % 3)),
               "Threshold": 100.0 if i % 3 != 1 else 100.0 * period / 60,
               "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": TMDS[i % 4],
               "AlarmActions": ["bench"]}
        docs.append(doc)
    for i in range(min(2, n)):  # anomaly-band alarms replace the first two
        docs[i] = {"AlarmName": f"band-{i}", "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
                   "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "ThresholdMetricId": "ad1", "Metrics": [
                       {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "Bench", "MetricName": "Load",
                                                              "Dimensions": [{"Name": "Series", "Value": str(i)}]},
                                                   "Period": 60, "Stat": "Average"}},
                       {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 3)"}]}
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="10 alarms × 7 days")
    ap.add_argument("--lake", action="store_true", help="also replay end to end from a rolled-up lake")
    args = ap.parse_args()
    n, days = (10, 7) if args.small else (100, 30)

    import polars as pl

    from pipeline.alarms.engine import Engine
    from pipeline.alarms.model import MetricRef
    from pipeline.alarms.source import MemorySource
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import parse_alarm
    from pipeline.lake import Lake

    t = time.perf_counter()
    path = generate(n, days)
    print(f"data: {path.name} ({time.perf_counter() - t:.1f} s to prepare)")

    t = time.perf_counter()
    df = pl.read_parquet(path)
    src = MemorySource()
    for (s,), part in df.partition_by("series", as_dict=True).items():
        for stat in ("Average",):
            ref = MetricRef("Bench", "Load", (("Series", str(s)),), stat)
            src.add(ref, part["ts"].to_numpy(), part["value"].to_numpy())
    load_s = time.perf_counter() - t
    rows = df.height

    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(tmp)
        store = AlarmStore(lake)
        store.put([parse_alarm(d) for d in alarm_docs(n)])
        store.save()
        eng = Engine(lake, _AnyStat(src))
        start, end = T0 + timedelta(hours=1), T0 + timedelta(days=days)
        t = time.perf_counter()
        res = eng.replay(start, end)
        replay_s = time.perf_counter() - t
        t = time.perf_counter()
        eng2 = Engine(lake, _AnyStat(src))
        eng2.replay(start, end, record=True)
        eng2.save()
        record_s = time.perf_counter() - t

    # bare polars: "M of the last N 1-minute points > threshold" with a rolling sum, same data
    t = time.perf_counter()
    out = (df.sort(["series", "ts"])
             .with_columns((pl.col("value") > 100).cast(pl.Int32).alias("bad"))
             .with_columns(pl.col("bad").rolling_sum(5).over("series").alias("bad5"))
             .with_columns((pl.col("bad5") >= 3).alias("alarm")))
    polars_s = time.perf_counter() - t
    assert out.height == rows

    lake_line = ""
    if args.lake:
        lake_line = _lake_replay(df, n, days)

    evals = res.evaluations
    print(f"alarms: {n}  days: {days}  datapoints: {rows:,}  evaluations: {evals:,}  transitions: "
          f"{len(res.transitions):,}")
    print(f"load into memory source       {load_s:7.2f} s")
    print(f"replay (dry run)              {replay_s:7.2f} s   {evals / replay_s:12,.0f} evaluations/s   "
          f"{rows / replay_s:12,.0f} datapoints/s")
    print(f"replay --record (history)     {record_s:7.2f} s")
    print(f"polars rolling 3-of-5 (bare)  {polars_s:7.2f} s   {rows / polars_s:12,.0f} datapoints/s")
    if lake_line:
        print(lake_line)
    print(f"ratio pipeline/polars (datapoints/s): {polars_s / replay_s:.3f}   "
          f"target < 30 s for 100 alarms × 30 days: {'PASS' if replay_s < 30 or args.small else 'FAIL'}")


def _lake_replay(df, n: int, days: int) -> str:
    """Raw metrics → rollups → replay through LakeSource; returns a report line."""
    import polars as pl
    import pyarrow as pa

    from jobs.batch_rollup import rollup
    from pipeline.alarms.engine import Engine
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import parse_alarm
    from pipeline.config import load_settings
    from pipeline.lake import Lake
    from pipeline.schemas import METRICS
    from pipeline.sources.cloudwatch import series_id

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}, overrides={"lake.root": tmp})
        lake = Lake(tmp)
        t = time.perf_counter()
        ids = {s: series_id("Bench", "Load", {"Series": str(s)}, "None") for s in range(n)}
        raw = df.with_columns(
            pl.lit("Bench").alias("namespace"), pl.lit("Load").alias("metric_name"),
            ('{"Series":"' + pl.col("series").cast(pl.Utf8) + '"}').alias("dimensions"),
            pl.from_epoch(pl.col("ts"), time_unit="s").dt.replace_time_zone("UTC").dt.cast_time_unit("ms")
              .alias("timestamp"),
            pl.lit("None").alias("unit"), pl.lit(60, pl.Int32).alias("storage_resolution"),
            pl.lit(1.0).alias("sample_count"), pl.col("value").alias("sum"), pl.col("value").alias("min"),
            pl.col("value").alias("max"), pl.lit("111122223333").alias("account_id"),
            pl.lit("us-east-1").alias("region"),
            pl.col("series").replace_strict(ids, return_dtype=pl.Utf8).alias("_wl_series_id"),
            pl.lit("bench").alias("_wl_origin"),
        ).with_columns(pl.col("timestamp").alias("_wl_ingest_time"),
                       pl.col("timestamp").dt.strftime("%Y-%m-%d").alias("dt"),
                       pl.col("timestamp").dt.strftime("%H").alias("hour"))
        for (day, hour), part in raw.partition_by(["dt", "hour"], as_dict=True).items():
            table = part.to_arrow()
            cols = {f.name: (table[f.name] if f.name in table.column_names else pa.nulls(len(table), f.type))
                    for f in METRICS}
            lake.write_partition("metrics", {"dt": day, "hour": hour},
                                 pa.table(cols).cast(METRICS, safe=False))
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        rollup(lake, settings)
        rollup_s = time.perf_counter() - t
        store = AlarmStore(lake)
        store.put([parse_alarm(d) for d in alarm_docs(n)])
        store.save()
        t = time.perf_counter()
        res = Engine(lake).replay(T0 + timedelta(hours=1), T0 + timedelta(days=days))
        lake_s = time.perf_counter() - t
    return (f"lake end to end: write raw {write_s:.1f} s, rollup {rollup_s:.1f} s, replay via get_metric_data "
            f"{lake_s:7.2f} s ({res.evaluations:,} evaluations, {len(res.transitions):,} transitions)")


class _AnyStat:
    """Serve every statistic from the same in-memory samples (the series key ignores the stat)."""

    def __init__(self, src):
        self.src = src

    def datapoints(self, metric, period, start, end, *, as_of=None):
        return self.src.datapoints(metric, period, start, end, as_of=as_of)


if __name__ == "__main__":
    main()
