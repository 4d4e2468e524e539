"""GetMetricData requests with several queries and metric math, on rolled-up metrics: each
expected value is computed by hand from the raw points written (errors and requests per minute),
and the MetricStat results equal `metrics get` on the same series."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jobs.cli import main
from pipeline.errors import QueryError
from pipeline.lake import Lake
from pipeline.query.metricdata import metric_data_request
from pipeline.query.metrics import get_metric_data
from tests.pipeline.rollup.gen import T0, point, write_metrics

NOW = T0 + timedelta(hours=2)
# minute m: 100 + m requests (one point each), errors = m % 4 — no error point at all when it is 0
REQ = {m: 100.0 + m for m in range(30)}
ERR = {m: float(m % 4) for m in range(30) if m % 4}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lk = Lake(tmp_path_factory.mktemp("md") / "lake")
    rows = [point(T0 + timedelta(minutes=m, seconds=5), v, metric="Requests", unit="Count") for m, v in REQ.items()]
    rows += [point(T0 + timedelta(minutes=m, seconds=7), v, metric="Errors", unit="Count") for m, v in ERR.items()]
    write_metrics(lk, rows)
    assert main(["--lake", lk.root, "-q", "rollup"]) == 0
    return lk


def _stat(qid, metric, period=300, stat="Sum", ret=False):
    return {"Id": qid, "ReturnData": ret, "MetricStat": {
        "Metric": {"Namespace": "App", "MetricName": metric, "Dimensions": [{"Name": "Host", "Value": "a"}]},
        "Period": period, "Stat": stat}}


def _request(*queries, **kw):
    return {"MetricDataQueries": list(queries), "StartTime": T0.isoformat(),
            "EndTime": (T0 + timedelta(minutes=30)).isoformat(), **kw}


def test_an_error_rate_per_five_minutes(lake):
    doc = _request(_stat("e", "Errors"), _stat("r", "Requests"),
                   {"Id": "rate", "Expression": "100 * e / r", "Label": "error %"}, ScanBy="TimestampAscending")
    out = metric_data_request(lake, doc, now=NOW)
    [res] = out["MetricDataResults"]
    assert (res["Id"], res["Label"], res["StatusCode"]) == ("rate", "error %", "Complete")
    want = []
    for k in range(6):
        mins = range(5 * k, 5 * k + 5)
        want.append(100 * sum(ERR.get(m, 0.0) for m in mins) / sum(REQ[m] for m in mins))
    assert res["Values"] == pytest.approx(want)
    assert res["Timestamps"][0].startswith("2026-11-05T00:00") and res["Timestamps"][-1].startswith("2026-11-05T00:25")


def test_newest_first_by_default_and_metric_stats_as_metrics_get_gives_them(lake):
    out = metric_data_request(lake, _request(_stat("r", "Requests", period=60, ret=True)), now=NOW)
    [res] = out["MetricDataResults"]
    md = get_metric_data(lake, "App", "Requests", {"Host": "a"}, "Sum", T0, T0 + timedelta(minutes=30), 60, now=NOW)
    assert res["Values"] == list(reversed(md.values)) == [REQ[m] for m in reversed(range(30))]


def test_missing_points_count_as_zero_and_request_only_functions(lake):
    doc = _request(_stat("e", "Errors", period=60), _stat("r", "Requests", period=60),
                   {"Id": "ok", "Expression": "r - e"},                          # e missing → r − 0
                   {"Id": "share", "Expression": "e / SUM(e)"},                   # SUM of one series: a number
                   {"Id": "total", "Expression": "RUNNING_SUM(e)"},
                   {"Id": "n", "Expression": "TIME_SERIES(DATAPOINT_COUNT(e))"}, ScanBy="TimestampAscending")
    res = {r["Id"]: r for r in metric_data_request(lake, doc, now=NOW)["MetricDataResults"]}
    assert res["ok"]["Values"] == [REQ[m] - ERR.get(m, 0.0) for m in range(30)]
    total = sum(ERR.values())
    assert res["share"]["Values"] == pytest.approx([ERR[m] / total for m in sorted(ERR)])
    running, acc = [], 0.0
    for m in sorted(ERR):
        acc += ERR[m]
        running.append(acc)
    assert res["total"]["Values"] == running
    assert res["n"]["Values"] == [float(len(ERR))] * 30


def test_errors_name_the_query(lake):
    with pytest.raises(QueryError, match="query bad: metric math: unknown function NOPE"):
        metric_data_request(lake, _request(_stat("e", "Errors"), {"Id": "bad", "Expression": "NOPE(e)"}), now=NOW)
    with pytest.raises(QueryError, match="must give a series, not a number"):
        metric_data_request(lake, _request(_stat("e", "Errors"), {"Id": "s", "Expression": "SUM(e)"}), now=NOW)
    with pytest.raises(QueryError, match="one Period"):
        metric_data_request(lake, _request(_stat("e", "Errors"), _stat("r", "Requests", period=60),
                                           {"Id": "x", "Expression": "e + r"}), now=NOW)


def test_the_cli_answers_a_request_file(lake, tmp_path, capsys):
    f = tmp_path / "req.json"
    f.write_text(json.dumps(_request(_stat("e", "Errors"), _stat("r", "Requests"),
                                     {"Id": "rate", "Expression": "100 * e / r"})))
    capsys.readouterr()
    assert main(["--lake", lake.root, "metrics", "data", str(f), "--now", NOW.isoformat()]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert [r["Id"] for r in out["MetricDataResults"]] == ["rate"] and len(out["MetricDataResults"][0]["Values"]) == 6
    assert "metrics data" in cap.err and "results" in cap.err
    assert main(["--lake", lake.root, "metrics", "data", str(tmp_path / "nope.json")]) != 0
    assert "GetMetricData request file not found" in capsys.readouterr().err
