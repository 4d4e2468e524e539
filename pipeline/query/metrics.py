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
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.errors import QueryError
from pipeline.lake import layout
from pipeline.query.planner import Plan, plan
from pipeline.rollup.sketch import bin_value
from pipeline.rollup.tiers import partition_range
from pipeline.timeutil import epoch_ms

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.lake.files import Entry

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


def _tier_files(lake: Lake, table: str, start: datetime, end: datetime) -> list[tuple[str, Entry]]:
    """Files of the tier partitions overlapping ``[start, end)`` (one consistent listing), as
    (location, listing entry)."""
    files: list[tuple[str, Entry]] = []
    keep: dict[str, bool] = {}
    for e in lake.table_entries(table):
        folder = e.path.rsplit("/", 1)[0]
        if folder not in keep:
            lo, hi = partition_range(layout.parse_partition_path(table, folder))
            keep[folder] = lo < end and hi > start
        if keep[folder]:
            files.append((lake.uri(e.path), e))
    return files


_local = threading.local()


def _con() -> Any:
    """A per-thread DuckDB connection (in-memory, UTC), reused across queries. It caches Parquet
    footers (``parquet_metadata_cache``; DuckDB re-reads a file whose modification time changed,
    and lake files are never rewritten in place): a 15-day query opens 15 tier files, and parsing
    their footers again was half of a repeated pNN query's time."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET parquet_metadata_cache = true")
        _local.con = con
    return con


_BASE = """
WITH r AS (
    SELECT unit, CAST(floor((epoch_ms("timestamp") - $start_ms) / $period_ms) AS BIGINT) AS qi,
           sample_count, "sum", "min", "max", sketch_count{sketch}
    FROM {source}
    WHERE {series}{unit}"timestamp" >= $start AND "timestamp" < $end
)"""
"""One series' tier rows in ``[$start, $end)`` with each row's period index ``qi``: from
``{source}`` = :data:`_FILES` filtered by :data:`_SERIES`, or from the series' cached rows
(:data:`_CACHED`, no series filter)."""
_FILES = "read_parquet($files{union})"
_SERIES = "namespace = $ns AND metric_name = $metric AND dimensions = $dims AND "
_CACHED = "_wl_series_rows"
"""The name a query's cached rows (:mod:`pipeline.query.tiercache`) are registered under on the
thread's connection."""

_STATS = """
SELECT unit, qi, sum(sample_count) AS n, {value} AS v FROM r GROUP BY ALL ORDER BY qi"""

_STAT_SQL = {"SampleCount": "sum(sample_count)", "Sum": 'sum("sum")', "Minimum": 'min("min")',
             "Maximum": 'max("max")', "Average": 'sum("sum") / sum(sample_count)'}
"""Each simple statistic from the merged partials (Average = ΣSum / ΣSampleCount, never an
average of averages)."""

_PERCENTILE = """,
p AS (SELECT unit, qi, sum(sample_count) AS n, sum(sketch_count) AS skn, min("min") AS lo, max("max") AS hi
      FROM r GROUP BY unit, qi),
e AS (SELECT unit, qi, bn, sum(c) AS c
      FROM (SELECT unit, qi, unnest(sketch_bins) AS bn, unnest(sketch_bin_counts) AS c FROM r)
      GROUP BY unit, qi, bn),
cum AS (SELECT unit, qi, bn, sum(c) OVER (PARTITION BY unit, qi ORDER BY bn ROWS UNBOUNDED PRECEDING) AS cc,
               sum(c) OVER (PARTITION BY unit, qi) AS total
        FROM e),
pick AS (SELECT unit, qi, min(bn) AS bn FROM cum WHERE cc > floor($q * (total - 1)) GROUP BY unit, qi)
SELECT p.unit, p.qi, p.n, p.skn, p.lo, p.hi, pick.bn
FROM p LEFT JOIN pick ON p.unit IS NOT DISTINCT FROM pick.unit AND p.qi = pick.qi
ORDER BY p.unit, p.qi"""
"""Per unit and period of the tier rows ``r``: sample count, sketched count, exact min/max and
the bin holding the sample of rank ``floor(q · (n − 1))`` of the merged sketch (equal bins of
the period's rows added, cumulative counts in bin order, the first bin past the rank:
:func:`pipeline.rollup.sketch.quantile`, for every period in one query). The same rows as
:mod:`pipeline.query.sketchq` computes with numpy from :data:`_ROWS`."""

