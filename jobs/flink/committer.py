"""Moves the streaming rollup's checkpoint-committed output into the lake: exactly-once by keys.

The Flink job (:mod:`jobs.flink.stream`) writes its window results and its late lines as CSV part
files that become visible only when the checkpoint after them completes (Flink's two-phase file
sink), under ``_flink/out/``. :meth:`FlinkCommitter.step`, plain Python outside the per-row path:

1. reads every visible part file (window results: one row per series and minute; late lines);
2. turns the window results into ``metrics_1m`` rows (:mod:`jobs.flink.assemble`; series
   identities looked up once per series in the raw lake) and the late lines into the buckets they
   touch, recomputed from the lake's raw metrics by the DuckDB engine when they arrived inside the
   recompute window (``tiers.recompute_window_minutes``, the same allowed lateness as ``watchlake
   rollup``) of the lake's data clock when their segment was committed (not of the job's clock:
   the source reads segments in listing order, so after a backlog its watermark can be hours
   ahead of lines that were on time), counted as ``late_dropped`` otherwise (they stay in the raw
   table; ``rollup --full`` folds them in). The repaired buckets are remembered, in the lake
   (:mod:`jobs.flink.repaired`), so that a window row of one that comes later — after a restart
   too — is recomputed again rather than undo the repair;
3. commits both as **one keyed replace** of ``metrics_1m`` (:func:`commit_rows`, through
   :func:`pipeline.lake.replace.replacing`): a row replaces the row of the same series and minute,
   so re-delivering a window (a crash between the commit and step 4, a job restored from an older
   savepoint) replaces and never doubles;
4. deletes the part files it committed.

Then the coarser tiers follow from ``metrics_1m`` by the shared runner (``1m→5m``, ``5m→1h`` and
the CloudTrail activity counts; :func:`pipeline.rollup.runner.run_rollups`), and segments leave
the inbox once the job is ``segment_retention_seconds`` past them (:meth:`FlinkCommitter.retire_cut_ns`:
by its checkpoints since its last start, never by the age of the file alone, so segments written
while the job was down stay until it has read them).

The job's rows go into the same ``part-…-rollup.parquet`` file family the DuckDB engine writes, so
a later ``watchlake rollup`` (either engine) rebuilds a partition over them rather than beside them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.flink import assemble as fassemble
from jobs.flink import repaired as frepaired
from pipeline.lake import layout
from pipeline.lake.replace import replacing, utc_days
from pipeline.rollup import percentiles
from pipeline.rollup.schema import ROLLUP, ROW_GROUP_ROWS, SERIES_ID, SORT_KEYS
from pipeline.rollup.tiers import JOBS, partition_range
from pipeline.tierchain import parse_percentiles

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

OUT = "_flink/out/rollup_1m"
LATE = "_flink/out/late"
TAG = "rollup"
RAW_JOB = JOBS[0]
CASCADE = [j for j in JOBS if j.source != "metrics"]  # CloudTrail activity, 1m→5m, 5m→1h
_IDENTITY = [SERIES_ID, "namespace", "metric_name", "dimensions", "unit"]


@dataclass
class CommitReport:
    """One committer step: part files and lines read, rows written, late lines handled; ``note``:
    what else the run's log should say (a damaged repaired-buckets state, started without)."""

    parts: int = 0
    windows: int = 0
    rows: int = 0
    late: int = 0
    late_repaired: int = 0
    late_dropped: int = 0
    cascade_rows: int = 0
    segments_retired: int = 0
    newest: datetime | None = None
    seconds: float = 0.0
    commit: str | None = None
    folders: list[str] = field(default_factory=list)
    note: str = ""


def _keys(t: pa.Table) -> pa.Array:
    ms = pc.cast(pc.cast(t["timestamp"], pa.int64()), pa.string())
    return pc.binary_join_element_wise(t[SERIES_ID], ms, "|").combine_chunks()


def commit_rows(lake: Lake, rows: pa.Table, *, max_files: int = 8) -> tuple[str | None, list[str]]:
    """Replace, by (series, minute), ``metrics_1m`` rows with ``rows`` (ROLLUP schema) in one atomic
    commit; returns the commit id and the partition folders written. Per day partition a file that
    holds a key of ``rows`` is rewritten without it; the new rows go to a new file, and once a
    partition holds ``max_files`` rollup files they are merged into one."""
    if rows.num_rows == 0:
        return None, []
    dts = utc_days(rows["timestamp"]).combine_chunks()
    written = []
    with replacing(lake, "metrics_1m") as tx:
        for dt in sorted(set(dts.to_pylist())):
            values = {"dt": dt}
            folder = layout.partition_path("metrics_1m", values)
            mine = rows.filter(pc.equal(dts, dt))
            keys = _keys(mine)
            live = [f for f in tx.files(folder) if f.endswith(f"-{TAG}.parquet")]
            parts = []
            for rel in live:
                old = tx.read(rel, ROLLUP)
                drop = pc.is_in(_keys(old), value_set=keys)
                if pc.any(drop).as_py() or len(live) + 1 > max_files:
                    parts.append(old.filter(pc.invert(drop)))
                    tx.retire(rel)
            tx.add(values, pa.concat_tables([*parts, mine]), tag=TAG, sort_by=SORT_KEYS,
                   row_group_size=ROW_GROUP_ROWS)
            written.append(folder)
    return tx.result.commit, written


