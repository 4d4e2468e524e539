"""The raw → 1m rollup as Flink SQL over built-in functions: one definition for the streaming job
(:mod:`jobs.flink.stream`) and the batch engine (``rollup --engine flink``, :mod:`jobs.flink_rollup`).

Input: segments (:mod:`pipeline.loader.segments`), CSV lines ``sid, ms, k, n, s, lo, hi, lv, lc``.
The table declares ``ts`` as ``TO_TIMESTAMP_LTZ(ms, 3)`` with a bounded-out-of-orderness
watermark. Per source line the sketch value ``v`` and its weight ``c`` are

* ``k = 0`` (a datapoint or statistic set): ``v = lo`` with weight ``n`` when the set holds equal
  values (``n > 0``, ``lo = hi``, ``s = lo · n``: CloudWatch's rule, aws-semantics.md §1.3), else none;
* ``k = 2`` (the statistics of a row with a ``values`` list): no sketch value of its own;
* ``k = 1`` (one sample ``lv`` × ``lc`` of such a list; its statistics columns are empty): ``v = lv``
  with weight ``lc``,

exactly the samples :func:`pipeline.rollup.sql.raw_query` / ``weighted_query`` give DuckDB. One
event-time ``TUMBLE`` window aggregate per (series, minute) computes the partials ``SUM(n)``,
``SUM(s)``, ``MIN(lo)``, ``MAX(hi)``, ``sketch_count`` and the sketch as one ``LISTAGG`` string of
bin keys (:func:`pipeline.rollup.sketch.sql_bin`, an SQL expression): ``"65537,65540:2.0"`` — a
weight-1 sample as its bin, another as ``bin:weight``. The committer
(:mod:`jobs.flink.assemble`) adds up equal bins with numpy, as the DuckDB engine does: grouping
by (series, minute, bin) in Flink would cost a keyed state entry per sample (at α = 1 % nearly
every value has a bin of its own).

Late lines — event time at or below the job's watermark when they pass the source — also go to a
``late`` output with how far the watermark was ahead and their segment (the ``file.path`` metadata
column), so the committer can recompute the buckets they belong to from the lake when they arrived
inside the recompute window. Every line the window operator drops must be in it. The window
operator keeps its watermark in its state and restores it (FLINK-24501), while a watermark
assigner, and ``CURRENT_WATERMARK`` after it, start afresh (null, then the newest line read since
the restore minus the out-of-orderness): lines behind the restored watermark read before any newer
line — late data committed while the job was stopped, or a failover replaying from a checkpoint —
were dropped by the window and not seen as late by ``CURRENT_WATERMARK``. So the late output tests
a line against the newest event time the job has read, a running ``MAX`` (an ``OVER`` aggregate)
kept in the job's state and restored with the window's: late when ``ms ≤ newest − out-of-orderness``,
a bound the window's watermark never exceeds (:func:`late_insert`).

Speed (``benchmarks/bench_flink.py``): both outputs read one view (:func:`views`) which, with
:data:`PLANNER_OPTIONS`, the planner builds once (source, timestamp, watermark); each output
computes only its own columns from that row (a shared view computing both outputs' columns cost
~10 % more: every row materialised once more, strings copied); chained operators pass rows on
without copying them; the sketch entry is one integer-to-string cast plus, for a weight ≠ 1, the
weight.
"""

from __future__ import annotations

from pipeline.rollup.sketch import sql_bin

JOB_VERSION = 4
"""The streaming rollup's operator layout (4: the late output's high-water mark in state). Bump it
whenever a change to the SQL or its options changes the operators or their state (Flink cannot
restore such a snapshot): the run stage then starts the job afresh from the inbox instead of
failing to restore, see :meth:`jobs.run.flink_stages.FlinkRollupStage._restore_point`."""

SEGMENT_COLUMNS = ["sid", "ms", "k", "n", "s", "lo", "hi", "lv", "lc"]
"""Columns of a segment line (:mod:`pipeline.loader.segments` writes them)."""

SOURCE_SCHEMA = ("sid STRING, ms BIGINT, k INT, n DOUBLE, s DOUBLE, lo DOUBLE, hi DOUBLE, lv DOUBLE, lc DOUBLE, "
                 "seg STRING METADATA FROM 'file.path' VIRTUAL, ts AS TO_TIMESTAMP_LTZ(ms, 3)")
OUT_SCHEMA = "sid STRING, b BIGINT, n DOUBLE, s DOUBLE, lo DOUBLE, hi DOUBLE, skn DOUBLE, bins STRING"
"""One row per (series, bucket): ``b`` is the bucket start in epoch ms."""
LATE_SCHEMA = "sid STRING, ms BIGINT, behind INT, seg STRING"
"""A late line: its series, event time, how many seconds the job's watermark (the newest event time
it had read minus the out-of-orderness) was ahead of it and the segment it came from (the file's
path)."""
CSV = "'format' = 'csv', 'csv.ignore-parse-errors' = 'false', 'csv.null-literal' = ''"
PLANNER_OPTIONS = {
    # the view both outputs read (views) becomes one shared node: one watermark assigner,
    # not one per INSERT with the source scan shared but the conversion and watermark repeated
    "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
    # chained operators hand rows on instead of deep-copying them (the SQL operators never keep or
    # modify an input row after emitting it; a quarter of the CPU of this job without it)
    "pipeline.object-reuse": "true",
}
"""Flink options the rollup job runs with (streaming job and ``rollup --engine flink``)."""


