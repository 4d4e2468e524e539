"""The rollup tables ``metrics_1m`` / ``metrics_5m`` / ``metrics_1h``: their schema (declared in
:mod:`pipeline.schemas`), sort order and empty sketches.

One row per series and bucket; see :mod:`pipeline.rollup` for what each column guarantees.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schemas import PREFIX, ROLLUP, SKETCH, SKETCH_ENTRY

__all__ = ["ROLLUP", "SERIES_ID", "SKETCH", "SKETCH_ENTRY", "SORT_KEYS", "empty_sketches"]


def empty_sketches(n: int) -> pa.Array:
    """``n`` empty (not null) sketches."""
    return pa.ListArray.from_arrays(pa.array([0] * (n + 1), pa.int32()), pa.array([], SKETCH_ENTRY), type=SKETCH)


SORT_KEYS = ["namespace", "metric_name", "dimensions", "unit", "timestamp"]
"""Rows are written in this order so one series' rows share row groups (fast point queries)."""

SERIES_ID = f"{PREFIX}series_id"
