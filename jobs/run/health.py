"""The pipeline watches itself: per-stage health, ``_state/run/status.json`` and the
``Watchlake/Pipeline`` metrics.

Every step report is booked here. :meth:`Health.flush` (called after each supervisor tick, at
most every ``interval`` seconds) writes

* ``_state/run/status.json`` — the process (pid, start, heartbeat, memory: RSS, heap in use and
  free, Arrow's pool — :func:`jobs.run.memory.snapshot`) and, per stage, its last step, lag,
  failures and totals: what ``watchlake status`` prints;
* one PutMetricData-shaped batch of datapoints in namespace ``Watchlake/Pipeline`` with dimension
  ``Stage`` — ``RecordsIn``, ``RecordsOut``, ``Rejected``, ``Notifications``, ``Errors``
  (Count), ``BatchDuration`` and ``Lag`` (Seconds) — plus ``PendingNotifications`` (the SNS-like
  outbox), loaded into ``raw/metrics`` like any metric, so the same rollups, alarms and
  dashboards cover the pipeline (as Firehose and Managed Flink publish CloudWatch metrics).

Lag of a stage: 0 while its steps end caught up; otherwise the seconds since the first step that
ended with input left over (the age of its oldest unprocessed input, to the step interval).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.run import memory
from jobs.run.stage import StepReport
from pipeline.timeutil import from_epoch, iso, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

STATUS_PATH = "_state/run/status.json"
NAMESPACE = "Watchlake/Pipeline"


@dataclass
class StageHealth:
    """The running totals and the latest step of one stage."""

    steps: int = 0
    errors: int = 0
    records_in: int = 0
    records_out: int = 0
    rejected: int = 0
    notifications: int = 0
    behind_since: float | None = None
    failures: int = 0
    next_due: float = 0.0
    last: StepReport | None = None
    window: list[StepReport] = field(default_factory=list)  # steps since the last metrics flush

    def lag(self, now: float) -> float:
        return 0.0 if self.behind_since is None else max(0.0, now - self.behind_since)


class Health:
    """Books step reports; writes the status file and the self-metrics (module docstring)."""

    def __init__(self, lake: Lake, settings: Settings, *, interval: float = 10.0, metrics: bool = True):
        self.lake, self.settings, self.interval = lake, settings, interval
        self.stages: dict[str, StageHealth] = {}
        self.started = utcnow().timestamp()
        self._last_flush = 0.0
        self._seq = 0
        self._loader: Any = None
        if metrics:
            from pipeline.config import LoaderSettings
            from pipeline.loader import Loader

            # its own loader, flushing once a minute: self-metrics need no sub-minute delivery
            self._loader = Loader(lake, LoaderSettings(buffer_mib=1, buffer_seconds=60))

    def record(self, rep: StepReport, *, failures: int, next_due: float) -> None:
        """Book one step (or a drain) of ``rep.stage``."""
        h = self.stages.setdefault(rep.stage, StageHealth())
        now = utcnow().timestamp()
        h.steps += 1
        h.errors += bool(rep.error)
        h.records_in += rep.records_in
        h.records_out += rep.records_out
        h.rejected += rep.rejected
        h.notifications += rep.notifications
        if rep.error:
            pass  # a failed step says nothing about the backlog
        elif rep.backlog:
            h.behind_since = h.behind_since or (now - rep.seconds)
        else:
            h.behind_since = None
        h.failures, h.next_due, h.last = failures, next_due, rep
        h.window.append(rep)

    def flush(self, now: float, *, final: bool = False) -> None:
        """Write the status file and the self-metrics when ``interval`` has passed (or ``final``)."""
        if not final and now - self._last_flush < self.interval:
            return
        self._last_flush = now
        self.lake.write_json(STATUS_PATH, self.status(now, final=final))
        if self._loader is not None:
            self._put_metrics(now)
            if final:
                self._loader.close()

    def status(self, now: float, *, final: bool = False) -> dict[str, Any]:
        """The document ``watchlake status`` reads."""
        stages: dict[str, Any] = {}
        for name, h in self.stages.items():
            last = h.last
            stages[name] = {
                "steps": h.steps, "errors": h.errors, "failures_in_a_row": h.failures,
                "records_in": h.records_in, "records_out": h.records_out, "rejected": h.rejected,
                "notifications": h.notifications, "lag_seconds": round(h.lag(now), 3),
                "next_run": iso(from_epoch(h.next_due, "s")) if h.next_due else None,
                "last_step": None if last is None else {
                    "seconds": round(last.seconds, 4), "records_in": last.records_in,
                    "records_out": last.records_out, "backlog": last.backlog, "error": last.error,
                    "detail": last.detail,
                    "watermark": iso(last.watermark) if isinstance(last.watermark, datetime) else None},
            }
        return {"pid": os.getpid(), "started": iso(from_epoch(self.started, "s")),
                "heartbeat": iso(from_epoch(now, "s")), "state": "stopped" if final else "running",
                "pending_notifications": self._pending(), "memory": memory.snapshot(), "stages": stages}

    def _pending(self) -> int:
        from pipeline.notify import OUTBOX_PATH

        try:
            return len(self.lake.read_json(OUTBOX_PATH)) if self.lake.exists(OUTBOX_PATH) else 0
        except (OSError, ValueError):
            return 0

    def _put_metrics(self, now: float) -> None:
        import orjson

        from pipeline.sources.locations import Decoded, Unit
        from pipeline.sources.metrics_files import read_unit

        stamp = iso(from_epoch(now, "s"))
        data: list[dict[str, Any]] = [{"MetricName": "PendingNotifications", "Timestamp": stamp,
                                       "Value": self._pending(), "Unit": "Count"}]
        for name, h in self.stages.items():
            dims = [{"Name": "Stage", "Value": name}]
            win, h.window = h.window, []
            counts = {"RecordsIn": sum(r.records_in for r in win), "RecordsOut": sum(r.records_out for r in win),
                      "Rejected": sum(r.rejected for r in win), "Notifications": sum(r.notifications for r in win),
                      "Errors": sum(1 for r in win if r.error)}
            data += [{"MetricName": k, "Dimensions": dims, "Timestamp": stamp, "Value": v, "Unit": "Count"}
                     for k, v in counts.items()]
            data.append({"MetricName": "Lag", "Dimensions": dims, "Timestamp": stamp, "Value": h.lag(now),
                         "Unit": "Seconds"})
            if win:
                secs = [r.seconds for r in win]
                data.append({"MetricName": "BatchDuration", "Dimensions": dims, "Timestamp": stamp, "Unit": "Seconds",
                             "StatisticValues": {"SampleCount": len(secs), "Sum": sum(secs),
                                                 "Minimum": min(secs), "Maximum": max(secs)}})
        body = orjson.dumps({"Namespace": NAMESPACE, "MetricData": data})
        self._seq += 1
        origin = f"watchlake-run:{int(self.started * 1000)}:{os.getpid()}:{self._seq}"
        unit = Unit(origin, len(body), lambda: body)
        for batch in read_unit(Decoded(unit, body, len(body)), {}):
            self._loader.add(batch)
        self._loader.tick()
