"""jobs.flink.cluster.LocalCluster starts again on new ports when its JobManager cannot bind the
ones it picked (taken since by another process), and gives up with the cause after its attempts."""

from __future__ import annotations

import socket

import pytest

from jobs.flink.cluster import JobManagerEnded, LocalCluster

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def test_a_taken_rest_port_is_replaced_and_the_cluster_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        c = LocalCluster(tmp_path / "cluster", taskmanagers=1, slots=1)
        c.rest_port = taken.getsockname()[1]  # another process holds it: the JobManager's REST cannot bind
        try:
            with pytest.raises(JobManagerEnded):
                c.start(attempts=1)
            assert c.jobmanager is None  # what it started is stopped
            c.rest_port = taken.getsockname()[1]
            c.start(attempts=2)
            assert c.rest_port != taken.getsockname()[1]
            assert int(c.rest("/overview")["taskmanagers"]) == 1
        finally:
            c.stop()
