"""``watchlake run``: the always-on monitoring pipeline.

With no configuration it follows every local stream under ``stream.root`` and runs every stage
incrementally — load (Firehose-like, routed by content) → detections → rollups → alarms →
anomalies → CloudTrail Insights → retention → compaction — with the alarms, rules and topics
defined for the lake. ``[run]`` (:class:`pipeline.config.RunSettings`) adds sources, turns stages
off, sets how often each runs and where anomaly alerts and findings are published.

The pieces: :mod:`jobs.run.stage` (the step protocol), :mod:`jobs.run.sources` and
:mod:`jobs.run.stages` (one adapter per job), :mod:`jobs.run.supervisor` (the loop, error
isolation, drain) and :mod:`jobs.run.health` (status file and ``Watchlake/Pipeline`` metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from jobs.follow import Stop
from jobs.run.health import STATUS_PATH, Health
from jobs.run.stage import Stage, StepReport
from jobs.run.supervisor import RunReport, Supervisor

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

__all__ = ["RunReport", "Stage", "StepReport", "STATUS_PATH", "build_stages", "run_pipeline"]


def build_stages(lake: Lake, settings: Settings) -> list[Stage]:
    """The enabled stages in pipeline order, built from ``settings.run`` (validated at load)."""
    from jobs.run import stages as st
    from jobs.run.sources import FolderStage, KinesisStage, StreamsStage

    run = settings.run
    out: list[Stage] = []
    if run.enabled("load"):
        out.append(StreamsStage(lake, settings))
        out += [KinesisStage(lake, settings, name) for name in run.kinesis_streams]
        out += [FolderStage(lake, settings, src) for src in run.sources]
    rollup: Callable[[Lake, Settings], Stage] = st.RollupStage
    anomalies: Callable[[Lake, Settings], Stage] = st.AnomalyStage
    if run.engine == "flink":  # the two stages that run as streaming Flink jobs
        from jobs.run.flink_anomaly_stage import FlinkAnomalyStage
        from jobs.run.flink_stages import FlinkRollupStage

        rollup, anomalies = FlinkRollupStage, FlinkAnomalyStage
    # detections right after the loader: a finding's latency is the load's buffer plus the match,
    # never a wait behind the rollup and anomaly steps of the same tick (those wait for a minute
    # to close anyway)
    factories: list[tuple[str, Callable[[Lake, Settings], Stage]]] = [
        ("detect", st.DetectStage), ("metricfilters", st.MetricFilterStage), ("rollup", rollup),
        ("alarms", st.AlarmStage), ("anomalies", anomalies),
        ("insights", st.InsightsStage), ("retention", st.RetentionStage), ("compact", st.CompactStage)]
    out += [make(lake, settings) for name, make in factories if run.enabled(name)]
    return out


def run_pipeline(lake: Lake, settings: Settings, stop: Stop, *, iterations: int | None = None,
                 log: Callable[[str], None] | None = None, health_interval: float = 10.0) -> RunReport:
    """Run every enabled stage until ``stop`` is set (or for ``iterations`` supervisor ticks), then
    drain; returns what each stage did."""
    stages = build_stages(lake, settings)
    health = Health(lake, settings, interval=health_interval)
    return Supervisor(stages, health, log=log).run(stop, iterations=iterations)
