"""The streaming anomaly job on a real standalone cluster (the scripts shipped in ``apache-flink``: a
JobManager and two TaskManagers on 127.0.0.1): one TaskManager is killed with SIGKILL while the job
scores, then restarted; or the job is stopped with a savepoint and resumed from it after an
upgrade. The committed output then holds every point exactly once with the scores of the library's
detector stepped point by point — what the mini-cluster tests show a run without failures
produces (tests/jobs/test_flink_anomaly.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobs.anomaly_lake import SeriesData
from tests.jobs.flink.feed import until
from tests.jobs.test_flink_anomaly import library_scores, sample_minutes

pytestmark = [pytest.mark.flink, pytest.mark.slow]

WINDOW_S, LATENESS_S = 300, 60


def _slice(series: list[SeriesData], lo: float, hi: float) -> list[SeriesData]:
    return [SeriesData(sd.series_id, sd.namespace, sd.metric_name, sd.dimensions, sd.unit, sd.period,
                       [t for t in sd.times if lo <= t < hi], [v for t, v in zip(sd.times, sd.values, strict=True)
                                                               if lo <= t < hi]) for sd in series]


def _scored(out: Path) -> list[tuple[str, tuple[Any, ...]]]:
    from jobs.flink_anomaly_io import read_out

    return [(w["sid"], row) for _, ws in read_out(out) for w in ws
            for row in zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"], w["warm"], strict=True)]


def test_killed_taskmanager_leaves_every_score_exactly_once_and_equal_to_the_library(tmp_path, cluster) -> None:
    from jobs.flink_anomaly import build, configure
    from jobs.flink_anomaly_io import write_inbox

    series = sample_minutes()  # 15 series × ~5,750 one-minute points (4 days)
    lo = min(sd.times[0] for sd in series)
    hi = max(sd.times[-1] for sd in series) + 1
    edges = [lo + (hi - lo) * k / 4 for k in range(5)]
    quarters = [_slice(series, edges[k], edges[k + 1]) for k in range(4)]
    inbox, out = tmp_path / "inbox", tmp_path / "out"

    def reached(k: int) -> Callable[[], bool]:  # a point of quarter k scored and committed
        return lambda: any(edges[k] * 1000 <= r[0] for _, r in _scored(out))

    # one file at a time, each once the job has scored into the one before, so that the kill
    # comes while the job reads the second quarter (files found together would be read in the
    # order written too: tests/jobs/test_flink_anomaly_source.py)
    write_inbox(inbox, quarters[0], seq=0)

    env, t_env = configure(2, checkpoint_dir=str(tmp_path / "checkpoints"), checkpoint_ms=1000,
                           workers="process", remote=cluster.address)
    build(env, t_env, str(inbox), str(out), window_s=WINDOW_S, lateness_s=LATENESS_S, monitor_s=0.5)
    job = str(env.execute_async("watchlake-anomalies").get_job_id())
    cluster.wait_running(job)
    # the kill: once the scorers have committed output (their detectors are in state), while
    # the job reads the second quarter
    until(lambda: reached(0)() and cluster.checkpoints(job) >= 2, 180, "no committed output")
    write_inbox(inbox, quarters[1], seq=1)
    time.sleep(1.0)
    cluster.kill_taskmanager(0)
    killed_at = len(_scored(out))
    cluster.restart_taskmanager(0)
    cluster.wait_taskmanagers(2)
    until(lambda: cluster.failures(job) >= 1, 60, "the kill did not fail the job")
    until(lambda: cluster.job_state(job)[0] == "RUNNING", 120, "no recovery")
    until(reached(1), 180, "nothing of the second quarter scored after the recovery")
    write_inbox(inbox, quarters[2], seq=2)
    until(reached(2), 180, "the third quarter was not scored")
    # the last quarter, and one point of another series a day later: the watermark passes every
    # window of the real series, so each of their points must be scored
    sentinel = SeriesData("sentinel", "T", "m", "{}", "None", 60, [hi + 86400], [1.0])
    write_inbox(inbox, [*quarters[3], sentinel], seq=3)
    n = sum(len(sd.times) for sd in series)
    until(lambda: len({(s, r[0]) for s, r in _scored(out) if s != "sentinel"}) >= n, 300,
           "not every point was scored after the recovery")
    cluster.stop_with_savepoint(job, (tmp_path / "savepoints").as_uri())
    got = _scored(out)
    assert 0 < killed_at < n  # the kill came mid-run
    _assert_once_as_the_library(got, series)  # the sentinel unscored


def _assert_once_as_the_library(got: list[tuple[str, Any]], series: list[SeriesData]) -> None:
    """``got`` (series id, scored row) holds every point of ``series`` exactly once, each series'
    rows bit-equal to the library's detector stepped point by point."""
    assert len(got) == len({(s, r[0]) for s, r in got}) == sum(len(sd.times) for sd in series)
    by_series: dict[str, list[tuple[Any, ...]]] = {}
    for sid, row in got:
        by_series.setdefault(sid, []).append(row)
    for sd in series:
        assert sorted(by_series[sd.series_id]) == library_scores(sd), sd.series_id  # bit-equal


