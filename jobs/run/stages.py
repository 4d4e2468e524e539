"""The stages of ``watchlake run``, each a thin adapter from a job to :class:`~jobs.run.stage.Stage`.

Every stage calls the same job the one-shot commands call (``load --from-stream``, ``rollup``,
``alarms evaluate``, ``anomalies detect --follow``, ``anomalies insights``, ``detect --follow``,
``retention apply``, ``compact``), so live and batch results are the same by construction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobs.follow import Schedule
from jobs.run.health import NAMESPACE as PIPELINE_NAMESPACE
from jobs.run.stage import StepReport
from pipeline.timeutil import utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake


class RollupStage:
    """``rollup``: one incremental step of the 1m/5m/1h tiers (:mod:`pipeline.rollup.incremental`):
    only the buckets the new raw files touch are recomputed (the first step on a lake without
    rollup state builds it whole)."""

    name = "rollup"
    DEFER_SECONDS = 60.0
    """How long the 5m/1h tiers may wait for an open source bucket to close (the 1m tier, which
    alarms read, never waits)."""
    LATE_SECONDS = 300.0
    """How long the 1m buckets of late data (older than the last three minutes) may wait to be
    recomputed together."""

    def __init__(self, lake: Lake, settings: Settings):
        from pipeline.rollup.engine import DuckDBEngine

        self.lake, self.settings = lake, settings
        self.engine = DuckDBEngine()
        self.schedule = Schedule(settings.run.rollup_seconds)

    def step(self) -> StepReport:
        from pipeline.rollup.runner import run_rollups

        rep = run_rollups(self.lake, self.settings, self.engine, defer_seconds=self.DEFER_SECONDS,
                          late_seconds=self.LATE_SECONDS)
        built = sum(len(j.built) for j in rep.jobs)
        late = sorted({f for j in rep.jobs for f in j.late})
        detail = [f"{built} partitions updated"] if built else []
        if late:
            detail.append(f"late data older than the recompute window skipped in {', '.join(late[:3])} (rollup --full)")
        return StepReport(self.name, records_out=sum(j.rows for j in rep.jobs), watermark=rep.clock,
                          detail="; ".join(detail))

    def close(self) -> StepReport | None:
        self.engine.close()
        return None


class AlarmStage:
    """``alarms``: every alarm evaluated as of now; actions run on state changes."""

    name = "alarms"

    def __init__(self, lake: Lake, settings: Settings):
        self.lake = lake
        self.schedule = Schedule(settings.run.alarm_seconds)

    def step(self) -> StepReport:
        from jobs.alarm_job import evaluate

        rep = evaluate(self.lake, utcnow())
        return StepReport(self.name, records_in=rep.alarms, records_out=len(rep.transitions),
                          notifications=rep.notifications,
                          error="; ".join(f"{n}: {m}" for n, m in rep.errors[:3]),
                          detail=", ".join(f"{t.alarm_name} → {t.new_state}" for t in rep.transitions))

    def close(self) -> StepReport | None:
        return None


class AnomalyStage:
    """``anomalies``: each new 1-minute point of every series scored (detector state checkpointed);
    the first flagged point of an episode is an anomaly alert on ``run.anomaly_topic`` when it is at
    most ``ALERT_HORIZON`` old (a first start scores all history to warm up, and alerts on none of
    it) and not about the pipeline's own metrics (their alarms watch those).

    A minute is scored once it has closed — once a newer minute is in ``metrics_1m`` (data arrives
    in time order): the newest minute is still filling, and a point, once scored, is never scored
    again, so a partial minute would hide an anomalous value that arrives later in it.

    A step reads only the tier files the rollups wrote since the last one (and those that still
    held the filling minute): its cost follows what changed, not the tier's history, and a step
    with nothing new costs a file listing, so the stage can run every few seconds. The checkpoint
    (:mod:`jobs.anomaly_checkpoint`) is kept in memory between steps and saved after each step that
    scored points — after the rows are committed and the alerts published, so a SIGKILL at any
    moment neither skips nor double-scores a point, and an alert is never lost nor sent twice."""

    name = "anomalies"
    ALERT_HORIZON = timedelta(hours=1)

    def __init__(self, lake: Lake, settings: Settings):
        self.lake, self.topic = lake, settings.run.anomaly_topic
        self.threshold = settings.run.anomaly_threshold
        self.schedule = Schedule(settings.run.anomaly_seconds)
        self._state: Any = None  # the checkpoint (loaded at the first step)
        self._scored_to: datetime | None = None
        self._sent = 0

    def _notify(self, res: Any) -> None:
        from jobs.anomaly_job import notify_anomalies

        oldest = utcnow() - self.ALERT_HORIZON
        res.episodes = [e for e in res.episodes if e.at >= oldest and e.series.namespace != PIPELINE_NAMESPACE]
        self._sent = notify_anomalies(self.lake, self.topic, res) if self.topic and res.episodes else 0

    def step(self) -> StepReport:
        from jobs.anomaly_job import detect

        self._sent = 0
        res = detect(self.lake, table="metrics_1m", stat="Average", threshold=self.threshold, closed_only=True,
                     state=self._state, before_save=self._notify)
        self._state = res.checkpoint
        if not res.read_files:
            return StepReport(self.name, watermark=self._scored_to, detail="no new minute")
        if res.scored_to is not None and (self._scored_to is None or res.scored_to > self._scored_to):
            self._scored_to = res.scored_to
        return StepReport(self.name, records_in=res.points + len(res.rejected), records_out=res.anomalies,
                          rejected=len(res.rejected), notifications=self._sent,
                          watermark=self._scored_to,
                          detail=f"{res.series} series, {res.rows_read} rows of {res.read_files} files read"
                          + (f"; {len(res.rejected)} points rejected (the detector raised; errors/anomalies/)"
                             if res.rejected else "")
                          + (f"; {len(res.reset)} detectors started afresh ({res.reset[0]})" if res.reset else ""))

    def close(self) -> StepReport | None:
        return None


class InsightsStage:
    """``insights``: CloudTrail Insights over the last day of events."""

    name = "insights"

    def __init__(self, lake: Lake, settings: Settings, window: timedelta = timedelta(days=1)):
        self.lake, self.window = lake, window
        self.schedule = Schedule(settings.run.insights_seconds)

    def step(self) -> StepReport:
        from pipeline.anomaly.insights import run_insights
        from pipeline.query import catalog

        extent = catalog.table_extent(self.lake, "cloudtrail")
        if extent is None:
            return StepReport(self.name, detail="no CloudTrail yet")
        res = run_insights(self.lake, start=extent[1] - self.window)
        return StepReport(self.name, records_in=res.events, records_out=len(res.insights), watermark=extent[1])

    def close(self) -> StepReport | None:
        return None


class DetectStage:
    """``detect``: the rules over every CloudTrail file committed since the run first started (its
    checkpoint resumes after a restart; history is for ``watchlake detect``); findings that are new
    or grew go to ``run.findings_topic``."""

    name = "detect"
    urgent = True  # the supervisor runs it between other stages' steps when due

    def __init__(self, lake: Lake, settings: Settings):
        from jobs.detect_job import Follower
        from pipeline.detections.rules import BUNDLED, load_rules

        ruleset = load_rules(*(settings.run.rules or [str(BUNDLED)]))
        self.problems = ruleset.problems
        self.follower = Follower(lake, ruleset.rules, from_start=False,
                                 notify_topic=settings.run.findings_topic or None)
        self.topic = settings.run.findings_topic
        self.schedule = Schedule(settings.run.detect_seconds)

    def step(self) -> StepReport:
        rep = self.follower.poll()
        held = self.follower.open.size()  # what the follower keeps between polls (bounded: pipeline.detections.live)
        return StepReport(self.name, records_in=rep.events, records_out=len(rep.changed), notifications=rep.notified,
                          error="; ".join(rep.notify_errors[:3]),
                          detail=f"held: {held['open_findings']} open findings ({held['event_ids']} ids), "
                                 f"{held['window_matches']} window matches")

    def close(self) -> StepReport | None:
        return None


class MetricFilterStage:
    """``metricfilters``: the lake's CloudWatch Logs metric filters over every ``logs`` file
    committed since the run first started (:class:`pipeline.metricfilters.apply.FilterFollower`:
    checkpointed, each event once, compactions included); the datapoints go to ``metrics`` before
    the rollup stage of the same round reads them."""

    name = "metricfilters"

    def __init__(self, lake: Lake, settings: Settings):
        from pipeline.metricfilters.apply import FilterFollower

        self.follower = FilterFollower(lake)
        self.schedule = Schedule(settings.run.metricfilter_seconds)

    def step(self) -> StepReport:
        rep = self.follower.poll()
        detail = f"{rep.matched:,} events matched, {rep.no_value:,} without a value" if rep.events else ""
        if self.follower.recovered:
            detail = f"{detail}; an unfinished step's {self.follower.recovered} files removed".lstrip("; ")
            self.follower.recovered = 0
        return StepReport(self.name, records_in=rep.events, records_out=rep.datapoints, detail=detail,
                          warnings=list(rep.disabled))

    def close(self) -> StepReport | None:
        return None


class RetentionStage:
    """``retention``: expired partitions of raw metrics and every tier dropped, daily."""

    name = "retention"

    def __init__(self, lake: Lake, settings: Settings):
        self.lake, self.settings = lake, settings
        self.schedule = Schedule(settings.run.retention_seconds)

    def step(self) -> StepReport:
        from jobs.retention import retention

        rep = retention(self.lake, self.settings)
        return StepReport(self.name, records_out=len(rep.dropped), detail=f"{len(rep.kept)} kept (not rolled up)")

    def close(self) -> StepReport | None:
        return None


class CompactStage:
    """``compact``: small files of the raw tables merged per partition."""

    name = "compact"
    TABLES = ["cloudtrail", "metrics", "logs", "records"]

    def __init__(self, lake: Lake, settings: Settings):
        self.lake = lake
        self.schedule = Schedule(settings.run.compact_seconds)

    def step(self) -> StepReport:
        from pipeline.loader.compact import compact

        s = compact(self.lake, self.TABLES)
        return StepReport(self.name, records_in=s.files_in, records_out=s.files_out,
                          detail=f"{s.compacted} partitions compacted")

    def close(self) -> StepReport | None:
        return None

