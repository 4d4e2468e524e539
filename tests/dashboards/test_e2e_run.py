"""End to end, live: `watchlake run` follows a stream while the dashboard is open in headless Chromium; a
datapoint put on the stream after the page was opened shows on the Metrics page by itself (no
reload), within the auto-refresh interval plus the pipeline's own delay (buffer + rollup)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import expect

from pipeline.stream import Stream
from tests.dashboards.conftest import APP, REPO, server_env, start_streamlit, stop
from tests.dashboards.test_e2e import metric, open_page, wait_for_app

pytestmark = pytest.mark.e2e
REFRESH = 3          # the dashboard's check for new data, seconds
PIPELINE = 10        # allowance for the run: 1 s buffer, 1 s rollup interval, a loaded 2-core box


def _point(t: datetime, v: float) -> bytes:
    return json.dumps({"metric_stream_name": "s", "account_id": "123456789012", "region": "us-east-1",
                       "namespace": "App", "metric_name": "Errors", "dimensions": {"Service": "api"},
                       "timestamp": int(t.timestamp() * 1000), "unit": "Count",
                       "value": {"count": 1, "sum": v, "min": v, "max": v}}).encode()


def _minutes(lake: Path) -> int:
    glob = str(lake / "rollups" / "metrics_1m" / "**" / "*.parquet")
    try:
        row = duckdb.connect().execute("SELECT count(DISTINCT timestamp) FROM read_parquet(?) "
                                       "WHERE namespace = 'App'", [glob]).fetchone()
    except duckdb.IOException:
        return 0
    return int(row[0]) if row else 0


@pytest.fixture
def live_run(tmp_path):
    """`watchlake run` (load and rollup only) on a lake with two minutes of App/Errors, and a
    dashboard on it checking for new data every ``REFRESH`` seconds."""
    lake = tmp_path / "lake"
    stream = Stream.create(str(tmp_path / "streams"), "live", 1)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    stream.put([("a", _point(now - timedelta(minutes=3, seconds=-10), 5.0)),
                ("a", _point(now - timedelta(minutes=2, seconds=-10), 7.0))])
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE__")}
    env.update(PYTHONPATH=str(REPO), WATCHLAKE__STREAM__ROOT=str(tmp_path / "streams"),
               WATCHLAKE__RUN__BUFFER_SECONDS="1", WATCHLAKE__RUN__POLL_SECONDS="0.5",
               WATCHLAKE__RUN__ROLLUP_SECONDS="1",
               WATCHLAKE__RUN__DISABLE="alarms,anomalies,insights,detect,retention,compact")
    run = subprocess.Popen([sys.executable, "-m", "jobs.cli", "--lake", str(lake), "run"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "streamlit.log"
    dash = None
    try:
        deadline = time.monotonic() + 60
        while _minutes(lake) < 2:
            assert run.poll() is None and time.monotonic() < deadline, "the run did not roll up the first minutes"
            time.sleep(0.25)
        dash, url = start_streamlit(APP, server_env(str(lake), REFRESH), log)
        yield stream, url
    finally:
        if dash is not None:
            stop(dash, log)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err[-2000:]


def test_a_datapoint_put_on_the_stream_shows_without_a_reload(page, console_errors, live_run):
    stream, url = live_run
    page.goto(url)
    wait_for_app(page)
    open_page(page, "Metrics")  # on its first namespace, App (Watchlake/Pipeline sorts after), and metric
    expect(metric(page, "Datapoints")).to_have_text("2")
    t_put = time.monotonic()
    stream.put([("a", _point(datetime.now(UTC), 9.0))])  # a new minute, after the page was opened
    expect(metric(page, "Datapoints")).to_have_text("3", timeout=(REFRESH + PIPELINE) * 1000)
    print(f"\ndatapoint on the stream -> on the open page: {time.monotonic() - t_put:.1f} s "
          f"(refresh every {REFRESH} s)")
    assert console_errors == []
