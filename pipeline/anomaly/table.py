"""Schema of the lake table ``anomalies`` and conversion of scored points into rows.

One row per scored (warm) point of a series: the value, its score in [0, 1], the expected band
(``expected``, ``lower``, ``upper`` for the detector's ``k``), ``is_anomaly`` (score ≥ the
threshold in use) and the detector that produced it. Dashboards draw the band from this table;
alarms and humans filter on ``is_anomaly``.
"""

from __future__ import annotations

from pipeline.schemas import ANOMALIES

__all__ = ["ANOMALIES", "SORT_KEYS"]


SORT_KEYS = ["series_id", "timestamp"]
