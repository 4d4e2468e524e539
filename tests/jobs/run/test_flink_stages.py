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


def _fake_snapshot(folder):
    chk = folder / "0123abcd" / "chk-7"
    chk.mkdir(parents=True)
    (chk / "_metadata").write_bytes(b"x")
    return chk


def test_a_snapshot_of_another_job_version_is_not_restored(tmp_path):
    """A checkpoint/savepoint left by an older layout of the rollup job would fail every start:
    the stage drops it, says why once, and starts afresh; snapshots of this version resume."""
    from pathlib import Path

    from jobs.flink.sql import JOB_VERSION
    from jobs.run.flink_stages import SAVEPOINT, VERSION

    stage = _stage(tmp_path, "flink")
    lake = stage.lake
    chk_root = Path(stage.config.checkpoints.removeprefix("file://"))
    old = _fake_snapshot(chk_root)
    lake.write_json(SAVEPOINT, {"path": "file:///nowhere/savepoint-1", "at": 1.0})  # no version marker: v1

    assert stage._restore_point() is None
    assert not old.exists() and not lake.exists(SAVEPOINT)
    assert f"version 1 do not restore into version {JOB_VERSION}" in stage.note
    assert lake.read_json(VERSION) == {"version": JOB_VERSION}

    stage.note = ""
    new = _fake_snapshot(chk_root)
    assert stage._restore_point() == str(new)  # same version: resumed
    assert stage.note == ""


def test_the_anomaly_stage_drops_snapshots_of_another_job_version(tmp_path):
    from jobs.flink_anomaly import JOB_VERSION
    from jobs.run.flink_anomaly_stage import latest_snapshot

    stage = _stage(tmp_path, "flink", "anomalies")
    stage.work = tmp_path / "work"
    old = _fake_snapshot(tmp_path / "work" / "checkpoints")
    stage._drop_foreign_snapshots()
    assert not old.exists() and latest_snapshot(stage.work) is None
    assert "scoring from the first point again" in stage.note
    assert (stage.work / "job_version").read_text() == str(JOB_VERSION)

    stage.note = ""
    new = _fake_snapshot(tmp_path / "work" / "savepoints")
    stage._drop_foreign_snapshots()
    assert new.exists() and stage.note == ""


class _Answer:
    def __init__(self, value):
        self.value = value

    def result(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class _Client:
    """A job client whose status queries fail ``fails`` times (a busy JobManager), then answer."""

    def __init__(self, fails, status="JobStatus.RUNNING"):
        self.fails, self.status, self.cancelled = fails, status, 0

    def get_job_status(self):
        if self.fails:
            self.fails -= 1
            return _Answer(TimeoutError("status query timed out"))
        return _Answer(self.status)

    def cancel(self):
        self.cancelled += 1
        return _Answer(None)


class _Result:
    def __init__(self, client):
        self.client = client

    def get_job_client(self):
        return self.client


def test_a_failed_status_query_is_asked_again_before_a_second_job_starts(tmp_path, monkeypatch):
    """A status query that fails once is not a lost job (a second job on one inbox would double
    every window); one that keeps failing cancels the old job before the new one is submitted."""
    import jobs.flink.stream
    import jobs.run.flink_stages as fs

    monkeypatch.setattr(fs.time, "sleep", lambda s: None)
    submitted = []
    monkeypatch.setattr(jobs.flink.stream, "submit", lambda cfg, **kw: submitted.append(kw) or _Result(_Client(0)))
    stage = _stage(tmp_path, "flink")
    stage.result = _Result(_Client(fs.UNKNOWN_RETRIES))  # fails, fails, then RUNNING
    assert stage.ensure_running() == "" and submitted == []

    gone = _Client(10**6)  # never answers again
    stage.result = _Result(gone)
    note = stage.ensure_running()
    assert note.startswith("job was UNKNOWN; started") and gone.cancelled == 1 and len(submitted) == 1
    assert stage.ensure_running() == ""  # the new job answers: nothing more
