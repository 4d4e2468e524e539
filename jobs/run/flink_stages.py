"""The rollup stage of ``watchlake run --engine flink``: a streaming Flink job plus its committer.

Replaces the DuckDB :class:`jobs.run.stages.RollupStage`. On its first step the stage

1. enables the segment inbox (:mod:`pipeline.loader.segments`), so every raw-metrics commit from
   then on — by this run's loaders or any other process — also writes its closed segment;
2. the first time on a lake (no ``_flink/seeded.json``): brings the tiers up to date with the shared
   runner (DuckDB, incremental) and seeds the inbox with the raw metrics of the recompute window, so
   the job's first windows are complete;
3. starts the streaming job (:mod:`jobs.flink.stream`) on an embedded mini-cluster, or on the
   cluster at ``run.flink_address``, resuming from the newest retained checkpoint when there is one.

Every step then checks the job (a job that failed or vanished is restarted from its newest
checkpoint; each restart is one error line in the step report) and runs the committer
(:class:`jobs.flink.committer.FlinkCommitter`: window results and late repairs into ``metrics_1m``
as keyed commits, then 5m/1h and CloudTrail activity). :meth:`FlinkRollupStage.close` commits what
is there and stops the job with a savepoint, which the next start resumes from (after a crash:
the newest retained checkpoint).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jobs.follow import Schedule
from jobs.run.stage import StepReport

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

SEEDED = "_flink/seeded.json"
SAVEPOINT = "_flink/savepoint.json"  # the savepoint the last close() stopped the job with
VERSION = "_flink/job_version.json"  # JOB_VERSION of the job whose snapshots are retained
_ENDED = {"FAILED", "CANCELED", "FINISHED", "SUSPENDED"}
UNKNOWN_RETRIES = 2
"""Times a failed status query is repeated (0.5 s apart) before the job is taken for gone."""


def first_start(lake: Lake, settings: Settings) -> int:
    """Step 2 of the module docstring (idempotent through the ``seeded`` marker); returns the
    seeded lines."""
    from pipeline.loader import segments
    from pipeline.rollup.engine import DuckDBEngine
    from pipeline.rollup.runner import run_rollups
    from pipeline.rollup.state import data_clock
    from pipeline.timeutil import floor

    if lake.exists(SEEDED):
        return 0
    segments.enable(lake)
    engine = DuckDBEngine()
    try:
        run_rollups(lake, settings, engine)
    finally:
        engine.close()
    clock = data_clock(lake)
    lines = 0
    if clock is not None:
        since = floor(clock - timedelta(minutes=settings.tiers.recompute_window_minutes), 60)
        _, lines = segments.seed(lake, since_ms=int(since.timestamp() * 1000))
    lake.write_json(SEEDED, {"seeded_at": time.time(), "lines": lines})
    return lines


_SAVEPOINT_MADE = re.compile(r"A savepoint has been created at: (\S+?), but the corresponding job")
"""Flink's StopWithSavepointStoppingException: the savepoint exists although the stop failed."""


