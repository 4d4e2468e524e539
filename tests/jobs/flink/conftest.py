from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def flink_t_env():
    """A batch TableEnvironment (the one JVM of the session is shared by every Flink test)."""
    from jobs.flink_rollup import create_table_env

    return create_table_env(mode="batch")


@pytest.fixture
def cluster(tmp_path):
    """A standalone cluster on 127.0.0.1: a JobManager and two TaskManagers of one slot each
    (parallelism 2, a subtask on each); every process it started is stopped, also when the test fails."""
    from jobs.flink.cluster import LocalCluster

    c = LocalCluster(tmp_path / "cluster", taskmanagers=2, slots=1)
    try:
        c.start()
        yield c
    finally:
        c.stop()