def interval(seconds: int) -> str:
    """A Flink SQL interval literal (``INTERVAL '7200' SECOND`` overflows SECOND(2))."""
    d, rest = divmod(int(seconds), 86400)
    return f"INTERVAL '{d} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}' DAY TO SECOND"


def source_ddl(name: str, path: str, *, out_of_orderness: int, monitor_seconds: float | None = None) -> str:
    """The segment table over folder ``path`` (a URI). ``monitor_seconds``: read continuously,
    discovering new files that often (streaming); ``None``: the files there now (bounded)."""
    opts = f"'connector' = 'filesystem', 'path' = '{path}', {CSV}"
    if monitor_seconds is not None:
        opts += f", 'source.monitor-interval' = '{max(1, round(monitor_seconds * 1000))} ms'"
    return (f"CREATE TEMPORARY TABLE {name} ({SOURCE_SCHEMA}, WATERMARK FOR ts AS ts - {interval(out_of_orderness)}) "
            f"WITH ({opts})")


def sink_ddl(name: str, schema: str, path: str, *, roll_seconds: float | None = None) -> str:
    """A CSV filesystem sink into folder ``path``. In streaming mode part files are written hidden
    and become visible (renamed) only when the checkpoint after they rolled completes; they roll
    ``roll_seconds`` after they were opened (row formats do not roll on checkpoints by themselves)."""
    opts = f"'connector' = 'filesystem', 'path' = '{path}', {CSV}"
    if roll_seconds is not None:
        ms = max(1, round(roll_seconds * 1000))
        opts += (f", 'sink.rolling-policy.rollover-interval' = '{ms} ms', "
                 f"'sink.rolling-policy.check-interval' = '{ms} ms'")
    return f"CREATE TEMPORARY TABLE {name} ({schema}) WITH ({opts})"


def views(name: str, src: str) -> list[str]:
    """The two views the outputs read: ``name``, each source line as it is (after the watermark), and
    ``name_w``, its sketch weight ``c`` (null when the line adds nothing to the sketch) and bin entry
    ``be`` (module docstring: ``"<bin>"`` for weight 1, ``"<bin>:<weight>"`` otherwise, null with
    ``c``) for the window. With :data:`PLANNER_OPTIONS` the planner builds the source, timestamp
    conversion and watermark assigner once and feeds both outputs from it; each output's own
    calculation then reads the source row directly (the sketch entry is computed only for the
    window, the lateness test only for the late output), no intermediate row is materialised."""
    v = "CASE WHEN k = 1 THEN lv WHEN k = 0 AND n > 0 AND lo = hi AND s = lo * n THEN lo END"
    entry = f"CAST({sql_bin('v')} AS STRING) || CASE WHEN c = 1 THEN '' ELSE ':' || CAST(c AS STRING) END"
    on = "v IS NOT NULL AND c > 0"
    return [f"CREATE TEMPORARY VIEW {name} AS SELECT * FROM {src}",
            f"CREATE TEMPORARY VIEW {name}_w AS SELECT sid, ms, ts, n, s, lo, hi, "
            f"CASE WHEN {on} THEN c END AS c, CASE WHEN {on} THEN {entry} END AS be "
            f"FROM (SELECT sid, ms, ts, n, s, lo, hi, {v} AS v, CASE WHEN k = 1 THEN lc ELSE n END AS c FROM {name})"]


def rollup_insert(sink: str, points: str, period: int = 60) -> str:
    """``INSERT`` of the per-(series, bucket) partials and sketch entries into ``sink`` from the
    views :func:`views` made under the name ``points`` (``LISTAGG`` skips the null entries of lines
    without a sketch value)."""
    window = f"TABLE(TUMBLE(TABLE {points}_w, DESCRIPTOR(ts), {interval(period)}))"
    return (f"INSERT INTO {sink} SELECT sid, MIN(ms) - MOD(MIN(ms), {period * 1000}), "
            "SUM(n), SUM(s), MIN(lo), MAX(hi), SUM(c), LISTAGG(be) "
            f"FROM {window} GROUP BY sid, window_start, window_end")


def late_insert(sink: str, points: str, out_of_orderness: int = 60) -> str:
    """``INSERT`` of the lines at or below the job's watermark when they pass (late) into ``sink``,
    with the seconds the watermark was ahead of them. The watermark here is the newest event time
    the job has read (a running ``MAX`` over processing time, in the job's state) minus
    ``out_of_orderness`` (the source's watermark delay, seconds), not ``CURRENT_WATERMARK``: after a
    restore that starts afresh while the window operator's restored watermark drops the lines
    behind it (module docstring). The window's watermark never exceeds this bound, so every line it
    drops is here; a line here whose window was still open is also in the window's result, which
    the committer's recomputed bucket equals. The running ``MAX`` includes the line itself, so a
    line is late only when older than it (``ms < hw``): with no out-of-orderness every line would
    otherwise be its own late line (the one line that could then be missed is one at the newest
    time seen that is also its window's last millisecond)."""
    ooo = int(out_of_orderness) * 1000
    newest = "MAX(ms) OVER (ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    return (f"INSERT INTO {sink} SELECT sid, ms, CAST((hw - {ooo} - ms) / 1000 AS INT), seg FROM ("
            f"SELECT sid, ms, seg, {newest} AS hw FROM (SELECT sid, ms, seg, PROCTIME() AS pt FROM {points})) "
            f"WHERE ms <= hw - {ooo} AND ms < hw")
