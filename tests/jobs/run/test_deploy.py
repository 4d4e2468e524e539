"""The service recipe that ships in jobs/run/deploy: its config validates, its unit runs `watchlake run`
with the config it installs, stops with SIGTERM (drain) in time, and restarts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from pipeline.config import load_settings

DEPLOY = Path(__file__).resolve().parents[3] / "jobs" / "run" / "deploy"


def _unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string("\n".join(line for line in (DEPLOY / "watchlake-run.service").read_text().splitlines()
                             if not line.lstrip().startswith("#")))
    return cp


def test_sample_config_validates_and_names_real_sources():
    s = load_settings(DEPLOY / "watchlake.toml", env={})
    assert s.run.sources == ["cloudtrail=s3://my-trail-bucket/AWSLogs/123456789012/CloudTrail/"]
    assert s.run.kinesis_streams == ["app-events"] and s.run.kinesis_endpoint


def test_unit_runs_the_pipeline_with_drain_and_restart():
    svc = _unit()["Service"]
    argv = shlex.split(svc["ExecStart"])
    assert Path(argv[0]).name == "watchlake" and argv[-1] == "run"
    assert argv[argv.index("--config") + 1] == "/etc/watchlake/watchlake.toml"
    assert svc["KillSignal"] == "SIGTERM" and svc["Restart"] == "always"
    buffer = load_settings(DEPLOY / "watchlake.toml", env={}).run.buffer_seconds
    assert int(svc["TimeoutStopSec"]) >= 4 * buffer  # time to drain the buffers before SIGKILL
    assert svc["EnvironmentFile"] == "/etc/watchlake/watchlake.env"
    for line in (DEPLOY / "watchlake.env").read_text().splitlines():
        assert not line.strip() or line.startswith("#") or "=" in line