_ROWS = """
SELECT unit, qi, sample_count, sketch_count, "min", "max", sketch_bins, sketch_bin_counts FROM r"""
"""The tier rows of a pNN query, fetched as Arrow for :mod:`pipeline.query.sketchq`."""


def vectorised() -> bool:
    """Whether pNN periods are computed with numpy (:mod:`pipeline.query.sketchq`: about a fifth
    of the CPU of :data:`_PERCENTILE` on a 15-day query) rather than in SQL: when numpy and
    pyarrow are already imported — a dashboard, alarms, ``watchlake run``, any long-lived
    process. A one-shot ``watchlake metrics get`` has imported neither, and importing them would
    cost it about ten times what the SQL does; both give the same rows (tests/pipeline/query).
    Such a process also keeps the series' rows of each file it read (:mod:`pipeline.query.tiercache`)."""
    return "numpy" in sys.modules and "pyarrow" in sys.modules


def _stat_rows(rows: list[tuple[Any, ...]]) -> list[tuple[int, float]]:
    return [(int(qi), float(v)) for _unit, qi, n, v in rows if n]


def percentile_points(rows: list[tuple[Any, ...]], q: float) -> list[tuple[int, float]]:
    """``(qi, pNN)`` per period from ``(unit, qi, n, skn, lo, hi, bn)`` rows (of :data:`_PERCENTILE`
    or :meth:`pipeline.query.sketchq.Periods.rows`). A period is answered only when its sketch
    holds every sample (``sketch_count = sample_count``, within 1e-12 relative); the estimate is
    the bin's representative value clamped to the period's exact ``[Minimum, Maximum]`` (``q`` =
    0 / 1: Minimum / Maximum)."""
    out = []
    for _unit, qi, n, skn, lo, hi, bn in rows:
        if not (n and skn and skn > 0 and abs(skn - n) <= 1e-12 * abs(n)) or lo is None or hi is None:
            continue
        if q == 0.0:
            v = float(lo)
        elif q == 1.0:
            v = float(hi)
        elif bn is None or math.isnan(lo) or math.isnan(hi):
            continue
        else:
            v = min(max(bin_value(int(bn)), lo), hi)
        if not math.isnan(v):
            out.append((int(qi), float(v)))
    return out


def _query(con: Any, sql: str, params: dict[str, Any], arrow: bool = False) -> Any:
    """Rows of ``sql`` (a ``_BASE`` with ``{union}`` unfilled) over the tier files, as tuples or
    (``arrow``) an Arrow table: read by column name without ``union_by_name`` first (every tier
    file has the rollup schema; unifying the schemas of hundreds of chunk files was a sixth of a
    15-day query), and with it when the files differ (files written before the columnar sketch)."""
    import duckdb

    def fetch(union: str) -> Any:
        if arrow:  # a relation's Arrow result: no extra copy of the rows (a DB-API result's makes one)
            return con.sql(sql.format(union=union), params=params).to_arrow_table()
        return list(con.execute(sql.format(union=union), params).fetchall())

    try:
        return fetch("")
    except duckdb.Error:
        return fetch(", union_by_name = true")