class FlinkCommitter:
    """Commits the streaming job's output (see the module docstring); one per lake at a time."""

    def __init__(self, lake: Lake, settings: Settings, *, segment_retention_seconds: float = 3600.0,
                 out_of_orderness: int = 60):
        import duckdb

        self.lake, self.settings = lake, settings
        self.patterns = parse_percentiles(settings.tiers.percentiles)
        self.window = timedelta(minutes=settings.tiers.recompute_window_minutes)
        self.segment_retention_seconds = segment_retention_seconds
        self.out_of_orderness = out_of_orderness  # the job's watermark delay (seconds)
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.ids = pa.table({c: pa.array([], pa.string()) for c in _IDENTITY})
        self.job_started_ns: int | None = None
        """When the job's current run was started (the run stage sets it before each submit):
        segments are retired only by checkpoints of a run that has lasted the retention since."""
        self._newest: dict[tuple[str, int], int | None] = {}
        self._repaired, self._note = frepaired.load(lake)
        """Keys (``series|bucket ms``) of the buckets recomputed for late lines, by bucket: a window
        row for one of them that arrives in a later step — or after a restart: the set is kept in
        the lake (:mod:`jobs.flink.repaired`) — is recomputed again (:meth:`step`). ``_note``: why
        it was not loaded, for the next step's report."""

    # -- reading the job's output ------------------------------------------------------------

    def visible(self, folder: str) -> list[str]:
        """The committed part files in ``folder`` (``part-…``; Flink keeps unfinished ones hidden:
        ``.part-…inprogress…``)."""
        return sorted(e.path for e in self.lake.entries(folder) if e.path.rsplit("/", 1)[-1].startswith("part-"))

    def _read(self, paths: list[str], types: dict[str, pa.DataType]) -> pa.Table:
        return fassemble.read_csv((self.lake.read_bytes(p) for p in paths), types)

    def _raw_files(self, lo_ms: int, hi_ms: int) -> list[str]:
        """Raw metrics files of the partitions overlapping ``[lo_ms, hi_ms)``."""
        from pipeline.rollup.state import listing

        out = []
        for folder, files in listing(self.lake, "metrics").items():
            lo, hi = partition_range(layout.parse_partition_path("metrics", folder))
            if lo.timestamp() * 1000 < hi_ms and hi.timestamp() * 1000 > lo_ms:
                out += [self.lake.uri(f.rel) for f in files]
        return out

    def _identities(self, sids: pa.Array, lo_ms: int, hi_ms: int) -> pa.Table:
        """Identity rows for ``sids`` (cached; new series looked up in the raw lake)."""
        new = pc.unique(sids).filter(pc.invert(pc.is_in(pc.unique(sids), value_set=self.ids[SERIES_ID])))
        if len(new):
            files = self._raw_files(lo_ms, hi_ms)
            found = self.con.sql(
                f"SELECT {SERIES_ID}, any_value(namespace) AS namespace, any_value(metric_name) AS metric_name, "
                f"any_value(dimensions) AS dimensions, any_value(unit) AS unit FROM read_parquet(?, union_by_name "
                f"= true) WHERE {SERIES_ID} IN (SELECT unnest(?)) GROUP BY 1", params=[files, new.to_pylist()]
            ).to_arrow_table() if files else None
            if found is not None and found.num_rows:
                self.ids = pa.concat_tables([self.ids, found.select(_IDENTITY).cast(self.ids.schema)])
        return self.ids

    def _windows(self, out: pa.Table) -> pa.Table:
        if out.num_rows == 0:
            return ROLLUP.empty_table()
        b = fassemble.to_numpy(out["b"], np.int64)
        ids = self._identities(out["sid"].combine_chunks(), int(b.min()), int(b.max()) + 60_000)
        return percentiles.strip(fassemble.rollup_rows(out, ids, 60), self.patterns)

    def _repair(self, late: pa.Table, report: CommitReport) -> pa.Table:
        """The buckets late lines fall into, recomputed from the raw lake, for the lines that arrived
        inside the recompute window: bucket ≥ floor(clock − window), where the clock is the lake's
        data clock when the line's segment was committed (:meth:`load_clocks`), as ``watchlake
        rollup`` would have had it. Flink's own clock when it read the line (watermark +
        out-of-orderness) is used only for a segment no longer in the inbox: the filesystem source
        reads the segments it finds in one directory scan in listing order, not commit order, so
        after a backlog (a restart, a slow job) its watermark can run hours ahead of lines that
        were on time when the lake received them."""
        if late.num_rows == 0:
            return ROLLUP.empty_table()
        ms = fassemble.to_numpy(late["ms"], np.int64)
        clock = ms + fassemble.to_numpy(late["behind"], np.int64) * 1000 + self.out_of_orderness * 1000
        names = [None if p is None else p.rsplit("/", 1)[-1] for p in late["seg"].to_pylist()]
        loaded = self.load_clocks({n for n in names if n})
        clock = np.array([loaded.get(n, c) if n else c for n, c in zip(names, clock.tolist(), strict=True)],
                         dtype=np.int64)
        cutoff = (clock - int(self.window.total_seconds() * 1000)) // 60_000 * 60_000
        b = ms // 60_000 * 60_000
        inside = b >= cutoff
        report.late_dropped += int((~inside).sum())
        if not inside.any():
            return ROLLUP.empty_table()
        rows = self._recompute(late["sid"].filter(pa.array(inside)), b[inside])
        report.late_repaired += rows.num_rows
        return rows

    def _recompute(self, sids: pa.Array | pa.ChunkedArray, buckets: np.ndarray) -> pa.Table:
        """The 1-minute rows of (``sids[i]``, bucket start ``buckets[i]`` in epoch ms), computed
        from the lake's raw metrics by the DuckDB engine."""
        from pipeline.rollup.engine import rollup_table

        lo, hi = int(buckets.min()), int(buckets.max()) + 60_000
        files = self._raw_files(lo, hi)
        if not files:  # the lake holds no raw metrics there (retention took them): nothing to recompute
            return ROLLUP.empty_table()
        rows = rollup_table(self.con, "raw", files, 60, datetime.fromtimestamp(lo / 1000, UTC),
                            datetime.fromtimestamp(hi / 1000, UTC), self.patterns)
        wanted = pc.binary_join_element_wise(sids, pc.cast(pa.array(buckets), pa.string()), "|")
        rows = rows.filter(pc.is_in(_keys(rows), value_set=pc.unique(wanted)))
        return percentiles.strip(rows, self.patterns)

    def _remember(self, repaired: pa.Table) -> None:
        """Add the keys of ``repaired`` to :attr:`_repaired`, keeping the buckets of the recompute
        window behind the newest one (a late line older than that is not repaired anyway), and save
        the set when it changed (:func:`jobs.flink.repaired.save`, atomic). Called before the commit
        of ``repaired``: a crash between the two costs a bucket recomputed once more, never a repair
        forgotten by the next committer."""
        ms = fassemble.to_numpy(pc.cast(repaired["timestamp"], pa.int64()), np.int64)
        before = self._repaired
        merged = dict(before)
        merged.update(zip(_keys(repaired).to_pylist(), ms.tolist(), strict=True))
        cut = max(merged.values()) - int(self.window.total_seconds() * 1000) - 60_000
        self._repaired = {k: b for k, b in merged.items() if b >= cut}
        if self._repaired != before:
            frepaired.save(self.lake, self._repaired)

    def load_clocks(self, names: set[str]) -> dict[str, int]:
        """For segment file names in the inbox: the lake's data clock (epoch ms) when each was
        committed — the newest event time of it and of every segment written before it (their
        modification times order the commits). Names no longer in the inbox are left out."""
        from pipeline.loader import segments

        if not names:
            return {}
        out: dict[str, int] = {}
        newest = -(1 << 62)
        inbox = segments.inbox_segments(self.lake)
        self._newest = {k: v for k, v in self._newest.items() if k in {(e.path, e.mtime_ns) for e in inbox}}
        for e in inbox:
            last = self._newest_ms(e.path, e.bytes, e.mtime_ns)
            if last is not None:
                newest = max(newest, last)
            name = e.path.rsplit("/", 1)[-1]
            if name in names and newest > -(1 << 62):
                out[name] = newest
        return out

    def _newest_ms(self, rel: str, size: int, mtime_ns: int) -> int | None:
        """The event time of a segment's last line (segments are sorted by event time), cached;
        None for an empty or unreadable one."""
        key = (rel, mtime_ns)
        if key not in self._newest:
            value = None
            try:
                with self.lake.fs.open_input_file(self.lake.path(rel)) as fh:
                    start = max(0, size - 4096)
                    fh.seek(start)
                    tail = fh.read(size - start).rstrip(b"\n").rsplit(b"\n", 1)[-1]
                value = int(tail.split(b",")[1])
            except (OSError, IndexError, ValueError):
                value = None
            self._newest[key] = value
        return self._newest[key]

    # -- one step ----------------------------------------------------------------------------

    def step(self, *, cascade: bool = True) -> CommitReport:
        """Commit what the job has committed since the last step (see the module docstring). The
        first step's report notes a saved repaired-buckets set that could not be loaded."""
        t0 = time.perf_counter()
        report = CommitReport(note=self._note)
        outs, lates = self.visible(OUT), self.visible(LATE)
        report.parts = len(outs) + len(lates)
        if report.parts:
            out = self._read(outs, fassemble.OUT_TYPES)
            late = self._read(lates, fassemble.LATE_TYPES)
            report.windows, report.late = out.num_rows, late.num_rows
            rows = self._windows(out)
            repaired = self._repair(late, report)
            # the window rows' keys, built once a step and only when a repair needs them
            keys = _keys(rows) if repaired.num_rows or self._repaired else pa.array([], pa.string())
            # A window row of a bucket repaired in an earlier step may have fired before the late
            # line reached the job: the two sinks' part files become visible at the checkpoints
            # after each rolls, so it can come a step after the repair. Recompute it again.
            if self._repaired:
                again = rows.filter(pc.and_(pc.is_in(keys, value_set=pa.array(list(self._repaired), pa.string())),
                                            pc.invert(pc.is_in(keys, value_set=_keys(repaired)))))
                if again.num_rows:
                    ms = fassemble.to_numpy(pc.cast(again["timestamp"], pa.int64()), np.int64)
                    repaired = pa.concat_tables([repaired, self._recompute(again[SERIES_ID].combine_chunks(), ms)])
            if repaired.num_rows:  # a repaired bucket wins over the same bucket's on-time result
                rows = pa.concat_tables([rows.filter(pc.invert(pc.is_in(keys, value_set=_keys(repaired)))),
                                         repaired])
                self._remember(repaired)
            report.commit, report.folders = commit_rows(self.lake, rows)
            report.rows = rows.num_rows
            if rows.num_rows:
                report.newest = pc.max(rows["timestamp"]).as_py()
                self._mark_consumed(rows)
            for p in outs + lates:
                self.lake.delete(p)
        if cascade:
            report.cascade_rows = self.cascade()
        if self.segment_retention_seconds >= 0:
            from pipeline.loader import segments

            cut = self.retire_cut_ns()
            if cut is not None:
                report.segments_retired = segments.retire_older_than(self.lake, cut)
        report.seconds = time.perf_counter() - t0
        self._note = ""  # said once
        return report

    def retire_cut_ns(self) -> int | None:
        """Segments last modified before this time (ns) have been read by the job: its newest
        completed snapshot (a checkpoint's or savepoint's ``_metadata``) was taken
        ``segment_retention_seconds`` after them and after the current run's start
        (:attr:`job_started_ns`), so the job ran and checkpointed that long while they were in the
        inbox (its source discovers new files every few seconds). None — retire nothing — while no
        snapshot is that far past the start (just restarted after downtime: the segments written
        meanwhile are still unread) or the start is unknown."""
        from jobs.flink.stream import CHECKPOINTS, SAVEPOINTS

        if self.job_started_ns is None:
            return None
        snaps = [e.mtime_ns for rel in (CHECKPOINTS, SAVEPOINTS) for e in self.lake.entries(rel)
                 if e.path.endswith("/_metadata")]
        cut = max(snaps, default=0) - int(self.segment_retention_seconds * 1e9)
        return cut if cut >= self.job_started_ns else None

    def _mark_consumed(self, rows: pa.Table) -> None:
        """Record in the rollup state that ``metrics→1m`` has built from the raw partitions of
        ``rows`` (retention keeps raw data no rollup has seen), with a fingerprint that never
        matches, so a later ``watchlake rollup`` rebuilds those partitions from the raw data."""
        from pipeline.rollup.state import load_state, save_state

        state = load_state(self.lake)
        job_state = state["jobs"].setdefault(RAW_JOB.name, {})
        hours = pc.unique(pc.strftime(rows["timestamp"], format="%Y-%m-%d/%H").combine_chunks()).to_pylist()
        for h in hours:
            dt, hour = h.split("/")
            tfolder = layout.partition_path("metrics_1m", {"dt": dt})
            src = layout.partition_path("metrics", {"dt": dt, "hour": hour})
            job_state.setdefault(tfolder, {}).setdefault("sources", {})[src] = "flink"
        save_state(self.lake, state)

    def cascade(self) -> int:
        """The coarser tiers (and CloudTrail activity) from what is committed; rows written."""
        from pipeline.rollup.engine import DuckDBEngine
        from pipeline.rollup.runner import run_rollups

        engine = DuckDBEngine()
        try:
            rep = run_rollups(self.lake, self.settings, engine, jobs=CASCADE)
        finally:
            engine.close()
        return sum(j.rows for j in rep.jobs)

    def close(self) -> None:
        self.con.close()
