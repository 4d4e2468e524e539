"""The rollup queries in DuckDB SQL: raw datapoints → buckets, buckets → coarser buckets, and
CloudTrail events → per-minute activity counts.

Every query reads a list of Parquet files and keeps rows with ``lo <= timestamp < hi``. The
metric queries group on the series id string and an integer bucket index, and return rows in any
order with an int64 row key (series rank, bucket) joined from the registered series ranks:
:func:`raw_query` (the partials and each bucket's listed bins, with :func:`weighted_query` for
weighted samples), :func:`merge_query` (a finer tier's rows as stored); :func:`ids_query` gives
one row per series, in output order (its row number is the rank).
:mod:`pipeline.rollup.assemble` and :mod:`pipeline.rollup.merge` order the rows, attach the series
identity and add up the sketches in numpy/C, and :func:`pipeline.rollup.engine.rollup_table` puts
the :data:`pipeline.rollup.schema.ROLLUP` rows together. :func:`activity_query` returns finished
rows. Partials:

* ``sample_count``/``sum``/``min``/``max`` are SUM/SUM/MIN/MAX of the source partials, so a
  statistic set (Metric Streams, PutMetricData StatisticValues) merges exactly like single
  datapoints (which are statistic sets with SampleCount 1).
* the sketch gets every value of a ``values``/``counts`` list, and a statistic set only when it
  is a set of equal values (``min = max`` and ``sum = min × sample_count``; CloudWatch's rule,
  aws-semantics.md §1.3). ``sketch_count`` counts what went in, so a percentile is answered
  only where ``sketch_count = sample_count``.
"""

from __future__ import annotations

from datetime import datetime

from pipeline.rollup.percentiles import Patterns, sql_condition
from pipeline.rollup.sketch import sql_bin
from pipeline.timeutil import iso

ACTIVITY_NAMESPACE = "CloudTrail/Activity"


_SID = "CAST('0x' || _wl_series_id AS UBIGINT)"
"""Series ids are 16 hex digits (:func:`pipeline.sources.cloudwatch.series_id`): as 64-bit
integers (exact, reversible with ``printf('%016x')``) they join the series ranks cheaply."""

UNLISTED = -(1 << 30)
"""The entry :func:`raw_query` lists for a source row whose samples do not enter the sketch
(its namespace keeps none, or a statistic set of unequal values): never a bin (bins are within
±(2¹⁶ + 37,300), :mod:`pipeline.rollup.sketch`)."""
WEIGHTED = UNLISTED - 1
"""The entry :func:`raw_query` lists for a sketched source row that is not a single sample of
count 1 (a statistic set of equal values with SampleCount ≠ 1, a ``values`` list): its samples
come from :func:`weighted_query`."""
MARKERS_BELOW = -(1 << 29)
"""Listed entries below this are the markers above, not bins."""


