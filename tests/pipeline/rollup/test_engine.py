"""The DuckDB rollup engine (pipeline.rollup.engine) on raw rows written to Parquet: one series
whose id is spelt two ways, and the connection left as it was found."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.rollup.engine import rollup_table
from pipeline.rollup.sketch import bin_of
from pipeline.schemas import METRICS
from tests.pipeline.rollup.gen import T0, point


def test_an_id_spelt_two_ways_is_one_series(tmp_path, con):
    """The raw query groups on the id string as stored; ids are 16 hex digits, so an upper-case
    spelling is the same series (as the identity query reads it): its rows merge into the same
    buckets — partials and sketch — not into a second row with the same key."""
    rows = [point(T0 + timedelta(seconds=5), 10.0), point(T0 + timedelta(seconds=15), 20.0),
            point(T0 + timedelta(seconds=25), 20.0), point(T0 + timedelta(seconds=65), 3.0)]
    rows[1]["_wl_series_id"] = rows[1]["_wl_series_id"].upper()
    rows[3]["_wl_series_id"] = rows[3]["_wl_series_id"].upper()  # alone in its minute
    path = str(tmp_path / "raw.parquet")
    pq.write_table(pa.Table.from_pylist(rows, schema=METRICS), path)
    out = rollup_table(con, "raw", [path], 60, T0, T0 + timedelta(hours=1)).to_pylist()
    assert [(r["_wl_series_id"], r["timestamp"]) for r in out] == [(rows[0]["_wl_series_id"], T0),
                                                                  (rows[0]["_wl_series_id"], T0 + timedelta(minutes=1))]
    first, second = out
    assert (first["sample_count"], first["sum"], first["min"], first["max"]) == (3.0, 50.0, 10.0, 20.0)
    assert list(zip(first["sketch_bins"], first["sketch_bin_counts"], strict=True)) == \
        [(bin_of(10.0), 1.0), (bin_of(20.0), 2.0)]
    assert first["sketch_count"] == 3.0
    assert (second["sample_count"], second["sketch_bins"], second["sketch_count"]) == (1.0, [bin_of(3.0)], 1.0)


def test_the_series_ranks_are_unregistered_after_each_rollup(tmp_path, con):
    """The raw query joins the series ranks registered on the caller's connection (the Flink
    committer shares its own): nothing is left behind, even when the rollup fails."""
    path = str(tmp_path / "raw.parquet")
    pq.write_table(pa.Table.from_pylist([point(T0, 1.0)], schema=METRICS), path)

    def names() -> set[str]:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                          "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}

    before = names()
    assert rollup_table(con, "raw", [path], 60, T0, T0 + timedelta(hours=1)).num_rows == 1
    bad = pa.Table.from_pylist([point(T0, 1.0)], schema=METRICS)
    bad = bad.set_column(bad.schema.get_field_index("sum"), "sum", pa.array(["x"], pa.string()))
    pq.write_table(bad, str(tmp_path / "bad.parquet"))
    with pytest.raises(duckdb.Error):
        rollup_table(con, "raw", [str(tmp_path / "bad.parquet")], 60, T0, T0 + timedelta(hours=1))
    assert names() == before


@pytest.mark.parametrize("seed", range(4))
def test_ordering_runs_gives_the_stable_order_of_the_rows(seed):
    """Rows in runs of equal keys — files sorted by series and time, a bucket's rows in one file
    or split over several, keys repeating across files — ordered by their runs equal a stable
    sort of every row (rows of one key in file order), with and without a file layout."""
    import numpy as np

    from pipeline.rollup.chunks import layout
    from pipeline.rollup.engine import _ordered, _ordered_runs

    rng = np.random.default_rng(seed)
    period = 300
    day = int(T0.timestamp()) // 86_400 * 86_400
    files = []
    for _ in range(rng.integers(1, 12)):  # each file: series in order, each with a few buckets in order
        series = np.sort(rng.choice(50, size=rng.integers(1, 20), replace=False))
        start = day // period + int(rng.integers(0, 200))
        for s in series:
            buckets = start + np.sort(rng.integers(0, 6, size=rng.integers(1, 15)))
            files.append((s << 32) + buckets)
    key = np.concatenate(files).astype(np.int64)
    clock = (day + 86_000) * 1000
    for shape in (None, layout(period, clock, {"dt": T0.strftime("%Y-%m-%d")}, closed=False)):
        want = _ordered(key, period, layout=shape)
        got = _ordered_runs(key, period, shape)
        for w, g in zip(want, got, strict=True):
            assert np.array_equal(w, g)
    assert len(np.unique(key)) < len(key)  # the keys did repeat, within runs and across files
