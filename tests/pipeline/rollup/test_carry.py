"""A chain run in one call merges each tier from the one below still in memory
(pipeline.rollup.carry): the same rows, bit for bit, as merging it from the files, which a chain
run one job per call does; and the in-memory sources equal what the SQL reads from the files."""

from __future__ import annotations

import random
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.rollup import sql
from pipeline.rollup.carry import Carry, hex_ids, parse_ids, sources
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.tiers import JOBS
from pipeline.schemas import ROLLUP
from tests.pipeline.rollup.gen import T0, event, point, write_cloudtrail, write_metrics

TIERS = ("metrics_1m", "metrics_5m", "metrics_1h")


def _raw(lake: Lake) -> None:
    """Two days (so the 1h month reads two 5m days) of single values, statistic sets of equal
    and of unequal values, values/counts lists, a namespace without sketches, and CloudTrail
    activity (the 1m tier of two jobs)."""
    rng = random.Random(7)
    rows = []
    for m in range(0, 2 * 24 * 60, 7):
        ts = T0 + timedelta(minutes=m, seconds=rng.randrange(60))
        for h in range(3):
            rows.append(point(ts, round(rng.lognormvariate(1, 1.5), 3), dims={"Host": f"h{h}"}))
        rows.append(point(ts, -rng.random(), ns="Other", metric="Temp"))
        if m % 5 == 0:
            rows.append(point(ts, stats=(4.0, 8.0, 2.0, 2.0), metric="Set"))
            rows.append(point(ts, stats=(3.0, 6.5, 1.0, 3.0), metric="Set", dims={"Host": "b"}))
            rows.append(point(ts, values=[0.0, 2.5, 1e6], counts=[1.0, 3.0, 0.5], metric="Hist"))
    write_metrics(lake, rows)
    write_cloudtrail(lake, [event(T0 + timedelta(hours=30, seconds=i * 13), "s3.amazonaws.com",
                                  "GetObject", "AccessDenied" if i % 4 == 0 else None, i) for i in range(400)])


def _tables(lake: Lake) -> dict[str, pa.Table]:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    out = {}
    for t in TIERS:
        files = [lake.uri(f) for f in lake.table_files(t)]
        out[t] = con.sql(f"SELECT * FROM read_parquet({files!r}) ORDER BY namespace, metric_name, dimensions, "
                         "unit, timestamp").arrow().read_all()
    con.close()
    return out


class Spy(DuckDBEngine):
    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[tuple[str, int, int]] = []  # (job, files, tables in memory)

    def compute(self, job, tasks):  # type: ignore[no-untyped-def]
        for t in tasks:
            self.tasks.append((job.name, len(t.files), -1 if t.rows is None else len(t.rows)))
        yield from super().compute(job, tasks)


@pytest.mark.parametrize("percentiles", ["*", "App"])
def test_one_call_equals_one_job_per_call(tmp_path, percentiles):
    lakes = []
    for name in ("one", "per-job"):
        settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name),
                                                    "tiers.percentiles": percentiles})
        lake = Lake.from_settings(settings)
        _raw(lake)
        spy = Spy()
        if name == "one":
            run_rollups(lake, settings, spy)
            merges = [t for t in spy.tasks if t[0] in ("1m→5m", "5m→1h")]
            # every merge task was served from memory: all its files were written by this run
            assert merges and all(files == kept > 0 for _, files, kept in merges)
            assert {t[0] for t in merges} == {"1m→5m", "5m→1h"}
        else:
            for job in JOBS:
                run_rollups(lake, settings, spy, jobs=[job])
            assert all(kept == -1 for _, _, kept in spy.tasks)  # each tier read from its files
        lakes.append(_tables(lake))
    one, per_job = lakes
    for t in TIERS:
        assert one[t].num_rows > 0
        assert one[t].equals(per_job[t]), t  # every column, floats bit for bit
    assert "CloudTrail/Activity" in set(one["metrics_5m"]["namespace"].to_pylist())


