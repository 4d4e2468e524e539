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

Exactly once across a crash: while the inbox is enabled, a raw-metrics commit first writes a
*pending marker* ``_flink/pending/<commit>.json`` (naming its partition), then its Parquet file and
ledger entry, then its segment, and deletes the marker last, all under the partition's lock. A
marker left behind names a commit that died somewhere in between; :func:`settle` (run by the next
loader's first raw-metrics commit, and by :func:`seed`) takes that partition's lock (so the commit
is certainly dead) and writes the segment of the commit's data file if the file was committed (a
file without a ledger entry is a complete file the loader adopts), nothing if it was not (its
records are re-delivered and committed anew), then deletes the marker. A segment is named by its
commit and rewritten with the same content at most, and Flink's file source never reads a path
twice, so every committed row reaches Flink once.

Segments are written only while the inbox is enabled (:func:`enable`, done by the Flink stage of
``watchlake run --engine flink``); one ``exists`` check per raw-metrics commit, and while enabled
one marker write and delete. :func:`seed` exports
the raw metrics committed before (one segment, sorted by time); the partition locks make the seed
and the loader's segments disjoint and complete. Consumed segments are deleted by the committer
(:func:`retire_older_than`) once the job has checkpointed well past them.

Flink's continuous file source remembers the path of every file it has read, in its checkpointed
state, for as long as the job runs (the connector has no bound; it is documented so); segments
deleted by the committer stay in that set. Measured (a savepoint of the job's file source after
10 and after 2,000 files, 55-character paths): 62 bytes per file, the path plus ~7 bytes. With
the lake's segment paths (~75 characters) that is ~80 bytes per raw-metrics commit: at one
commit a second, ≈ 7 MB of checkpoint per day of uninterrupted running (a restart from a
savepoint or checkpoint keeps the set).

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
PENDING = f"{ROOT}/pending"
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


def pending_name(commit_id: str) -> str:
    """The pending marker of loader commit ``commit_id`` (see the module docstring)."""
    return f"{PENDING}/{commit_id}.json"


def begin(lake: Lake, folder: str, commit_id: str) -> None:
    """Record that commit ``commit_id`` of raw-metrics partition ``folder`` is about to write its
    file (call under the partition's lock, before the file); :func:`finish` removes the record."""
    ledger.write_doc(lake, pending_name(commit_id), {"commit": commit_id, "partition": folder})


def finish(lake: Lake, commit_id: str) -> None:
    """The commit's segment is written (or it wrote no file): drop its pending marker."""
    lake.delete(pending_name(commit_id))


def _pending(lake: Lake) -> list[tuple[str, str]]:
    """``(commit id, marker path)`` of every pending marker (temporary files excluded)."""
    out = []
    for e in lake.entries(PENDING, recursive=False):
        name = e.path.rsplit("/", 1)[-1]
        if name.endswith(".json") and not name.startswith("."):
            out.append((name[: -len(".json")], e.path))
    return sorted(out)


def _settle_one(lake: Lake, commit_id: str, folder: str) -> int:
    """Write the segment of a dead commit's data file unless it is in the inbox (call under the
    partition's lock); returns the segment lines written."""
    import pyarrow.parquet as pq

    if lake.exists(segment_name(commit_id)):  # died after its segment, before dropping its marker
        return 0
    found = [f for f in lake.table_files("metrics", folder) if ledger.commit_of(f) == commit_id]
    if not found:  # died before its file became visible: nothing reached the lake
        return 0
    table = pa.concat_tables(pq.read_table(lake.path(f), filesystem=lake.fs) for f in found)
    data = segment_csv(table)
    if data:
        lake.write_bytes(segment_name(commit_id), data)
    return data.count(b"\n")


def settle(lake: Lake) -> int:
    """Finish the commits a crash left between their Parquet file and their segment (see the module
    docstring): each marker's partition is locked, the segment written if the commit's file is
    in the lake and its segment is not in the inbox, and the marker deleted. Idempotent; returns
    the segment lines written."""
    lines = 0
    for commit_id, rel in _pending(lake):
        try:
            folder = str(lake.read_json(rel)["partition"])
        except FileNotFoundError:  # a live commit finished between the listing and the read
            continue
        with locked(lake, folder):
            if lake.exists(rel):
                lines += _settle_one(lake, commit_id, folder)
                lake.delete(rel)
    return lines


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
        dead = [rel for _, rel in _pending(lake)]  # every partition is locked: these commits died
        if not uris:
            for rel in dead:
                lake.delete(rel)
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
        for marker in dead:  # their files without a segment are in the seed
            lake.delete(marker)
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