def _files(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _range(col: str, lo: datetime, hi: datetime) -> str:
    return f"{col} >= TIMESTAMPTZ '{iso(lo)}' AND {col} < TIMESTAMPTZ '{iso(hi)}'"


_SRC = """
src AS (
    SELECT _wl_series_id AS s, epoch_ms("timestamp") // {ms} AS b, sample_count, "sum", "min", "max", {extra}
    FROM read_parquet({files}, union_by_name = true)
    WHERE {where}
)"""
"""The source rows with their series id string ``s`` and integer bucket index ``b``: the
aggregates group on the id string as stored (a dictionary-encoded column: grouping on it costs
less than parsing every row's id into an integer) and :func:`_keyed` joins the (few) groups to
the series ranks."""


def _src(files: list[str], period: int, lo: datetime, hi: datetime, extra: str) -> str:
    return _SRC.format(ms=period * 1000, extra=extra, files=_files(files), where=_range('"timestamp"', lo, hi))


def _keyed(rel: str, ids: str, columns: str, b: str = "r.b") -> str:
    """``columns`` of ``rel`` (rows with series id string ``s``) with the int64 row key
    ``rank · 2³² + b`` (:func:`pipeline.rollup.assemble.keys`), ``rank`` the series' row in
    ``ids``, the registered :func:`ids_query` result with a ``rank`` column. Joined on the id as
    an integer, as :func:`ids_query` groups series (two spellings of one id are one series). The
    join's output order is its own: the rows carry what orders them."""
    return (f"SELECT (CAST(i.rank AS BIGINT) << 32) + {b} AS key, {columns} FROM {rel} r "
            f"JOIN {ids} i ON CAST('0x' || r.s AS UBIGINT) = i.sid")


def ids_query(files: list[str], lo: datetime, hi: datetime) -> str:
    """One row per series in ``[lo, hi)``: ``sid`` (the id as an integer), the identity columns,
    in output order (namespace, metric, dimensions, unit). Grouped on the id string first (a
    dictionary-encoded column: a third of the cost of parsing every row's id)."""
    return f"""
SELECT {_SID} AS sid, printf('%016x', {_SID}) AS _wl_series_id, any_value(namespace) AS namespace,
       any_value(metric_name) AS metric_name, any_value(dimensions) AS dimensions, any_value(unit) AS unit
FROM (SELECT _wl_series_id, any_value(namespace) AS namespace, any_value(metric_name) AS metric_name,
             any_value(dimensions) AS dimensions, any_value(unit) AS unit
      FROM read_parquet({_files(files)}, union_by_name = true) WHERE {_range('"timestamp"', lo, hi)}
      GROUP BY 1)
GROUP BY 1 ORDER BY namespace, metric_name, dimensions, unit, sid"""


def _equal_set(percentiles: Patterns) -> str:
    """SQL true for a source row whose samples enter the sketch at its ``"min"`` (CloudWatch's
    rule: a datapoint, or a statistic set of equal values) and whose namespace keeps sketches."""
    return (f'"values" IS NULL AND sample_count > 0 AND "min" = "max" AND "sum" = "min" * sample_count '
            f'AND {sql_condition(percentiles)}')


def _listed(percentiles: Patterns) -> str:
    """The entry :func:`raw_query` lists for a source row: the bin of a single sample of count 1,
    else :data:`WEIGHTED` (sketched samples :func:`weighted_query` gives) or :data:`UNLISTED`."""
    return (f'CASE WHEN {_equal_set(percentiles)} THEN (CASE WHEN sample_count = 1 THEN '
            f'{sql_bin(chr(34) + "min" + chr(34))} ELSE {WEIGHTED} END) '
            f'WHEN "values" IS NOT NULL AND {sql_condition(percentiles)} THEN {WEIGHTED} ELSE {UNLISTED} END')


def raw_query(files: list[str], period: int, lo: datetime, hi: datetime, percentiles: Patterns = None,
              ids: str = "ids") -> str:
    """Raw datapoints (table ``metrics``) → one row per (series, bucket of ``period`` seconds):
    its row ``key`` (:func:`_keyed`; ``ids`` names the registered series ranks), the partials and
    ``_ub``, the sketch's listed entries, in any order.

    One hash aggregate, grouped on the series id string and the bucket index, computes the
    partials and lists one entry per source row (:func:`_listed`): the bin of a single datapoint
    (the usual case, a sample of count 1), or a marker (:data:`WEIGHTED`, :data:`UNLISTED`) that
    :func:`pipeline.rollup.merge.merge_lists` skips. Listing every row unfiltered costs half of
    what a ``FILTER`` clause and a count of the weighted rows cost, and the join of the 1–2 M
    groups to the series ranks less than ranking them in numpy. The samples of :data:`WEIGHTED`
    rows come from :func:`weighted_query`, run only when some row is one. Only namespaces that
    ``percentiles`` names get bins (:mod:`pipeline.rollup.percentiles`); with none, the query is
    the bare aggregate.
    """
    stats = 's, b, sum(sample_count) AS sample_count, sum("sum") AS "sum", min("min") AS "min", max("max") AS "max"'
    cols = 'r.sample_count, r."sum", r."min", r."max"'
    if percentiles == ():
        return f"""
WITH {_src(files, period, lo, hi, '"values"')},
agg AS (SELECT {stats} FROM src GROUP BY s, b)
{_keyed('agg', ids, cols)}"""
    return f"""
WITH {_src(files, period, lo, hi, f'{_listed(percentiles)} AS bn')},
agg AS (SELECT {stats}, list(bn) AS _ub FROM src GROUP BY s, b)
{_keyed('agg', ids, cols + ', r._ub')}"""


def weighted_query(files: list[str], period: int, lo: datetime, hi: datetime, percentiles: Patterns = None) -> str:
    """The sketched samples :func:`raw_query` lists as :data:`WEIGHTED`: ``sid`` (the series id as
    an integer), bucket index ``b``, bin ``bn`` and count ``c`` of statistic sets of equal values
    with SampleCount ≠ 1 and of ``values``/``counts`` lists (count 1 where ``counts`` is null), in
    the order the files hold them (counts of a bin add in that order)."""
    return f"""
WITH {_src(files, period, lo, hi, f'"values", counts, {sql_condition(percentiles)} AS keep, '
                                  f'{_equal_set(percentiles)} AS single')},
w AS (
    SELECT s, b, {sql_bin(chr(34) + "min" + chr(34))} AS bn, sample_count AS c FROM src
    WHERE single AND sample_count <> 1
    UNION ALL
    SELECT s, b, {sql_bin('v')}, c FROM (
        SELECT s, b, unnest("values") AS v,
               unnest(coalesce(counts, list_transform("values", lambda x: 1.0))) AS c
        FROM src WHERE keep AND "values" IS NOT NULL
    ) WHERE v IS NOT NULL AND c > 0)
SELECT {_SID.replace('_wl_series_id', 's')} AS sid, b, bn, c FROM w"""


def merge_query(files: list[str], period: int, lo: datetime, hi: datetime) -> str:
    """The rows of a finer tier with ``sid`` (the series id as an integer) and the index ``b`` of
    their ``period``-second bucket, as stored and in the order the files hold them (sorted by
    series: :func:`pipeline.rollup.assemble.merge_rows` ranks each run of one series once)."""
    return f"""
WITH {_src(files, period, lo, hi, 'sketch_count, sketch_bins, sketch_bin_counts')}
SELECT {_SID.replace('_wl_series_id', 's')} AS sid, * EXCLUDE (s) FROM src"""


def activity_query(files: list[str], lo: datetime, hi: datetime) -> str:
    """CloudTrail events → per-minute call counts in namespace ``CloudTrail/Activity``.

    Four series families, unit ``Count``, one datapoint per minute that saw a call (a minute without
    calls has no datapoint, like a metric filter without a default value):

    * ``CallCount`` with no dimensions: all calls;
    * ``CallCount`` by ``EventSource`` + ``EventName``;
    * ``ErrorCount`` by ``EventSource`` + ``EventName`` + ``ErrorCode``, and by ``ErrorCode``
      alone (events with an ``errorCode`` only; e.g. alarm on all ``AccessDenied``).

    The value of a datapoint is the number of calls in that minute, so at 5m/1h ``Sum`` is the
    number of calls, ``Maximum`` the busiest minute and ``p99`` a per-minute rate percentile.
    Dimensions are canonical JSON and the series id is computed as
    :func:`pipeline.sources.cloudwatch.series_id` computes it, so these series look exactly
    like published metrics.
    """
    return f"""
WITH ev AS (
    SELECT time_bucket(INTERVAL '60 seconds', "eventTime") AS b,
           coalesce("eventSource", 'unknown') AS es, coalesce("eventName", 'unknown') AS en,
           "errorCode" AS ec
    FROM read_parquet({_files(files)}, union_by_name = true)
    WHERE {_range('"eventTime"', lo, hi)}
),
counts AS (
    SELECT b, 'CallCount' AS metric_name, '{{}}' AS dimensions, count(*) AS n FROM ev GROUP BY b
    UNION ALL
    SELECT b, 'CallCount', json_object('EventName', en, 'EventSource', es)::VARCHAR, count(*)
    FROM ev GROUP BY b, es, en
    UNION ALL
    SELECT b, 'ErrorCount', json_object('ErrorCode', ec, 'EventName', en, 'EventSource', es)::VARCHAR,
           count(*)
    FROM ev WHERE ec IS NOT NULL GROUP BY b, es, en, ec
    UNION ALL
    SELECT b, 'ErrorCount', json_object('ErrorCode', ec)::VARCHAR, count(*)
    FROM ev WHERE ec IS NOT NULL GROUP BY b, ec
)
SELECT left(md5(concat_ws(chr(31), '{ACTIVITY_NAMESPACE}', metric_name, dimensions, 'Count')), 16)
           AS _wl_series_id,
       '{ACTIVITY_NAMESPACE}' AS namespace, metric_name,
       dimensions, 'Count' AS unit, b AS "timestamp", CAST(60 AS INTEGER) AS period,
       CAST(1 AS DOUBLE) AS sample_count, CAST(n AS DOUBLE) AS "sum",
       CAST(n AS DOUBLE) AS "min", CAST(n AS DOUBLE) AS "max",
       [{sql_bin('CAST(n AS DOUBLE)')}] AS sketch_bins, [CAST(1 AS DOUBLE)] AS sketch_bin_counts,
       CAST(1 AS DOUBLE) AS sketch_count
FROM counts
ORDER BY namespace, metric_name, dimensions, unit, b"""
