"""Row groups of a sorted tier file cut at series boundaries, so a one-series query reads one.

A tier file sorted by :data:`~pipeline.rollup.schema.SORT_KEYS` (namespace, metric, dimensions,
unit, time) is found by a one-series query (``metrics get``, alarms, dashboards) through the
row groups' min/max statistics of each key column. Statistics are per column, so a row group
that spans two metrics has a dimensions range covering most of both metrics' series, and cut
every :data:`~pipeline.rollup.schema.ROW_GROUP_ROWS` rows a day of 463 series × 288 5-minute rows
let ~3 of its ~9 row groups (~48 k rows) through for a series' 288 rows.

:func:`lengths` cuts instead between series only: a group takes whole series while they fit in
:data:`SERIES_GROUP_ROWS` rows, and a group starts at a new (namespace, metric) once it holds
:data:`METRIC_CUT_ROWS` rows, so a group of one metric has the exact dimensions range of its
series and the statistics admit exactly the group holding the series (a series longer than
``limit`` rows is split at multiples of ``limit``). Closed tier partitions
(:mod:`pipeline.rollup.settle`, :func:`pipeline.rollup.chunks.replace_runs`) are written this way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.rollup.schema import ROW_GROUP_ROWS, SORT_KEYS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SERIES_GROUP_ROWS = 8192
"""Rows a series-aligned row group takes whole series up to (a group is larger only when one
series is; a day of 1-minute rows is 1,440, a month of hourly rows 744). Measured on the 5m tier
of 463 series × 15 days (``benchmarks/bench_metrics_layout.py``, load 5–7; cold p99 / Average of
one series over 15 days, a full scan, size): fixed 16k-row groups 52 / 31 / 82 ms, 34.7 MB;
series-aligned 2,048 rows 50 / 30 / 127 ms, 41.3 MB; 4,096: 39 / 24 / 109 ms, 39.7 MB; 8,192:
39 / 22 / 92 ms, 37.5 MB. A one-series read costs per file and column chunk read far more than
per row (one row group of one file: ~4 ms of CPU in DuckDB), so smaller groups only add footer
and scan overhead."""

METRIC_CUT_ROWS = SERIES_GROUP_ROWS // 4
"""A group starts at a new (namespace, metric) once it holds this many rows; smaller groups run
on into the next metric, so a partition of many one-series metrics is not thousands of tiny
groups (those groups admit a few series of neighbouring metrics)."""


def _changes(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """``out[i]``: row ``i + 1`` of ``col`` differs from row ``i`` (a null equals only a null).
    Chunked columns are compared chunk-wise (no copy of the strings)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.rollup.merge import to_numpy

    n = len(col)
    if n < 2:
        return np.zeros(0, bool)
    x, y = col.slice(1), col.slice(0, n - 1)
    ne = pc.not_equal(x, y)
    ne = pc.and_kleene(ne, pc.is_valid(ne))  # null → False (fill_null(…, False) imports pandas)
    out = pc.cast(pc.or_(ne, pc.not_equal(pc.is_null(x), pc.is_null(y))), pa.uint8())
    return to_numpy(out, np.uint8) != 0  # read from the buffers: np.asarray imports pandas


def lengths(table: pa.Table, target: int = SERIES_GROUP_ROWS, metric_cut: int = METRIC_CUT_ROWS,
            limit: int = ROW_GROUP_ROWS) -> list[int]:
    """Row-group lengths (summing to ``table.num_rows``; none when it is empty) for ``table``'s
    rows in :data:`SORT_KEYS` order: every cut is at a series boundary (a change of namespace,
    metric, dimensions or unit) except inside a series longer than ``limit`` rows (cut every
    ``limit`` rows from its start). A series joins the current group when the group stays within
    ``target`` rows and, if the series starts a new (namespace, metric), when the group holds
    fewer than ``metric_cut`` rows; otherwise it starts the next group.

    The groups depend only on the rows before each cut, so a stream cut with this function batch
    by batch (keeping the last group, which may still grow) gives the groups of the whole table
    (:func:`pipeline.rollup.settle.write_sorted`)."""
    import numpy as np

    n = table.num_rows
    if n == 0:
        return []
    metric = np.zeros(n - 1, bool)
    for k in SORT_KEYS[:2]:
        metric |= _changes(table.column(k))
    series = metric.copy()
    for k in SORT_KEYS[2:4]:
        series |= _changes(table.column(k))
    starts = (np.flatnonzero(series) + 1).tolist()
    new_metric = set((np.flatnonzero(metric) + 1).tolist())
    bounds = [0, *starts, n]
    out: list[int] = []
    size = 0  # rows in the current group
    for a, b in zip(bounds[:-1], bounds[1:]):
        m = b - a
        if size and (size + m > target or (a in new_metric and size >= metric_cut)):
            out.append(size)
            size = 0
        if size + m > limit:  # only a series longer than limit (size is 0 here): its own groups
            while m > limit:
                out.append(limit)
                m -= limit
        size += m
    out.append(size)
    return out
