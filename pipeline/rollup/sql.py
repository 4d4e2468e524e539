"""The rollup queries in DuckDB SQL: raw datapoints → buckets, buckets → coarser buckets, and
CloudTrail events → per-minute activity counts.

Every query reads a list of Parquet files, keeps rows with ``lo <= timestamp < hi`` and returns
rows in output order; the sketches are finished in numpy (:mod:`pipeline.rollup.merge`): the
raw query lists each bucket's bins, the merge queries give the finer tier's sketches to add up
(:func:`merge_stats_query`, :func:`merge_rows_query`), and
:func:`pipeline.rollup.engine.rollup_table` puts the :data:`pipeline.rollup.schema.ROLLUP` rows
together.
Partials:

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
),
ids AS (
    SELECT sid, namespace, metric_name, dimensions, unit,
           row_number() OVER (ORDER BY namespace, metric_name, dimensions, unit) AS r
    FROM (SELECT {sid} AS sid, any_value(namespace) AS namespace, any_value(metric_name) AS metric_name,
                 any_value(dimensions) AS dimensions, any_value(unit) AS unit
          FROM read_parquet({files}, union_by_name = true) WHERE {where} GROUP BY 1)
)"""
"""The source rows with integer series ids and bucket indexes, and the series identities (once
per series, from a scan of the string columns only, with their rank in the output order), so
that the bucket aggregates and the final sort work on integers only."""

_OUT = """
SELECT printf('%016x', st.sid) AS _wl_series_id, ids.namespace, ids.metric_name, ids.dimensions,
       ids.unit, to_timestamp(st.b * {period}) AS "timestamp", CAST({period} AS INTEGER) AS period,
       st.sample_count, st."sum", st."min", st."max", st.sketch_count{extra}
FROM st JOIN ids ON st.sid = ids.sid
ORDER BY ids.r, st.b
"""


def _src(files: list[str], period: int, lo: datetime, hi: datetime, extra: str) -> str:
    return _SRC.format(sid=_SID, ms=period * 1000, extra=extra, files=_files(files),
                       where=_range('"timestamp"', lo, hi))


def raw_query(files: list[str], period: int, lo: datetime, hi: datetime, percentiles: Patterns = None) -> str:
    """Raw datapoints (table ``metrics``) → buckets of ``period`` seconds, without the final sketch.

    One hash aggregate per (series, bucket) computes the partials and lists the sketch's bins:
    ``_ub`` the bins of samples with count 1 (single datapoints, the usual case), sorted;
    ``_wb``/``_wc`` the bins and counts of the others (statistic sets of equal values, weighted
    ``values``/``counts``), usually null. :func:`pipeline.rollup.merge.build_sketches` adds up
    equal bins. Listing bins costs about a tenth of the aggregate; grouping by (series, bucket,
    bin) in SQL costs twice the whole aggregate, since at α = 1 % almost every value has a bin
    of its own. Only namespaces that ``percentiles`` names get bins
    (:mod:`pipeline.rollup.percentiles`); with none, the query is the bare aggregate.
    """
    if percentiles == ():
        return f"""
WITH {_src(files, period, lo, hi, '"values"')},
st AS (
    SELECT sid, b, sum(sample_count) AS sample_count, sum("sum") AS "sum",
           min("min") AS "min", max("max") AS "max", CAST(0 AS DOUBLE) AS sketch_count
    FROM src GROUP BY sid, b
)
{_OUT.format(period=period, extra="")}"""
    keep = sql_condition(percentiles)
    return f"""
WITH {_src(files, period, lo, hi, f'"values", counts, {keep} AS keep')},
pts AS (
    SELECT sid, b, sample_count, "sum", "min", "max",
           CASE WHEN keep AND "values" IS NULL AND sample_count > 0 AND "min" = "max"
                     AND "sum" = "min" * sample_count THEN "min" END AS v,
           sample_count AS c
    FROM src
    UNION ALL
    SELECT sid, b, NULL, NULL, NULL, NULL, v, c FROM (
        SELECT sid, b, unnest("values") AS v,
               unnest(coalesce(counts, list_transform("values", lambda x: 1.0))) AS c
        FROM src WHERE keep AND "values" IS NOT NULL
    ) WHERE v IS NOT NULL AND c > 0
),
st AS (
    SELECT sid, b, sum(sample_count) AS sample_count, sum("sum") AS "sum",
           min("min") AS "min", max("max") AS "max",
           list_sort(list({sql_bin('v')}) FILTER (WHERE v IS NOT NULL AND c = 1)) AS _ub,
           list({sql_bin('v')}) FILTER (WHERE v IS NOT NULL AND c <> 1) AS _wb,
           list(c) FILTER (WHERE v IS NOT NULL AND c <> 1) AS _wc,
           coalesce(sum(c) FILTER (WHERE v IS NOT NULL), 0.0) AS sketch_count
    FROM pts GROUP BY sid, b
)
{_OUT.format(period=period, extra=", st._ub, st._wb, st._wc")}"""


def merge_stats_query(files: list[str], period: int, lo: datetime, hi: datetime) -> str:
    """Buckets of a finer tier → buckets of ``period`` seconds: every column but the sketch
    (partials merged, never averaged), plus ``_rb``, the bucket's int64 key (series rank · 2³²
    + bucket index), increasing in output order. :func:`merge_rows_query` gives the sketches to
    merge into them (:func:`pipeline.rollup.merge.merge_sketches`)."""
    return f"""
WITH {_src(files, period, lo, hi, 'sketch_count')},
st AS (
    SELECT sid, b, sum(sample_count) AS sample_count, sum("sum") AS "sum",
           min("min") AS "min", max("max") AS "max", sum(sketch_count) AS sketch_count
    FROM src GROUP BY sid, b
)
{_OUT.format(period=period, extra=", (ids.r << 32) + st.b AS _rb")}"""


def merge_rows_query(files: list[str], period: int, lo: datetime, hi: datetime) -> str:
    """The source rows' sketches with the ``_rb`` key of the target bucket (any order)."""
    return f"""
WITH {_src(files, period, lo, hi, 'sketch_bins, sketch_bin_counts')}
SELECT (ids.r << 32) + src.b AS _rb, src.sketch_bins, src.sketch_bin_counts
FROM src JOIN ids ON src.sid = ids.sid"""


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
