"""The rollup job: raw metrics and CloudTrail activity → 1m → 5m → 1h, with either engine.

``watchlake rollup [--engine duckdb|flink] [--full]`` calls :func:`rollup`. The work itself
(which partitions, the recompute window, atomic rewrites) is :mod:`pipeline.rollup.runner`;
this module picks the engine and turns the report into summary lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.errors import require
from pipeline.rollup.engine import DuckDBEngine, Engine
from pipeline.rollup.runner import RollupReport, run_rollups

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake

ENGINES = ("duckdb", "flink")


def make_engine(name: str, *, parallelism: int = 1, flink_mode: str = "streaming") -> Engine:
    """A rollup engine by name (``duckdb`` or ``flink``)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "flink":
        require("pyflink", "flink", "the Flink rollup engine")
        from jobs.flink_rollup import FlinkEngine

        return FlinkEngine(parallelism=parallelism, mode=flink_mode)
    from pipeline.errors import ConfigError

    raise ConfigError("engine", f"unknown rollup engine (known: {', '.join(ENGINES)})", name)


def rollup(lake: Lake, settings: Settings, engine: str | Engine = "duckdb", *, full: bool = False,
           parallelism: int = 1, flink_mode: str = "streaming",
           progress: Callable[[str], None] | None = None) -> RollupReport:
    """Run every rollup job once with the named engine (or an engine instance)."""
    eng = make_engine(engine, parallelism=parallelism, flink_mode=flink_mode) if isinstance(engine, str) else engine
    try:
        return run_rollups(lake, settings, eng, full=full, progress=progress)
    finally:
        if isinstance(engine, str):
            eng.close()
