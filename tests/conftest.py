"""Shared fixtures. Every test gets its own lake, stream store and config, and never reads the
developer's ``watchlake.toml`` or ``WATCHLAKE__*`` environment."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.lake import Lake

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SAMPLE_DATA = REPO / "sample_data"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test in a temp folder with no WATCHLAKE__ variables from the outside."""
    for name in list(os.environ):
        if name.startswith("WATCHLAKE__"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(tmp_path: Path, lake_root: Path) -> Settings:
    return load_settings(env={}, overrides={"lake.root": str(lake_root),
                                            "stream.root": str(tmp_path / "streams")})


@pytest.fixture
def lake(settings: Settings) -> Lake:
    return Lake.from_settings(settings)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real third-party data vendored in ``tests/data`` (trimmed copies, each folder with its
    licence; see tests/data/README.md). It lives inside the repository, so a bare clone tests green
    without any sibling folder; the fixture keeps its historical name."""
    if not TEST_DATA.is_dir():
        pytest.fail(f"vendored test data missing at {TEST_DATA} (it is part of the repository)")
    return TEST_DATA


AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def moto_server() -> Iterator[str]:
    """A local AWS (moto in server mode) on 127.0.0.1 with test credentials in the environment;
    yields its endpoint URL.

    moto keeps its backends per process, not per server, so the state is reset when the server
    starts and when it stops: buckets, streams and objects never leak from one test module into
    another.
    """
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"

    def reset() -> None:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)

    reset()
    try:
        yield url
    finally:
        reset()
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n N --dist loadgroup`` (pytest-xdist) the tests that start a Flink
    mini-cluster or drive Chromium run one at a time on one worker: each already uses more than one
    core, and two JVMs or browsers side by side only slow each other down."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("flink") or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("heavy"))
