"""Parity: the PyFlink job and the DuckDB engine on the same input (generated metrics with every
kind of datapoint, and real CloudTrail events from Stratus Red Team detonations)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import duckdb
import numpy as np
import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.query.metrics import get_metric_data
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.sketch import ALPHA
from pipeline.timeutil import parse_time
from tests.pipeline.rollup.gen import T0, event, point, write_cloudtrail, write_metrics

pytestmark = [pytest.mark.flink, pytest.mark.slow]

COLS = "namespace, metric_name, dimensions, unit, _wl_series_id, timestamp, period, sample_count, sum, min, max, " \
       "sketch_count"


@pytest.fixture(scope="session")
def flink_t_env():
    """One TableEnvironment (one JVM) for every Flink test in the session."""
    from jobs.flink_rollup import create_table_env

    return create_table_env()


def _metric_rows():
    rng = random.Random(11)
    rows = []
    for i in range(2 * 24 * 60 * 2):                       # two days, every 30 s, two hosts
        ts = T0 + timedelta(seconds=30 * i + rng.randint(0, 29))
        for host in ("a", "b"):
            rows.append(point(ts, rng.randint(-2000, 200000) / 64, dims={"Host": host}))
    for i in range(0, 2 * 24 * 60, 7):                      # statistic sets and value lists
        ts = T0 + timedelta(minutes=i, seconds=13)
        rows.append(point(ts, stats=(4.0, 10.0, 1.0, 4.0), dims={"Host": "a"}))
        rows.append(point(ts, stats=(3.0, 7.5, 2.5, 2.5), dims={"Host": "b"}))
        rows.append(point(ts, values=[0.0, 1.5, 1024.25], counts=[2.0, 1.0, 3.0], dims={"Host": "b"}))
    return rows


def _events(shared_data):
    events = []
    for f in sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json")):
        events += json.loads(f.read_text())
    return [event(parse_time(e["eventTime"]), e["eventSource"], e["eventName"], e.get("errorCode"), i)
            for i, e in enumerate(events)]


def _table(lake, t):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return con.execute(f"SELECT {COLS}, list_zip(sketch_bins, sketch_bin_counts) FROM read_parquet(?) ORDER BY ALL",
                       [[lake.uri(f) for f in lake.table_files(t)]]).fetchall()


def test_flink_matches_duckdb(tmp_path, flink_t_env, shared_data):
    from jobs.flink_rollup import FlinkEngine

    rows, events = _metric_rows(), _events(shared_data)
    lakes = {}
    for name in ("duckdb", "flink"):
        settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name)})
        lake = Lake.from_settings(settings)
        write_metrics(lake, rows)
        write_cloudtrail(lake, events)
        engine = DuckDBEngine() if name == "duckdb" else FlinkEngine(flink_t_env)
        report = run_rollups(lake, settings, engine)
        assert all(j.built for j in report.jobs)
        lakes[name] = lake
    assert engine.timings["flink"] > 0 and engine.rows_in > len(rows)
    for t in ("metrics_1m", "metrics_5m", "metrics_1h"):
        d, f = _table(lakes["duckdb"], t), _table(lakes["flink"], t)
        assert len(d) == len(f) > 0
        # identity, bucket, count, sum, min, max, sketch_count: identical (sums are exact here)
        assert [r[:-1] for r in d] == [r[:-1] for r in f], t
        assert sum(1 for a, b in zip(d, f) if a[-1] == b[-1]) >= 0.99 * len(d)  # ln() of JVM vs libm
    assert any(r[0] == "CloudTrail/Activity" for r in _table(lakes["flink"], "metrics_1h"))
    # percentiles from the Flink tiers are within the sketch error of the exact raw quantiles
    now = T0 + timedelta(days=2)
    for host in ("a", "b"):
        mine = [r for r in rows if json.loads(r["dimensions"]) == {"Host": host}]
        for period in (300, 3600):
            md = get_metric_data(lakes["flink"], "App", "Latency", {"Host": host}, "p90", T0,
                                 T0 + timedelta(hours=6), period, now=now)
            got = dict(zip(md.timestamps, md.values))
            for k in range(6 * 3600 // period):
                lo = T0 + timedelta(seconds=k * period)
                inside = [r for r in mine if lo <= r["timestamp"] < lo + timedelta(seconds=period)]
                if any(r["values"] is None and r["min"] != r["max"] for r in inside):
                    assert lo not in got            # CloudWatch: no percentile from such a set
                    continue
                vals = []
                for r in inside:
                    if r["values"]:
                        vals += [v for v, c in zip(r["values"], r["counts"]) for _ in range(int(c))]
                    else:
                        vals += [r["min"]] * int(r["sample_count"])
                exact = float(np.quantile(vals, 0.9, method="lower"))
                assert abs(got[lo] - exact) <= ALPHA * abs(exact) * (1 + 1e-9)
        assert md.values or host == "a"


def test_flink_batch_mode_matches_duckdb(tmp_path):
    """``rollup --engine flink --flink-mode batch``: the same SQL as a bounded batch job (no
    watermarks, so no late output) gives the DuckDB engine's 1m rows."""
    from jobs.flink_rollup import FlinkEngine, create_table_env

    rows = [r for r in _metric_rows() if r["timestamp"] < T0 + timedelta(hours=3)]
    lakes = {}
    for name in ("duckdb", "flink"):
        settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name)})
        lake = Lake.from_settings(settings)
        write_metrics(lake, rows)
        engine = DuckDBEngine() if name == "duckdb" else FlinkEngine(create_table_env(mode="batch"), mode="batch")
        run_rollups(lake, settings, engine)
        lakes[name] = lake
    d, f = _table(lakes["duckdb"], "metrics_1m"), _table(lakes["flink"], "metrics_1m")
    assert len(d) == len(f) > 300
    assert [r[:-1] for r in d] == [r[:-1] for r in f]
    assert sum(1 for a, b in zip(d, f) if a[-1] == b[-1]) >= 0.99 * len(d)  # ln() of JVM vs libm
