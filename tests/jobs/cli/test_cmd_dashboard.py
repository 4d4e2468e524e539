"""``watchlake dashboard`` stops its Streamlit child when it is told to stop: SIGTERM (what
``kill``, systemd and container runtimes send) must not leave an orphan server on the port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.dashboards.conftest import free_port


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("streamlit never became healthy")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find the child")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_the_streamlit_child(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "--lake", str(tmp_path / "lake"), "dashboard",
                             "--port", str(port), "--refresh", "0"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    child = None
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        kids = _children(proc.pid)
        assert len(kids) == 1
        child = kids[0]
        proc.send_signal(sig)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the Streamlit child outlived `watchlake dashboard`"
    finally:
        for pid in (child, proc.pid):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)
