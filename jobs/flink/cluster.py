"""A standalone Flink cluster on 127.0.0.1 from the scripts that ship in the ``apache-flink``
package (``pyflink/bin``): one JobManager and N TaskManagers as child processes, with their own
``config.yaml`` (Flink 2.x) and log folder. For tests and benchmarks of the streaming jobs on a
real cluster (kill a TaskManager, savepoints); see the README for a cluster of your own.

Every process is a child started in the foreground (``jobmanager.sh start-foreground`` execs the
JVM), so :meth:`LocalCluster.stop` ends exactly the processes it started, by pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

_POLL = 0.25
#: How Flink words a savepoint refused because a task is not running (DefaultCheckpointPlanCalculator,
#: CheckpointFailureReason.NOT_ALL_REQUIRED_TASKS_RUNNING): the job runs on, a later trigger can succeed.
_TASKS_NOT_RUNNING = ("Checkpoint triggering task", "is not being executed at the moment",
                      "Not all required tasks are currently running")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


class JobManagerEnded(RuntimeError):
    """The JobManager process ended while the cluster was waited for."""


class LocalCluster:
    """A JobManager and ``taskmanagers`` TaskManagers (``slots`` each) on 127.0.0.1."""

    def __init__(self, workdir: Path, *, taskmanagers: int = 2, slots: int = 2, memory: str = "1024m"):
        self.workdir, self.slots, self.memory = Path(workdir), slots, memory
        self.rest_port = _free_port()
        self.rpc_port = _free_port()
        self.jobmanager: subprocess.Popen[bytes] | None = None
        self.taskmanagers: list[subprocess.Popen[bytes] | None] = [None] * taskmanagers

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def _conf(self) -> Path:
        import yaml

        conf = self.workdir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        base = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
        base["jobmanager"] = {"bind-host": "127.0.0.1", "rpc": {"address": "127.0.0.1", "port": self.rpc_port},
                              "memory": {"process": {"size": self.memory}},
                              "execution": {"failover-strategy": "region"}}
        base["taskmanager"] = {"bind-host": "127.0.0.1", "host": "127.0.0.1", "numberOfTaskSlots": self.slots,
                               "memory": {"process": {"size": self.memory}}}
        base["rest"] = {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": self.rest_port}
        base["heartbeat"] = {"interval": 1000, "timeout": 5000}  # a killed TaskManager is noticed in ~5 s
        (conf / "config.yaml").write_text(yaml.safe_dump(base))
        for name in ("log4j-console.properties", "log4j.properties", "logback-console.xml"):
            src = flink_home() / "conf" / name
            if src.exists():
                (conf / name).write_text(src.read_text())
        return conf

    def _spawn(self, script: str, name: str) -> subprocess.Popen[bytes]:
        logs = self.workdir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "FLINK_CONF_DIR": str(self.workdir / "conf"), "FLINK_LOG_DIR": str(logs),
               "FLINK_PID_DIR": str(self.workdir)}
        out = open(logs / f"{name}.out", "ab")  # noqa: SIM115 - owned by the child
        return subprocess.Popen([str(flink_home() / "bin" / script), "start-foreground"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 120.0, attempts: int = 3) -> LocalCluster:
        """Start every process and wait until all TaskManagers have registered. A JobManager that
        ends while starting (its ports, free when picked, taken since by another process: an
        outgoing connection's ephemeral port) is started again on new ports, up to ``attempts``
        times in all."""
        for attempt in range(attempts):
            self._conf()
            self.jobmanager = self._spawn("jobmanager.sh", "jobmanager")
            for i in range(len(self.taskmanagers)):
                self.taskmanagers[i] = self._spawn("taskmanager.sh", f"taskmanager-{i}")
            try:
                self.wait_taskmanagers(len(self.taskmanagers), timeout)
                return self
            except JobManagerEnded:
                self.stop()
                if attempt == attempts - 1:
                    raise
                self.rest_port, self.rpc_port = _free_port(), _free_port()
        return self

    def kill_taskmanager(self, i: int) -> None:
        """``kill -9`` TaskManager ``i``."""
        proc = self.taskmanagers[i]
        if proc is not None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self.taskmanagers[i] = None

    def restart_taskmanager(self, i: int) -> None:
        self.taskmanagers[i] = self._spawn("taskmanager.sh", f"taskmanager-{i}")

    # -- REST --------------------------------------------------------------------------------

    def rest(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://{self.address}{path}", data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def wait_taskmanagers(self, n: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if int(self.rest("/overview")["taskmanagers"]) >= n:
                    return
            except OSError:
                pass
            if self.jobmanager is not None and self.jobmanager.poll() is not None:
                raise JobManagerEnded(f"the JobManager ended (exit {self.jobmanager.returncode}; logs in "
                                      f"{self.workdir / 'log'})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {n} TaskManagers registered within {timeout:.0f} s "
                                   f"(logs in {self.workdir / 'log'})")
            time.sleep(_POLL)

    def job_state(self, job_id: str) -> tuple[str, list[str]]:
        """The job's state and the states of its vertices."""
        doc = self.rest(f"/jobs/{job_id}")
        return doc["state"], [v["status"] for v in doc.get("vertices", [])]

    def wait_running(self, job_id: str, timeout: float = 120.0) -> float:
        """Wait until the job and all its tasks run; returns the seconds waited."""
        t0 = time.monotonic()
        while True:
            state, vertices = self.job_state(job_id)
            if state == "RUNNING" and vertices and all(v == "RUNNING" for v in vertices):
                return time.monotonic() - t0
            if state in ("FAILED", "CANCELED", "FINISHED"):
                raise RuntimeError(f"job {job_id} is {state}")
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"job {job_id} not running within {timeout:.0f} s ({state}, {vertices})")
            time.sleep(_POLL)

    def failures(self, job_id: str) -> int:
        """Failures the job went through (its exception history)."""
        doc = self.rest(f"/jobs/{job_id}/exceptions")
        return len(doc.get("exceptionHistory", {}).get("entries", []))

    def checkpoints(self, job_id: str) -> int:
        """Completed checkpoints of the job."""
        return int(self.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"])

    def stop_with_savepoint(self, job_id: str, directory: str, timeout: float = 120.0) -> str:
        """Stop the job with a savepoint into ``directory`` (a URI); returns its location.

        A savepoint refused because some task is not running (the job is between a failover and
        its tasks' redeployment: Flink keeps the job running and says so) is triggered again once
        every task runs, until ``timeout``; any other failure raises."""
        deadline = time.monotonic() + timeout
        trigger = self.rest(f"/jobs/{job_id}/stop", {"targetDirectory": directory, "drain": False})["request-id"]
        while time.monotonic() < deadline:
            doc = self.rest(f"/jobs/{job_id}/savepoints/{trigger}")
            if doc["status"]["id"] == "COMPLETED":
                op = doc["operation"]
                if "location" in op:
                    return str(op["location"])
                cause = str(op.get("failure-cause"))
                if not any(m in cause for m in _TASKS_NOT_RUNNING):
                    raise RuntimeError(f"savepoint failed: {cause[:300]}")
                self.wait_running(job_id, max(1.0, deadline - time.monotonic()))
                trigger = self.rest(f"/jobs/{job_id}/stop",
                                    {"targetDirectory": directory, "drain": False})["request-id"]
            time.sleep(_POLL)
        raise TimeoutError(f"savepoint of {job_id} not done within {timeout:.0f} s")

    def stop(self) -> None:
        """End every process this cluster started (SIGTERM, then SIGKILL after 10 s)."""
        procs = [p for p in [*self.taskmanagers, self.jobmanager] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.taskmanagers = [None] * len(self.taskmanagers)
        self.jobmanager = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
