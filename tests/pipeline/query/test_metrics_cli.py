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


def _modules_after(argv: list[str]) -> tuple[str, list[str]]:
    """Run ``python -m jobs.cli *argv`` in a fresh interpreter; its stdout and which of pyarrow,
    numpy and pandas it imported."""
    import subprocess
    import sys

    code = ("import runpy, sys\n"
            f"sys.argv = ['watchlake', *{argv!r}]\n"
            "try:\n    runpy.run_module('jobs.cli', run_name='__main__')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted({'pyarrow', 'numpy', 'pandas'} & set(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    *lines, modules = out.strip().splitlines()
    return "\n".join(lines), eval(modules)  # noqa: S307 — a list of names printed by the child


@pytest.mark.parametrize("stat", ["p90", "Average"])
def test_get_imports_no_pyarrow_numpy_or_pandas(rolled, stat):
    """A short `metrics get` (pNN and simple statistics) answers without importing pyarrow, numpy
    or pandas (0.1–0.4 s of start-up): listing, reading and the percentile are DuckDB and os."""
    out, modules = _modules_after(["--lake", rolled.root, "-q", "metrics", "get", "--namespace", "App",
                                   "--metric", "Latency", "--dim", "Host=a", "--dim", "Az=x", "--stat", stat,
                                   "--start", "2026-11-05T00:00:00Z", "--end", "2026-11-05T02:00:00Z",
                                   "--period", "3600", "--now", "2026-11-06T00:00:00Z", "--format", "csv"])
    assert modules == []
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [t for t, _ in rows] == ["2026-11-05T00:00:00Z", "2026-11-05T01:00:00Z"]
    # values 0…119, one a minute: p90 of an hour is its value of rank floor(0.9 · 59) = 53, within 1 %
    expected = {"p90": [53.0, 113.0], "Average": [29.5, 89.5]}[stat]
    assert [float(v) for _, v in rows] == pytest.approx(expected, rel=0.01 if stat == "p90" else 1e-12)
