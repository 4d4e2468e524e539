"""Schema of the lake table ``anomalies`` and conversion of scored points into rows.

One row per scored (warm) point of a series: the value, its score in [0, 1], the expected band
(``expected``, ``lower``, ``upper`` for the detector's ``k``), ``is_anomaly`` (score ≥ the
threshold in use) and the detector that produced it. Dashboards draw the band from this table;
alarms and humans filter on ``is_anomaly``.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schemas import TS

ANOMALIES = pa.schema([
    ("series_id", pa.string()),        # "<namespace>|<metric>|<dimensions JSON>|<unit>|<stat>"
    ("namespace", pa.string()),
    ("metric_name", pa.string()),
    ("dimensions", pa.string()),       # canonical JSON, keys sorted
    ("unit", pa.string()),
    ("stat", pa.string()),
    ("period", pa.int32()),
    ("timestamp", TS),
    ("value", pa.float64()),
    ("score", pa.float64()),
    ("expected", pa.float64()),
    ("lower", pa.float64()),
    ("upper", pa.float64()),
    ("is_anomaly", pa.bool_()),
    ("detector", pa.string()),
])

SORT_KEYS = ["series_id", "timestamp"]
