"""Series-aligned row groups (:mod:`pipeline.rollup.rowgroups`): cuts fall between series only
(a null unit is its own series), a new metric starts a group once the group is big enough, a
series longer than the limit is split; and in a closed day written by the merge, the row-group
statistics let DuckDB and pyarrow read exactly the one group holding a series."""

from __future__ import annotations

import re
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.lake import Lake
from pipeline.rollup import rowgroups, settle
from pipeline.rollup.schema import ROLLUP
from pipeline.rollup.tiers import JOBS
from pipeline.timeutil import epoch_ms
from tests.pipeline.rollup.gen import T0
from tests.pipeline.rollup.test_settle import NEXT, _chunk_day


def _keys(*series: tuple[str, str, str, str | None, int]) -> pa.Table:
    """Rows of ``(namespace, metric, dimensions, unit, rows)`` series, in the given (sorted) order."""
    cols: dict[str, list[object]] = {"namespace": [], "metric_name": [], "dimensions": [], "unit": []}
    for ns, metric, dims, unit, n in series:
        for k, v in zip(cols, (ns, metric, dims, unit), strict=True):
            cols[k] += [v] * n
    return pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})


def test_cuts_fall_between_series_metrics_cut_when_big_enough_and_a_long_series_is_split():
    t = _keys(("N", "A", "d1", "u", 2), ("N", "A", "d2", "u", 1),   # 3 rows; d3 would make 5 > 4: cut
              ("N", "A", "d3", "u", 2),                              # 2 rows, then metric B: 2 >= 2, cut
              ("N", "B", "d1", "u", 1), ("N", "C", "d1", "u", 1),    # 1 < 2 at metric C: runs on
              ("N", "C", "d2", "u", 1), ("N", "C", "d2", None, 1),   # 4 = target: still fits
              ("N", "C", "d3", "u", 8),                              # 4 + 8 > 4: cut; 8 > limit 6: 6 + 2
              ("N2", "A", "d1", "u", 1))                             # a new namespace is a new metric
    assert rowgroups.lengths(t, target=4, metric_cut=2, limit=6) == [3, 2, 4, 6, 2, 1]


def test_a_null_unit_is_its_own_series_and_nulls_are_one_series():
    t = _keys(("N", "A", "d", "Count", 1), ("N", "A", "d", None, 2))
    # one series of 3 would give [3]; null != null (every row its own series) would give [2, 1]
    assert rowgroups.lengths(t, target=2, metric_cut=1, limit=10) == [1, 2]
    assert rowgroups.lengths(_keys(), target=2) == []


def test_a_merged_day_reads_one_row_group_per_series(tmp_path):
    lake = Lake(tmp_path)
    folder, n = _chunk_day(lake, 230, 3, seed=23)    # 244 series × 180 rows, 15 (namespace, metric) pairs
    clock = epoch_ms(NEXT + timedelta(hours=3))
    assert settle.merge(lake, JOBS[0], folder, clock, clock - 7_200_000) == n
    (rel,) = lake.table_files("metrics_1m", folder)
    path = lake.path(rel)
    meta = pq.read_metadata(path)
    t = pq.read_table(path)
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(groups) == n and max(groups) <= rowgroups.SERIES_GROUP_ROWS
    # every series lies in one group: its rows are a run inside one group's bounds
    group_of_row = [i for i, g in enumerate(groups) for _ in range(g)]
    where: dict[tuple, set[int]] = {}
    keys = zip(*(t[k].to_pylist() for k in ("namespace", "metric_name", "dimensions", "unit")), strict=True)
    for row, key in enumerate(keys):
        where.setdefault(key, set()).add(group_of_row[row])
    assert len(where) == 244 and all(len(g) == 1 for g in where.values())
    # the statistics admit exactly that group (pyarrow's view of the footer)
    cols = {name: meta.schema.to_arrow_schema().get_field_index(name) for name in ("namespace", "metric_name",
                                                                                 "dimensions")}
    def holding(ns: str, metric: str, dims: str) -> list[int]:  # a unit's twin is filtered in too
        return sorted(set().union(*(g for k, g in where.items() if k[:3] == (ns, metric, dims))))

    for key in list(where)[::7]:
        admitted = [i for i in range(meta.num_row_groups)
                    if all(meta.row_group(i).column(c).statistics.min <= v <= meta.row_group(i).column(c).statistics.max
                           for c, v in zip(cols.values(), key[:3], strict=True))]
        assert admitted == holding(*key[:3]), key
    # and DuckDB and pyarrow read only those groups for one series (h17 has a twin without unit)
    ns, metric, dims = "NS2", "M2", '{"Host":"h17"}'
    want = holding(ns, metric, dims)
    assert len(want) in (1, 2) and (ns, metric, dims, None) in where
    plan = str(duckdb.connect().execute(f"EXPLAIN ANALYZE SELECT count(*) FROM read_parquet('{path}') WHERE "
                                        f"namespace = '{ns}' AND metric_name = '{metric}' AND dimensions = '{dims}'"
                                        ).fetchall())
    assert re.search(rf"Row Groups Scanned: *{len(want)} */ *{meta.num_row_groups}\b", plan), plan
    frags = list(ds.dataset(path, format="parquet").get_fragments())[0].split_by_row_group(
        (ds.field("namespace") == ns) & (ds.field("metric_name") == metric) & (ds.field("dimensions") == dims))
    assert [f.row_groups[0].id for f in frags] == want
    assert ROLLUP.names == t.schema.names and t.num_rows == n and T0 <= t["timestamp"][0].as_py()
