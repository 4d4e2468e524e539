"""GetMetricData requests with several queries and metric math, over the rollup tiers.

:func:`metric_data_request` takes the request document ``aws cloudwatch get-metric-data
--cli-input-json`` takes — ``MetricDataQueries`` (each an ``Id``, exactly one of ``MetricStat`` or
``Expression``, optional ``Label`` and ``ReturnData``), ``StartTime``, ``EndTime``, optional
``ScanBy`` and ``MaxDatapoints`` — and returns the response's shape: ``MetricDataResults`` (one per
returned query, or per series of a returned array; ``Timestamps`` / ``Values`` newest first unless
``ScanBy`` is ``TimestampAscending``, ``StatusCode`` ``Complete``) and ``Messages``.

Each ``MetricStat`` is answered by :func:`pipeline.query.metrics.get_metric_data` (tier chosen by
age, period starts in UTC); expressions are evaluated period by period on those values
(:mod:`pipeline.metricmath.parse`, with the request-only functions: ``SUM(m1)`` of one series over
the range, ``RUNNING_SUM``, ``DATAPOINT_COUNT``). Every ``MetricStat`` of a request with an
expression must share one ``Period`` (CloudWatch allows mixing; here expressions work on one grid),
and a returned expression must give a series or an array of series. Errors are
:class:`~pipeline.errors.QueryError` naming the query.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import QueryError

if TYPE_CHECKING:
    from pipeline.lake import Lake

MAX_QUERIES = 500
_ID_RE = re.compile(r"^[a-z][A-Za-z0-9_]{0,254}$")


def _err(where: str, reason: str, value: Any = None) -> QueryError:
    shown = f" (got {value!r})" if value is not None else ""
    return QueryError(f"{where}: {reason}{shown}")


def _dims(stat: dict[str, Any], where: str) -> dict[str, str]:
    dims = stat["Metric"].get("Dimensions") or []
    if isinstance(dims, dict):
        return {str(k): str(v) for k, v in dims.items()}
    if not isinstance(dims, list) or not all(isinstance(d, dict) and "Name" in d and "Value" in d for d in dims):
        raise _err(f"{where}.MetricStat.Metric.Dimensions", "must be a list of {Name, Value}", dims)
    return {str(d["Name"]): str(d["Value"]) for d in dims}


def _queries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    qs = doc.get("MetricDataQueries")
    if not isinstance(qs, list) or not 1 <= len(qs) <= MAX_QUERIES:
        raise _err("MetricDataQueries", f"must be a list of 1 to {MAX_QUERIES} queries", qs)
    seen: set[str] = set()
    for i, q in enumerate(qs):
        where = f"MetricDataQueries[{i}]"
        if not isinstance(q, dict):
            raise _err(where, "must be a mapping", q)
        qid = q.get("Id")
        if not isinstance(qid, str) or not _ID_RE.match(qid):
            raise _err(f"{where}.Id", "must start with a lower-case letter, then letters, digits or _", qid)
        if qid in seen:
            raise _err(f"{where}.Id", "duplicate Id", qid)
        seen.add(qid)
        if ("MetricStat" in q) == ("Expression" in q):
            raise _err(where, "exactly one of MetricStat or Expression")
        ms = q.get("MetricStat")
        if ms is not None and (not isinstance(ms, dict) or not isinstance(ms.get("Metric"), dict)
                               or not {"Namespace", "MetricName"} <= set(ms["Metric"])
                               or not isinstance(ms.get("Period"), int) or "Stat" not in ms):
            raise _err(f"{where}.MetricStat", "needs Metric{Namespace, MetricName[, Dimensions]}, Period, Stat", ms)
    return qs


def metric_data_request(lake: Lake, doc: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The GetMetricData response for request ``doc`` (module docstring); ``now`` is the query's
    clock (which tiers a range may use)."""
    from pipeline.metricmath import evaluate as matheval
    from pipeline.metricmath import parse as metricmath
    from pipeline.query.metrics import get_metric_data
    from pipeline.timeutil import parse_time

    qs = _queries(doc)
    try:
        start, end = parse_time(str(doc["StartTime"])), parse_time(str(doc["EndTime"]))
    except KeyError as e:
        raise _err(str(e.args[0]), "is required") from None
    scan = doc.get("ScanBy", "TimestampDescending")
    if scan not in ("TimestampDescending", "TimestampAscending"):
        raise _err("ScanBy", "must be TimestampDescending or TimestampAscending", scan)
    budget = int(doc.get("MaxDatapoints", 100_800))
    stats = [q for q in qs if "MetricStat" in q]
    exprs = {q["Id"]: str(q["Expression"]) for q in qs if "Expression" in q}
    periods = {q["MetricStat"]["Period"] for q in stats}
    if exprs and len(periods) > 1:
        raise _err("MetricDataQueries", "every MetricStat of a request with an expression must use one Period "
                   "(expressions are evaluated on one grid)", sorted(periods))
    fetched: dict[str, Any] = {}
    for q in stats:
        ms, where = q["MetricStat"], f"query {q['Id']}"
        try:
            fetched[q["Id"]] = get_metric_data(lake, ms["Metric"]["Namespace"], ms["Metric"]["MetricName"],
                                               _dims(ms, where), str(ms["Stat"]), start, end, ms["Period"],
                                               max_points=budget, unit=ms.get("Unit"), now=now)
        except QueryError as e:
            raise _err(where, e.reason) from None
    results: list[dict[str, Any]] = []
    messages: list[dict[str, str]] = []
    grid = arrays = None
    trees: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    if exprs:
        period = next(iter(periods)) if periods else 60
        first = next(iter(fetched.values()), None)
        g_start = first.start if first is not None and first.start is not None else start
        n = max(0, math.ceil((end - g_start).total_seconds() / period))
        grid = metricmath.Grid(int(g_start.timestamp()), period, period, n)
        arrays = {qid: _on_grid(md, grid) for qid, md in fetched.items()}
        try:
            for qid, text in exprs.items():
                trees[qid] = metricmath.parse(qid, text)
            kinds = {qid: matheval.check(qid, trees, exprs, list(fetched), alarm=False) for qid in exprs}
        except metricmath.MathError as e:
            raise _err(f"query {e.rule}", f"{e.reason}: {e.expression}") from None
    for q in qs:
        if not q.get("ReturnData", True):
            continue
        qid, label = q["Id"], q.get("Label")
        if qid in fetched:
            md = fetched[qid]
            results.append(_result(qid, label or md.label, md.timestamps, md.values, scan))
            messages += [{"Code": "Info", "Value": f"{qid}: {m}"} for m in md.messages]
            continue
        assert grid is not None and arrays is not None
        if kinds[qid] == matheval.S:
            raise _err(f"query {qid}", "a returned expression must give a series, not a number", exprs[qid])
        value = matheval.evaluate(qid, trees, exprs, arrays, grid)
        members: list[np.ndarray] = value if isinstance(value, list) else [np.asarray(value)]
        times = [datetime.fromtimestamp(grid.start, UTC) + timedelta(seconds=i * grid.step) for i in range(grid.n)]
        for k, arr in enumerate(members):
            keep = [i for i in range(grid.n) if not math.isnan(arr[i])]
            name = label or qid if len(members) == 1 else f"{label or qid} {k + 1}"
            results.append(_result(qid, name, [times[i] for i in keep], [float(arr[i]) for i in keep], scan))
    return {"MetricDataResults": results, "Messages": messages}


def _on_grid(md: Any, grid: Any) -> np.ndarray:
    """A MetricStat's datapoints as an array over the grid's periods (NaN where it has none)."""
    out = np.full(grid.n, np.nan)
    for t, v in zip(md.timestamps, md.values, strict=True):
        i = (int(t.timestamp()) - grid.start) // grid.step
        if 0 <= i < grid.n:
            out[i] = v
    return out


def _result(qid: str, label: str, times: list[datetime], values: list[float], scan: str) -> dict[str, Any]:
    from pipeline.timeutil import iso

    pairs = list(zip(times, values, strict=True))
    if scan == "TimestampDescending":
        pairs.reverse()
    return {"Id": qid, "Label": label, "Timestamps": [iso(t) for t, _ in pairs],
            "Values": [v for _, v in pairs], "StatusCode": "Complete"}
