"""The rollup queries in DuckDB SQL: raw datapoints → buckets, buckets → coarser buckets, and
CloudTrail events → per-minute activity counts.

Every query reads a list of Parquet files and keeps rows with ``lo <= timestamp < hi``. The
metric queries group on integers only and return rows in any order: :func:`raw_query` (the
partials and each bucket's listed bins, with :func:`weighted_query` for weighted samples),
:func:`merge_query` (a finer tier's rows as stored) and :func:`ids_query` (one row per series);
:mod:`pipeline.rollup.assemble` and :mod:`pipeline.rollup.merge` order them, attach the series
identity and add up the sketches in numpy, and :func:`pipeline.rollup.engine.rollup_table` puts
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
"""Series ids are 16 hex digits (:func:`pipeline.sources.cloudwatch.series_id`); grouping on
them as 64-bit integers (exact, reversible with ``printf('%016x')``) and on integer bucket
indexes halves the time of the sketch aggregation."""


def _files(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _range(col: str, lo: datetime, hi: datetime) -> str:
    return f"{col} >= TIMESTAMPTZ '{iso(lo)}' AND {col} < TIMESTAMPTZ '{iso(hi)}'"


_SRC = """
src AS (
    SELECT {sid} AS sid, epoch_ms("timestamp") // {ms} AS b, sample_count, "sum", "min", "max", {extra}
    FROM read_parquet({files}, union_by_name = true)
    WHERE {where}
)"""
"""The source rows with integer series ids and bucket indexes: the aggregates group on integers
only (:mod:`pipeline.rollup.assemble` attaches the identity strings and sorts)."""


def _src(files: list[str], period: int, lo: datetime, hi: datetime, extra: str) -> str:
    return _SRC.format(sid=_SID, ms=period * 1000, extra=extra, files=_files(files),
                       where=_range('"timestamp"', lo, hi))


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


def _single(percentiles: Patterns) -> str:
    """The bin of a source row whose samples enter the sketch as one value (CloudWatch's rule: a
    datapoint or a statistic set of equal values, ``"min"``), else null."""
    return (f'CASE WHEN "values" IS NULL AND sample_count > 0 AND "min" = "max" AND "sum" = "min" * sample_count '
            f'AND {sql_condition(percentiles)} THEN {sql_bin(chr(34) + "min" + chr(34))} END')


def raw_query(files: list[str], period: int, lo: datetime, hi: datetime, percentiles: Patterns = None) -> str:
    """Raw datapoints (table ``metrics``) → one row per (``sid``, bucket index ``b``) of
    ``period`` seconds: the partials, and the sketch's bins as lists, in any order.

    One hash aggregate computes the partials and ``_ub``, the bins (in any order) of the sketched
    rows with SampleCount 1 (single datapoints: the usual case, each a sample of count 1). ``_nw``
    counts the bucket's other sketched rows (statistic sets of equal values, ``values`` lists),
    whose samples :func:`weighted_query` gives separately when there are any: listing them here
    costs a tenth of the aggregate even when there are none, and a ``UNION ALL`` of the list
    samples into it a third. :func:`pipeline.rollup.merge.merge_lists` adds up equal bins
    (sorting them in SQL first cost another fifth of the aggregate).
    Listing bins costs about a third of the bare aggregate; grouping by (series, bucket, bin) in
    SQL would cost twice the whole aggregate, since at α = 1 % almost every value has a bin of
    its own. Only namespaces that ``percentiles`` names get bins
    (:mod:`pipeline.rollup.percentiles`); with none, the query is the bare aggregate.
    """
    stats = ('sid, b, sum(sample_count) AS sample_count, sum("sum") AS "sum", min("min") AS "min", '
             'max("max") AS "max"')
    if percentiles == ():
        return f"""
WITH {_src(files, period, lo, hi, '"values"')}
SELECT {stats} FROM src GROUP BY sid, b"""
    keep = sql_condition(percentiles)
    return f"""
WITH {_src(files, period, lo, hi, f'"values" IS NOT NULL AND {keep} AS lists, {_single(percentiles)} AS bn')}
SELECT {stats},
       list(bn) FILTER (WHERE bn IS NOT NULL AND sample_count = 1) AS _ub,
       count(*) FILTER (WHERE lists OR (bn IS NOT NULL AND sample_count <> 1)) AS _nw
FROM src GROUP BY sid, b"""


def weighted_query(files: list[str], period: int, lo: datetime, hi: datetime, percentiles: Patterns = None) -> str:
    """The sketched samples :func:`raw_query` does not list: ``sid``, ``b``, bin ``bn`` and count
    ``c`` of statistic sets of equal values with SampleCount ≠ 1 and of ``values``/``counts``
    lists (count 1 where ``counts`` is null)."""
    return f"""
WITH {_src(files, period, lo, hi, f'"values", counts, {sql_condition(percentiles)} AS keep, '
                                  f'{_single(percentiles)} AS bn')}
SELECT sid, b, bn, sample_count AS c FROM src WHERE bn IS NOT NULL AND sample_count <> 1
UNION ALL
SELECT sid, b, {sql_bin('v')}, c FROM (
    SELECT sid, b, unnest("values") AS v, unnest(coalesce(counts, list_transform("values", lambda x: 1.0))) AS c
    FROM src WHERE keep AND "values" IS NOT NULL
) WHERE v IS NOT NULL AND c > 0"""


def merge_query(files: list[str], period: int, lo: datetime, hi: datetime) -> str:
    """The rows of a finer tier with ``sid`` and the index ``b`` of their ``period``-second
    bucket, as stored (:func:`pipeline.rollup.assemble.merge_rows` merges them)."""
    return f"""
WITH {_src(files, period, lo, hi, 'sketch_count, sketch_bins, sketch_bin_counts')}
SELECT * FROM src"""


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
