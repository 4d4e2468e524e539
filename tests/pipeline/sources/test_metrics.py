"""Metrics reader: Metric Streams, get-metric-data/-statistics, PutMetricData and NAB CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.schemas import METRICS
from pipeline.sources import read
from pipeline.sources.cloudwatch import canonical_dimensions, series_id
from tests.conftest import SAMPLE_DATA

from .conftest import collect


def _write(tmp_path: Path, name: str, value: Any) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(value))
    return p


def test_series_id_matches_the_documented_sql_formula() -> None:
    import duckdb

    dims = {"InstanceId": "i-1", "AutoScalingGroupName": "web"}
    canon = canonical_dimensions(dims)
    assert canon == '{"AutoScalingGroupName":"web","InstanceId":"i-1"}'
    con = duckdb.connect()
    sql = con.execute("SELECT left(md5(concat_ws(chr(31), 'AWS/EC2', 'CPUUtilization', ?, 'Percent')), 16)",
                      [canon]).fetchall()
    assert series_id("AWS/EC2", "CPUUtilization", dims, "Percent") == sql[0][0]
    assert series_id("A", "m", None, None) == series_id("A", "m", [], "None")
    assert series_id("A", "m", {"k": "v"}, "Count") != series_id("A", "m", {"k": "v"}, "Percent")
    assert series_id("A", "m", {"k": "v"}) != series_id("A", "m", {"k": "v", "z": "1"})


def test_metric_streams_sample() -> None:
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    batches = list(read("metrics", SAMPLE_DATA / "metrics"))
    assert sum(b.table.num_rows for b in batches) == manifest["metrics"]["datapoints"]
    assert not any(b.rejections for b in batches)
    assert all(b.table.schema.equals(METRICS) for b in batches)
    ids = {i for b in batches for i in b.table.column("_wl_series_id").unique().to_pylist()}
    assert len(ids) == manifest["metrics"]["series"]
    r = batches[0].table.slice(0, 1).to_pylist()[0]
    assert r["metric_stream_name"] == "watchlake-metric-stream" and r["account_id"] == "111122223333"
    assert r["_wl_series_id"] == series_id(r["namespace"], r["metric_name"], json.loads(r["dimensions"]), r["unit"])


@pytest.mark.parametrize(("name", "rows"), [("ec2_request_latency_system_failure.csv", 4032),
                                             ("cpu_utilization_asg_misconfiguration.csv", 18050)])
def test_nab_csv(shared_data: Path, name: str, rows: int) -> None:
    path = shared_data / "nab-dev" / "data" / name
    got, rej, _ = collect(read("metrics", path, namespace="AWS/EC2", metric_name="CPUUtilization",
                               dimensions={"InstanceId": "i-nab"}, unit="Percent"))
    with path.open() as f:
        expected = list(csv.DictReader(f))
    assert len(got) == len(expected) == rows and not rej
    for g, e in zip(got[:200], expected[:200]):
        assert g["timestamp"] == datetime.fromisoformat(e["timestamp"]).replace(tzinfo=UTC)
        assert g["sum"] == g["min"] == g["max"] == float(e["value"]) and g["sample_count"] == 1.0
    assert got[5]["_wl_origin"] == f"{path}:7"  # line 1 is the header


def test_csv_needs_the_series_named(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("timestamp,value\n2026-11-01 00:00:00,1\n2026-11-01 00:01:00,oops\n2026-11-01 00:02:00\n")
    _, rej, _ = collect(read("metrics", p))
    assert len(rej) == 1 and "namespace and metric_name" in rej[0].reason
    rows, rej, _ = collect(read("metrics", p, namespace="Custom", metric_name="m"))
    assert len(rows) == 1 and [(r.line, r.reason.split(":")[0]) for r in rej] == [
        (3, "not a number"), (4, "expected two columns")]


def test_get_metric_data_output(tmp_path: Path) -> None:
    out = {"MetricDataResults": [{"Id": "m1", "Label": "Invocations", "StatusCode": "Complete",
                                  "Timestamps": ["2026-11-01T00:02:00+00:00", "2026-11-01T00:01:00+00:00"],
                                  "Values": [7.0, 5.0]}], "Messages": []}
    p = _write(tmp_path, "gmd.json", out)
    rows, rej, _ = collect(read("metrics", p, namespace="AWS/Lambda", dimensions={"FunctionName": "f"}, unit="Count"))
    assert not rej and [(r["metric_name"], r["sum"], r["timestamp"].minute) for r in rows] == [
        ("Invocations", 7.0, 2), ("Invocations", 5.0, 1)]
    _, rej, _ = collect(read("metrics", p))
    assert len(rej) == 2 and rej[0].field == "namespace"


def test_get_metric_statistics_output(tmp_path: Path) -> None:
    out = {"Label": "CPUUtilization", "Datapoints": [
        {"Timestamp": "2026-11-01T00:00:00Z", "SampleCount": 5.0, "Sum": 50.0, "Minimum": 2.0, "Maximum": 20.0,
         "Unit": "Percent"},
        {"Timestamp": "2026-11-01T00:05:00Z", "Average": 12.5, "SampleCount": 4.0, "Unit": "Percent"}]}
    rows, rej, _ = collect(read("metrics", _write(tmp_path, "gms.json", out), namespace="AWS/EC2"))
    assert not rej
    assert [(r["sample_count"], r["sum"], r["min"], r["max"]) for r in rows] == [
        (5.0, 50.0, 2.0, 20.0), (4.0, 50.0, 12.5, 12.5)]
    assert rows[0]["metric_name"] == "CPUUtilization" and rows[0]["dimensions"] == "{}"


def test_put_metric_data_json(tmp_path: Path) -> None:
    body = {"Namespace": "Shop", "MetricData": [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "x"}], "Timestamp": "2026-11-01T00:00:00Z",
         "Value": 12.0, "Unit": "Milliseconds", "StorageResolution": 1},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "x"}], "Timestamp": "2026-11-01T00:00:01Z",
         "Values": [10.0, 20.0, 30.0], "Counts": [1.0, 2.0, 1.0], "Unit": "Milliseconds"},
        {"MetricName": "Orders", "Timestamp": "2026-11-01T00:01:00Z",
         "StatisticValues": {"SampleCount": 3, "Sum": 9, "Minimum": 1, "Maximum": 5}},
        {"MetricName": "Bad", "Timestamp": "2026-11-01T00:01:00Z", "Value": 1, "Unit": "Parsecs"},
        {"MetricName": "Bad", "Value": 1},
        {"MetricName": "Bad", "Timestamp": "2026-11-01T00:01:00Z", "Dimensions": [{"Name": "a", "Value": {"o": 1}}],
         "Value": 1}]}
    rows, rej, _ = collect(read("metrics", _write(tmp_path, "pmd.json", body)))
    assert [(r["sample_count"], r["sum"], r["min"], r["max"], r["storage_resolution"]) for r in rows] == [
        (1.0, 12.0, 12.0, 12.0, 1), (4.0, 80.0, 10.0, 30.0, 60), (3.0, 9.0, 1.0, 5.0, 60)]
    assert rows[1]["values"] == [10.0, 20.0, 30.0] and rows[1]["counts"] == [1.0, 2.0, 1.0]
    assert rows[2]["unit"] == "None" and rows[0]["dimensions"] == '{"Api":"x"}'
    assert [(r.line, r.field) for r in rej] == [(3, "unit"), (4, "timestamp"), (5, "dimensions.a")]
    # the bare list form of `aws cloudwatch put-metric-data --metric-data file://…`
    rows, rej, _ = collect(read("metrics", _write(tmp_path, "list.json", body["MetricData"][:3]), namespace="Shop"))
    assert len(rows) == 3 and not rej


def test_bad_metric_stream_lines(tmp_path: Path) -> None:
    good = {"namespace": "A", "metric_name": "m", "dimensions": {}, "timestamp": 1793836800000,
            "value": {"max": 1, "min": 1, "sum": 1, "count": 1}, "unit": "Count"}
    lines = [good, {**good, "value": "1"}, {**good, "value": {**good["value"], "sum": "NaN"}},
             {**good, "dimensions": {"k": ["x"]}}]
    p = tmp_path / "s.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    rows, rej, _ = collect(read("metrics", p))
    assert len(rows) == 1
    assert [(r.line, r.field) for r in rej] == [(2, "value"), (3, "sum"), (4, "dimensions.k"), (5, None)]


def test_values_outside_cloudwatchs_range_are_rejected_naming_the_field(tmp_path: Path) -> None:
    """PutMetricData takes values in [-2^360, 2^360] only (aws-semantics.md): 2^360 itself loads,
    a float or an int beyond it is a rejected record with its field
    (positions are the list's, from 0)."""
    limit = 2.0 ** 360
    data = [{"MetricName": "M", "Timestamp": "2026-11-01T00:00:00Z", "Value": v}
            for v in (limit, -limit, 1e300, -1e300, 2 ** 361, 10 ** 400)]
    data.append({"MetricName": "M", "Timestamp": "2026-11-01T00:01:00Z",
                 "StatisticValues": {"SampleCount": 2, "Sum": 1e300, "Minimum": 1, "Maximum": 5}})
    rows, rej, _ = collect(read("metrics", _write(tmp_path, "big.json", data), namespace="Shop"))
    assert [r["sum"] for r in rows] == [limit, -limit]
    # a single value is stored as the statistic set (1, v, v, v): the field named is its sum
    # (10^400 is refused by the JSON reader itself: a number that is infinite as a double)
    assert [(r.line, r.field) for r in rej] == [(2, "sum"), (3, "sum"), (4, "sum"), (5, None), (6, "sum")]
    assert [("outside CloudWatch's range ±2^360" in r.reason, "infinity" in r.reason) for r in rej] == [
        (True, False)] * 3 + [(False, True), (True, False)]


def test_unknown_options_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read("metrics", tmp_path, namespac="x")
    with pytest.raises(InputError):
        read("metrics", tmp_path, unit="Parsecs")