def _savepoint_and_cancel(cluster: Any, job: str, directory: str, timeout: float = 120.0) -> str:
    """A savepoint of the running job, then its cancellation, by the JobManager (REST ``cancel-job``;
    the run stage does the same through its job client). Not stop-with-savepoint: that stops the
    file monitor before it snapshots it, and a job resumed from such a savepoint reads no new file
    (jobs.run.flink_anomaly_stage._savepoint_then_cancel)."""
    trigger = cluster.rest(f"/jobs/{job}/savepoints", {"target-directory": directory, "cancel-job": True})["request-id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = cluster.rest(f"/jobs/{job}/savepoints/{trigger}")
        if doc["status"]["id"] == "COMPLETED":
            if "location" not in doc["operation"]:
                raise RuntimeError(f"savepoint failed: {str(doc['operation'].get('failure-cause'))[:300]}")
            return str(doc["operation"]["location"])
        time.sleep(0.5)
    raise TimeoutError(f"savepoint of {job} not done within {timeout:.0f} s")


def test_savepoint_and_resume_after_an_upgrade_score_every_point_once_as_the_library(tmp_path, cluster) -> None:
    """Stopped with a savepoint mid-stream at parallelism 2, the job is submitted again from it as a
    code-compatible upgrade — parallelism 1, no detector cache, a snapshot every 50 points — while
    a day of points waited in the inbox: every point is then scored exactly once, bit-equal to the
    library's detector stepped point by point (what an uninterrupted run gives)."""
    from jobs.flink_anomaly import build, configure
    from jobs.flink_anomaly_io import write_inbox

    series = sample_minutes()[:6]
    lo = min(sd.times[0] for sd in series)
    hi = max(sd.times[-1] for sd in series) + 1
    edges = [lo + (hi - lo) * k / 4 for k in range(5)]
    quarters = [_slice(series, edges[k], edges[k + 1]) for k in range(4)]
    inbox, out = tmp_path / "inbox", tmp_path / "out"

    def submit(parallelism: int, restore: str | None = None, **options: Any) -> str:
        env, t_env = configure(parallelism, checkpoint_dir=str(tmp_path / "checkpoints"), checkpoint_ms=1000,
                               restore=restore, workers="process", remote=cluster.address)
        build(env, t_env, str(inbox), str(out), window_s=WINDOW_S, lateness_s=LATENESS_S, monitor_s=0.5, **options)
        job = str(env.execute_async("watchlake-anomalies").get_job_id())
        cluster.wait_running(job)
        return job

    def reached(k: int) -> Callable[[], bool]:  # a point of quarter k scored and committed
        return lambda: any(edges[k] * 1000 <= r[0] for _, r in _scored(out))

    write_inbox(inbox, quarters[0], seq=0)
    write_inbox(inbox, quarters[1], seq=1)  # files found together are read in the order written
    job = submit(2)
    until(reached(1), 180, "the second quarter was not scored")
    savepoint = _savepoint_and_cancel(cluster, job, (tmp_path / "savepoints").as_uri())
    until(lambda: cluster.job_state(job)[0] == "CANCELED", 60, "the job was not cancelled")
    stopped_at = len(_scored(out))
    write_inbox(inbox, quarters[2], seq=2)  # arrives while the job is stopped
    job = submit(1, savepoint, cache_series=0, snapshot_points=50)
    until(reached(2), 180, "the third quarter was not scored after the resume")
    sentinel = SeriesData("sentinel", "T", "m", "{}", "None", 60, [hi + 86400], [1.0])
    write_inbox(inbox, [*quarters[3], sentinel], seq=3)
    n = sum(len(sd.times) for sd in series)
    until(lambda: len({(s, r[0]) for s, r in _scored(out) if s != "sentinel"}) >= n, 240,
           "not every point was scored after the resume")
    _savepoint_and_cancel(cluster, job, (tmp_path / "savepoints").as_uri())
    got = _scored(out)
    assert 0 < stopped_at < n  # the stop came mid-stream
    _assert_once_as_the_library(got, series)  # nothing behind the watermark either
