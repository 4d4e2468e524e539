"""get_metric_data / list_metrics on rolled-up generated data; expected values are computed
straight from the raw points with numpy."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from pipeline.errors import QueryError
from pipeline.query.metrics import get_metric_data, list_metrics
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.sketch import ALPHA
from tests.pipeline.rollup.gen import T0, point, write_metrics

NOW = T0 + timedelta(days=2)


@pytest.fixture
def filled(lake, settings):
    rng = random.Random(7)
    rows = [point(T0 + timedelta(seconds=15 * i), round(rng.lognormvariate(3, 1), 3))
            for i in range(4 * 60 * 8)]                     # 8 hours, 4 points a minute
    rows.append(point(T0 + timedelta(hours=9), stats=(10, 100.0, 1.0, 30.0)))   # a statistic set
    rows.append(point(T0 + timedelta(hours=9), 5.0, unit="Seconds"))           # another unit
    write_metrics(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())
    return rows


def _raw(rows, lo, hi, unit="Milliseconds"):
    return np.array([r["sum"] for r in rows if lo <= r["timestamp"] < hi and r["unit"] == unit])


@pytest.mark.parametrize("period", [60, 300, 3600])
def test_simple_stats_match_raw(lake, filled, period):
    got = {s: get_metric_data(lake, "App", "Latency", {"Host": "a"}, s, T0, T0 + timedelta(hours=8),
                              period, unit="Milliseconds", now=NOW)
           for s in ("SampleCount", "Sum", "Minimum", "Maximum", "Average")}
    assert got["Sum"].tier == {60: "1m", 300: "5m", 3600: "1h"}[period]
    assert len(got["Sum"].timestamps) == 8 * 3600 // period
    for i, ts in enumerate(got["Sum"].timestamps):
        v = _raw(filled, ts, ts + timedelta(seconds=period))
        assert got["SampleCount"].values[i] == len(v)
        assert got["Minimum"].values[i] == v.min() and got["Maximum"].values[i] == v.max()
        assert got["Sum"].values[i] == pytest.approx(v.sum(), rel=1e-12)
        assert got["Average"].values[i] == pytest.approx(v.mean(), rel=1e-12)


@pytest.mark.parametrize("stat,q", [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)])
def test_percentiles_within_sketch_error_at_every_tier(lake, filled, stat, q):
    for period in (60, 300, 3600, 7200):
        md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, stat, T0, T0 + timedelta(hours=8),
                             period, unit="Milliseconds", now=NOW)
        assert md.values
        for ts, got in zip(md.timestamps, md.values):
            exact = np.quantile(_raw(filled, ts, ts + timedelta(seconds=period)), q, method="lower")
            assert abs(got - exact) <= ALPHA * exact * (1 + 1e-9)


def test_statistic_set_has_no_percentile_but_counts(lake, filled):
    span = (T0 + timedelta(hours=9), T0 + timedelta(hours=10))
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "p50", *span, 3600,
                         unit="Milliseconds", now=NOW)
    assert md.values == []
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Average", *span, 3600,
                         unit="Milliseconds", now=NOW)
    assert md.values == [10.0]


def test_units_kept_apart(lake, filled):
    with pytest.raises(QueryError, match="several units.*Milliseconds, Seconds"):
        get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, T0 + timedelta(hours=10),
                        3600, now=NOW)
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, T0 + timedelta(hours=10),
                         3600, unit="Seconds", now=NOW)
    assert md.values == [5.0] and md.unit == "Seconds"


def test_start_inclusive_end_exclusive_and_unknown_series(lake, filled):
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "SampleCount", T0 + timedelta(minutes=1),
                         T0 + timedelta(minutes=3), 60, unit="Milliseconds", now=NOW)
    assert md.timestamps == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert md.values == [4.0, 4.0]
    md = get_metric_data(lake, "App", "Latency", {"Host": "zzz"}, "Sum", T0, NOW, now=NOW)
    assert md.values == [] and md.timestamps == []


def test_old_range_at_fine_period_is_empty_not_error(lake, filled):
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, T0 + timedelta(hours=8), 60,
                         unit="Milliseconds", now=T0 + timedelta(days=20))
    assert md.values == [] and md.messages
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, T0 + timedelta(hours=8), None,
                         unit="Milliseconds", now=T0 + timedelta(days=20))
    assert md.period % 300 == 0 and len(md.values) == 8 * 3600 // md.period


def test_bad_stat(lake, filled):
    with pytest.raises(QueryError, match="unknown statistic"):
        get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Median", T0, NOW, now=NOW)


def test_list_metrics(lake, filled):
    ms = list_metrics(lake)
    assert [(m.namespace, m.metric_name, m.dimensions, m.unit) for m in ms] == [
        ("App", "Latency", {"Host": "a"}, "Milliseconds"), ("App", "Latency", {"Host": "a"}, "Seconds")]


@pytest.mark.parametrize("fast", [True, False])
def test_tier_files_from_before_the_columnar_sketch(lake, tmp_path, monkeypatch, fast):
    """A 5m file with the old ``sketch`` list of structs: simple statistics still come from its
    partials; pNN (numpy or SQL path) and the 1h merge refuse with the command that rebuilds the tiers."""
    import duckdb

    import pipeline.query.metrics as metrics

    monkeypatch.setattr(metrics, "vectorised", lambda: fast)

    from pipeline.errors import InputError
    from pipeline.rollup.engine import Task
    from pipeline.rollup.tiers import JOBS

    folder = tmp_path / "lake" / "rollups" / "metrics_5m" / f"dt={T0:%Y-%m-%d}"
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""COPY (SELECT '0123456789abcdef' AS _wl_series_id, 'N' AS namespace, 'M' AS metric_name,
        '{{}}' AS dimensions, 'None' AS unit, TIMESTAMPTZ '{T0.isoformat()}' AS "timestamp", 300 AS period,
        4.0 AS sample_count, 10.0 AS "sum", 1.0 AS "min", 4.0 AS "max",
        [{{'sign': 1::TINYINT, 'key': 35::INT, 'count': 4.0}}] AS sketch, 4.0 AS sketch_count)
        TO '{folder}/part-rollup.parquet'""")
    assert lake.root == str(tmp_path / "lake")
    end = T0 + timedelta(hours=1)
    avg = get_metric_data(lake, "N", "M", {}, "Average", T0, end, 300, now=end + timedelta(days=20))
    assert avg.values == [2.5]
    with pytest.raises(QueryError, match="rollup --full"):
        get_metric_data(lake, "N", "M", {}, "p99", T0, end, 300, now=end + timedelta(days=20))
    merge_1h = next(j for j in JOBS if j.target == "metrics_1h")
    task = Task("rollups/metrics_1h/month=2026-11", {"month": "2026-11"},
                (str(folder / "part-rollup.parquet"),), T0, T0 + timedelta(days=1))
    with pytest.raises(InputError, match="rollup --full"):
        list(DuckDBEngine().compute(merge_1h, [task]))