def test_a_task_with_a_file_the_run_did_not_write_reads_the_files(tmp_path):
    """1m built by an earlier call: the chain's 1m→5m tasks read the 1m files (not written by
    this run), its 5m→1h tasks merge the 5m rows in memory — and every tier equals a one-call
    build of the same raw data."""
    out = []
    for name in ("earlier-1m", "fresh"):
        settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name)})
        lake = Lake.from_settings(settings)
        _raw(lake)
        if name == "earlier-1m":
            run_rollups(lake, settings, DuckDBEngine(), jobs=[JOBS[0], JOBS[1]])
        spy = Spy()
        run_rollups(lake, settings, spy)
        if name == "earlier-1m":
            assert not [t for t in spy.tasks if t[0] in ("metrics→1m", "cloudtrail→1m")]  # unchanged
            assert {(j, kept == -1) for j, _, kept in spy.tasks} == {("1m→5m", True), ("5m→1h", False)}
            assert all(kept == files for j, files, kept in spy.tasks if j == "5m→1h")
        out.append(_tables(lake))
    for t in TIERS:
        assert out[0][t].equals(out[1][t]), t


def test_carry_keeps_what_later_jobs_read_and_forgets_retired_files():
    a, b = ROLLUP.empty_table(), ROLLUP.empty_table()
    c = Carry(["metrics_1m", "metrics_5m"])
    c.record("metrics_1m", {"x/1": a, "x/2": b})
    c.record("metrics_1h", {"y/1": a})  # no later job reads it
    assert c.rows("metrics_1m", ["x/2", "x/1"]) == (b, a)
    assert c.rows("metrics_1m", ["x/1", "x/3"]) is None  # a file the run did not write
    assert c.rows("metrics_1h", ["y/1"]) is None and c.rows("metrics_1m", []) is None
    c.record("metrics_1m", {"x/1": None, "x/4": a})  # x/1 retired by a later commit
    assert c.rows("metrics_1m", ["x/1"]) is None and c.rows("metrics_1m", ["x/4"]) == (a,)
    c.keep_only(["metrics_5m"])
    assert c.rows("metrics_1m", ["x/4"]) is None and c.files == {} and c.held == 0


def test_carry_holds_at_most_its_budget_oldest_forgotten_first():
    t = pa.table({"x": pa.array([0.0] * 100)})  # 800 bytes
    c = Carry(["m"], budget=2000)
    c.record("m", {"f/1": t, "f/2": t})
    assert c.held == 1600
    c.record("m", {"f/3": t})
    assert c.held == 1600 and c.rows("m", ["f/1"]) is None and c.rows("m", ["f/2", "f/3"]) == (t, t)
    c.record("m", {"f/2": None})
    assert c.held == 800
    c.record("m", {"big": pa.concat_tables([t] * 3)})  # larger than the budget alone: not kept
    assert c.held == 0 and c.rows("m", ["f/3"]) is None and c.rows("m", ["big"]) is None


def test_a_run_without_budget_reads_every_tier_from_its_files(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.rollup.carry.BUDGET_BYTES", 0)
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    _raw(lake)
    spy = Spy()
    run_rollups(lake, settings, spy)
    assert [t for t in spy.tasks if t[0] == "5m→1h"] and all(kept == -1 for _, _, kept in spy.tasks)


def test_series_ids_parse_and_print_as_duckdb_does():
    rng = random.Random(3)
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(200)] + ["0000000000000000", "ffffffffffffffff",
                                                                 "8000000000000000", "00000000000000Ab"]
    con = duckdb.connect()
    want = [r[0] for r in con.execute("SELECT CAST('0x' || s AS UBIGINT) FROM unnest(?) t(s)", [ids]).fetchall()]
    arr = pa.chunked_array([pa.array(ids[:50]), pa.array([], pa.string()), pa.array(ids[50:])])
    got = parse_ids(arr)
    assert got is not None and [int(x) for x in got] == want
    assert [int(x) for x in parse_ids(pa.array(ids).slice(3, 5))] == want[3:8]  # type: ignore[union-attr]
    printed = [r[0] for r in con.execute("SELECT printf('%016x', x) FROM unnest(?) t(x)", [want]).fetchall()]
    assert hex_ids(got).to_pylist() == printed
    for bad in (["abc"], ["000000000000000g"], ["0123456789abcdef0"], [None]):
        assert parse_ids(pa.array(bad, pa.string())) is None, bad


