"""The raw tier grouped in one native pass (pipeline.rollup.rawgroup) against the SQL it replaces
(pipeline.rollup.sql.raw_query, run on the same files by DuckDB): the same rows, partials and
sketches on real series and on the shapes that could tell them apart; and the SQL, not the
pass, wherever the pass cannot promise that."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import LoaderSettings
from pipeline.loader.ingest import ingest
from pipeline.rollup import rawgroup, sql
from pipeline.rollup.engine import rollup_table
from pipeline.rollup.schema import SERIES_ID
from pipeline.schemas import METRICS
from tests.conftest import REPO, SAMPLE_DATA
from tests.pipeline.rollup.gen import T0, point

pytestmark = pytest.mark.skipif(not rawgroup.available([]), reason="needs the native modules (make install)")

NAB = REPO / "tests" / "data" / "nab-corpus"
GROUPS = rawgroup.groups


def both(con, monkeypatch, files, period=60, lo=T0, hi=None, percentiles=None, fast=True):
    """The rows of the native pass and of the SQL on ``files`` (asserting which one ran)."""
    hi = hi or lo + timedelta(days=2)
    taken = []

    def spy(*a, **k):
        g = GROUPS(*a, **k)
        taken.append(g is not None)
        return g

    monkeypatch.setattr(rawgroup, "groups", spy)
    native = rollup_table(con, "raw", files, period, lo, hi, percentiles)
    assert taken == [fast]
    monkeypatch.setattr(rawgroup, "groups", lambda *a, **k: None)
    return native, rollup_table(con, "raw", files, period, lo, hi, percentiles)


def same(a: pa.Table, b: pa.Table) -> None:
    """Equal rows in equal order; Sum equal up to the rounding of another addition order."""
    assert a.num_rows == b.num_rows > 0
    assert a.schema == b.schema
    for name in a.column_names:
        if name != "sum":
            assert a[name].equals(b[name]), name
    for x, y in zip(a["sum"].to_pylist(), b["sum"].to_pylist(), strict=True):
        assert x == pytest.approx(y, rel=1e-12, abs=1e-12)


def write(path, rows, row_group_size=None, schema=METRICS):
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path), row_group_size=row_group_size)
    return str(path)


def nab_rows(name: str, ns: str, metric: str, unit: str, hosts: int = 3) -> list[dict]:
    """A real NAB series as single datapoints, fanned out to ``hosts`` series (value scaled by
    host), in arrival order (time, then host)."""
    with open(NAB / "data" / name) as f:
        pts = [(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC), float(r["value"]))
               for r in csv.DictReader(f)]
    return [point(ts, v * (h + 1), ns=ns, metric=metric, unit=unit, dims={"Host": f"h{h}"})
            for ts, v in pts for h in range(hosts)]


def test_real_nab_series_give_the_rows_the_sql_gives(tmp_path, con, monkeypatch):
    """Three real series (5-minute EC2 request latency, 5-minute machine temperatures with a
    clock jump back in time, 5-minute Twitter volume) over weeks, three hosts each: 1m, 5m and
    1h buckets straight from raw, across many row groups."""
    rows = nab_rows("realKnownCause/ec2_request_latency_system_failure.csv", "AWS/EC2", "RequestLatency",
                    "Milliseconds")
    rows += nab_rows("realKnownCause/machine_temperature_system_failure.csv", "Plant", "Temperature", "None")
    rows += nab_rows("realTweets/Twitter_volume_AMZN.csv", "Tweets", "Volume", "Count")
    files = [write(tmp_path / "raw.parquet", rows, row_group_size=5000)]
    lo = min(r["timestamp"] for r in rows)
    hi = max(r["timestamp"] for r in rows) + timedelta(hours=1)
    for period in (60, 300, 3600):
        same(*both(con, monkeypatch, files, period, lo, hi))


def test_statistic_sets_of_the_sample_stream_give_the_rows_the_sql_gives(lake, con, monkeypatch):
    """The committed Metric Streams sample, loaded as the loader writes it: statistic sets
    (unequal ones stay out of the sketch, equal ones count SampleCount samples)."""
    ingest(lake, LoaderSettings(), "metrics", [str(SAMPLE_DATA / "metrics")])
    files = sorted(str(p) for p in Path(lake.uri("raw/metrics")).rglob("*.parquet"))
    t = pa.concat_tables(pq.read_table(f, columns=["timestamp", "sample_count", "min", "max"]) for f in files)
    lo, hi = t["timestamp"].to_pylist()[0] - timedelta(days=1), t["timestamp"].to_pylist()[-1] + timedelta(days=1)
    for period in (60, 3600):
        native, sql = both(con, monkeypatch, files, period, lo, hi)
        same(native, sql)
    stats = list(zip(t["sample_count"].to_pylist(), t["min"].to_pylist(), t["max"].to_pylist(), strict=True))
    assert any(n != 1.0 and lo_ != hi_ for n, lo_, hi_ in stats)  # unequal sets: out of the sketch
    assert any(n != 1.0 and lo_ == hi_ for n, lo_, hi_ in stats)  # equal sets: n samples in it


def test_rows_out_of_time_order_outside_the_range_and_of_every_kind(tmp_path, con, monkeypatch):
    """Series going back in time across row groups and files, repeated timestamps, rows before
    and after the range, zero and negative values, equal statistic sets (weighted), unequal
    ones (unlisted), an id spelt upper-case, a namespace that keeps no sketch, and a file with
    microsecond times."""
    rnd = random.Random(7)
    rows = []
    for _ in range(3000):
        ts = T0 + timedelta(seconds=rnd.randrange(-600, 4 * 3600))
        kind = rnd.random()
        host = {"Host": f"h{rnd.randrange(40)}"}
        ns = rnd.choice(["App", "App", "Quiet"])
        if kind < 0.6:
            r = point(ts, rnd.choice([0.0, -2.5, round(rnd.lognormvariate(2, 2), 3)]), ns=ns, dims=host)
        elif kind < 0.8:
            v = round(rnd.uniform(-5, 50), 2)
            n = float(rnd.randrange(2, 9))
            r = point(ts, ns=ns, dims=host, stats=(n, v * n, v, v))
        else:
            r = point(ts, ns=ns, dims=host, stats=(3.0, 12.0, 1.0, 7.0))
        if rnd.random() < 0.05:
            r["_wl_series_id"] = r["_wl_series_id"].upper()
        rows.append(r)
    rows += [dict(rows[5]), dict(rows[5])]  # the same datapoint twice
    us = METRICS.set(METRICS.get_field_index("timestamp"), pa.field("timestamp", pa.timestamp("us", tz="UTC")))
    files = [write(tmp_path / "a.parquet", rows[:1200], row_group_size=100),
             write(tmp_path / "b.parquet", rows[1200:2400], row_group_size=333),
             write(tmp_path / "c.parquet", rows[2400:], schema=us)]
    for period in (60, 300):
        for pct in (None, ("App",), ()):
            native, sql_rows = both(con, monkeypatch, files, period, T0, T0 + timedelta(hours=3), pct)
            same(native, sql_rows)
    assert set(native["sketch_count"].to_pylist()) == {0.0}
    # the pass's series table is the SQL's: one row per series (the upper-case spelling too), in
    # output order, with the id in lower case
    lo, hi = T0 - timedelta(hours=1), T0 + timedelta(hours=5)
    ids, _ = GROUPS(files, 60, lo, hi)
    assert ids.select(["sid", SERIES_ID, "namespace", "metric_name", "dimensions", "unit"]).equals(
        con.sql(sql.ids_query(files, lo, hi)).arrow().read_all())


@pytest.mark.parametrize("bad", ["values", "nan", "null", "inf"])
def test_what_the_pass_cannot_promise_is_left_to_the_sql(tmp_path, con, monkeypatch, bad):
    """``values`` lists, a NaN or infinite partial and a null one: the SQL runs (and defines
    what they mean), not the pass."""
    rows = [point(T0 + timedelta(seconds=10 * i), float(i)) for i in range(20)]
    if bad == "values":
        rows.append(point(T0, values=[1.0, 2.0, 2.0], counts=[1.0, 2.0, 1.0]))
    elif bad == "null":
        rows[3]["min"] = None
    else:
        rows[3]["sum"] = rows[3]["min"] = rows[3]["max"] = float(bad)
    files = [write(tmp_path / "raw.parquet", rows)]
    assert GROUPS(files, 60, T0, T0 + timedelta(days=1)) is None
    if bad in ("nan", "inf"):  # the SQL refuses a non-finite value's bin, as before the pass
        with pytest.raises(duckdb.Error):
            rollup_table(con, "raw", files, 60, T0, T0 + timedelta(days=1))
    else:
        out = rollup_table(con, "raw", files, 60, T0, T0 + timedelta(days=1))
        assert out["sample_count"].to_pylist() == ([10.0, 6.0, 6.0, 2.0] if bad == "values" else [6.0, 6.0, 6.0, 2.0])
        assert out["sketch_count"].to_pylist()[0] == (10.0 if bad == "values" else 5.0)  # the null min: unlisted


def test_row_groups_outside_the_range_are_not_read(tmp_path, con, monkeypatch):
    """A day of time-ordered rows in 24 hourly row groups, rolled up for two hours: only the row
    groups whose footer times meet the range are read (as DuckDB skips them), and the rows are
    the SQL's."""
    rows = [point(T0 + timedelta(minutes=m), float(m % 17)) for m in range(24 * 60)]
    files = [write(tmp_path / "raw.parquet", rows, row_group_size=60)]
    lo, hi = T0 + timedelta(hours=5), T0 + timedelta(hours=7)
    parts = rawgroup._row_groups(files, lo, hi)
    assert [i for _, i in parts] == [5, 6]
    native, sql_rows = both(con, monkeypatch, files, 60, lo, hi)
    same(native, sql_rows)
    assert native.num_rows == 120


