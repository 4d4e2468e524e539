"""The demo: run every pipeline stage on the committed sample data into a lake.

A stage is a function ``stage(demo: Demo) -> dict[str, object]`` returning the lines of its
summary; :data:`STAGES` lists them in pipeline order as ``(title, "module:function")``. Each
issue that adds a stage adds one line here.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.console import summary
from pipeline.lake import Lake

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

STAGES: list[tuple[str, str]] = [
    ("ingest", "jobs.demo.ingest:ingest_stage"),
    ("stream", "jobs.demo.ingest:stream_stage"),
    ("rollups", "jobs.demo.rollup:rollup_stage"),
    ("anomalies", "jobs.demo.anomaly:anomaly_stage"),
    ("insights", "jobs.demo.anomaly:insights_stage"),
    ("alarms", "jobs.demo.alarm:alarm_stage"),
    ("detections", "jobs.demo.detect:detect_stage"),
    ("investigate", "jobs.demo.investigate:investigate_stage"),
]


@dataclass
class Demo:
    """Shared state of one demo run; stages may leave results in ``state`` for later stages."""

    lake: Lake
    settings: Settings
    sample_dir: Path = SAMPLE_DATA
    quiet: bool = False
    state: dict[str, Any] = field(default_factory=dict)


def _resolve(target: str) -> Callable[[Demo], dict[str, Any]]:
    module, _, func = target.partition(":")
    fn: Callable[[Demo], dict[str, Any]] = getattr(importlib.import_module(module), func)
    return fn


def run_demo(demo: Demo, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the stages in order and print a summary for each; returns every stage's summary."""
    results: dict[str, dict[str, Any]] = {}
    for title, target in STAGES:
        if only and title not in only:
            continue
        if not demo.quiet:
            print(f"-- {title}: running", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        lines = _resolve(target)(demo)
        lines = {**lines, "time": f"{time.perf_counter() - t0:.1f} s"}
        summary(title, {k: str(v) for k, v in lines.items()})
        results[title] = lines
    return results
