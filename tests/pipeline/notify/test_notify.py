"""SNS-like topics: fan-out, JSONL files, webhook retries against a local HTTP server, outbox."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.errors import InputError
from pipeline.notify import DEAD_LETTER_PATH, OUTBOX_PATH, Notifier, TopicStore, publish
from pipeline.notify.delivery import backoff_delays
from pipeline.notify.topics import topic_name

FAST = {"numRetries": 3, "minDelayTarget": 0.01, "maxDelayTarget": 0.04, "timeoutSeconds": 2}


class _Server:
    """A local webhook that fails the first ``fail`` requests with ``status``."""

    def __init__(self, fail: int = 0, status: int = 500):
        self.fail, self.status = fail, status
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = outer.status if len(outer.requests) <= outer.fail else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()


def _topic(lake, *subs):
    store = TopicStore(lake)
    for protocol, endpoint, kw in subs:
        store.subscribe("oncall", protocol, endpoint, allow_absolute_paths=True, **kw)
    store.save()


def _backoff_passes(lake):
    """Time passes: every queued message is due for its next try."""
    past = "2000-01-01T00:00:00.000Z"
    lake.write_json(OUTBOX_PATH, [{**i, "next_attempt": past} for i in lake.read_json(OUTBOX_PATH)])


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_topic_names_and_arns():
    assert topic_name("arn:aws:sns:us-west-2:111122223333:oncall") == "oncall"
    assert topic_name("alerts.fifo") == "alerts.fifo"
    with pytest.raises(InputError):
        topic_name("bad name")
    with pytest.raises(InputError):
        topic_name("arn:aws:lambda:us-east-1:1:function:f")


def test_fan_out_to_file_stdout_and_webhook(lake, tmp_path, capsys):
    with _Server() as srv:
        _topic(lake, ("file", "notify/oncall.jsonl", {}), ("file", str(tmp_path / "raw.jsonl"), {"raw": True}),
               ("stdout", "", {}), ("http", srv.url, {"policy": FAST}))
        r = publish(lake, "arn:aws:sns:us-east-1:123456789012:oncall", "ALARM: \"x\"", {"AlarmName": "x"})
        assert (r.delivered, r.queued) == (4, 0)
        env = _lines(lake_root := tmp_path / "lake" / "notify" / "oncall.jsonl")[0]
        assert lake_root.exists()
        assert env["Type"] == "Notification" and env["Subject"] == "ALARM: \"x\""
        assert json.loads(env["Message"]) == {"AlarmName": "x"}
        assert env["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:oncall"
        assert env["Timestamp"].endswith("Z") and len(env["Timestamp"]) == 24
        assert _lines(tmp_path / "raw.jsonl") == [{"AlarmName": "x"}]
        assert json.loads(capsys.readouterr().out.strip())["MessageId"] == r.message_id
        headers, body = srv.requests[0]
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-message-id"] == r.message_id
        assert json.loads(body)["Message"] == '{"AlarmName": "x"}'


def test_webhook_retries_with_backoff_then_succeeds(lake):
    slept: list[float] = []
    with _Server(fail=2) as srv:
        _topic(lake, ("http", srv.url, {"policy": FAST}))
        with Notifier(lake, sleep=slept.append) as n:
            r = n.publish("oncall", None, {"a": 1})
        assert r.delivered == 1 and len(srv.requests) == 3
        assert slept == [0.01, 0.02]  # exponential from minDelayTarget
        # every attempt carries the same message id
        assert len({h["x-amz-sns-message-id"] for h, _ in srv.requests}) == 1


def test_backoff_schedule_is_capped():
    assert backoff_delays({"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 20}) == [1, 2, 4, 8, 16]
    assert backoff_delays({"numRetries": 7, "minDelayTarget": 1, "maxDelayTarget": 20})[-2:] == [20, 20]


def test_failing_subscriber_does_not_block_others_and_is_retried_later(lake, tmp_path):
    with _Server(fail=4) as srv:  # 1 + 3 retries fail, the later retry succeeds
        _topic(lake, ("http", srv.url, {"policy": FAST}), ("file", "out.jsonl", {}))
        with Notifier(lake, sleep=lambda s: None) as n:
            r1 = n.publish("oncall", None, {"n": 1})
            r2 = n.publish("oncall", None, {"n": 2})  # endpoint known broken: queued at once
        assert (r1.delivered, r1.queued) == (1, 1) and (r2.delivered, r2.queued) == (1, 1)
        assert len(srv.requests) == 4
        assert [json.loads(e["Message"])["n"] for e in _lines(tmp_path / "lake" / "out.jsonl")] == [1, 2]
        assert len(lake.read_json(OUTBOX_PATH)) == 2
        with Notifier(lake, sleep=lambda s: None) as n:  # at once: not due yet, nothing is tried
            pass
        assert len(lake.read_json(OUTBOX_PATH)) == 2 and len(srv.requests) == 4
        _backoff_passes(lake)
        with Notifier(lake, sleep=lambda s: None) as n:  # a later session drains the outbox
            pass
        assert lake.read_json(OUTBOX_PATH) == []
        delivered = [json.loads(json.loads(b)["Message"])["n"] for _, b in srv.requests[4:]]
        assert delivered == [1, 2]


def test_client_error_is_not_retried_and_goes_to_dead_letter(lake, tmp_path):
    with _Server(fail=99, status=403) as srv:
        _topic(lake, ("http", srv.url, {"policy": FAST}))
        r = publish(lake, "oncall", None, {"n": 1})
        assert (r.delivered, r.queued, r.dead) == (0, 0, 1) and len(srv.requests) == 1
    dead = _lines(tmp_path / "lake" / DEAD_LETTER_PATH)
    assert dead[0]["last_error"] == "HTTP 403"


def test_unreachable_endpoint_is_kept(lake):
    _topic(lake, ("http", "http://127.0.0.1:9/none", {"policy": {**FAST, "numRetries": 0}}))
    r = publish(lake, "oncall", None, {"n": 1})
    assert r.queued == 1 and "connection failed" in r.errors[0]
    assert len(lake.read_json(OUTBOX_PATH)) == 1


def test_publish_validation(lake):
    _topic(lake, ("stdout", "", {}))
    with pytest.raises(InputError, match="topic does not exist"):
        publish(lake, "nope", None, {})
    with pytest.raises(InputError, match="Subject"):
        publish(lake, "oncall", "x" * 100, {})
    with pytest.raises(InputError, match="256 KiB"):
        publish(lake, "oncall", None, "x" * 262_145)
    with pytest.raises(InputError, match="protocol"):
        TopicStore(lake).subscribe("oncall", "sms", "+1")


def test_alarm_evaluation_retries_the_outbox(lake):
    from tests.pipeline.alarms.helpers import alarm_doc, engine_with, minute, source_with

    with _Server(fail=1) as srv:
        _topic(lake, ("http", srv.url, {"policy": {**FAST, "numRetries": 0}}))
        assert publish(lake, "oncall", None, {"n": 1}).queued == 1
        _backoff_passes(lake)
        with engine_with(lake, [alarm_doc(EvaluationPeriods=1)], source_with({0: 1.0})) as eng:
            eng.evaluate(minute(1))  # no action (no alarm actions), but the outbox is drained
        assert lake.read_json(OUTBOX_PATH) == [] and len(srv.requests) == 2


def test_dedup_id_sends_once_per_lake_across_notifiers(lake, tmp_path):
    _topic(lake, ("file", "out.jsonl", {}))
    with Notifier(lake) as n:
        first = n.publish("oncall", None, {"n": 1}, dedup_id="alarm:cpu:OK@t0->ALARM")
        again = n.publish("oncall", None, {"n": 1}, dedup_id="alarm:cpu:OK@t0->ALARM")
    with Notifier(lake) as n:  # another process, after a restart
        later = n.publish("oncall", None, {"n": 1}, dedup_id="alarm:cpu:OK@t0->ALARM")
        other = n.publish("oncall", None, {"n": 2}, dedup_id="alarm:cpu:ALARM@t1->OK")
    assert (first.duplicate, again.duplicate, later.duplicate, other.duplicate) == (False, True, True, False)
    assert first.message_id == again.message_id == later.message_id != other.message_id
    assert [json.loads(e["Message"])["n"] for e in _lines(tmp_path / "lake" / "out.jsonl")] == [1, 2]
    assert lake.read_json(OUTBOX_PATH) == []


def test_dedup_message_to_a_down_subscriber_is_delivered_once_later(lake):
    with _Server(fail=4) as srv:  # down for the first publish and its retries
        _topic(lake, ("http", srv.url, {"policy": FAST}))
        with Notifier(lake, sleep=lambda s: None) as n:
            assert n.publish("oncall", None, {"n": 1}, dedup_id="finding:f1:3").queued == 1
        assert len(lake.read_json(OUTBOX_PATH)) == 1
        _backoff_passes(lake)
        with Notifier(lake, sleep=lambda s: None) as n:  # the subscriber is back: the outbox drains
            assert n.publish("oncall", None, {"n": 1}, dedup_id="finding:f1:3").duplicate
        ok = [json.loads(b) for _, b in srv.requests[4:]]
        assert [json.loads(e["Message"])["n"] for e in ok] == [1] and lake.read_json(OUTBOX_PATH) == []


def test_dedup_message_written_ahead_survives_a_crash_before_delivery(lake, tmp_path):
    """A process that dies after the write-ahead (before any delivery) leaves the message in the outbox:
    the next notifier delivers it, and the publisher's retry of the same id sends nothing more."""
    _topic(lake, ("file", "out.jsonl", {}))
    n = Notifier(lake)
    n._send = lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed"))  # dies at the first delivery
    with pytest.raises(SystemExit):
        n.publish("oncall", None, {"n": 1}, dedup_id="anomaly:s1:t")
    assert len(lake.read_json(OUTBOX_PATH)) == 1 and not (tmp_path / "lake" / "out.jsonl").exists()
    with Notifier(lake) as n2:
        assert n2.publish("oncall", None, {"n": 1}, dedup_id="anomaly:s1:t").duplicate
    assert [json.loads(e["Message"])["n"] for e in _lines(tmp_path / "lake" / "out.jsonl")] == [1]


