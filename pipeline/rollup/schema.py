"""The rollup tables ``metrics_1m`` / ``metrics_5m`` / ``metrics_1h``: their schema (declared in
:mod:`pipeline.schemas`), sort order and empty sketches.

One row per series and bucket; see :mod:`pipeline.rollup` for what each column guarantees.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schemas import PREFIX, ROLLUP, SKETCH_BINS, SKETCH_COUNTS

__all__ = ["ROLLUP", "ROW_GROUP_ROWS", "SERIES_ID", "SKETCH_BINS", "SKETCH_COUNTS", "SORT_KEYS", "empty_sketches"]


def empty_sketches(n: int) -> tuple[pa.Array, pa.Array]:
    """``n`` empty (not null) sketches: ``(bins, counts)``."""
    # built from buffers: pa.array would import pandas (0.3 s) in a rollup without sketches
    offsets = pa.Array.from_buffers(pa.int32(), n + 1, [None, pa.py_buffer(bytes(4 * (n + 1)))])
    none = pa.py_buffer(b"")
    return (pa.ListArray.from_arrays(offsets, pa.Array.from_buffers(pa.int32(), 0, [None, none]), type=SKETCH_BINS),
            pa.ListArray.from_arrays(offsets, pa.Array.from_buffers(pa.float64(), 0, [None, none]),
                                     type=SKETCH_COUNTS))


SORT_KEYS = ["namespace", "metric_name", "dimensions", "unit", "timestamp"]
"""Rows are written in this order so one series' rows share row groups (fast point queries)."""

SERIES_ID = f"{PREFIX}series_id"

ROW_GROUP_ROWS = 16 * 1024
"""Rows per Parquet row group in the tier tables. Rows are sorted by series (:data:`SORT_KEYS`), so
a row group's min/max statistics on namespace/metric/dimensions let a one-series query
(``metrics get``, alarms, dashboards) skip the others: on a 15-day 1-minute lake of 463 series
(``benchmarks/bench_metrics.py``) 16k-row groups read one series 2-3x faster than 128k-row ones,
and full scans are no slower (smaller groups, 4-8k, make both slower)."""
