"""Closed stream segments of the raw metrics for Flink: the input of the streaming rollup job.

Flink reads the lake's raw metrics through its own filesystem connector, in continuous mode, from
an *inbox* folder of closed CSV files (no Parquet format ships with the ``apache-flink`` package).
Each segment is written by the loader as part of a raw-metrics commit
(:func:`pipeline.loader.commit.commit`), from the rows it has just committed, *after* its Parquet
file and ledger entry and under the partition's lock: the streaming job therefore sees exactly the
de-duplicated rows the lake holds, once each (a re-delivered stream record is a duplicate in the
loader and never reaches a segment), and the Flink rollup agrees with the DuckDB rollup by
construction. A segment is written to a hidden temporary name and renamed (Flink's file source skips
names starting with ``.`` or ``_``), so Flink never reads half a segment.

Segments are written only while the inbox is enabled (:func:`enable`, done by the Flink stage of
``watchlake run --engine flink``); one ``exists`` check per raw-metrics commit. :func:`seed` exports
the raw metrics committed before (one segment, sorted by time); the partition locks make the seed
and the loader's segments disjoint and complete. Consumed segments are deleted by the committer
(:func:`retire_older_than`) once the job has checkpointed well past them.

The line format (no header, empty = null) is :data:`COLUMNS`: series id, epoch ms, kind ``k``
(0: a datapoint or statistic set, 2: the statistics of a row with a ``values`` list, 1: one sample
``lv`` × ``lc`` of such a list, statistics empty) and the statistics ``n, s, lo, hi``
(SampleCount, Sum, Minimum, Maximum). :mod:`jobs.flink.sql` turns them into sketch samples exactly
as :mod:`pipeline.rollup.sql` does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.lake import files, ledger
from pipeline.lake.locks import locked

if TYPE_CHECKING:
    import duckdb

    from pipeline.lake import Lake

ROOT = "_flink"
INBOX = f"{ROOT}/inbox/metrics"
ENABLED = f"{ROOT}/inbox/enabled.json"
COLUMNS = ["sid", "ms", "k", "n", "s", "lo", "hi", "lv", "lc"]

_SELECT = """
SELECT _wl_series_id AS sid, epoch_ms("timestamp") AS ms, CASE WHEN "values" IS NULL THEN 0 ELSE 2 END AS k,
       sample_count AS n, "sum" AS s, "min" AS lo, "max" AS hi, CAST(NULL AS DOUBLE) AS lv, CAST(NULL AS DOUBLE) AS lc
FROM {src}{where}
UNION ALL
SELECT sid, ms, 1, NULL, NULL, NULL, NULL, v, c FROM (
    SELECT _wl_series_id AS sid, epoch_ms("timestamp") AS ms, unnest("values") AS v,
           unnest(coalesce(counts, list_transform("values", lambda x: 1.0))) AS c
    FROM {src} WHERE "values" IS NOT NULL{and_where})"""
"""Raw metrics rows → segment lines (DuckDB SQL; the ``values``/``counts`` unnesting of
:func:`pipeline.rollup.sql.weighted_query`)."""


def enabled(lake: Lake) -> bool:
    """True when loaders write segments for Flink (:func:`enable`)."""
    return lake.exists(ENABLED)


def enable(lake: Lake) -> None:
    """Make every later raw-metrics commit (any process) write its segment too; creates the inbox
    (Flink's file source fails on a missing folder)."""
    lake.fs.create_dir(lake.path(INBOX), recursive=True)
    if not enabled(lake):
        lake.write_json(ENABLED, {"enabled_at": time.time()})


def segment_csv(table: pa.Table, *, where: str = "") -> bytes:
    """The segment lines of raw-metrics ``table`` (schema :data:`pipeline.schemas.METRICS`),
    sorted by event time, as CSV bytes; ``where`` an optional DuckDB condition on its rows."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("src", table)
        return _copy(con, "src", where)
    finally:
        con.close()


def export(con: duckdb.DuckDBPyConnection, src: str, where: str, path: str) -> int:
    """Write the segment lines of DuckDB relation ``src`` (raw-metrics columns; rows where ``where``
    holds, when given), sorted by event time, to the local file ``path``; returns the lines."""
    w, aw = (f" WHERE {where}", f" AND {where}") if where else ("", "")
    row = con.execute(f"COPY ({_SELECT.format(src=src, where=w, and_where=aw)} ORDER BY ms) "
                      f"TO '{path}' (FORMAT CSV, HEADER false)").fetchone()
    return int(row[0]) if row else 0


def _copy(con: duckdb.DuckDBPyConnection, src: str, where: str) -> bytes:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="wl-seg-")
    os.close(fd)
    try:
        export(con, src, where, tmp)
        with open(tmp, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(tmp)


def segment_name(commit_id: str) -> str:
    """The inbox path of the segment of loader commit ``commit_id`` (one per commit)."""
    return f"{INBOX}/seg-{commit_id}.csv"


def write_segment(lake: Lake, commit_id: str, table: pa.Table) -> str | None:
    """Write the segment of one committed raw-metrics batch (closed: temporary name, then rename);
    returns its path (``None`` for an empty batch)."""
    if table.num_rows == 0:
        return None
    rel = segment_name(commit_id)
    lake.write_bytes(rel, segment_csv(table))
    return rel


def seed(lake: Lake, *, since_ms: int | None = None) -> tuple[str | None, int]:
    """Export the raw metrics already in the lake (event time ≥ ``since_ms`` when given) as one
    segment sorted by time, holding every raw partition's lock while it is read, so that each row
    is in the seed or in a loader's segment, never both and never neither (call after
    :func:`enable`; files whose commit already wrote its segment are left out). Returns
    ``(segment path or None, lines)``."""
    import contextlib

    import duckdb

    folders = sorted({f.rsplit("/", 1)[0] for f in lake.table_files("metrics")})
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(locked(lake, folder))
        have = {e.path.rsplit("/", 1)[-1][len("seg-"):-len(".csv")] for e in inbox_segments(lake)}
        uris = [lake.uri(f) for f in lake.table_files("metrics") if ledger.commit_of(f) not in have]
        if not uris:
            return None, 0
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            listed = "[" + ", ".join("'" + u.replace("'", "''") + "'" for u in uris) + "]"
            con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM read_parquet({listed}, union_by_name = true)")
            where = f'epoch_ms("timestamp") >= {int(since_ms)}' if since_ms is not None else ""
            data = _copy(con, "src", where)
        finally:
            con.close()
        rel = f"{INBOX}/seg-seed-{int(time.time() * 1000)}.csv"
        if data:
            lake.write_bytes(rel, data)
        lines = data.count(b"\n")
    return (rel if data else None), lines


def inbox_segments(lake: Lake) -> list[files.Entry]:
    """The closed segments in the inbox (oldest first)."""
    return sorted((e for e in lake.entries(INBOX, recursive=False)
                   if e.path.rsplit("/", 1)[-1].startswith("seg-")), key=lambda e: e.mtime_ns)


def retire_older_than(lake: Lake, cutoff_ns: int) -> int:
    """Delete the segments last modified before ``cutoff_ns`` (consumed: the committer passes a
    time the job has checkpointed well beyond); returns how many."""
    old = [e for e in inbox_segments(lake) if e.mtime_ns < cutoff_ns]
    for e in old:
        lake.delete(e.path)
    return len(old)
