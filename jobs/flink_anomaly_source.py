"""The anomaly job's input side: inbox files read in order, windows, and the points behind the watermark.

**Reading order.** The inbox holds closed CSV files written in time order
(:func:`jobs.flink_anomaly_io.write_inbox`). Flink's ``filesystem`` table connector (the new
``FileSource``) hands the files one directory scan finds to its reader in no useful order — the
directory listing's, taken last-in first-out by its split assigner —, so when a scan finds several
files (a restart after downtime, a feed faster than the monitor interval) a later file could be read
first, push the watermark past the earlier file's points and make them late. :func:`inbox_table`
reads the inbox with Flink's continuous file monitor instead (``readFile`` with
``PROCESS_CONTINUOUSLY`` and ``TextInputFormat``, built into ``flink-dist`` in the
``apache-flink`` package's ``lib/``; the fields are split in SQL, :data:`T`, :data:`V`,
:data:`SID`): it forwards the splits of each scan sorted by
modification time and its single reader takes them from a priority queue in (modification time,
path) order. The writer gives each file a modification time strictly after the one before
(:func:`jobs.flink_anomaly_io._next_mtime_ms`), so files are read in the order they were written,
however many one scan finds. The monitor's checkpointed state is one number (the newest
modification time it has read): it does not grow with the files read, as the new source's list of
paths did. (That API is deprecated in Flink 2; when it goes, a ``FileSplitAssigner`` ordered by
path does the same for the new source.) The one rule it imposes: a file must be strictly newer than
every file read before it, or it is skipped — hence the stamps, and a single writer.

**Late points.** The window operator drops a point whose window has already fired: event-time
window end − 1 ms at or below its watermark (Flink's ``isWindowFired``). That watermark is not
the one ``CURRENT_WATERMARK`` sees after a restore: the window operator keeps its watermark in its
state and restores it from a savepoint or checkpoint (FLINK-24501; ``WindowAggOperator``'s
``initializeState`` reads its ``watermark`` list state), while the watermark assigner keeps none
and starts afresh (null, then the newest point read since the restore − lateness). A point older
than the restored watermark and read before any newer one — written to the inbox while the job
was stopped, or replayed after a failover — was dropped by the window and not selected by a
``CURRENT_WATERMARK`` test either: lost. So :func:`windows_and_behind` decides lateness itself,
once per point, from the **high-water mark** ``hw``: the newest event time the job has read, this
point included (a running ``MAX`` over processing time, an ``OVER`` aggregate whose state is
checkpointed and restored with the window's). A point is *behind* when its window has fired by the
bound ``hw − lateness``, which the window operator's watermark never exceeds — every watermark it
has (restored or not) was made from points read before this one, in the single-parallel SQL
chain (source, watermark assigner, ``OVER``, window: one subtask each, records and watermarks
reach each in one order). Behind points go to a second branch of the same query **and are taken
out of the window's input**, so the window only ever sees points its watermark cannot have passed:
it drops nothing, and each point is either windowed (scored) or behind, exactly once.
:class:`ScoreOrReject` passes the behind ones through unscored with the seconds ``hw − lateness``
was ahead, and the collector keeps them in ``errors/anomalies/``. Nothing goes unreported, and the
split no longer depends on when watermarks happen to be emitted (every 200 ms of processing
time). The one point marked behind although the window would still have taken it: with lateness
0, the newest point read when it sits in the last millisecond of its window (``hw`` includes the
point; a bound without it would need a second ``OVER``) — reported, not lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction

from jobs.flink.sql import interval
from jobs.flink_anomaly_io import encode_window
from jobs.flink_anomaly_score import ScoreBatches

INNER = Types.ROW([Types.STRING(), Types.BASIC_ARRAY(Types.LONG()), Types.BASIC_ARRAY(Types.DOUBLE()), Types.INT()])
"""A row of :func:`windows_and_behind` as the Python operator takes it: ``(sid, ts, vs, behind)`` —
a series' window (``behind`` null) or one point that came behind the watermark (``behind``: seconds,
see :func:`windows_and_behind`)."""


T = "CAST(SPLIT_INDEX(f0, ',', 0) AS BIGINT)"
"""An inbox line's time (epoch ms): its first field (:func:`jobs.flink_anomaly_io.inbox_line`)."""
V = "CAST(SPLIT_INDEX(f0, ',', 1) AS DOUBLE)"
"""Its value: the second field, a ``repr`` float (Java parses it to the same double)."""
_RAW_SID = "SUBSTRING(f0, LOCATE(',', f0, LOCATE(',', f0) + 1) + 1)"
SID = (f"CASE WHEN LOCATE('%', {_RAW_SID}) = 0 THEN {_RAW_SID} ELSE "
       f"REPLACE(REPLACE(REPLACE({_RAW_SID}, '%0A', CHR(10)), '%0D', CHR(13)), '%25', '%') END")
"""Its series id: the rest of the line after the second comma, ``%0A``/``%0D``/``%25`` undone."""


