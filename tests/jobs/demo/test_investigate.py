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
    out = investigate_stage(Demo(lake, settings, quiet=True))
    assert out.loaded_sample and out.events > 0
    [login] = out.logins_without_mfa
    assert (login["who"], login["sourceIPAddress"]) == ("carol", labels["console_login_without_mfa"]["source_ips"][0])
    assert any(x["eventName"] == "CreateAccessKey" and x["user_name"] == "alice"
               and str(x["created_by"]).endswith("/bob") for x in out.new_keys_and_users)
    assert "StopLogging" in {x["eventName"] for x in out.security_changes}
    burst = labels["access_denied_burst"]
    assert (burst["source_ips"][0], burst["event_count"]) in {(x["sourceIPAddress"], x["n"])
                                                              for x in out.access_denied_top}