def test_outbox_backoff_outlasts_a_ten_minute_outage():
    from pipeline.notify import outbox_delay
    from pipeline.notify.topics import DEFAULT_POLICY

    waits = [outbox_delay(a) for a in range(1, int(DEFAULT_POLICY["maxAttempts"]))]
    assert waits[:4] == [2, 4, 8, 16] and max(waits) == 60
    assert sum(waits) > 30 * 60  # a subscriber down for ten minutes (and more) still gets everything


@pytest.mark.parametrize("raw", [False, True])
def test_dedup_message_delivered_just_before_a_crash_is_not_delivered_again(lake, tmp_path, raw):
    """A process killed after appending the message to a file subscriber but before the outbox
    recorded it: the next notifier finds the line at the file's end and does not append it again
    (bench_run_kill saw this as one MessageId twice in 20 kills); a message still undelivered in
    the same outbox is delivered."""
    _topic(lake, ("file", "out.jsonl", {"raw": raw}))
    n = Notifier(lake)
    send = n._send

    def send_then_die(*a, **k):
        send(*a, **k)
        raise SystemExit("killed")

    n._send = send_then_die
    with pytest.raises(SystemExit):
        n.publish("oncall", None, {"n": 1}, dedup_id="finding:f1:0")
    assert len(lake.read_json(OUTBOX_PATH)) == 1 and len(_raw_lines(tmp_path / "lake" / "out.jsonl")) == 1
    n = Notifier(lake)  # a restart: its retry at start finds n=1 delivered and drops it from the outbox
    n._send = lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed"))  # dies before delivering n=2
    with pytest.raises(SystemExit):
        n.publish("oncall", None, {"n": 2}, dedup_id="finding:f2:0")
    assert [json.loads(i["envelope"]["Message"])["n"] for i in lake.read_json(OUTBOX_PATH)] == [2]
    with Notifier(lake) as n2:
        assert n2.publish("oncall", None, {"n": 1}, dedup_id="finding:f1:0").duplicate
    lines = _raw_lines(tmp_path / "lake" / "out.jsonl")
    messages = [json.loads(x) if raw else json.loads(json.loads(x)["Message"]) for x in lines]
    assert [m["n"] for m in messages] == [1, 2] and lake.read_json(OUTBOX_PATH) == []


