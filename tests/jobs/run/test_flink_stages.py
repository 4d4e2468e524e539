"""``run.engine = "flink"`` (``watchlake run --engine flink``) puts the Flink stage in the rollup's place."""

from __future__ import annotations

import pytest

from jobs.run import build_stages
from jobs.run.flink_stages import FlinkRollupStage
from jobs.run.stages import RollupStage
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.lake import Lake


def _rollup(tmp_path, engine: str):
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake"), "run.engine": engine,
                                                "stream.root": str(tmp_path / "streams")})
    stages = [s for s in build_stages(Lake.from_settings(settings), settings) if s.name == "rollup"]
    assert len(stages) == 1
    return stages[0]


def test_engine_picks_the_rollup_stage(tmp_path):
    assert isinstance(_rollup(tmp_path, "duckdb"), RollupStage)
    stage = _rollup(tmp_path, "flink")
    assert isinstance(stage, FlinkRollupStage) and stage.address is None
    assert stage.config.inbox.endswith("/_flink/inbox/metrics") and stage.config.inbox.startswith("file://")


def test_an_unknown_engine_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="run.engine"):
        load_settings(env={}, overrides={"lake.root": str(tmp_path), "run.engine": "spark"})
