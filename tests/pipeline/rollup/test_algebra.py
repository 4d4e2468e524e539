"""Merging partials: 5m-from-1m equals 5m-from-raw (hypothesis), for datapoints, statistic sets
and values/counts lists."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.rollup.engine import rollup_table
from pipeline.rollup.sketch import Sketch, bin_of
from pipeline.schemas import METRICS
from tests.pipeline.rollup.gen import T0, point

HI = T0 + timedelta(hours=2)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")

# dyadic values (multiples of 1/8 up to ±1e6): every partial sum is exact in float64
dyadic = st.integers(min_value=-8_000_000, max_value=8_000_000).map(lambda i: i / 8)
offsets = st.integers(min_value=0, max_value=2 * 3600 - 1)


@st.composite
def raw_rows(draw, values=dyadic):
    rows = []
    for _ in range(draw(st.integers(1, 60))):
        ts = T0 + timedelta(seconds=draw(offsets), milliseconds=draw(st.integers(0, 999)))
        host = draw(st.sampled_from(["a", "b"]))
        kind = draw(st.sampled_from(["value", "value", "set", "equal_set", "list"]))
        if kind == "value":
            rows.append(point(ts, draw(values), dims={"Host": host}))
        elif kind == "set":
            a, b = sorted([draw(values), draw(values)])
            n = draw(st.integers(2, 5))
            rows.append(point(ts, stats=(float(n), a + b * (n - 1), a, b), dims={"Host": host}))
        elif kind == "equal_set":
            v, n = draw(values), draw(st.integers(1, 5))
            rows.append(point(ts, stats=(float(n), v * n, v, v), dims={"Host": host}))
        else:
            vs = draw(st.lists(values, min_size=1, max_size=5))
            cs = [float(draw(st.integers(1, 3))) for _ in vs]
            rows.append(point(ts, values=vs, counts=cs, dims={"Host": host}))
    return rows


def _run(kind: str, files: list[str], period: int) -> pa.Table:
    return rollup_table(con, kind, files, period, T0, HI)


def _by_key(t: pa.Table) -> dict:
    return {(r["_wl_series_id"], r["timestamp"]): r for r in t.to_pylist()}


def chain(rows):
    with tempfile.TemporaryDirectory() as d:
        raw = str(Path(d) / "raw.parquet")
        pq.write_table(pa.Table.from_pylist(rows, schema=METRICS), raw)
        m1 = _run("raw", [raw], 60)
        p1 = str(Path(d) / "m1.parquet")
        pq.write_table(m1, p1)
        m5_chain = _run("merge", [p1], 300)
        p5 = str(Path(d) / "m5.parquet")
        pq.write_table(m5_chain, p5)
        h1_chain = _run("merge", [p5], 3600)
        m5_direct = _run("raw", [raw], 300)
        h1_direct = _run("raw", [raw], 3600)
    return m5_chain, m5_direct, h1_chain, h1_direct


@settings(max_examples=25, deadline=None)
@given(raw_rows())
def test_tier_from_tier_equals_tier_from_raw_exactly(rows):
    m5c, m5d, h1c, h1d = chain(rows)
    for chained, direct in ((m5c, m5d), (h1c, h1d)):
        a, b = _by_key(chained), _by_key(direct)
        assert a.keys() == b.keys()
        for k in a:
            for col in ("sample_count", "sum", "min", "max", "sketch_count", "namespace",
                        "metric_name", "dimensions", "unit", "period"):
                assert a[k][col] == b[k][col], col
            assert (a[k]["sketch_bins"], a[k]["sketch_bin_counts"]) == (b[k]["sketch_bins"], b[k]["sketch_bin_counts"])


@settings(max_examples=10, deadline=None)
@given(raw_rows(values=st.floats(-1e9, 1e9, allow_nan=False)))
def test_arbitrary_floats_differ_only_by_rounding(rows):
    m5_chain, m5_direct, _, _ = chain(rows)
    a, b = _by_key(m5_chain), _by_key(m5_direct)
    for k in a:
        assert (a[k]["sample_count"], a[k]["min"], a[k]["max"]) == \
            (b[k]["sample_count"], b[k]["min"], b[k]["max"])
        assert abs(a[k]["sum"] - b[k]["sum"]) <= 1e-12 * max(1.0, sum(
            abs(r["sum"]) for r in rows))
        assert (a[k]["sketch_bins"], a[k]["sketch_bin_counts"]) == (b[k]["sketch_bins"], b[k]["sketch_bin_counts"])


def test_hand_computed_bucket():
    rows = [point(T0 + timedelta(seconds=1), 10.0), point(T0 + timedelta(seconds=59), 20.0),
            point(T0 + timedelta(seconds=60), 30.0),                       # next minute
            point(T0 + timedelta(seconds=30), stats=(4.0, 10.0, 1.0, 4.0)),  # not in the sketch
            point(T0 + timedelta(seconds=30), values=[5.0, 7.0], counts=[2.0, 1.0])]
    m5, _, _, _ = chain(rows)
    (r,) = m5.to_pylist()
    assert r["timestamp"] == T0 and r["period"] == 300
    assert r["sample_count"] == 1 + 1 + 1 + 4 + 3
    assert r["sum"] == 10 + 20 + 30 + 10 + 17
    assert (r["min"], r["max"]) == (1.0, 30.0)
    assert r["sketch_count"] == 6.0        # the statistic set with min != max stays out
    # 5 (twice), 7, 10, 20, 30: each its own bin (more than 2 % apart), in value order
    assert r["sketch_bins"] == [bin_of(v) for v in (5.0, 7.0, 10.0, 20.0, 30.0)]
    assert r["sketch_bin_counts"] == [2.0, 1.0, 1.0, 1.0, 1.0]


def _reference(rows: list[dict], period: int) -> dict:
    """The sketch of every (series, bucket) built by the reference Sketch, one sample at a time,
    under CloudWatch's rule (values lists; datapoints and statistic sets of equal values)."""
    out: dict = {}
    for r in rows:
        b = int(r["timestamp"].timestamp()) // period * period
        s = out.setdefault((r["_wl_series_id"], b), Sketch())
        if r["values"] is not None:
            for v, c in zip(r["values"], r["counts"] or [1.0] * len(r["values"]), strict=True):
                s.add(v, c)
        elif r["min"] == r["max"] and r["sum"] == r["min"] * r["sample_count"]:
            s.add(r["min"], r["sample_count"])
    return out


@settings(max_examples=25, deadline=None)
@given(raw_rows())
def test_sketches_equal_the_reference_sketch_of_the_samples(rows):
    m5_chain, m5_direct, h1_chain, _ = chain(rows)
    for table, period in ((m5_chain, 300), (m5_direct, 300), (h1_chain, 3600)):
        ref = _reference(rows, period)
        for r in table.to_pylist():
            s = ref[(r["_wl_series_id"], int(r["timestamp"].timestamp()))]
            assert list(zip(r["sketch_bins"], r["sketch_bin_counts"], strict=True)) == s.entries()
            assert r["sketch_count"] == s.count