def _raw_lines(path):
    return path.read_text().splitlines()


def test_versioned_dedup_sends_only_growth_and_keeps_one_entry(lake, tmp_path):
    """A growing thing (a finding's event count): each higher ``dedup_seq`` is sent once, a lower or
    equal one is not — after a restart too —, and the record of sent ids keeps one entry for it; an
    id recorded the unversioned way before (``finding:f1:5``) still counts as sent."""
    _topic(lake, ("file", "out.jsonl", {}))
    with Notifier(lake) as n:
        sent = [not n.publish("oncall", None, {"n": c}, dedup_id="finding:f1", dedup_seq=c).duplicate
                for c in (1, 3, 2, 3, 7)]
    assert sent == [True, True, False, False, True]
    with Notifier(lake) as n:  # another process, after a restart
        assert n.publish("oncall", None, {"n": 7}, dedup_id="finding:f1", dedup_seq=7).duplicate
        assert n.publish("oncall", None, {"n": 6}, dedup_id="finding:f1", dedup_seq=6).duplicate
    record = json.loads((tmp_path / "lake" / PUBLISHED).read_text())
    assert list(record) == ["finding:f1"] and record["finding:f1"].endswith(" 7")
    record["finding:f2:5"] = record["finding:f1"].split(" ")[0]  # written by a version before dedup_seq
    (tmp_path / "lake" / PUBLISHED).write_text(json.dumps(record))
    with Notifier(lake) as n:
        first = n.publish("oncall", None, {"n": 5}, dedup_id="finding:f2", dedup_seq=5)
        grown = n.publish("oncall", None, {"n": 6}, dedup_id="finding:f2", dedup_seq=6)
    assert first.duplicate and not grown.duplicate
    # the MessageId is the one the unversioned id "finding:f2:6" had (subscribers see the same ids)
    arn = TopicStore(lake).get("oncall").arn
    assert grown.message_id == str(uuid.uuid5(uuid.NAMESPACE_URL, f"watchlake:{arn}:finding:f2:6"))
    assert [json.loads(e["Message"])["n"] for e in _lines(tmp_path / "lake" / "out.jsonl")] == [1, 3, 7, 6]


PUBLISHED = "notify/published.json"
