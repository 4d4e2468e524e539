"""AppTest on real third-party CloudTrail (Stratus Red Team detonations, vendored in tests/data), loaded
with `watchlake ingest`. Expected numbers come from reading the JSON files directly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.dashboards.conftest import APP, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def stratus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    src = shared_data / "stratus-cloudtrail" / "detonation-logs"
    lake = tmp_path_factory.mktemp("stratus") / "lake"
    subprocess.run([sys.executable, "-m", "jobs.cli", "-q", "--lake", str(lake), "ingest", "cloudtrail", str(src)],
                   check=True, cwd=REPO, capture_output=True)
    events = [e for f in sorted(src.glob("*.json")) for e in json.loads(f.read_text())]
    return lake, events


@pytest.fixture
def ct(stratus, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WATCHLAKE_DASHBOARD_LAKE", str(stratus[0]))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at.switch_page("views/cloudtrail.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_counts_and_top_lists(ct, stratus):
    events = stratus[1]
    shown = {m.label: m.value for m in ct.metric}
    assert shown["Events"] == f"{len(events):,}"
    assert shown["Errors"] == f"{sum(1 for e in events if e.get('errorCode')):,}"
    assert shown["Source IPs"] == f"{len({e.get('sourceIPAddress') for e in events} - {None}):,}"
    apis = Counter(f"{e['eventSource']}:{e['eventName']}" for e in events)
    top = ct.dataframe[1].value
    got = dict(zip(top["value"], top["events"]))
    want_counts = sorted(apis.values(), reverse=True)[:10]
    assert sorted(got.values(), reverse=True) == want_counts
    assert all(apis[k] == v for k, v in got.items())


def test_full_json_equals_the_original_event(ct, stratus):
    events = {e["eventID"]: e for e in stratus[1]}
    ids = list(ct.dataframe[-1].value["eventID"])
    for event_id in ids[:3] + ids[-3:]:
        ct.selectbox(key="ct_event").select(event_id).run()
        shown = json.loads(ct.code[0].value)
        original = events[event_id]
        for key in ("eventName", "eventSource", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
                    "requestParameters", "responseElements", "userIdentity"):
            if original.get(key) is not None:
                assert shown[key] == original[key], (event_id, key)
