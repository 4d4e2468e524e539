"""The in-process cache of a series' rows per tier file (pipeline.query.tiercache): a repeated
query reads no file and answers what the file query answers and what the raw points say; a file
written later is read (nothing stale); the cache keeps its byte budget, least recently used out."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

import pipeline.query.metrics as metrics
from pipeline.query.metrics import get_metric_data
from pipeline.query.tiercache import CACHE, SeriesRows
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.pipeline.rollup.gen import T0, point, write_metrics

NOW = T0 + timedelta(days=2)
STATS = ("SampleCount", "Sum", "Minimum", "Maximum", "Average", "p50", "p99")


@pytest.fixture
def rolled(lake, settings):
    rng = random.Random(11)
    rows = [point(T0 + timedelta(seconds=20 * i), round(rng.lognormvariate(3, 1), 3))
            for i in range(3 * 60 * 6)]                     # 6 hours, 3 points a minute
    rows += [point(T0 + timedelta(seconds=30 * i), 1.0, dims={"Host": "b"}) for i in range(100)]
    write_metrics(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())
    return rows


def _all(lake, end=T0 + timedelta(hours=6)):
    return {(s, p): (md.timestamps, md.values)
            for s in STATS for p in (60, 300, 3600)
            for md in [get_metric_data(lake, "App", "Latency", {"Host": "a"}, s, T0, end, p, now=NOW)]}


def _close(a, b):
    return a.keys() == b.keys() and all(a[k][0] == b[k][0] and np.allclose(a[k][1], b[k][1], rtol=1e-12, atol=0)
                                        for k in a)


def test_a_repeated_query_reads_no_file_and_answers_as_the_file_query(lake, rolled, monkeypatch):
    CACHE.clear()
    cold = _all(lake)
    assert CACHE.misses > 0 and len(CACHE) > 0
    misses = CACHE.misses
    warm = _all(lake)
    assert CACHE.misses == misses and CACHE.hits >= misses            # every file answered from memory
    assert warm == cold
    monkeypatch.setattr(metrics, "vectorised", lambda: False)         # the one-shot path: SQL over the files
    hits = CACHE.hits
    assert _close(_all(lake), cold) and CACHE.hits == hits
    # and the raw points: Sum and Maximum per hour
    for (stat, period), (stamps, values) in cold.items():
        if period == 3600 and stat in ("Sum", "Maximum"):
            for ts, v in zip(stamps, values, strict=True):
                raw = [r["sum"] for r in rolled if ts <= r["timestamp"] < ts + timedelta(hours=1)
                       and r["dimensions"] == '{"Host":"a"}']
                assert v == pytest.approx(sum(raw) if stat == "Sum" else max(raw), rel=1e-12)


def test_rows_written_later_are_read_not_the_cached_ones(lake, settings, rolled):
    CACHE.clear()
    end = T0 + timedelta(hours=7)
    before = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, end, 3600, now=NOW)
    assert len(before.values) == 6
    late = [point(T0 + timedelta(hours=5, minutes=59), 1000.0), point(T0 + timedelta(hours=6, minutes=1), 7.0)]
    write_metrics(lake, late)
    run_rollups(lake, settings, DuckDBEngine())
    after = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "Sum", T0, end, 3600, now=NOW)
    assert after.values[:5] == pytest.approx(before.values[:5], rel=1e-12)
    assert after.values[5] == pytest.approx(before.values[5] + 1000.0, rel=1e-12)
    assert after.values[6:] == [7.0]
    p99 = get_metric_data(lake, "App", "Latency", {"Host": "a"}, "p99", T0 + timedelta(hours=6), end, 3600, now=NOW)
    assert p99.values == [7.0]                                         # a one-sample period: the sample


def _rows(n: int) -> pa.Table:
    return pa.table({"v": pa.array(np.arange(n, dtype=np.float64))})


def test_the_cache_keeps_its_byte_budget_least_recently_used_out():
    c = SeriesRows(max_bytes=3 * 800)                                  # three 100-double tables
    keys = [(f"f{i}", 1, 1, "N", "M", "{}", False) for i in range(5)]
    for k in keys[:3]:
        c.put(k, _rows(100))
    assert len(c) == 3 and c.bytes == 2400
    assert c.get(keys[0]) is not None                                  # f0 used: f1 is now the oldest
    c.put(keys[3], _rows(100))
    assert c.get(keys[1]) is None and c.get(keys[0]) is not None and c.bytes == 2400
    c.put(keys[4], _rows(1000))                                        # larger than the budget: not kept
    assert c.get(keys[4]) is None and len(c) == 3 and c.bytes <= c.max_bytes
    c.put(keys[0], _rows(200))                                         # a key put again replaces its rows
    assert c.bytes <= c.max_bytes and c.get(keys[0]).num_rows == 200


@pytest.mark.parametrize("stat", ["p50", "p99", "p99.9", "SampleCount", "Sum", "Average", "Maximum"])
def test_a_window_inside_the_cached_rows_answers_as_the_file_query(lake, rolled, monkeypatch, stat):
    """A statistic over a window that cuts into the files' rows (start and end inside them, not on
    a period of the query): the periods computed from the cached rows (pNN and the summed
    statistics in numpy) are the SQL's — the same bins, sums to rounding."""
    start, end = T0 + timedelta(hours=1, minutes=17), T0 + timedelta(hours=4, minutes=3)
    CACHE.clear()
    got = {p: get_metric_data(lake, "App", "Latency", {"Host": "a"}, stat, start, end, p, now=NOW)
           for p in (60, 300, 900)}
    assert CACHE.misses > 0
    monkeypatch.setattr(metrics, "vectorised", lambda: False)
    want = {p: get_metric_data(lake, "App", "Latency", {"Host": "a"}, stat, start, end, p, now=NOW)
            for p in (60, 300, 900)}
    for p in got:
        assert got[p].timestamps == want[p].timestamps and got[p].timestamps[0] >= start
        assert got[p].timestamps[-1] < end
        assert got[p].values == pytest.approx(want[p].values, rel=1e-12, abs=0)
        if stat.startswith("p") or stat == "SampleCount":
            assert got[p].values == want[p].values  # the same bins; counts are integers


def test_scanned_rows_are_split_per_file_in_the_order_given():
    from pipeline.query.tiercache import UnmatchedFiles, _by_file

    # DuckDB may hand the files' rows interleaved; a file without the series gets no rows
    rows = pa.table({"filename": ["b", "a", "b", "a", "c"], "v": [1, 2, 3, 4, 5]})
    parts = _by_file(rows, ["a", "b", "empty", "c"])
    assert [p.column("v").to_pylist() for p in parts] == [[2, 4], [1, 3], [], [5]]
    assert all(p.column_names == ["v"] for p in parts)
    with pytest.raises(UnmatchedFiles):
        _by_file(rows, ["a", "b"])
