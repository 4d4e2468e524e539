"""`watchlake run` as a process on a temporary lake: records put on a stream come out as alarm, finding
and anomaly notifications in a file subscriber and a local webhook; SIGTERM drains; SIGKILL and a
restart lose and double nothing; the pipeline's own metrics are in the lake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import parse_alarm
from pipeline.notify import TopicStore
from pipeline.stream import Stream

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


class Webhook:
    """A local HTTP subscriber recording every POSTed SNS envelope."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sns"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE__")}
    env.update(PYTHONPATH=str(REPO), WATCHLAKE__STREAM__ROOT=str(tmp_path / "streams"),
               WATCHLAKE__RUN__ANOMALY_TOPIC="oncall", WATCHLAKE__RUN__FINDINGS_TOPIC="oncall",
               WATCHLAKE__RUN__BUFFER_SECONDS="1", WATCHLAKE__RUN__POLL_SECONDS="0.5",
               WATCHLAKE__RUN__ROLLUP_SECONDS="1", WATCHLAKE__RUN__ALARM_SECONDS="1",
               WATCHLAKE__RUN__ANOMALY_SECONDS="1", WATCHLAKE__RUN__DETECT_SECONDS="1",
               WATCHLAKE__RUN__INSIGHTS_SECONDS="30", WATCHLAKE__RUN__COMPACT_SECONDS="30")
    return env


def _start(tmp_path: Path, lake: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", "--lake", str(lake), "run"], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _metric_line(t: datetime, value: float, metric: str = "Errors") -> dict:
    return {"metric_stream_name": "s", "account_id": "123456789012", "region": "us-east-1", "namespace": "App",
            "metric_name": metric, "dimensions": {"Service": "api"}, "timestamp": int(t.timestamp() * 1000),
            "value": {"count": 1, "sum": value, "min": value, "max": value}, "unit": "Count"}


def _stop_logging(i: int, t: datetime) -> dict:
    return {"eventVersion": "1.08", "eventID": f"00000000-0000-4000-8000-{i:012d}", "eventTime": t.strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
            "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                             "accountId": "123456789012", "userName": "mallory"},
            "requestParameters": {"name": "main-trail"}, "eventType": "AwsApiCall", "readOnly": False,
            "recipientAccountId": "123456789012", "managementEvent": True, "eventCategory": "Management"}


def _put(stream: Stream, docs: list[dict], key: str) -> None:
    for i in range(0, len(docs), 500):
        stream.put([(f"{key}-{i + j}", json.dumps(d).encode()) for j, d in enumerate(docs[i:i + 500])])


def _messages(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(json.loads(line)["Message"]) for line in path.read_text().splitlines()]


def _wait(pred, timeout: float, proc: subprocess.Popen[str]) -> None:
    t0 = time.monotonic()
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"run exited early: {proc.communicate()[1][-2000:]}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting")
        time.sleep(0.25)


def _setup(tmp_path: Path, lake_root: Path, webhook_url: str) -> Stream:
    from pipeline.lake import Lake

    lake = Lake(str(lake_root))
    store = TopicStore(lake)
    store.subscribe("oncall", "file", "notify/oncall.jsonl")
    store.subscribe("oncall", "http", webhook_url)
    store.save()
    alarms = AlarmStore(lake)
    alarms.put([parse_alarm({
        "AlarmName": "api-errors", "Namespace": "App", "MetricName": "Errors",
        "Dimensions": [{"Name": "Service", "Value": "api"}], "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 50, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": ["oncall"]})])
    alarms.save()
    return Stream.create(str(tmp_path / "streams"), "live", 2)


