"""``anomalies score`` on what the AWS CLI prints for CloudWatch metrics: a real CloudWatch series
(NAB's ec2_request_latency_system_failure, an EC2 latency metric) re-written as get-metric-data
output (newest first, as CloudWatch returns it) and as get-metric-statistics output (shuffled)
scores exactly as its CSV does, row for row; an ambiguous file names what it holds."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.cli import main
from pipeline.anomaly.series_io import read_series, run_detector
from pipeline.errors import InputError

SRC = (Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data" / "realKnownCause"
       / "ec2_request_latency_system_failure.csv")


def _rows() -> list[tuple[str, float]]:
    """The series' rows, each timestamp once (the file repeats 11: CloudWatch never returns a
    timestamp twice for one series, and the order of equal times decides what is learnt first)."""
    seen: dict[str, float] = {}
    with SRC.open() as fh:
        r = csv.reader(fh)
        next(r)
        for t, v in r:
            seen.setdefault(datetime.fromisoformat(t).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), float(v))
    return list(seen.items())


def _by_time(series, scores) -> dict[str, float]:
    return {t: s.score for t, s in zip(series.raw_times, scores, strict=True)}


@pytest.fixture(scope="module")
def want(tmp_path_factory) -> dict[str, float]:
    """Each time's score from the same rows as a CSV (the CSV reader, the other path)."""
    f = tmp_path_factory.mktemp("csv") / "series.csv"
    f.write_text("timestamp,value\n" + "".join(f"{t},{v!r}\n" for t, v in _rows()))
    s = read_series(f)
    return _by_time(s, run_detector(s))


def test_get_metric_data_output_newest_first_scores_as_the_csv(tmp_path, want):
    rows = _rows()[::-1]                                  # CloudWatch's default: TimestampDescending
    f = tmp_path / "gmd.json"
    f.write_text(json.dumps({"MetricDataResults": [{"Id": "lat", "Label": "Latency", "StatusCode": "Complete",
                                                    "Timestamps": [t for t, _ in rows],
                                                    "Values": [v for _, v in rows]}], "Messages": []}))
    s = read_series(f)
    assert s.raw_times[0] == rows[0][0] and len(s.values) == 4021
    assert _by_time(s, run_detector(s)) == want and max(want.values()) > 0.5     # it has alerts
    assert any("read result lat (Latency)" in n for n in s.notes)


def test_get_metric_statistics_output_in_any_order_scores_as_the_csv(tmp_path, want):
    rows = _rows()
    random.Random(7).shuffle(rows)
    f = tmp_path / "gms.json"
    f.write_text(json.dumps({"Label": "Latency", "Datapoints": [
        {"Timestamp": t, "Average": v, "Unit": "Milliseconds"} for t, v in rows]}))
    s = read_series(f)
    assert _by_time(s, run_detector(s)) == want



def test_pages_saved_one_after_another_are_merged_and_score_as_the_csv(tmp_path, want):
    """A loop over ``NextToken`` that appends each page's output: get-metric-data results merged
    by Id (pages newest first, as CloudWatch returns them), get-metric-statistics datapoints in
    turn; both score as the CSV."""
    rows = _rows()[::-1]
    pages = [rows[:1500], rows[1500:3000], rows[3000:]]
    f = tmp_path / "gmd_pages.json"
    f.write_text("\n".join(json.dumps({"MetricDataResults": [
        {"Id": "lat", "Label": "Latency", "Timestamps": [t for t, _ in page], "Values": [v for _, v in page]},
        {"Id": "other", "Label": "Other", "Timestamps": [], "Values": []}],
        **({"NextToken": "t"} if k < 2 else {})}, indent=1) for k, page in enumerate(pages)))
    s = read_series(f, series="lat")
    assert len(s.values) == 4021 and _by_time(s, run_detector(s)) == want
    assert any("read result lat (Latency), 3 pages merged" in n for n in s.notes)
    g = tmp_path / "gms_pages.json"
    g.write_text("".join(json.dumps({"Label": "Latency", "Datapoints": [
        {"Timestamp": t, "Average": v} for t, v in page]}) for page in pages))  # not even a newline
    s = read_series(g)
    assert _by_time(s, run_detector(s)) == want


