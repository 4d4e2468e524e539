"""Two datapoints of one series at one timestamp are two samples; the same input twice adds nothing.

CloudWatch aggregates every PutMetricData value it receives: two values (10 and 500) sent for the
same second give SampleCount 2, Maximum 500 (reference/aws-semantics.md). The expected statistics
below are computed by hand from the values written.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.loader.ingest import ingest
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups

TS = "2026-11-01T08:00:00Z"


def _one_minute(lake: Lake) -> list[tuple]:
    files = [lake.uri(f) for f in lake.table_files("metrics_1m")]
    con = duckdb.connect()
    return con.execute("SELECT metric_name, sample_count, sum, min, max FROM read_parquet(?) ORDER BY ALL",
                       [files]).fetchall()


def test_put_metric_data_values_at_one_second_are_two_samples(tmp_path: Path, lake: Lake, settings: Settings) -> None:
    f = tmp_path / "put.json"
    f.write_text(json.dumps({"Namespace": "App", "MetricData": [
        {"MetricName": "Latency", "Timestamp": TS, "Value": 10, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Timestamp": TS, "Value": 500, "Unit": "Milliseconds"}]}))
    first = ingest(lake, settings.loader, "metrics", [f])
    assert (first.records_in, first.loaded, first.duplicates) == (2, 2, 0)
    again = ingest(lake, settings.loader, "metrics", [f])
    assert (again.records_in, again.loaded, again.duplicates) == (2, 0, 2)
    run_rollups(lake, settings, DuckDBEngine())
    assert _one_minute(lake) == [("Latency", 2.0, 510.0, 10.0, 500.0)]


def test_datapoints_sharing_one_line_and_csv_duplicates(tmp_path: Path, lake: Lake, settings: Settings) -> None:
    # NDJSON of PutMetricData requests: both datums of line 2 sit at one position of the file
    nd = tmp_path / "calls.jsonl"
    call = {"Namespace": "App", "MetricData": [
        {"MetricName": "Errors", "Timestamp": TS, "Value": 1, "Unit": "Count"},
        {"MetricName": "Errors", "Timestamp": TS, "Value": 1, "Unit": "Count"},
        {"MetricName": "Errors", "Timestamp": TS, "Value": 4, "Unit": "Count"}]}
    nd.write_text(json.dumps({"Namespace": "App", "MetricData": []}) + "\n" + json.dumps(call) + "\n")
    # a NAB-style CSV where one timestamp appears twice with two values
    csv = tmp_path / "nab.csv"
    csv.write_text("timestamp,value\n2026-11-01 08:00:10,3\n2026-11-01 08:00:10,9\n2026-11-01 08:00:20,5\n")
    s1 = ingest(lake, settings.loader, "metrics", [nd])
    s2 = ingest(lake, settings.loader, "metrics", [csv], namespace="App", metric_name="Nab")
    assert (s1.loaded, s2.loaded) == (3, 3)
    s3 = ingest(lake, settings.loader, "metrics", [nd])
    s4 = ingest(lake, settings.loader, "metrics", [csv], namespace="App", metric_name="Nab")
    assert (s3.loaded, s3.duplicates, s4.loaded, s4.duplicates) == (0, 3, 0, 3)
    run_rollups(lake, settings, DuckDBEngine())
    # Errors: 1 + 1 + 4 (three samples, two equal); Nab: 3, 9, 5 in one minute
    assert _one_minute(lake) == [("Errors", 3.0, 6.0, 1.0, 4.0), ("Nab", 3.0, 17.0, 3.0, 9.0)]


def test_an_identical_metric_streams_record_is_a_redelivery(tmp_path: Path, lake: Lake, settings: Settings) -> None:
    # a Metric Streams record is the statistic set of a whole minute: the same one twice in a
    # Firehose file is at-least-once delivery, not a second minute of data
    rec = {"metric_stream_name": "s", "namespace": "App", "metric_name": "Latency", "dimensions": {},
           "timestamp": 1793520000000, "unit": "Milliseconds",
           "value": {"max": 9.0, "min": 1.0, "sum": 12.0, "count": 3.0}}
    f = tmp_path / "firehose.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    s = ingest(lake, settings.loader, "metrics", [f])
    assert (s.records_in, s.loaded, s.duplicates) == (2, 1, 1)