def test_run_end_to_end_notifies_and_drains(tmp_path):
    lake_root = tmp_path / "lake"
    hook = Webhook()
    try:
        stream = _setup(tmp_path, lake_root, hook.url)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        # 6 hours of a quiet daily-ish series, then one spike two minutes ago: an anomaly episode
        rng = np.random.default_rng(3)
        minutes = [now - timedelta(minutes=m) for m in range(360, 1, -1)]
        quiet = [_metric_line(t, 20 + 3 * np.sin(i / 30) + rng.normal(0, 0.5), "Latency")
                 for i, t in enumerate(minutes)]
        spike_at = now - timedelta(minutes=2)
        quiet[-1] = _metric_line(spike_at, 400.0, "Latency")
        _put(stream, quiet, "lat")
        proc = _start(tmp_path, lake_root)
        file_out = lake_root / "notify" / "oncall.jsonl"
        # a breaching minute that has closed, and an attack event: each must come out as a notification
        _put(stream, [_metric_line(now - timedelta(minutes=1), 500.0)], "err")
        _put(stream, [_stop_logging(1, datetime.now(UTC))], "ct")
        _wait(lambda: any(m.get("AlarmName") == "api-errors" and m.get("NewStateValue") == "ALARM"
                          for m in _messages(file_out)), 60, proc)
        attack_id = _stop_logging(1, now)["eventID"]
        _wait(lambda: any("finding_id" in m and attack_id in m.get("event_ids", [])
                          for m in _messages(file_out)), 60, proc)
        _wait(lambda: any(str(m.get("AlarmName", "")).startswith("anomaly:App|Latency")
                          for m in _messages(file_out)), 90, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "watchlake run stopped" in err and "SIGTERM received" in err
    finally:
        hook.close()
    msgs = _messages(file_out)
    anomaly = [m for m in msgs if str(m.get("AlarmName", "")).startswith("anomaly:App|Latency")]
    assert spike_at.strftime("%Y-%m-%dT%H:%M") in anomaly[0]["StateChangeTime"]
    # the webhook got exactly what the file got (same message ids), each once
    file_ids = [json.loads(line)["MessageId"] for line in file_out.read_text().splitlines()]
    hook_ids = [b["MessageId"] for b in hook.bodies]
    assert sorted(file_ids) == sorted(hook_ids) and len(set(file_ids)) == len(file_ids)
    # the pipeline's own metrics, and the stopped status
    con = duckdb.connect()
    names = {r[0] for r in con.execute(
        "SELECT DISTINCT metric_name FROM read_parquet(?) WHERE namespace = 'Watchlake/Pipeline'",
        [str(lake_root / "raw" / "metrics" / "**" / "*.parquet")]).fetchall()}
    assert {"RecordsIn", "RecordsOut", "Lag", "BatchDuration", "PendingNotifications"} <= names
    status = json.loads((lake_root / "_state" / "run" / "status.json").read_text())
    assert status["state"] == "stopped" and status["stages"]["load"]["records_in"] == 361


def test_sigkill_and_restart_lose_and_double_nothing(tmp_path):
    lake_root = tmp_path / "lake"
    hook = Webhook()
    try:
        stream = _setup(tmp_path, lake_root, hook.url)
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=60)  # all 3,000 s in the past
        events = [_stop_logging(i, t0 + timedelta(seconds=i)) for i in range(3000)]
        _put(stream, events[:1500], "a")
        proc = _start(tmp_path, lake_root)
        time.sleep(4)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        _put(stream, events[1500:], "b")
        proc = _start(tmp_path, lake_root)
        con = duckdb.connect()
        glob = str(lake_root / "raw" / "cloudtrail" / "**" / "*.parquet")

        def loaded() -> int:
            try:
                return int(con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()[0])
            except duckdb.IOException:
                return 0
        _wait(lambda: loaded() >= 3000, 90, proc)
        sent = lake_root / "notify" / "oncall.jsonl"
        _wait(lambda: sent.exists() and sent.stat().st_size > 0, 60, proc)  # detections catch up
        time.sleep(3)  # and the restarted run has had time to send anything twice
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
    finally:
        hook.close()
    total, distinct = con.execute("SELECT count(*), count(DISTINCT eventID) FROM read_parquet(?)", [glob]).fetchone()
    assert total == distinct == 3000
    lines = (lake_root / "notify" / "oncall.jsonl").read_text().splitlines()
    ids = [json.loads(line)["MessageId"] for line in lines]
    assert ids and len(ids) == len(set(ids))  # no notification twice, whatever the kill interrupted


def _log_payload(group: str, events: list[tuple[datetime, str]], start_id: int) -> bytes:
    """A CloudWatch Logs subscription payload (gzip JSON), as Kinesis or Firehose would carry it."""
    import gzip

    return gzip.compress(json.dumps({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group, "logStream": "web-1",
        "subscriptionFilters": ["to-lake"],
        "logEvents": [{"id": f"{start_id + i:056d}", "timestamp": int(t.timestamp() * 1000), "message": m}
                      for i, (t, m) in enumerate(events)]}).encode())


def test_log_lines_become_a_metric_that_alarms_live(tmp_path):
    """The CloudWatch loop, live: log lines arrive on a stream, a metric filter counts the ERRORs,
    the rollup and an alarm on the filter's metric turn 5 of them in one minute into an ALARM
    notification — and after a SIGTERM the metric holds each matching line once."""
    from pipeline.lake import Lake
    from pipeline.metricfilters.model import FilterStore, parse_filter
    from pipeline.query.metrics import get_metric_data

    lake_root = tmp_path / "lake"
    lake = Lake(str(lake_root))
    store = TopicStore(lake)
    store.subscribe("oncall", "file", "notify/oncall.jsonl")
    store.save()
    filters = FilterStore(lake)
    filters.put([parse_filter({"filterName": "errors", "logGroupName": "/app/web",
                               "filterPattern": "ERROR -HEALTHCHECK",
                               "metricTransformations": [{"metricName": "LogErrors", "metricNamespace": "App",
                                                          "metricValue": "1", "unit": "Count"}]})],
                datetime.now(UTC))
    filters.save()
    alarms = AlarmStore(lake)
    alarms.put([parse_alarm({"AlarmName": "log-errors", "Namespace": "App", "MetricName": "LogErrors",
                             "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 4,
                             "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                             "Unit": "Count", "AlarmActions": ["oncall"]})])
    alarms.save()
    stream = Stream.create(str(tmp_path / "streams"), "live", 2)
    proc = _start(tmp_path, lake_root)
    try:
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        lines = [(minute + timedelta(seconds=s), msg) for s, msg in [
            (1, "ERROR db timeout"), (5, "INFO ok"), (9, "ERROR db timeout"), (14, "ERROR HEALTHCHECK failed"),
            (20, "ERROR upstream 502"), (31, "WARN slow"), (40, "ERROR upstream 502"), (52, "ERROR disk full")]]
        stream.put([("logs-1", _log_payload("/app/web", lines, 1)),
                    ("logs-2", _log_payload("/app/other", [(minute, "ERROR elsewhere")], 100))])
        file_out = lake_root / "notify" / "oncall.jsonl"
        _wait(lambda: any(m.get("AlarmName") == "log-errors" and m.get("NewStateValue") == "ALARM"
                          for m in _messages(file_out)), 90, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    # 5 ERROR lines in /app/web without HEALTHCHECK, each counted once; /app/other has no filter
    md = get_metric_data(lake, "App", "LogErrors", {}, "Sum", minute, minute + timedelta(minutes=1), 60,
                         now=minute + timedelta(minutes=2))
    assert md.values == [5.0]
    reason = next(m for m in _messages(file_out) if m.get("AlarmName") == "log-errors")["NewStateReason"]
    assert "[5.0 " in reason