def test_an_output_with_no_datapoints_is_a_series_of_no_points(tmp_path):
    f = tmp_path / "none.json"
    f.write_text(json.dumps({"Label": "CPUUtilization", "Datapoints": []}))
    for stat in (None, "Average"):
        s = read_series(f, stat=stat)
        assert s.values == [] and s.notes == ["read CPUUtilization: no datapoints ×1: none.json"]
    f.write_text(json.dumps({"MetricDataResults": [{"Id": "m", "Label": "CPU", "Timestamps": [], "Values": []}]}))
    assert read_series(f).values == []

def test_an_ambiguous_file_names_what_it_holds(tmp_path):
    f = tmp_path / "two.json"
    f.write_text(json.dumps({"MetricDataResults": [
        {"Id": "a", "Label": "A", "Timestamps": ["2026-01-01T00:00:00Z"], "Values": [1.0]},
        {"Id": "b", "Label": "B", "Timestamps": ["2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"],
         "Values": [2.0, "oops"]}]}))
    with pytest.raises(InputError, match=r"2 results \(a \(A\), b \(B\)\): choose one with --series"):
        read_series(f)
    s = read_series(f, series="B")
    assert s.values == [2.0, None]
    assert any("not a finite number" in n and "datapoint 2" in n for n in s.notes)
    g = tmp_path / "stats.json"
    g.write_text(json.dumps({"Datapoints": [{"Timestamp": "2026-01-01T00:00:00Z", "Average": 1.0, "Maximum": 2.0}]}))
    with pytest.raises(InputError, match="hold Average, Maximum: choose one with --stat"):
        read_series(g)
    assert read_series(g, stat="Maximum").values == [2.0]
    h = tmp_path / "other.json"
    h.write_text("{}")
    with pytest.raises(InputError, match="expected `aws cloudwatch get-metric-data` output"):
        read_series(h)


def test_entries_that_are_not_objects_are_named_and_malformed_results_refused(tmp_path):
    f = tmp_path / "stats.json"
    f.write_text(json.dumps({"Datapoints": [{"Timestamp": "2026-01-01T00:00:00Z", "Average": 1.0}, 7, None,
                                            {"Timestamp": "2026-01-01T00:05:00Z", "Average": 2.0,
                                             "ExtendedStatistics": ["p99"]}]}))
    s = read_series(f)
    assert s.values == [1.0, 2.0]
    assert any("not a JSON object" in n and "×2" in n and "Datapoints[1]" in n and "Datapoints[2]" in n
               for n in s.notes)
    g = tmp_path / "gmd.json"
    g.write_text(json.dumps({"MetricDataResults": [{"Id": ["m1"], "Timestamps": [], "Values": []}]}))
    with pytest.raises(InputError, match=r"\.Id`: a result's Id must be a string \(got \['m1'\]\)"):
        read_series(g)
    g.write_text(json.dumps({"MetricDataResults": ["junk", {"Id": "m1", "Timestamps": 5.0, "Values": []}]}))
    with pytest.raises(InputError, match=r"must be lists of the same length \(got \('float', 0\)\)"):
        read_series(g)


def test_the_cli_scores_get_metric_data_output(tmp_path, capsys):
    rows = _rows()[::-1]
    f = tmp_path / "gmd.json"
    f.write_text(json.dumps({"MetricDataResults": [
        {"Id": "lat", "Label": "Latency", "Timestamps": [t for t, _ in rows], "Values": [v for _, v in rows]},
        {"Id": "other", "Label": "Other", "Timestamps": [], "Values": []}]}))
    out = tmp_path / "scores.csv"
    assert main(["anomalies", "score", "--input", str(f), "--output", str(out)]) != 0
    assert "choose one with --series" in capsys.readouterr().err
    assert main(["anomalies", "score", "--input", str(f), "--output", str(out), "--series", "lat"]) == 0
    got = list(csv.reader(out.open()))
    assert got[0] == ["timestamp", "value", "anomaly_score"] and len(got) == 4022
    assert got[1][0] == rows[0][0]                         # written back in the file's order (newest first)
