"""AppTest on the committed sample data, loaded with the real commands (`watchlake ingest`,
`watchlake rollup`). Expected numbers come from sample_data/labels/manifest.json and from reading
the raw sample files directly with the standard library."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.dashboards.conftest import APP, REPO

pytestmark = pytest.mark.slow
SAMPLE = REPO / "sample_data"


def watchlake(lake: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "jobs.cli", "-q", "--lake", str(lake), *args], check=True,
                   cwd=REPO, capture_output=True)


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("sample") / "lake"
    watchlake(lake, "ingest", "cloudtrail", str(SAMPLE / "cloudtrail"))
    watchlake(lake, "ingest", "metrics", str(SAMPLE / "metrics"))
    watchlake(lake, "rollup")
    return lake


@pytest.fixture(scope="session")
def sample_events() -> list[dict]:
    events = []
    for f in sorted((SAMPLE / "cloudtrail").rglob("*.json.gz")):
        if "CloudTrail-Digest" in str(f):
            continue
        events.extend(json.loads(gzip.decompress(f.read_bytes()))["Records"])
    return events


@pytest.fixture
def sample_at(sample_lake: Path, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WATCHLAKE_DASHBOARD_LAKE", str(sample_lake))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    assert not at.exception
    return at


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_matches_manifest(sample_at):
    manifest = json.loads((SAMPLE / "labels" / "manifest.json").read_text())
    assert shown(sample_at)["CloudTrail events"] == f"{manifest['cloudtrail']['events']:,}"
    assert shown(sample_at)["Metric points"] == f"{manifest['metrics']['datapoints']:,}"


def test_cloudtrail_page_matches_raw_files(sample_at, sample_events):
    at = sample_at.switch_page("views/cloudtrail.py").run()
    assert not at.exception
    m = shown(at)
    assert m["Events"] == f"{len(sample_events):,}"
    assert m["Errors"] == f"{sum(1 for e in sample_events if e.get('errorCode')):,}"
    assert m["Source IPs"] == f"{len({e['sourceIPAddress'] for e in sample_events}):,}"
    errors = Counter(e["errorCode"] for e in sample_events if e.get("errorCode"))
    top = at.dataframe[2].value
    assert dict(zip(top["value"], top["events"])) == dict(errors.most_common(10))
    at.multiselect(key="ct_errorCode").select("AccessDenied").run()
    assert shown(at)["Events"] == f"{errors['AccessDenied']:,}"


def test_metrics_page_lists_every_series(sample_at):
    manifest = json.loads((SAMPLE / "labels" / "manifest.json").read_text())
    at = sample_at.switch_page("views/metrics.py").run()
    assert not at.exception
    namespaces = at.selectbox(key="mx_ns").options
    total = 0
    for ns in namespaces:
        at.selectbox(key="mx_ns").select(ns).run()
        for metric in at.selectbox(key="mx_metric").options:
            at.selectbox(key="mx_metric").select(metric).run()
            total += len(at.multiselect(key="mx_dims").options)
    # the sample's 15 CloudWatch series, plus the CloudTrail activity series the rollup derives
    assert total - sum(_activity_series(at, ns) for ns in namespaces if ns.startswith("CloudTrail")) \
        == manifest["metrics"]["series"]


def _activity_series(at, ns: str) -> int:
    at.selectbox(key="mx_ns").select(ns).run()
    n = 0
    for metric in at.selectbox(key="mx_metric").options:
        at.selectbox(key="mx_metric").select(metric).run()
        n += len(at.multiselect(key="mx_dims").options)
    return n


def test_metrics_hourly_sums_match_metric_stream_files(sample_at):
    """CPUUtilization of one instance, Sum per hour, against the Metric Streams lines."""
    import base64

    import numpy as np

    want: Counter = Counter()
    for f in sorted((SAMPLE / "metrics").rglob("*.gz")):
        for line in gzip.decompress(f.read_bytes()).decode().splitlines():
            r = json.loads(line)
            if r["metric_name"] == "CPUUtilization" and r["dimensions"] == {"InstanceId": "i-0a1b2c3d4e5f60718"}:
                want[r["timestamp"] // 3_600_000] += r["value"]["sum"]
    at = sample_at.switch_page("views/metrics.py").run()
    at.selectbox(key="mx_ns").select("AWS/EC2").run()
    at.selectbox(key="mx_metric").select("CPUUtilization").run()
    at.multiselect(key="mx_dims").set_value(['{"InstanceId":"i-0a1b2c3d4e5f60718"}\tPercent']).run()
    at.multiselect(key="mx_stats").set_value(["Sum"]).run()
    at.selectbox(key="mx_period").select(3600).run()
    assert not at.exception
    assert shown(at)["Period"] == "1 h"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    line = next(t for t in spec["data"] if t.get("name") == "InstanceId=i-0a1b2c3d4e5f60718 · Sum")
    y = line["y"]
    ys = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist() if isinstance(y, dict) else y
    assert ys == pytest.approx([want[h] for h in sorted(want)])
