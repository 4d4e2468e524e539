"""``anomalies`` for ``watchlake run --engine flink``: a long-running Flink job scores every series.

The stage keeps one streaming job (:mod:`jobs.flink_anomaly`) running on the local mini-cluster
(by default a Python worker process scores, off the run process's interpreter) and does two
things per step:

1. **collect** — the scored windows the job's ``FileSink`` committed at its last checkpoints are
   upserted into ``anomalies`` (:func:`jobs.flink_anomaly_io.collect_windows`, keyed by series and
   time: exactly once in the table even when a restore replays windows) and each new episode
   becomes an alert through the same notify path as the DuckDB engine
   (:func:`jobs.anomaly_job.notify_anomalies`);
2. **feed** — the 1-minute points (``metrics_1m`` Average) newer than what each series was fed
   go into the job's inbox as one closed CSV file (hidden name, then rename), each strictly newer
   than the last: the job reads them in that order however many one scan of the inbox finds
   (:mod:`jobs.flink_anomaly_source`), so a backlog after a restart makes no point late.

Where things live (``work_dir``, by default ``<lake>/_state/flink-anomaly`` for a local lake):
``inbox/``, ``out/`` (committed part files not yet collected), ``checkpoints/`` and
``savepoints/`` (retained; a restart resumes from the newest, detector state and source position
included) and ``feed.json`` (per series: its labels and the newest time fed).

Consumed inbox files are deleted once the newest retained checkpoint is ``INBOX_RETENTION_S``
newer than they are (the source read them long before; its checkpointed state is the newest
modification time it has read, so it does not grow with the files).

Event time: a point is scored when the watermark (newest point fed − ``lateness_s``) passes the
end of its ``window_s`` window. A point older than that when it would be fed — a late 1-minute
update, or the history of a series first seen after the watermark passed it — cannot be windowed
any more; it is not fed. A point the job itself finds behind its watermark is passed through
unscored. Both are rejected, never dropped silently: counted in the step report's ``rejected``
and kept with their reason in ``errors/anomalies/`` (:func:`jobs.flink_anomaly_io.reject_points`).
Over a run, the points fed = scored + behind the watermark + duplicates not rescored.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.follow import Schedule
from jobs.run.health import NAMESPACE as PIPELINE_NAMESPACE
from jobs.run.stage import StepReport
from pipeline.anomaly import DEFAULT_DETECTOR
from pipeline.timeutil import from_epoch, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

TABLE, STAT = "metrics_1m", "Average"
INBOX_RETENTION_S = 3600


def latest_snapshot(work: Path) -> str | None:
    """The newest retained checkpoint or savepoint under ``work`` (a ``file://`` URI), if any."""
    found = [m for sub in ("checkpoints", "savepoints") for m in (work / sub).glob("**/_metadata")]
    if not found:
        return None
    return max(found, key=lambda m: m.stat().st_mtime).parent.resolve().as_uri()


def _savepoint_then_cancel(client: Any, directory: str) -> str:
    """Take a canonical savepoint of the running job in ``directory``, then cancel the job; returns
    the savepoint's path.

    Not Flink's stop-with-savepoint: that stops the file monitor first (its ``cancel`` sets the
    newest modification time it has read to the maximum) and snapshots it afterwards, so a job
    resumed from such a savepoint never reads another file. A savepoint taken while the job runs
    holds the real position; what the job commits between it and the cancel is committed again
    after the resume, and upserted by key (nothing doubles in ``anomalies``)."""
    from pyflink.common.completable_future import CompletableFuture
    from pyflink.java_gateway import get_gateway

    fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    path = str(CompletableFuture(client._j_job_client.triggerSavepoint(directory, fmt), str).result())
    client.cancel().result()
    return path


class FlinkAnomalyStage:
    """The ``anomalies`` stage on Flink (see the module docstring)."""

    name = "anomalies"
    ALERT_HORIZON = timedelta(hours=1)

    def __init__(self, lake: Lake, settings: Settings, *, work_dir: str | Path | None = None,
                 detector: str = DEFAULT_DETECTOR, window_s: int = 300, lateness_s: int = 120,
                 monitor_s: float = 1.0, checkpoint_ms: int = 2000, parallelism: int = 2,
                 workers: str = "process") -> None:
        from jobs.anomaly_job import job_key

        self.lake, self.topic = lake, settings.run.anomaly_topic
        self.threshold = settings.run.anomaly_threshold
        self.schedule = Schedule(settings.run.anomaly_seconds)
        self.detector, self.window_s, self.lateness_s = detector, window_s, lateness_s
        self.monitor_s, self.checkpoint_ms = monitor_s, checkpoint_ms
        self.parallelism, self.workers = parallelism, workers
        self.key = job_key(detector, TABLE, STAT) + "-flink"
        if work_dir is None:
            work_dir = (Path(lake.base) / "_state" / "flink-anomaly" if not lake.is_s3
                        else Path(tempfile.gettempdir()) / "watchlake-flink-anomaly" / lake.base.replace("/", "_"))
        self.work = Path(work_dir)
        self.inbox, self.out = self.work / "inbox", self.work / "out"
        self.feed_path = self.work / "feed.json"
        self.feed: dict[str, Any] = {}
        self.client: Any = None
        self.started_from: str | None = None
        self.note = ""  # why the last start did not resume (see _drop_foreign_snapshots)

    # -- the job ---------------------------------------------------------------------------------
    def _load_feed(self) -> dict[str, Any]:
        if self.feed_path.exists():
            return dict(json.loads(self.feed_path.read_text()))
        return {"seq": 0, "fed_max": -1, "series": {}}

    def _save_feed(self) -> None:
        tmp = self.feed_path.with_name(".feed.json.tmp")
        tmp.write_text(json.dumps(self.feed))
        os.replace(tmp, self.feed_path)

    def _start(self) -> None:
        from jobs.flink_anomaly import build, configure

        self.work.mkdir(parents=True, exist_ok=True)
        self._drop_foreign_snapshots()
        restore = latest_snapshot(self.work)
        if restore is None:  # no detector state to resume: start over from the first point
            shutil.rmtree(self.inbox, ignore_errors=True)
            self.feed_path.unlink(missing_ok=True)
        self.feed = self._load_feed()
        self.inbox.mkdir(parents=True, exist_ok=True)
        env, t_env = configure(self.parallelism, checkpoint_dir=str(self.work / "checkpoints"),
                               checkpoint_ms=self.checkpoint_ms, restore=restore, workers=self.workers)
        build(env, t_env, str(self.inbox), str(self.out), detector=self.detector,
              threshold=self.threshold, window_s=self.window_s, lateness_s=self.lateness_s,
              monitor_s=self.monitor_s)
        self.client = env.execute_async("watchlake-anomalies")
        self.started_from = restore

    def _drop_foreign_snapshots(self) -> None:
        """Delete retained snapshots taken by another :data:`~jobs.flink_anomaly.JOB_VERSION` of
        the job (Flink cannot restore them and would fail every start); the job then scores every
        series from its first point again (upserted by key: nothing doubled) and ``self.note`` says
        why."""
        from jobs.flink_anomaly import JOB_VERSION

        marker = self.work / "job_version"
        kept = int(marker.read_text()) if marker.exists() else 1
        if kept != JOB_VERSION:
            if latest_snapshot(self.work) is not None:
                for sub in ("checkpoints", "savepoints"):
                    shutil.rmtree(self.work / sub, ignore_errors=True)
                self.note = (f"snapshots of job version {kept} do not restore into version {JOB_VERSION}: "
                             "scoring from the first point again")
            marker.write_text(str(JOB_VERSION))

    def _running(self) -> str:
        """'' while the job runs, else its terminal status (the job is then forgotten)."""
        status = str(self.client.get_job_status().result())
        if status.endswith(("FAILED", "CANCELED", "FINISHED")):
            self.client = None
            return status
        return ""

    # -- one step --------------------------------------------------------------------------------
    def step(self) -> StepReport:
        t0 = time.perf_counter()
        error = ""
        if self.client is not None and (status := self._running()):
            error = f"the Flink job ended ({status}); restarted from its newest checkpoint"
        started = ""
        if self.client is None:
            self._start()
            started, self.note = self.note, ""
        got = self._collect()
        sent = self._notify(got)
        fed, late = self._feed()
        self.retire_inbox()
        behind, broke = len(got.behind), len(got.result.rejected)
        detail = (f"{len(self.feed['series'])} series, {got.result.points} points scored"
                  + (f", {got.late} duplicates not rescored" if got.late else "")
                  + (f", {late} late points not fed" if late else "")
                  + (f", {behind} points behind the job's watermark not scored" if behind else "")
                  + (f", {broke} points the detector raised on ({got.result.reset[0]})" if broke else "")
                  + (" (kept in errors/anomalies)" if late or behind or broke else ""))
        if not (fed or late or behind or broke or got.result.points):
            detail = ""
        return StepReport(self.name, records_in=fed, records_out=got.result.anomalies, rejected=late + behind + broke,
                          notifications=sent, error=error,
                          watermark=from_epoch(got.newest, "ms") if got.newest is not None else None,
                          detail="; ".join(filter(None, [started, detail])),
                          seconds=time.perf_counter() - t0)

    def _collect(self) -> Any:
        from jobs.anomaly_lake import SeriesData
        from jobs.flink_anomaly_io import collect_windows

        meta = {sid: SeriesData(sid, m["namespace"], m["metric_name"], m["dimensions"], m["unit"],
                                int(m["period"])) for sid, m in self.feed.get("series", {}).items()}
        return collect_windows(self.lake, self.out, meta, key=self.key, stat=STAT, detector=self.detector)

    def _notify(self, got: Any) -> int:
        from jobs.anomaly_job import notify_anomalies

        res = got.result
        oldest = utcnow() - self.ALERT_HORIZON
        res.episodes = [e for e in res.episodes
                        if e.at >= oldest and e.series.namespace != PIPELINE_NAMESPACE]
        return notify_anomalies(self.lake, self.topic, res) if self.topic and res.episodes else 0

    def _feed(self) -> tuple[int, int]:
        """Write the new points into the inbox; returns (points fed, late points not fed — kept in
        ``errors/anomalies/`` before the feed state moves past them)."""
        from jobs.anomaly_lake import read_series
        from jobs.flink_anomaly_io import reject_points, write_inbox

        known: dict[str, Any] = self.feed["series"]
        after = {sid: int(m["last"]) for sid, m in known.items()}
        fed_max = int(self.feed["fed_max"])
        not_before = fed_max - 1000 * self.lateness_s if fed_max >= 0 else None
        series = list(read_series(self.lake, TABLE, STAT))
        late: list[tuple[str, int, float, str]] = []
        if not_before is not None:
            why = (f"older than the Flink anomaly job's watermark when first seen (newest point fed − "
                   f"{self.lateness_s} s): its window had closed, so it was not fed")
            for sd in series:
                floor = after.get(sd.series_id, -1)
                late.extend((sd.series_id, t_ms, v, why) for t, v in zip(sd.times, sd.values, strict=True)
                            if floor < (t_ms := int(round(t * 1000))) < not_before)
        reject_points(self.lake, late)
        fed = write_inbox(self.inbox, series, seq=int(self.feed["seq"]), after=after, not_before=not_before)
        for sd in series:
            m = known.setdefault(sd.series_id, {
                "namespace": sd.namespace, "metric_name": sd.metric_name,
                "dimensions": sd.dimensions, "unit": sd.unit, "period": sd.period, "last": -1})
            newest = int(round(sd.times[-1] * 1000)) if sd.times else -1
            m["last"] = max(int(m["last"]), newest)  # late points count once, as rejected
        if fed.path is not None:
            self.feed["seq"] = int(self.feed["seq"]) + 1
            self.feed["fed_max"] = max(fed_max, *fed.last.values())
        self._save_feed()
        return fed.points, len(late)

    def retire_inbox(self) -> int:
        """Delete the inbox files older than the newest retained checkpoint (or savepoint) by
        :data:`INBOX_RETENTION_S`; returns how many."""
        found = [m for sub in ("checkpoints", "savepoints") for m in (self.work / sub).glob("**/_metadata")]
        if not found or not self.inbox.is_dir():
            return 0
        cut = max(m.stat().st_mtime for m in found) - INBOX_RETENTION_S
        old = [f for f in self.inbox.iterdir() if f.name.endswith(".csv") and f.stat().st_mtime < cut]
        for f in old:
            f.unlink(missing_ok=True)
        return len(old)

    # -- shutdown --------------------------------------------------------------------------------
    def close(self) -> StepReport | None:
        """Stop the job with a savepoint (the next start resumes from it) and collect its last
        committed windows."""
        if self.client is None:
            return None
        try:
            _savepoint_then_cancel(self.client, (self.work / "savepoints").resolve().as_uri())
        except Exception as exc:  # noqa: BLE001 - a failed stop still leaves the newest checkpoint
            err = f"savepoint failed ({exc}); the next start resumes from the newest checkpoint"
            try:
                self.client.cancel().result()
            except Exception:  # noqa: BLE001
                pass
        else:
            err = ""
        self.client = None
        got = self._collect()
        sent = self._notify(got)
        behind = f", {len(got.behind)} behind the job's watermark not scored" if got.behind else ""
        behind += f", {len(got.result.rejected)} the detector raised on" if got.result.rejected else ""
        return StepReport(self.name, records_out=got.result.anomalies,
                          rejected=len(got.behind) + len(got.result.rejected),
                          notifications=sent, error=err,
                          detail=f"stopped; {got.result.points} points scored in the last windows{behind}")
