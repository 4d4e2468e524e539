"""Arrow schema of the rollup tables ``metrics_1m`` / ``metrics_5m`` / ``metrics_1h``.

One row per series and bucket; see :mod:`pipeline.rollup` for what each column guarantees.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schemas import PREFIX, TS

SKETCH_ENTRY = pa.struct([
    ("sign", pa.int8()),       # -1, 0 (the zero bucket) or 1
    ("key", pa.int32()),       # ceil(ln|v| / ln γ), see pipeline.rollup.sketch
    ("count", pa.float64()),   # samples in the bucket (Counts may be fractional)
])
SKETCH = pa.list_(SKETCH_ENTRY)


def empty_sketches(n: int) -> pa.Array:
    """``n`` empty (not null) sketches."""
    return pa.ListArray.from_arrays(pa.array([0] * (n + 1), pa.int32()), pa.array([], SKETCH_ENTRY), type=SKETCH)


ROLLUP = pa.schema([
    pa.field(f"{PREFIX}series_id", pa.string()),
    ("namespace", pa.string()),
    ("metric_name", pa.string()),
    ("dimensions", pa.string()),       # canonical JSON object, keys sorted (as in raw metrics)
    ("unit", pa.string()),
    ("timestamp", TS),                 # bucket start, UTC; the bucket is [timestamp, timestamp+period)
    ("period", pa.int32()),            # bucket length in seconds (60, 300, 3600)
    ("sample_count", pa.float64()),
    ("sum", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("sketch", SKETCH),                # sorted by (sign, key)
    ("sketch_count", pa.float64()),    # samples represented in the sketch (== sample_count → pNN ok)
])

SORT_KEYS = ["namespace", "metric_name", "dimensions", "unit", "timestamp"]
"""Rows are written in this order so one series' rows share row groups (fast point queries)."""

SERIES_ID = f"{PREFIX}series_id"

ROW_GROUP_ROWS = 16 * 1024
"""Rows per Parquet row group in the tier tables. Rows are sorted by series (:data:`SORT_KEYS`), so
a row group's min/max statistics on namespace/metric/dimensions let a one-series query
(``metrics get``, alarms, dashboards) skip the others: on a 15-day 1-minute lake of 463 series
(``benchmarks/bench_metrics.py``) 16k-row groups read one series 2-3x faster than 128k-row ones,
and full scans are no slower (smaller groups, 4-8k, make both slower)."""
