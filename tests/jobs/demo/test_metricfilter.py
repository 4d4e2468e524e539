"""The demo's metric-filter stage on the committed sample data's shape: the sample filter file is
valid, runs before the rollups, counts what an independent count of the log events gives, and a
second run adds nothing."""

from __future__ import annotations

import json

from jobs.demo import SAMPLE_DATA, STAGES, Demo
from jobs.demo.metricfilter import metricfilter_stage
from pipeline.metricfilters.model import load_filters
from tests.pipeline.metricfilters.test_apply import _events, _write_logs


def test_registered_before_the_rollups_and_the_sample_filters_are_valid():
    titles = [t for t, _ in STAGES]
    assert titles.index("ingest") < titles.index("metric filters") < titles.index("rollups")
    assert [f.name for f in load_filters(str(SAMPLE_DATA / "metricfilters" / "demo.yaml"))] == [
        "orders-api-errors", "orders-api-invocations"]


def test_the_stage_counts_the_log_events_once(lake, settings, tmp_path):
    group = "/aws/lambda/orders-api"
    events = _events(30, group=group)
    for e in events[::5]:                                  # minutes 0, 5, …: a REPORT line instead
        e["message"] = f"REPORT RequestId: r{e['id']}\tDuration: 12.0 ms"
    _write_logs(lake, events)
    (tmp_path / "metricfilters").mkdir()
    (tmp_path / "metricfilters" / "demo.yaml").write_text((SAMPLE_DATA / "metricfilters" / "demo.yaml").read_text())
    out = metricfilter_stage(Demo(lake, settings, sample_dir=tmp_path, quiet=True))
    errors = sum(1 for e in events if e["message"].startswith("{") and json.loads(e["message"])["level"] == "ERROR")
    assert (out.filters, out.events, out.matched) == (2, 30, errors + 6)
    assert out.by_filter == {"orders-api-errors": 30, "orders-api-invocations": 6}   # defaultValue 0 for the rest
    again = metricfilter_stage(Demo(lake, settings, sample_dir=tmp_path, quiet=True))
    assert (again.files, again.datapoints) == (0, 0)
