"""GetMetricData-style queries over the rollup tiers, and ListMetrics.

:func:`get_metric_data` answers one statistic of one series (namespace + metric + exact
dimension set [+ unit]) over ``[start, end)``:

* tier and period are chosen by :mod:`pipeline.query.planner` (CloudWatch's age rules, a
  points budget, never finer than the data);
* statistics: ``SampleCount``, ``Sum``, ``Minimum``, ``Maximum``, ``Average`` (Σsum / Σcount,
  never an average of averages) and ``pNN`` / ``pNN.NNN`` (0 ≤ NN ≤ 100) from the merged
  sketches, within 1 % relative error (:mod:`pipeline.rollup.sketch`);
* a period with no samples has no datapoint; a percentile is omitted for a period that holds
  a statistic set CloudWatch could not take percentiles from (``sketch_count < sample_count``);
* results are in ascending time order, stamped with the period start, UTC.

Several units under one identity are separate series in CloudWatch; without ``unit`` a query
that finds more than one raises :class:`~pipeline.errors.QueryError` naming them.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError
from pipeline.lake import layout
from pipeline.query.planner import Plan, plan
from pipeline.rollup.sketch import GAMMA
from pipeline.rollup.tiers import partition_range
from pipeline.timeutil import epoch_ms

if TYPE_CHECKING:
    from pipeline.lake import Lake

SIMPLE_STATS = {"SampleCount", "Sum", "Minimum", "Maximum", "Average"}
_PCT_RE = re.compile(r"^[pP](\d{1,3}(?:\.\d{1,10})?)$")


@dataclass
class MetricData:
    """One result series (parallel ``timestamps`` / ``values``), like a MetricDataResult."""

    timestamps: list[datetime]
    values: list[float]
    period: int
    tier: str
    label: str
    stat: str = ""
    unit: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MetricInfo:
    """A series for pickers (ListMetrics)."""

    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    unit: str


def parse_stat(stat: str) -> float | None:
    """``None`` for a simple statistic, else the quantile (0–1) of ``pNN``.

    Raises:
        QueryError: an unknown statistic.
    """
    if stat in SIMPLE_STATS:
        return None
    m = _PCT_RE.match(stat.strip())
    if m and float(m.group(1)) <= 100:
        return float(m.group(1)) / 100.0
    raise QueryError(f"unknown statistic {stat!r} (SampleCount, Sum, Minimum, Maximum, Average "
                     "or pNN such as p99 or p99.9)")


def canonical(dimensions: dict[str, str]) -> str:
    """Canonical dimension JSON as stored (compact, keys sorted)."""
    return json.dumps({str(k): str(v) for k, v in dimensions.items()}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def _tier_files(lake: Lake, table: str, start: datetime, end: datetime) -> list[str]:
    """Files of the tier partitions overlapping ``[start, end)`` (one directory listing)."""
    from pipeline.rollup.state import listing

    files: list[str] = []
    for folder, entries in listing(lake, table).items():
        lo, hi = partition_range(layout.parse_partition_path(table, folder))
        if lo < end and hi > start:
            files.extend(lake.uri(f.rel) for f in entries)
    return files


_local = threading.local()


def _con() -> Any:
    """A per-thread DuckDB connection (in-memory, UTC), reused across queries."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        _local.con = con
    return con


_BASE = """
WITH r AS (
    SELECT unit, CAST(floor((epoch_ms("timestamp") - ?) / ?) AS BIGINT) AS qi,
           sample_count, "sum", "min", "max", sketch, sketch_count
    FROM read_parquet(?, union_by_name = true)
    WHERE namespace = ? AND metric_name = ? AND dimensions = ? {unit}
      AND "timestamp" >= ? AND "timestamp" < ?
)"""

_STATS = """
SELECT unit, qi, sum(sample_count) AS n, sum("sum") AS s, min("min") AS lo, max("max") AS hi,
       sum(sketch_count) AS skn {pick}
FROM r {join} GROUP BY ALL ORDER BY qi"""

_PCT = """,
e AS (SELECT unit, qi, x.sign AS sg, x.key AS k, sum(x.count) AS c
      FROM (SELECT unit, qi, unnest(sketch) AS x FROM r) GROUP BY ALL),
cum AS (SELECT unit, qi, sg, k,
               sum(c) OVER (PARTITION BY unit, qi ORDER BY sg, sg * k ROWS UNBOUNDED PRECEDING) AS cc,
               sum(c) OVER (PARTITION BY unit, qi) AS tot
        FROM e),
pick AS (SELECT unit, qi, arg_min(sg, cc) AS psg, arg_min(k, cc) AS pk
         FROM cum WHERE cc > floor(? * (tot - 1)) GROUP BY unit, qi),
agg AS (SELECT unit, qi, sum(sample_count) AS n, sum("sum") AS s, min("min") AS lo,
               max("max") AS hi, sum(sketch_count) AS skn FROM r GROUP BY unit, qi)
SELECT agg.*, pick.psg, pick.pk FROM agg LEFT JOIN pick USING (unit, qi) ORDER BY qi"""


