"""pipeline.rollup.state.footer_max: the newest time of raw files from their Parquet footers,
the same as DuckDB's ``max`` over the column, or ``False`` when a footer cannot say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake
from pipeline.rollup.state import footer_max

T = datetime(2026, 11, 5, 3, 4, 5, 678901, tzinfo=UTC)


def _write(lake: Lake, rel: str, times: list[datetime | None], unit: str = "us", **kw: object) -> str:
    path = lake.path(rel)
    lake.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    t = pa.table({"timestamp": pa.array(times, pa.timestamp(unit, tz="UTC")), "v": list(range(len(times)))})
    pq.write_table(t, path, row_group_size=3, **kw)  # several row groups
    return rel


def _duckdb_max(lake: Lake, rels: list[str]) -> datetime | None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    value = con.execute("SELECT max(timestamp) FROM read_parquet(?)", [[lake.path(r) for r in rels]]).fetchone()[0]
    con.close()
    return value


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_the_newest_time_is_the_columns_maximum(lake: Lake, unit: str):
    times = [T - timedelta(minutes=m) for m in (9, 3, 7, 1, 4, 8, 2)]
    a = _write(lake, "raw/x/a.parquet", times, unit)
    b = _write(lake, "raw/x/b.parquet", [None, None, None, T - timedelta(hours=1)], unit)  # a group of nulls only
    want = _duckdb_max(lake, [a, b])
    assert want == T - timedelta(minutes=1) - (timedelta(microseconds=678901) if unit == "s" else timedelta(
        microseconds=901) if unit == "ms" else timedelta(0))
    assert footer_max(lake, [a, b], "timestamp") == want
    assert footer_max(lake, [b], "timestamp") == _duckdb_max(lake, [b]) < want


def test_no_rows_or_only_nulls_is_none_and_a_footer_without_maxima_is_false(lake: Lake):
    empty = _write(lake, "raw/x/e.parquet", [])
    nulls = _write(lake, "raw/x/n.parquet", [None, None])
    assert footer_max(lake, [empty, nulls], "timestamp") is None
    bare = _write(lake, "raw/x/s.parquet", [T], write_statistics=False)
    assert footer_max(lake, [empty, bare], "timestamp") is False
    assert footer_max(lake, [empty], "eventTime") is False  # not a column of these files