class FlinkRollupStage:
    """``rollup`` with ``--engine flink`` (see the module docstring)."""

    name = "rollup"

    def __init__(self, lake: Lake, settings: Settings, *, address: str | None = None, **job: Any):
        from jobs.flink.committer import FlinkCommitter
        from jobs.flink.stream import StreamConfig

        self.lake, self.settings = lake, settings
        self.address = address if address is not None else (settings.run.flink_address or None)
        self.config = StreamConfig.for_lake(lake, **job)
        self.committer = FlinkCommitter(lake, settings, out_of_orderness=self.config.out_of_orderness)
        self.schedule = Schedule(settings.run.rollup_seconds)
        self.result: Any = None
        self.starts = 0
        self.startup_seconds = 0.0
        self.late_repaired = 0  # buckets recomputed for late lines, since the stage started
        self.note = ""  # why the last start did not resume (see _restore_point)

    def _status(self) -> str:
        client = self.result.get_job_client() if self.result is not None else None
        if client is None:
            return "NONE"
        try:
            return str(client.get_job_status().result()).rsplit(".", 1)[-1]
        except Exception:  # noqa: BLE001 - a job the cluster no longer knows is a job to restart
            return "UNKNOWN"

    def wait_running(self, timeout: float = 120.0) -> float:
        """Wait until the job is RUNNING (after :meth:`ensure_running`); returns the seconds waited."""
        t0 = time.monotonic()
        while self._status() != "RUNNING":
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"the Flink job is {self._status()} after {timeout:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - t0

    def ensure_running(self) -> str:
        """Start the job when it is not running (first step, after a failure); returns what was done."""
        from jobs.flink.stream import submit
        from pipeline.loader import segments

        status = self._status()
        for _ in range(UNKNOWN_RETRIES):  # a status query can fail on a busy box: ask again first
            if status != "UNKNOWN":
                break
            time.sleep(0.5)
            status = self._status()
        if status not in _ENDED | {"NONE", "UNKNOWN"}:
            return ""
        if status == "UNKNOWN":  # still no answer: make sure the old job is gone before another starts
            self._cancel()
        t0 = time.perf_counter()
        seeded = first_start(self.lake, self.settings)
        segments.settle(self.lake)  # segments a crashed run's last commits owe the job
        restore = self._restore_point()
        self.committer.job_started_ns = time.time_ns()   # segments retire by this run's checkpoints
        self.result = submit(self.config, restore=restore, remote=self.address)
        self.starts += 1
        self.startup_seconds = time.perf_counter() - t0
        how = f"resumed from {restore.rstrip('/').rsplit('/', 1)[-1]}" if restore else "started"
        if self.note:
            how, self.note = f"{how} ({self.note})", ""
        if seeded:
            how += f", seeded {seeded:,} lines"
        return f"job {how}" if status == "NONE" else f"job was {status}; {how}"

    def _cancel(self) -> None:
        """Cancel the job this stage submitted last, if the cluster still runs it (best effort: a
        job it no longer knows has nothing to cancel). Two jobs must never read one inbox."""
        client = self.result.get_job_client() if self.result is not None else None
        if client is None:
            return
        try:
            client.cancel().result()
        except Exception:  # noqa: BLE001 - unknown to the cluster: already gone
            pass

    def _restore_point(self) -> str | None:
        """The newer of the savepoint of the last stop and the newest retained checkpoint — when
        they were taken by this :data:`~jobs.flink.sql.JOB_VERSION` of the job. Snapshots of
        another version cannot be restored (Flink would fail the job at every start): they are
        deleted, ``self.note`` says so, and the job starts afresh from the retained inbox, whose
        windows the committer replaces key by key (nothing doubled)."""
        import os
        import shutil

        from jobs.flink.sql import JOB_VERSION
        from jobs.flink.stream import latest_checkpoint

        kept = int(self.lake.read_json(VERSION)["version"]) if self.lake.exists(VERSION) else 1
        if kept != JOB_VERSION:
            had = self.lake.exists(SAVEPOINT) or (
                not self.lake.is_s3 and latest_checkpoint(self.config.checkpoints.removeprefix("file://")))
            if had:
                self.lake.delete(SAVEPOINT)
                if not self.lake.is_s3:
                    shutil.rmtree(self.config.checkpoints.removeprefix("file://"), ignore_errors=True)
                self.note = (f"snapshots of job version {kept} do not restore into version {JOB_VERSION}: "
                             "started afresh from the inbox")
            self.lake.write_json(VERSION, {"version": JOB_VERSION})
        points: list[tuple[float, str]] = []
        if self.lake.exists(SAVEPOINT):
            doc = self.lake.read_json(SAVEPOINT)
            points.append((float(doc["at"]), str(doc["path"])))
        if not self.lake.is_s3:
            chk = latest_checkpoint(self.config.checkpoints.removeprefix("file://"))
            if chk:
                points.append((os.path.getmtime(os.path.join(chk, "_metadata")), chk))
        return max(points)[1] if points else None

    def step(self) -> StepReport:
        note = self.ensure_running()
        rep = self.committer.step()
        self.late_repaired += rep.late_repaired
        detail = [note] if note else []
        if rep.note:  # e.g. the committer's repaired-buckets state was damaged: started without
            detail.append(rep.note)
        if rep.rows:
            detail.append(f"{rep.windows:,} windows, {rep.late_repaired:,} late buckets repaired")
        if rep.late_dropped:
            detail.append(f"{rep.late_dropped:,} lines later than the recompute window kept in raw only")
        error = note if note.startswith("job was") else ""
        return StepReport(self.name, records_in=rep.windows + rep.late, records_out=rep.rows + rep.cascade_rows,
                          watermark=rep.newest, detail="; ".join(detail), error=error)

    def close(self) -> StepReport | None:
        try:
            rep = self.committer.step()
        finally:
            detail = self._stop()
            self.committer.close()
        return StepReport(self.name, records_in=rep.windows + rep.late, records_out=rep.rows + rep.cascade_rows,
                          detail="; ".join(d for d in (rep.note, detail) if d))

    def _wait_rolled(self, timeout: float = 15.0) -> None:
        """Wait (bounded) until the sinks hold no unfinished part file with data: a part file still
        open at the stop was seen to lose its rows on resume in the mini-cluster, so the stop waits
        for the sinks to roll (after ``roll_seconds``) and the checkpoint to publish them."""
        from jobs.flink.committer import LATE, OUT

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            open_parts = [e for folder in (OUT, LATE) for e in self.lake.entries(folder)
                          if ".inprogress" in e.path and e.bytes > 0]
            if not open_parts:
                return
            time.sleep(0.2)

    def _stop(self) -> str:
        """Stop the job with a savepoint (the next start resumes from it). Cancelling instead
        would discard the part file the sink has open, whose windows have already fired."""
        client = self.result.get_job_client() if self.result is not None else None
        if client is None or self._status() in _ENDED:
            return "job not running"
        self._wait_rolled()
        try:
            from pyflink.java_gateway import get_gateway

            fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
            # pyflink 2.3's JobClient.stop_with_savepoint calls a Java overload that no longer exists
            path = str(client._j_job_client.stopWithSavepoint(False, self.config.savepoints, fmt).get())
        except Exception as exc:  # noqa: BLE001 - cancel after all; the retained checkpoint remains
            made = _SAVEPOINT_MADE.search(str(exc))
            if made is None:
                try:
                    client.cancel().result()
                except Exception:  # noqa: BLE001 - the job has ended on its own
                    pass
                return f"job cancelled, savepoint failed: {str(exc).splitlines()[0][:200]}"
            # the job failed while stopping, after its savepoint: Flink's own word is that the
            # savepoint is consistent and that a start from it commits what the sink left pending
            path = made.group(1)
        self.lake.write_json(SAVEPOINT, {"path": path, "at": time.time()})
        return f"job stopped with savepoint {path.rsplit('/', 1)[-1]}"