@pytest.mark.parametrize("q", [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0])
def test_percentile_rows_agree_with_the_reference_sketch(q):
    """pNN per period from tier rows (all periods at once, pipeline.query.sketchq) equals the reference Sketch's
    quantile of the merged rows: mixed signs, zero, fractional counts, several rows per period,
    and a period whose sketch misses samples (no value)."""
    import pyarrow as pa

    from pipeline.query.metrics import percentile_points
    from pipeline.query.sketchq import from_arrow
    from pipeline.rollup.schema import SKETCH_BINS, SKETCH_COUNTS
    from pipeline.rollup.sketch import Sketch

    rnd = random.Random(3)
    rows = []
    for qi in range(6):
        for _ in range(rnd.randint(1, 4)):
            values = [rnd.choice([-1, 0, 1]) * rnd.lognormvariate(1, 2) for _ in range(rnd.randint(1, 7))]
            counts = [rnd.choice([1.0, 2.0, 0.5]) for _ in values]
            s = Sketch.from_values(values, counts)
            rows.append({"qi": qi, "sample_count": s.count + (1.0 if qi == 4 else 0.0), "min": s.min,
                         "max": s.max, "sketch_count": s.count, "sketch": s})
    table = pa.table({"unit": ["Count"] * len(rows), "qi": pa.array([r["qi"] for r in rows], pa.int64()),
                      "sample_count": [r["sample_count"] for r in rows], "min": [r["min"] for r in rows],
                      "max": [r["max"] for r in rows], "sketch_count": [r["sketch_count"] for r in rows],
                      "sketch_bins": pa.array([[b for b, _ in r["sketch"].entries()] for r in rows], SKETCH_BINS),
                      "sketch_bin_counts": pa.array([[c for _, c in r["sketch"].entries()] for r in rows],
                                                    SKETCH_COUNTS)})
    units, periods = from_arrow(table, q)
    got = percentile_points(periods.rows(units), q)
    expected = []
    for qi in range(6):
        merged = Sketch()
        for r in rows:
            if r["qi"] == qi:
                merged = merged.merge(r["sketch"])
        if qi != 4:  # period 4 holds a sample its sketch does not: no percentile, as CloudWatch
            expected.append((qi, merged.quantile(q)))
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("period,offset_min,tier", [(300, 0, "5m"), (3600, 0, "1h"), (3600, 5, "5m")])
def test_coarse_tier_percentiles_equal_the_1m_merge_bit_for_bit(lake, filled, period, offset_min, tier):
    """pNN read from the coarsest tier that tiles the periods equals, bit for bit, the reference
    Sketch merge of the 1-minute tier's rows of each period (sketches are mergeable: the 5m / 1h
    rows hold exactly the 1m rows' bins), also when the start is not aligned to the 1h tier."""
    import pyarrow.parquet as pq

    from pipeline.rollup.sketch import Sketch

    start = T0 + timedelta(minutes=offset_min)
    end = start + timedelta(hours=6)
    md = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "p90", start, end, period,
                         unit="Milliseconds", now=NOW)
    assert md.tier == tier and len(md.values) == 6 * 3600 // period
    m1 = pq.ParquetDataset([lake.path(f) for f in lake.table_files("metrics_1m")]).read().to_pylist()
    expected = []
    for i in range(len(md.values)):
        lo, hi = start + timedelta(seconds=period * i), start + timedelta(seconds=period * (i + 1))
        merged = Sketch()
        for r in m1:
            if r["unit"] == "Milliseconds" and lo <= r["timestamp"] < hi:
                merged = merged.merge(Sketch(dict(zip(r["sketch_bins"], r["sketch_bin_counts"])), r["min"], r["max"]))
        expected.append(merged.quantile(0.9))
    assert md.values == expected


@pytest.mark.parametrize("stat", ["p0", "p50", "p99", "p99.9", "p100"])
def test_numpy_and_sql_percentile_paths_agree(lake, filled, monkeypatch, stat):
    """A long-lived process (numpy and pyarrow imported) computes pNN with pipeline.query.sketchq,
    a one-shot command with the SQL: the same datapoints, bit for bit, at every tier and for an
    unaligned start, and the same message for the statistic-set period."""
    import pipeline.query.metrics as metrics

    for period, offset in ((60, 0), (300, 0), (3600, 0), (900, 7)):
        start = T0 + timedelta(minutes=offset)
        got = {}
        for fast in (True, False):
            monkeypatch.setattr(metrics, "vectorised", lambda fast=fast: fast)
            got[fast] = get_metric_data(lake, "App", "Latency", {"Host": "a"}, stat, start,
                                        start + timedelta(hours=10), period, unit="Milliseconds", now=NOW)
        assert got[True].values and got[True].values == got[False].values
        assert got[True].timestamps == got[False].timestamps and got[True].messages == got[False].messages