def test_sources_equal_the_sql_over_the_files(tmp_path):
    """ids and source rows (order included) from tables in memory equal ids_query and
    merge_query over the same tables written as Parquet files, with a time range that cuts rows
    and one series whose id is spelt in upper case in one file."""
    rng = random.Random(11)
    series = [(f"{rng.getrandbits(64):016x}", ns, f"M{i % 3}", f'{{"Host":"h{i}"}}', "Count")
              for i, ns in enumerate(["B", "A", "B", "A", "C"])]
    tables = []
    for f in range(3):
        rows = []
        for s in series:
            for m in range(10):
                ts = T0 + timedelta(minutes=10 * f + m)
                bins = sorted(rng.sample(range(65000, 65100), rng.randrange(0, 4)))
                rows.append({"_wl_series_id": s[0].upper() if (f, s[1]) == (1, "A") else s[0], "namespace": s[1],
                             "metric_name": s[2], "dimensions": s[3], "unit": s[4], "timestamp": ts, "period": 60,
                             "sample_count": float(m + 1), "sum": rng.random(), "min": -rng.random(),
                             "max": rng.random(),
                             "sketch_bins": bins, "sketch_bin_counts": [float(rng.randrange(1, 5)) for _ in bins],
                             "sketch_count": float(len(bins))})
        tables.append(pa.Table.from_pylist(rows, schema=ROLLUP))
    paths = []
    for i, t in enumerate(tables):
        paths.append(str(tmp_path / f"{i}.parquet"))
        pq.write_table(t, paths[-1])
    lo, hi = T0 + timedelta(minutes=5), T0 + timedelta(minutes=25)
    got = sources(tuple(tables), 300, lo, hi)
    assert got is not None
    ids, src = got
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    want_ids = con.sql(sql.ids_query(paths, lo, hi)).arrow().read_all()
    want_src = con.sql(sql.merge_query(paths, 300, lo, hi)).arrow().read_all()
    cols = ["sid", "_wl_series_id", "namespace", "metric_name", "dimensions", "unit"]
    assert ids.select(cols).to_pylist() == want_ids.select(cols).to_pylist()
    assert src.num_rows == want_src.num_rows == 5 * 20
    for c in want_src.column_names:
        assert src[c].to_pylist() == want_src[c].to_pylist(), c
    # an id that is not hex or a time before 1970: the SQL decides
    n = tables[0].num_rows
    bad = tables[0].set_column(0, "_wl_series_id", pa.array(["zz" * 8] * n))
    assert sources((bad,), 300, T0, hi) is None
    early = tables[0].set_column(5, "timestamp",
                                 pa.array([-60_000] * n, pa.int64()).cast(ROLLUP.field("timestamp").type))
    assert sources((early,), 300, T0 - timedelta(days=30_000), hi) is None


def test_take_rows_equals_take_over_many_chunks():
    import numpy as np

    from pipeline.rollup.carry import take_rows

    rng = np.random.default_rng(5)
    parts = [pa.table({"s": pa.array([f"v{i}-{j}" for j in range(n)], pa.string()), "x": rng.random(n)})
             for i, n in enumerate([3, 0, 7, 1, 12])]
    t = pa.concat_tables(parts)
    for rows in (rng.integers(0, t.num_rows, 40), np.arange(t.num_rows)[::-1], np.array([22, 0, 0, 5]),
                 np.zeros(0, np.int64)):
        assert take_rows(t, rows).equals(t.take(pa.array(rows, pa.int64())))