def _value(stat: str, q: float | None, row: tuple[Any, ...]) -> float | None:
    _unit, _qi, n, s, lo, hi, skn = row[:7]
    if not n:
        return None
    if q is None:
        return {"SampleCount": n, "Sum": s, "Minimum": lo, "Maximum": hi,
                "Average": s / n}[stat]
    if skn is None or not math.isclose(skn, n, rel_tol=1e-12, abs_tol=0.0) or row[7] is None:
        return None
    if q == 0.0:
        return float(lo)
    if q == 1.0:
        return float(hi)
    sg, k = int(row[7]), int(row[8])
    v = 0.0 if sg == 0 else sg * 2.0 * GAMMA ** k / (GAMMA + 1.0)
    return float(min(max(v, lo), hi))


def get_metric_data(lake: Lake, namespace: str, metric_name: str, dimensions: dict[str, str],
                    stat: str, start: datetime, end: datetime, period: int | None = None, *,
                    max_points: int = 1440, unit: str | None = None,
                    now: datetime | None = None, sketched: bool | None = None) -> MetricData:
    """One statistic of one series over ``[start, end)`` (see the module docstring).

    ``now`` (default: the wall clock) decides which tiers the range may use. ``sketched``
    (whether ``tiers.percentiles`` keeps sketches for this namespace, None if unknown) only
    sharpens the message that explains pNN periods without a datapoint (:func:`percentile_gaps`).

    Raises:
        QueryError: unknown statistic, bad range or period, too many points, or several units
            without ``unit``.
    """
    q = parse_stat(stat)
    p: Plan = plan(start, end, period, max_points=max_points, now=now)
    out = MetricData([], [], p.period, p.tier, metric_name, stat, unit, p.start, p.end)
    if p.empty:
        out.messages.append(f"period {p.period}s is finer than the {p.resolution}s resolution "
                            f"kept for data starting {p.start.isoformat()}: no datapoints")
        return out
    files = _tier_files(lake, p.table, p.start, p.end)
    if not files:
        return out
    sql = _BASE.format(unit="AND unit = ?" if unit is not None else "")
    sql += _PCT if q is not None else _STATS.format(pick="", join="")
    params: list[Any] = [epoch_ms(p.start), p.period * 1000, files, namespace, metric_name,
                         canonical(dimensions)]
    if unit is not None:
        params.append(unit)
    params += [p.start, p.end]
    if q is not None:
        params.append(q)
    rows = _con().execute(sql, params).fetchall()
    units = sorted({r[0] for r in rows})
    if len(units) > 1:
        raise QueryError(f"{namespace} {metric_name} {canonical(dimensions)} has several units "
                         f"({', '.join(units)}); pass one with unit=")
    out.unit = units[0] if units else unit
    step = timedelta(seconds=p.period)
    for row in rows:
        v = _value(stat, q, row)
        if v is not None:
            out.timestamps.append(p.start + step * int(row[1]))
            out.values.append(float(v))
    if q is not None:
        out.messages += percentile_gaps(namespace, [(r[2], r[6]) for r in rows], len(out.values), sketched)
    return out


_AS_USUAL = "SampleCount, Sum, Minimum, Maximum and Average are answered as usual"


def percentile_gaps(namespace: str, periods: list[tuple[Any, Any]], answered: int,
                    sketched: bool | None) -> list[str]:
    """Why a pNN query left periods without a datapoint, from each period's (sample count,
    sketched count). A period lacks pNN when some of its samples came as statistic sets (count,
    sum, min, max without the values — CloudWatch takes no percentiles from those either) or when
    the namespace keeps no sketches (``tiers.percentiles``; ``sketched`` says which, None when
    the caller does not know the configuration). Empty when every period was answered."""
    with_data = [(n, skn) for n, skn in periods if n]
    missing = len(with_data) - answered
    if not with_data or missing <= 0:
        return []
    unsketched = sum(1 for _, skn in with_data if not skn)
    if sketched is False or (sketched is None and unsketched == len(with_data)):
        if sketched is False:
            return [f"no percentile sketches are kept for namespace {namespace!r} (tiers.percentiles), so pNN "
                    f"has no datapoints; {_AS_USUAL}"]
        return [f"no datapoint in range has a percentile sketch: its samples were published as statistic sets "
                f"(count, sum, min, max without values), from which percentiles cannot be taken, or namespace "
                f"{namespace!r} is not listed in tiers.percentiles; {_AS_USUAL}"]
    if missing == len(with_data):
        return [f"every period in range holds samples published as statistic sets (count, sum, min, max "
                f"without values), from which percentiles cannot be taken (CloudWatch returns none either); "
                f"{_AS_USUAL}"]
    return [f"{missing} of {len(with_data)} periods have no pNN: they hold samples published as statistic sets "
            "(count, sum, min, max without values), from which percentiles cannot be taken"]


def list_metrics(lake: Lake, namespace: str | None = None) -> list[MetricInfo]:
    """Every series that has been rolled up (read from the small 1h tier), sorted."""
    import duckdb

    files = [lake.uri(f) for f in lake.table_files("metrics_1h")]
    if not files:
        return []
    where = "WHERE namespace = ?" if namespace else ""
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT DISTINCT namespace, metric_name, dimensions, unit FROM "
            f"read_parquet(?, union_by_name = true) {where} ORDER BY ALL",
            [files] + ([namespace] if namespace else [])).fetchall()
    finally:
        con.close()
    return [MetricInfo(ns, m, json.loads(d), u) for ns, m, d, u in rows]

