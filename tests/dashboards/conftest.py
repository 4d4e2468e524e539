"""Fixtures for the dashboard tests: a fixture lake, AppTest, and a real Streamlit server driven
by Debian's Chromium through pytest-playwright (recipe: shared/reference/browser-testing.md).

Chromium missing: the e2e tests fail when ``CI`` is set (a missing apt step must not pass
green) and are skipped locally.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dashboards import lakegen

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboards" / "app.py"
ARTIFACTS = Path(os.environ.get("WATCHLAKE_TEST_ARTIFACTS") or REPO / "test-results" / "dashboards")
"""Screenshots and render times. pytest-playwright empties ./test-results at the start of every
pytest session, so a concurrent local run elsewhere in the tree can wipe it: set
WATCHLAKE_TEST_ARTIFACTS to keep them somewhere else."""
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LAKE_ENV = "WATCHLAKE_DASHBOARD_LAKE"


@pytest.fixture(scope="session")
def fixture_lake(tmp_path_factory: pytest.TempPathFactory) -> lakegen.FixtureLake:
    """The shared, read-only fixture lake (tests that add data build their own)."""
    return lakegen.build(str(tmp_path_factory.mktemp("dash") / "lake"))


@pytest.fixture
def app_env(fixture_lake: lakegen.FixtureLake, monkeypatch: pytest.MonkeyPatch) -> lakegen.FixtureLake:
    """Point the in-process app at the fixture lake."""
    monkeypatch.setenv(LAKE_ENV, fixture_lake.lake.root)
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_REFRESH", "30")
    return fixture_lake


@pytest.fixture
def at(app_env: lakegen.FixtureLake):
    """The app, run once on its default page with AppTest."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


@pytest.fixture
def ct(at):
    """The CloudTrail page on "All data" (a module may define its own ``ct`` for another lake)."""
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at.switch_page("views/cloudtrail.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


# -- end to end ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_streamlit(app: Path, env: dict[str, str], log: Path, pick_port: Callable[[], int] = free_port,
                    attempts: int = 3) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run`` on a free loopback port; retry with a new port if it was taken."""
    from jobs.cli.cmd_dashboard import streamlit_command

    last = ""
    for _ in range(attempts):
        port = pick_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen(streamlit_command(port, "127.0.0.1", app), env=env, cwd=REPO,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return proc, url
            except OSError:
                time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        last = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"streamlit did not start after {attempts} attempts:\n{last}")


def stop(proc: subprocess.Popen, log: Path) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.returncode not in (0, -15, 143):
        print(log.read_text(errors="replace")[-4000:])


def server_env(lake_root: str, refresh: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE__")}
    env.update({LAKE_ENV: lake_root, "WATCHLAKE_DASHBOARD_REFRESH": str(refresh),
                "PYTHONPATH": str(REPO)})
    return env


@pytest.fixture(scope="session")
def streamlit_server(fixture_lake: lakegen.FixtureLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    proc, url = start_streamlit(APP, server_env(fixture_lake.lake.root, 30), log)
    try:
        yield url
    finally:
        stop(proc, log)


@pytest.fixture(scope="session")
def base_url(streamlit_server: str) -> str:
    return streamlit_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; run `make chromium` (apt-get install chromium)")
        pytest.skip("no Chromium installed (run `make chromium`)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1600}}


@pytest.fixture
def console_errors(page) -> list[str]:
    """Console errors, uncaught page errors and HTTP errors seen by the page."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    return errors


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
