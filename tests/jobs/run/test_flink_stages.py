"""``run.engine = "flink"`` (``watchlake run --engine flink``) puts the Flink stages in the rollup's and the
anomaly stage's places."""

from __future__ import annotations

import pytest

from jobs.run import build_stages
from jobs.run.flink_anomaly_stage import FlinkAnomalyStage
from jobs.run.flink_stages import FlinkRollupStage
from jobs.run.stages import AnomalyStage, RollupStage
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.lake import Lake


def _stage(tmp_path, engine: str, name: str = "rollup"):
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake"), "run.engine": engine,
                                                "stream.root": str(tmp_path / "streams")})
    stages = [s for s in build_stages(Lake.from_settings(settings), settings) if s.name == name]
    assert len(stages) == 1
    return stages[0]


def test_engine_picks_the_rollup_stage(tmp_path):
    assert isinstance(_stage(tmp_path, "duckdb"), RollupStage)
    stage = _stage(tmp_path, "flink")
    assert isinstance(stage, FlinkRollupStage) and stage.address is None
    assert stage.config.inbox.endswith("/_flink/inbox/metrics") and stage.config.inbox.startswith("file://")


def test_engine_picks_the_anomaly_stage(tmp_path):
    assert isinstance(_stage(tmp_path, "duckdb", "anomalies"), AnomalyStage)
    stage = _stage(tmp_path, "flink", "anomalies")
    assert isinstance(stage, FlinkAnomalyStage) and stage.client is None  # the job starts at the first step
    assert stage.work == tmp_path / "lake" / "_state" / "flink-anomaly"


def test_an_unknown_engine_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="run.engine"):
        load_settings(env={}, overrides={"lake.root": str(tmp_path), "run.engine": "spark"})