def _uncached(con: Any, base: str, params: dict[str, Any], stat: str, q: float | None, fast: bool,
              table_name: str) -> list[tuple[Any, ...]]:
    """The period rows of ``stat`` (:data:`_STATS` or :func:`percentile_points`' input) from the
    tier files (``base`` reads ``$files``): pNN periods in numpy when ``fast``, else in SQL."""
    import duckdb

    if q is None:
        return list(_query(con, base + _STATS.format(value=_STAT_SQL[stat]), params))
    try:
        if not fast:
            return list(_query(con, base + _PERCENTILE, {**params, "q": q}))
        table = _query(con, base + _ROWS, params, arrow=True)
    except duckdb.BinderException as exc:
        if "sketch_bin" not in str(exc):
            raise
        raise QueryError(f"the {table_name} files have no sketch_bins (written before the columnar "
                         "sketch); rebuild the tiers with `watchlake rollup --full`") from None
    from pipeline.query import sketchq

    found, periods = sketchq.from_arrow(table, q, table_name)
    return periods.rows(found)


def _cached(con: Any, files: list[tuple[str, Entry]], namespace: str, metric_name: str, dims: str, stat: str,
            q: float | None, params: dict[str, Any], parts: dict[str, str],
            table_name: str) -> list[tuple[Any, ...]] | None:
    """:func:`_uncached`'s rows computed from the series' rows of each file held by
    :data:`pipeline.query.tiercache.CACHE` (the files not seen before are read and kept); None
    when the files cannot be read together so (files written before the columnar sketch, or of
    differing schemas: the file query reads and explains them)."""
    import duckdb
    import pyarrow as pa

    from pipeline.query import sketchq, tiercache

    try:
        t = tiercache.series_rows(con, files, namespace, metric_name, dims, q is not None)
    except (duckdb.Error, pa.ArrowException, tiercache.UnmatchedFiles):
        return None
    window = (params["start_ms"], epoch_ms(params["end"]), params["period_ms"])
    if "unit" not in params:  # the periods in numpy, no second query (a unit= filter: SQL below)
        if q is not None:
            if not t.num_rows:
                return []
            found, periods = sketchq.from_arrow(sketchq.in_window(t, *window), q, table_name)
            return periods.rows(found)
        if stat in sketchq.SUMMED and t.num_rows:
            summed = sketchq.summed_periods(t, stat, *window)
            if summed is not None:  # None: several units, which the SQL answers and explains
                return summed
    base = _BASE.format(source=_CACHED, series="", **parts)
    con.register(_CACHED, t)
    try:
        if q is None:
            return list(con.execute(base + _STATS.format(value=_STAT_SQL[stat]), params).fetchall())
        table = con.sql(base + _ROWS, params=params).to_arrow_table()
    finally:
        con.unregister(_CACHED)
    found, periods = sketchq.from_arrow(table, q, table_name)
    return periods.rows(found)


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
    dims = canonical(dimensions)
    params: dict[str, Any] = {"start_ms": epoch_ms(p.start), "period_ms": p.period * 1000, "start": p.start,
                              "end": p.end}
    if unit is not None:
        params["unit"] = unit
    con = _con()
    fast = vectorised()
    parts = {"unit": "unit = $unit AND " if unit is not None else "",
             "sketch": ", sketch_bins, sketch_bin_counts" if q is not None else ""}
    rows = _cached(con, files, namespace, metric_name, dims, stat, q, params, parts, p.table) if fast else None
    if rows is None:
        rows = _uncached(con, _BASE.format(source=_FILES, series=_SERIES, **parts),
                         {**params, "files": [u for u, _ in files], "ns": namespace, "metric": metric_name,
                          "dims": dims}, stat, q, fast, p.table)
    units = sorted({r[0] for r in rows}, key=str)
    if len(units) > 1:
        raise QueryError(f"{namespace} {metric_name} {canonical(dimensions)} has several units "
                         f"({', '.join(str(u) for u in units)}); pass one with unit=")
    out.unit = units[0] if units else unit
    step = timedelta(seconds=p.period)
    points = _stat_rows(rows) if q is None else percentile_points(rows, q)
    for i, v in points:
        out.timestamps.append(p.start + step * i)
        out.values.append(v)
    if q is not None:
        out.messages += percentile_gaps(namespace, [(r[2], r[3]) for r in rows], len(out.values), sketched)
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

