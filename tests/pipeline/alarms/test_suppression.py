"""Composite alarm action suppression: validation, the state machine by hand, and one maintenance
scenario whose notifications are derived by hand and must come out the same live and replayed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.alarms import suppression
from pipeline.alarms.engine import Engine
from pipeline.alarms.model import MetricRef
from pipeline.alarms.source import MemorySource
from pipeline.alarms.store import AlarmStore
from pipeline.alarms.validate import parse_alarm
from pipeline.errors import RuleError
from pipeline.notify import TopicStore
from tests.pipeline.alarms.helpers import REF, T0, alarm_doc, engine_with, live_timeline, minute

MAINT = MetricRef("App", "Maintenance", (("Service", "api"),), "Average")


def composite(**kw):
    return {"AlarmName": "svc", "AlarmRule": "ALARM(errors)", **kw}


SUPPRESSED = {"ActionsSuppressor": "maint", "ActionsSuppressorWaitPeriod": 120,
              "ActionsSuppressorExtensionPeriod": 180}


def test_validation():
    c = parse_alarm(composite(**{**SUPPRESSED,
                                 "ActionsSuppressor": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:maint"}))
    assert (c.suppressor, c.wait, c.extension) == ("maint", 120, 180)
    with pytest.raises(RuleError, match="ActionsSuppressorExtensionPeriod.*is required"):
        parse_alarm(composite(ActionsSuppressor="maint", ActionsSuppressorWaitPeriod=60))
    with pytest.raises(RuleError, match="only allowed with ActionsSuppressor"):
        parse_alarm(composite(ActionsSuppressorWaitPeriod=60))
    with pytest.raises(RuleError, match="must be at least 0"):
        parse_alarm(composite(**{**SUPPRESSED, "ActionsSuppressorWaitPeriod": -1}))
    with pytest.raises(RuleError, match="its own actions"):
        parse_alarm(composite(**{**SUPPRESSED, "ActionsSuppressor": "svc"}))
    with pytest.raises(RuleError, match="alarm name or a CloudWatch alarm ARN"):
        parse_alarm(composite(**{**SUPPRESSED, "ActionsSuppressor": "arn:aws:sns:us-east-1:1:topic"}))


def test_the_suppressor_must_exist_is_evaluated_first_and_cannot_be_deleted(lake):
    store = AlarmStore(lake)
    errors = parse_alarm(alarm_doc("errors"))
    with pytest.raises(RuleError, match="ActionsSuppressor names an alarm that does not exist"):
        store.put([errors, parse_alarm(composite(**SUPPRESSED))])
    # a composite suppressor is evaluated before the composite it suppresses
    maint = parse_alarm({"AlarmName": "maint", "AlarmRule": "ALARM(errors)"})
    store.put([errors, parse_alarm(composite(**{**SUPPRESSED, "AlarmRule": "TRUE"})), maint])
    assert [c.name for c in store.composite_order()] == ["maint", "svc"]
    with pytest.raises(RuleError, match="referenced by composite alarm 'svc'"):
        store.delete(["maint"])


def test_step_by_hand():
    step = suppression.step
    kw = {"wait": 120, "extension": 180}
    # into ALARM with the suppressor quiet: wait 120 s, then the actions run
    held, run = step(None, "OK", now=0, state="ALARM", transitioned=True, suppressor_in_alarm=False, **kw)
    assert (held, run) == (suppression.Held("ALARM", "WaitPeriod", 120), False)
    assert step(held, "OK", now=60, state="ALARM", transitioned=False, suppressor_in_alarm=False, **kw) == (held, False)
    assert step(held, "OK", now=120, state="ALARM", transitioned=False, suppressor_in_alarm=False, **kw) == (None, True)
    # the suppressor comes within the wait: held by it; when it leaves, 180 s more
    held, run = step(held, "OK", now=60, state="ALARM", transitioned=False, suppressor_in_alarm=True, **kw)
    assert (held.by, held.until, run) == ("Alarm", None, False)
    held, run = step(held, "OK", now=600, state="ALARM", transitioned=False, suppressor_in_alarm=False, **kw)
    assert (held.by, held.until, run) == ("ExtensionPeriod", 780, False)
    # back in ALARM within the extension: held by it again
    assert step(held, "OK", now=700, state="ALARM", transitioned=False, suppressor_in_alarm=True,
                **kw)[0].by == "Alarm"
    assert step(held, "OK", now=780, state="ALARM", transitioned=False, suppressor_in_alarm=False, **kw) == (None, True)
    # an OK transition while the suppressor is in ALARM is held too; a state already announced is not
    assert step(None, "ALARM", now=0, state="OK", transitioned=True, suppressor_in_alarm=True,
                **kw)[0].by == "Alarm"
    assert step(held, "OK", now=0, state="OK", transitioned=True, suppressor_in_alarm=False, **kw) == (None, False)
    # no wait: an ALARM runs at once; OK never waits
    assert step(None, "OK", now=0, state="ALARM", transitioned=True, suppressor_in_alarm=False,
                wait=0, extension=0) == (None, True)
    assert step(None, "ALARM", now=0, state="OK", transitioned=True, suppressor_in_alarm=False, **kw) == (None, True)


def _source() -> MemorySource:
    """errors breaches over minutes 3–5, 10–29 and 39–41; the maintenance metric over 11–15 and
    35–49 (a value at minute m is judged at m + 1: one period of 60 s, one datapoint)."""
    src = MemorySource()
    mins = list(range(60))
    src.add(REF, [minute(m) for m in mins],
            [10.0 if 3 <= m < 6 or 10 <= m < 30 or 39 <= m < 42 else 1.0 for m in mins])
    src.add(MAINT, [minute(m) for m in mins], [1.0 if 11 <= m < 16 or 35 <= m < 50 else 0.0 for m in mins])
    return src


def _maintenance(lake) -> Engine:
    topics = TopicStore(lake)
    topics.subscribe("oncall", "file", "notify/oncall.jsonl")
    topics.save()
    docs = [alarm_doc("errors", EvaluationPeriods=1),
            alarm_doc("maint", MetricName="Maintenance", EvaluationPeriods=1, Threshold=0.5),
            composite(**SUPPRESSED, AlarmActions=["oncall"], OKActions=["oncall"])]
    return engine_with(lake, docs, _source())


# By hand: INSUFFICIENT_DATA → OK at 1 (announced at once); ALARM at 4 waits 2 min for the
# suppressor, which stays OK: announced at 6; OK at 7. ALARM at 11 waits; maint goes into ALARM at
# 12 (held by it), leaves at 17, 3 more minutes: announced at 20; OK at 31. Maintenance from 36 to
# 50: the ALARM at 40 is held by it and is over at 43 — back to the OK last announced: nothing.
EXPECTED = [(1, "INSUFFICIENT_DATA", "OK"), (6, "ALARM", "ALARM"), (7, "ALARM", "OK"), (20, "ALARM", "ALARM"),
            (31, "ALARM", "OK")]
HELD = {4: "WaitPeriod", 11: "WaitPeriod", 40: "Alarm", 43: None}


def _notified(tmp_path: Path) -> list[tuple[int, str, str]]:
    """(minute, old state, new state) of every notification the topic delivered."""
    lines = (tmp_path / "lake" / "notify" / "oncall.jsonl").read_text().splitlines()
    msgs = [json.loads(json.loads(line)["Message"]) for line in lines]
    return [(int((datetime.strptime(m["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z") - T0).total_seconds() // 60),
             m["OldStateValue"], m["NewStateValue"]) for m in msgs]


def _held_in_history(lake) -> dict[int, str | None]:
    out = {}
    for h in AlarmStore(lake).history("svc", item_type="StateUpdate"):
        m = int((h["timestamp"] - T0).total_seconds() // 60)
        out[m] = json.loads(h["history_data"])["newState"].get("actionsSuppressedBy")
    return out


def test_maintenance_live(lake, tmp_path):
    with _maintenance(lake) as eng:
        tl = [(m, s) for name, m, s in live_timeline(eng, 1, 55) if name == "svc"]
    assert tl == [(1, "OK"), (4, "ALARM"), (7, "OK"), (11, "ALARM"), (31, "OK"), (40, "ALARM"), (43, "OK")]
    assert _notified(tmp_path) == EXPECTED
    held = _held_in_history(lake)
    assert {m: held[m] for m in HELD} == HELD
    st = AlarmStore(lake).state("svc")
    assert (st.held_state, st.announced_state) == (None, "OK")


def test_maintenance_replayed_notifies_the_same(lake, tmp_path):
    with _maintenance(lake) as eng:
        res = eng.replay(minute(1), minute(55), notify=True)
    assert {int((at - T0).total_seconds() // 60): by for (name, at), by in res.muted.items()} == HELD
    assert _notified(tmp_path) == EXPECTED
    held = _held_in_history(lake)
    assert {m: held[m] for m in HELD} == HELD


def test_a_restart_keeps_what_is_held(lake, tmp_path):
    with _maintenance(lake) as eng:
        live_timeline(eng, 1, 14)  # ALARM at 11, held by the maintenance alarm since 12
    st = AlarmStore(lake).state("svc")
    assert (st.held_state, st.actions_suppressed_by) == ("ALARM", "Alarm")
    eng = Engine(lake, _source())
    for m in range(15, 56):
        eng.evaluate(minute(m))
    assert _notified(tmp_path) == EXPECTED


def test_describe_shows_what_is_held(lake, capsys):
    from jobs.cli import main

    with _maintenance(lake) as eng:
        live_timeline(eng, 1, 14)
    capsys.readouterr()
    assert main(["--lake", lake.root, "-q", "alarms", "describe", "--format", "json", "svc"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["CompositeAlarms"]
    assert (doc["ActionsSuppressor"], doc["StateValue"]) == ("maint", "ALARM")
    assert (doc["ActionsSuppressedBy"], doc["ActionsSuppressedReason"]) == ("Alarm", "Actions suppressed by Alarm")


def test_the_alarm_state_view_schema_names_every_state_field():
    from dataclasses import fields

    from pipeline.alarms.store import AlarmState
    from pipeline.schemas import ALARM_STATE

    assert ALARM_STATE.names == [f.name for f in fields(AlarmState)]


def test_the_dashboard_state_board_reads_what_is_held(lake):
    from dashboards.lakedb import LakeDB
    from dashboards.queries.alarms import states

    with _maintenance(lake) as eng:
        live_timeline(eng, 1, 14)
    board = {r["alarm_name"]: r for r in states(LakeDB(lake)).iter_rows(named=True)}
    assert (board["svc"]["state_value"], board["svc"]["actions_suppressed_by"]) == ("ALARM", "Alarm")
    assert board["errors"]["actions_suppressed_by"] is None


def test_set_state_announces_and_the_next_evaluation_announces_the_way_back(lake, tmp_path):
    with _maintenance(lake) as eng:
        live_timeline(eng, 1, 2)  # OK, announced
        eng.set_state("svc", "ALARM", "testing the pager", at=minute(2.5))
        live_timeline(eng, 3, 3)  # the rule says OK again: a change the pager must hear
    assert _notified(tmp_path) == [(1, "INSUFFICIENT_DATA", "OK"), (2, "OK", "ALARM"), (3, "ALARM", "OK")]
