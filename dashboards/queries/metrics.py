"""Metrics explorer: series listing, GetMetricData through the rollup tiers, anomaly bands and
the thresholds of the alarms that watch a series.

The tier and period come from :mod:`pipeline.query.planner` (CloudWatch's rules) unless the
user overrides the period; "now" for the tier-age rules is the data clock when
``tiers.clock = "data"`` (the default), so old sample data still gets 1-minute detail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB

if TYPE_CHECKING:
    import polars as pl

STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p99")
PERIODS = (60, 300, 900, 3600, 6 * 3600, 86400)


def series(db: LakeDB) -> pl.DataFrame:
    """Every rolled-up series: namespace, metric_name, dimensions (canonical JSON), unit."""
    import polars as pl

    from pipeline.query.metrics import canonical, list_metrics

    rows = [{"namespace": m.namespace, "metric_name": m.metric_name,
             "dimensions": canonical(m.dimensions), "unit": m.unit} for m in list_metrics(db.lake)]
    return pl.DataFrame(rows, schema={"namespace": pl.String, "metric_name": pl.String,
                                      "dimensions": pl.String, "unit": pl.String})


def clock(db: LakeDB) -> datetime | None:
    """The "now" the tier rules use: the data clock, or None (wall clock) if so configured."""
    from pipeline.config import load_settings
    from pipeline.rollup.state import data_clock

    if load_settings().tiers.clock != "data":
        return None
    return data_clock(db.lake)


def data(db: LakeDB, namespace: str, metric_name: str, dimensions: str, stat: str,
         start: datetime, end: datetime, period: int | None, unit: str | None,
         max_points: int = 1440) -> dict[str, Any]:
    """One statistic of one series: ``timestamps``, ``values``, ``period``, ``tier``,
    ``messages`` and ``error`` (a refused query's message, e.g. too many points)."""
    from pipeline.errors import QueryError
    from pipeline.query.metrics import get_metric_data

    try:
        md = get_metric_data(db.lake, namespace, metric_name, json.loads(dimensions), stat, start, end,
                             period, unit=unit, now=clock(db), max_points=max_points,
                             sketched=_keeps_sketches(namespace))
    except QueryError as exc:
        return {"timestamps": [], "values": [], "period": period, "tier": None, "messages": [],
                "error": str(exc)}
    return {"timestamps": md.timestamps, "values": md.values, "period": md.period, "tier": md.tier,
            "messages": list(md.messages), "error": None, "unit": md.unit}


def extent(db: LakeDB, namespace: str, metric_name: str, dimensions: str,
           unit: str | None) -> tuple[datetime | None, datetime | None]:
    """First and last hour (``[first, last + 1 h)``) in which a series has rolled-up data, from the
    small 1-hour tier; (None, None) when it has none."""
    if not db.has("metrics_1h"):
        return None, None
    sql = ("SELECT min(timestamp), max(timestamp) + INTERVAL 1 HOUR FROM metrics_1h "
           "WHERE namespace = ? AND metric_name = ? AND dimensions = ?")
    params: list[Any] = [namespace, metric_name, dimensions]
    if unit is not None:
        sql += " AND unit = ?"
        params.append(unit)
    lo, hi = db.rows(sql, params)[0]
    return lo, hi


def _keeps_sketches(namespace: str) -> bool:
    """Whether the configuration (``tiers.percentiles``) keeps pNN sketches for ``namespace``."""
    from pipeline.config import load_settings
    from pipeline.rollup.percentiles import keeps
    from pipeline.tierchain import parse_percentiles

    return keeps(parse_percentiles(load_settings().tiers.percentiles), namespace)


def band(timestamps: list[datetime], values: list[float], k: float) -> dict[str, list[float | None]]:
    """CloudWatch's ANOMALY_DETECTION_BAND over the shown points (``pipeline.anomaly.band``)."""
    from pipeline.anomaly.band import expected_band

    b = expected_band(timestamps, values, k=k)
    return {"expected": b.expected, "lower": b.lower, "upper": b.upper}


def thresholds(db: LakeDB, namespace: str, metric_name: str, dimensions: str) -> list[dict[str, Any]]:
    """Static-threshold alarms on this series (not metric-math alarms that read it: their threshold
    is the expression's): name, threshold, operator, stat, period, state."""
    from pipeline.alarms.model import MetricAlarm
    from pipeline.alarms.store import AlarmStore

    dims = json.loads(dimensions)
    store = AlarmStore(db.lake)
    out = []
    for a in store.metric_alarms():
        if not isinstance(a, MetricAlarm) or a.threshold is None or a.math is not None:
            continue  # a metric-math alarm's threshold is its expression's, not this series
        m = a.metric
        if (m.namespace, m.metric_name, m.dimension_dict) != (namespace, metric_name, dims):
            continue
        state = store.states.get(a.name)
        out.append({"alarm": a.name, "threshold": a.threshold, "operator": a.comparison_operator,
                    "stat": m.stat, "period": a.period,
                    "state": state.state_value if state else "INSUFFICIENT_DATA"})
    return sorted(out, key=lambda r: r["alarm"])


def expression(text: str, lines: list[tuple[list[datetime], list[float]]], period: int) -> dict[str, Any]:
    """Metric math over the chart's lines (``m1``, ``m2``, … in order; :mod:`pipeline.metricmath`,
    as a GetMetricData request evaluates it, period by period): ``series`` (a list of
    ``(timestamps, values)``, one per result series, points without a value left out) and ``error``
    (the expression's problem, ``metric math: …`` naming the character)."""
    from datetime import UTC, timedelta

    import numpy as np

    from pipeline.metricmath.evaluate import S, check, evaluate
    from pipeline.metricmath.parse import Grid, MathError, parse

    stamps = [t for ts, _ in lines for t in ts]
    if not stamps:
        return {"series": [], "error": None}
    first = int(min(stamps).timestamp())
    grid = Grid(first, period, period, (int(max(stamps).timestamp()) - first) // period + 1)
    arrays = {}
    for i, (ts, vs) in enumerate(lines):
        a = np.full(grid.n, np.nan)
        for t, v in zip(ts, vs, strict=True):
            a[(int(t.timestamp()) - first) // period] = v
        arrays[f"m{i + 1}"] = a
    try:
        tree = {"e": parse("e", text)}
        if check("e", tree, {"e": text}, list(arrays), alarm=False) == S:
            return {"series": [], "error": "metric math: the expression gives a number, not a series"}
        value = evaluate("e", tree, {"e": text}, arrays, grid)
    except MathError as e:
        return {"series": [], "error": e.reason}
    times = [datetime.fromtimestamp(first, UTC) + timedelta(seconds=i * period) for i in range(grid.n)]
    out = []
    for arr in value if isinstance(value, list) else [np.asarray(value)]:
        keep = [i for i in range(grid.n) if not np.isnan(arr[i])]
        out.append(([times[i] for i in keep], [float(arr[i]) for i in keep]))
    return {"series": out, "error": None}
