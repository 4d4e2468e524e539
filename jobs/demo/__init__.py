"""The demo: run every pipeline stage on the committed sample data into a lake.

A stage is a function ``stage(demo: Demo) -> StageReport``: a typed report of what the jobs it ran
did, whose :meth:`StageReport.lines` is the summary printed for it. :data:`STAGES` lists the stages
in pipeline order as ``(title, "module:function")``; a new stage adds one line here.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import Settings
from pipeline.console import summary
from pipeline.lake import Lake

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

STAGES: list[tuple[str, str]] = [
    ("ingest", "jobs.demo.ingest:ingest_stage"),
    ("stream", "jobs.demo.ingest:stream_stage"),
    ("metric filters", "jobs.demo.metricfilter:metricfilter_stage"),
    ("rollups", "jobs.demo.rollup:rollup_stage"),
    ("anomalies", "jobs.demo.anomaly:anomaly_stage"),
    ("insights", "jobs.demo.anomaly:insights_stage"),
    ("alarms", "jobs.demo.alarm:alarm_stage"),
    ("detections", "jobs.demo.detect:detect_stage"),
    ("investigate", "jobs.demo.investigate:investigate_stage"),
]


class StageReport(Protocol):
    """What every stage returns: typed fields (for tests and callers) and the summary lines."""

    def lines(self) -> dict[str, object]: ...


@dataclass
class Demo:
    """Shared state of one demo run; stages may leave results in ``state`` for later stages."""

    lake: Lake
    settings: Settings
    sample_dir: Path = SAMPLE_DATA
    quiet: bool = False
    state: dict[str, Any] = field(default_factory=dict)


def _resolve(target: str) -> Callable[[Demo], StageReport]:
    module, _, func = target.partition(":")
    fn: Callable[[Demo], StageReport] = getattr(importlib.import_module(module), func)
    return fn


def run_demo(demo: Demo, only: list[str] | None = None) -> dict[str, StageReport]:
    """Run the stages in order and print a summary for each; returns every stage's report."""
    results: dict[str, StageReport] = {}
    for title, target in STAGES:
        if only and title not in only:
            continue
        if not demo.quiet:
            print(f"-- {title}: running", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        report = _resolve(target)(demo)
        lines = {**report.lines(), "time": f"{time.perf_counter() - t0:.1f} s"}
        summary(title, {k: str(v) for k, v in lines.items()})
        results[title] = report
    return results
