"""``watchlake metrics get|list`` output formats."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from jobs.cli import main
from tests.pipeline.rollup.gen import T0, point, write_metrics


@pytest.fixture
def rolled(lake, capsys):
    write_metrics(lake, [point(T0 + timedelta(minutes=m), float(m), dims={"Host": "a", "Az": "x"})
                         for m in range(120)])
    assert main(["--lake", lake.root, "rollup"]) == 0
    capsys.readouterr()
    return lake


def test_get_json_csv_table(rolled, capsys):
    base = ["--lake", rolled.root, "metrics", "get", "--namespace", "App", "--metric", "Latency",
            "--dim", "Host=a", "--dim", "Az=x", "--start", "2026-11-05T00:00:00Z",
            "--end", "2026-11-05T02:00:00Z", "--now", "data"]
    assert main(base + ["--stat", "Sum", "--period", "3600", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["Values"] == [sum(range(60)), sum(range(60, 120))]
    assert out["Timestamps"] == ["2026-11-05T00:00:00Z", "2026-11-05T01:00:00Z"]
    assert (out["Tier"], out["Period"], out["Unit"]) == ("1h", 3600, "Milliseconds")
    assert main(base + ["--stat", "Maximum", "--period", "1800", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["timestamp,value", "2026-11-05T00:00:00Z,29.0",
                                "2026-11-05T00:30:00Z,59.0", "2026-11-05T01:00:00Z,89.0",
                                "2026-11-05T01:30:00Z,119.0"]
    assert re.search(r"tier\s+5m", err) and re.search(r"points\s+4", err)
    assert main(base + ["--stat", "SampleCount"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["timestamp", "SampleCount"] and len(lines) == 121


def test_get_errors_are_one_line(rolled, capsys):
    assert main(["--lake", rolled.root, "metrics", "get", "--namespace", "App", "--metric", "Latency",
                 "--dim", "Host", "--stat", "Sum"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main(["--lake", rolled.root, "metrics", "get", "--namespace", "App", "--metric", "Latency",
                 "--stat", "p101"]) == 2
    assert "unknown statistic" in capsys.readouterr().err


def test_list(rolled, capsys):
    assert main(["--lake", rolled.root, "metrics", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"Namespace": "App", "MetricName": "Latency",
         "Dimensions": [{"Name": "Az", "Value": "x"}, {"Name": "Host", "Value": "a"}],
         "Unit": "Milliseconds"}]
