from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def flink_t_env():
    """A batch TableEnvironment (the one JVM of the session is shared by every Flink test)."""
    from jobs.flink_rollup import create_table_env

    return create_table_env(mode="batch")