def inbox_table(env: Any, t_env: Any, inbox_uri: str, *, lateness_s: int, monitor_s: float | None) -> Any:
    """The inbox's points as a table ``(f0, t, v, sid, ts)`` (``f0`` the line) with event time ``ts``
    (``t`` in epoch ms)
    and a watermark ``lateness_s`` behind the newest point read, files read in modification-time
    order (module docstring); ``monitor_s`` set: new files are looked for that often (the job never
    ends), unset: the files there now are read once."""
    from pyflink.datastream.data_stream import DataStream
    from pyflink.java_gateway import get_gateway
    from pyflink.table import DataTypes, Schema

    gateway = get_gateway()
    jvm = gateway.jvm
    line = Types.STRING().get_java_type_info()
    # lines, not flink-csv's RowCsvInputFormat: that one reads only the first file it is given
    # (its end-of-input flag is never reset), silently
    fmt = jvm.org.apache.flink.streaming.api.legacy.io.TextInputFormat(jvm.org.apache.flink.core.fs.Path(inbox_uri))
    modes = jvm.org.apache.flink.streaming.api.functions.source.FileProcessingMode
    j_env = env._j_stream_execution_environment
    before = j_env.getParallelism()
    j_env.setParallelism(1)  # the monitor cuts each file into this many splits: one per file
    try:
        reader = j_env.readFile(fmt, inbox_uri, modes.PROCESS_CONTINUOUSLY if monitor_s else modes.PROCESS_ONCE,
                                max(1, round((monitor_s or 1.0) * 1000)), line)
    finally:
        j_env.setParallelism(before)
    # one reader, so one order; stable uids keep savepoints restorable across code changes
    reader.setParallelism(1).name("read inbox in order").uid("inbox-reader")
    reader.getTransformation().getInputs().get(0).setUid("inbox-monitor")
    schema = (Schema.new_builder().column("f0", DataTypes.STRING(False))
              .column_by_expression("t", T).column_by_expression("v", V).column_by_expression("sid", SID)
              .column_by_expression("ts", f"TO_TIMESTAMP_LTZ({T}, 3)")
              .watermark("ts", f"ts - {interval(lateness_s)}").build())
    return t_env.from_data_stream(DataStream(reader), schema)


def windows_and_behind(t_env: Any, points: str, window_s: int, lateness_s: int) -> Any:
    """One table ``(k, w)`` (``w`` as :data:`INNER`) from the view ``points`` (with a watermark
    ``lateness_s`` behind its newest point): every series' event-time ``TUMBLE`` window of
    ``window_s`` (``ARRAY_AGG`` of its points) and, for each point whose window had fired by the
    job's high-water mark when it came (module docstring), that point alone with the seconds the
    bound was ahead — taken out of the window's input. One query over one ``OVER`` node (the
    planner reuses it for both branches), so both read one source and one high-water mark; the
    event-time attribute ``ts`` passes the ``OVER`` unchanged, so ``TUMBLE`` still windows on it."""
    w_ms, late_ms = window_s * 1000, lateness_s * 1000
    newest = "MAX(t) OVER (ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    marked = f"{points}_marked"
    t_env.create_temporary_view(marked, t_env.sql_query(f"""
        SELECT sid, t, v, ts, hw - {late_ms} - t AS ahead,
               t - MOD(t, {w_ms}) + {w_ms - 1} <= hw - {late_ms} AS behind FROM (
            SELECT sid, t, v, ts, {newest} AS hw FROM (SELECT sid, t, v, ts, PROCTIME() AS pt FROM {points}))"""))
    return t_env.sql_query(f"""
        SELECT sid AS k, ROW(sid, ts, vs, CAST(NULL AS INT)) AS w FROM (
            SELECT sid, ARRAY_AGG(t) AS ts, ARRAY_AGG(v) AS vs
            FROM TABLE(TUMBLE((SELECT sid, t, v, ts FROM {marked} WHERE NOT behind), DESCRIPTOR(ts),
                              {interval(window_s)}))
            GROUP BY sid, window_start, window_end)
        UNION ALL
        SELECT sid AS k, ROW(sid, ARRAY[t], ARRAY[v], CAST(ahead / 1000 AS INT)) AS w
        FROM {marked} WHERE behind""")


class ScoreOrReject(ScoreBatches):
    """:class:`~jobs.flink_anomaly_score.ScoreBatches` over the rows of :func:`windows_and_behind`:
    a window is scored as there; a point that came behind the job's high-water mark − lateness is
    emitted unscored in the line's ``behind`` (``[t, v, seconds]``), the series' state untouched."""

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[str]:
        if value[3] is None:
            yield from super().process_element(value, ctx)
            return
        yield encode_window({"sid": value[0], "t": [], "v": [], "score": [], "expected": [], "lower": [],
                             "upper": [], "warm": [], "flag": [], "first": [], "late": [],
                             "behind": [[int(value[1][0]), float(value[2][0]), int(value[3])]]})