def test_a_task_too_large_for_the_pass_takes_the_sql(tmp_path, con, monkeypatch):
    """More source rows than MAX_ROWS: the SQL (which can spill) rolls them up, not the pass."""
    rows = [point(T0 + timedelta(seconds=10 * i), float(i)) for i in range(30)]
    files = [write(tmp_path / "raw.parquet", rows)]
    monkeypatch.setattr(rawgroup, "MAX_ROWS", 29)
    native, sql_rows = both(con, monkeypatch, files, fast=False)
    assert native.equals(sql_rows) and native.num_rows == 5


def test_a_range_without_datapoints_gives_no_rows_as_the_sql_does(tmp_path, con, monkeypatch):
    """A range no row group of the files meets (the Flink committer recomputes late buckets from
    whatever raw files the lake holds around them): no rows, the SQL's empty table, no error; and
    no file at all, no group."""
    files = [write(tmp_path / "raw.parquet", [point(T0 + timedelta(minutes=m), 1.0) for m in range(60)])]
    lo = T0 + timedelta(days=30)
    native, sql_rows = both(con, monkeypatch, files, 60, lo, lo + timedelta(hours=1))
    assert native.num_rows == sql_rows.num_rows == 0 and native.schema == sql_rows.schema
    fast = GROUPS([], 60, lo, lo + timedelta(hours=1), None)
    assert fast is not None and fast[1].key.size == 0
