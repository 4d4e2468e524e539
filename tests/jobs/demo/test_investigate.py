"""The demo stage on an empty lake loads the sample CloudTrail and finds the labelled attacks."""

from __future__ import annotations

import json

import pytest

from jobs.demo import STAGES, Demo
from jobs.demo.investigate import investigate_stage
from tests.conftest import SAMPLE_DATA


@pytest.mark.slow
def test_investigate_stage(lake, settings):
    assert ("investigate", "jobs.demo.investigate:investigate_stage") == STAGES[-1]
    labels = {s["scenario"]: s for s in json.loads((SAMPLE_DATA / "labels/cloudtrail_scenarios.json").read_text())}
    lines = investigate_stage(Demo(lake, settings, quiet=True))
    assert lines["console logins without MFA"].startswith("1; carol from "
                                                          f"{labels['console_login_without_mfa']['source_ips'][0]}")
    assert "CreateAccessKey for alice by bob" in lines["new users / access keys"]
    assert "StopLogging" in lines["security config changes"]
    burst = labels["access_denied_burst"]
    assert f"@ {burst['source_ips'][0]}: {burst['event_count']}" in lines["Logs Insights AccessDenied top"]
