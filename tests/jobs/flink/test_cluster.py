"""The streaming rollup on a real standalone cluster (the scripts shipped in ``apache-flink``: a
JobManager and two TaskManagers on 127.0.0.1): one TaskManager is killed with SIGKILL mid-run and
restarted; then the job is stopped with a savepoint and resumed from it at another parallelism.
The lake's ``metrics_1m`` then equals the DuckDB engine on the same raw data — which the
mini-cluster test shows a run without failures produces. And late lines that the job reads first
after failing over from a checkpoint are repaired, as after a savepoint resume."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.flink.committer import FlinkCommitter
from jobs.flink.stream import StreamConfig, submit
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader import segments
from tests.jobs.flink.feed import Feeder, until
from tests.jobs.flink.test_stream import _duckdb, _same, _tier
from tests.jobs.test_flink_rollup import _metric_rows
from tests.pipeline.rollup.gen import T0

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def test_killed_taskmanager_and_savepoint_resume_keep_the_output_exact(tmp_path, cluster):
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    segments.enable(lake)
    rows = sorted((r for r in _metric_rows() if r["timestamp"] < T0 + timedelta(hours=3)), key=lambda r: r["timestamp"])
    edges = [T0 + timedelta(minutes=30 * k) for k in range(7)]
    batches = [[r for r in rows if edges[k] <= r["timestamp"] < edges[k + 1]] for k in range(6)]
    feed, committer = Feeder(lake), FlinkCommitter(lake, settings, segment_retention_seconds=-1)
    cfg = StreamConfig.for_lake(lake, parallelism=2, checkpoint_seconds=1.0)
    job = str(submit(cfg, remote=cluster.address).get_job_client().get_job_id())
    cluster.wait_running(job)
    for b in batches[:2]:
        feed.commit(b)
    until(lambda: cluster.checkpoints(job) >= 3, 60, "no checkpoints")
    committer.step(cascade=False)
    cluster.kill_taskmanager(0)                             # kill -9 mid-run
    for b in batches[2:4]:
        feed.commit(b)
    cluster.restart_taskmanager(0)
    cluster.wait_taskmanagers(2)
    until(lambda: cluster.failures(job) >= 1, 60, "the kill did not fail the job")
    until(lambda: cluster.job_state(job)[0] == "RUNNING" and cluster.checkpoints(job) >= 6, 120, "no recovery")
    committer.step(cascade=False)
    savepoint = cluster.stop_with_savepoint(job, cfg.savepoints)
    for b in batches[4:]:
        feed.commit(b)                                      # arrives while the job is stopped
    job = str(submit(cfg.with_(parallelism=1), restore=savepoint, remote=cluster.address)
              .get_job_client().get_job_id())               # the upgrade: another parallelism
    cluster.wait_running(job)
    newest = max(r["timestamp"] for r in rows)
    end = T0 + timedelta(seconds=(int((newest - T0).total_seconds()) - 60) // 60 * 60)
    want = _duckdb(lake, end)
    got: list = []

    def done() -> bool:
        nonlocal got
        committer.step(cascade=False)
        got = _tier(lake, int(end.timestamp() * 1000))
        return _same(got, want)

    try:
        until(done, 120, "output never equal")
    finally:
        assert _same(got, want), (len(got), len(want))


def test_late_lines_read_first_after_a_checkpoint_failover_are_repaired(tmp_path, cluster):
    """As ``test_stream.test_late_lines_read_first_after_a_restore_are_repaired``, but the restore
    is a failover from the job's last checkpoint (a TaskManager killed), not a savepoint resume:
    minutes 50-52 are committed while the job is down, after it had closed minute 120, and are the
    first lines the recovered job reads. Their buckets are recomputed through the late output
    (equal to DuckDB), not lost between the restored window and the late output."""
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    segments.enable(lake)
    rows = sorted((r for r in _metric_rows() if r["timestamp"] < T0 + timedelta(minutes=130)),
                  key=lambda r: r["timestamp"])
    late = [r for r in rows if T0 + timedelta(minutes=50) <= r["timestamp"] < T0 + timedelta(minutes=53)]
    on_time = [r for r in rows if r not in late]
    feed, committer = Feeder(lake), FlinkCommitter(lake, settings, segment_retention_seconds=-1)
    cfg = StreamConfig.for_lake(lake, parallelism=2, checkpoint_seconds=1.0)
    job = str(submit(cfg, remote=cluster.address).get_job_client().get_job_id())
    cluster.wait_running(job)
    assert feed.commit(on_time) == len(on_time)
    closed = int((T0 + timedelta(minutes=120)).timestamp() * 1000)    # the window has passed minute 120

    def published() -> bool:
        committer.step(cascade=False)
        return any(r[1] == closed for r in _tier(lake, closed + 60_000))

    until(published, 120, "minute 120 never arrived")
    seen = cluster.checkpoints(job)
    until(lambda: cluster.checkpoints(job) >= seen + 2, 60, "no checkpoint after minute 120")
    cluster.kill_taskmanager(0)                                       # kill -9: fail over from the checkpoint
    until(lambda: cluster.failures(job) >= 1, 60, "the kill did not fail the job")
    assert feed.commit(late) == len(late)                 # while the job is down: 70 minutes behind its watermark
    cluster.restart_taskmanager(0)
    cluster.wait_taskmanagers(2)
    end = T0 + timedelta(minutes=53)
    want = _duckdb(lake, end)
    assert len(want) == 2 * 53
    got: list = []
    repaired = 0

    def done() -> bool:
        nonlocal got, repaired
        rep = committer.step(cascade=False)
        repaired += rep.late_repaired
        got = _tier(lake, int(end.timestamp() * 1000))
        return _same(got, want)

    try:
        until(done, 120, "output never equal")
    finally:
        committer.close()
        missing = sorted({w[:2] for w in want} - {g[:2] for g in got})
        assert _same(got, want), (len(got), len(want), missing[:8], repaired)
    assert repaired >= 6                                              # 3 minutes × 2 hosts, through the late path
    assert cluster.job_state(job)[0] == "RUNNING"                     # the same job, recovered, not a new one
