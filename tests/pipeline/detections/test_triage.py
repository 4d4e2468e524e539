"""Triage state and suppressions (pipeline.detections.triage) on real findings: the Stratus Red
Team detonations (vendored in tests/data) through the real Sigma rules and ``run_retro``; every
decision must survive a re-detection, and bad input is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.detect_job import run_retro
from pipeline.detections import triage
from pipeline.detections.rules import load_rules
from pipeline.errors import InputError
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events

T1 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _findings(lake) -> list[tuple]:
    return connect(lake, ["findings"]).execute(
        "SELECT finding_id, rule_id, principal, source_ip FROM findings ORDER BY finding_id").fetchall()


@pytest.fixture
def detected(lake, shared_data, stratus_events):
    rules = load_rules(shared_data / "sigma-cloudtrail" / "rules").rules
    write_events(lake, stratus_events)
    run_retro(lake, rules)
    return lake, rules


def test_decisions_survive_re_detection(detected):
    lake, rules = detected
    before = _findings(lake)
    assert len(before) > 10
    a, b = before[0][0], before[1][0]
    assert triage.set_state(lake, [a], "acknowledged", "alice", at=T1) == 1
    triage.set_state(lake, [a, b], "false_positive", "bob", note="red-team exercise", at=T2)
    run_retro(lake, rules)                                   # detect again over the same events
    assert _findings(lake) == before                         # same stable ids
    got = triage.decisions(lake)
    assert set(got) == {a, b}
    assert (got[a].state, got[a].who, got[a].at, got[a].note) == ("false_positive", "bob", T2, "red-team exercise")
    # an older decision recorded later does not override a newer one
    triage.set_state(lake, [a], "resolved", "carol", at=T1)
    assert triage.decisions(lake)[a].state == "false_positive"


def test_suppression_covers_exactly_its_pattern(detected):
    lake, _ = detected
    rows = _findings(lake)
    rule, principal = rows[0][1], rows[0][2]
    s = triage.suppress(lake, rule, "approved scanner", "alice", principal=principal, at=T1)
    active = triage.suppressions(lake)
    assert [x.suppression_id for x in active] == [s.suppression_id]
    covered = [r for r in rows if triage.suppressed_by(active, r[1], r[2], r[3])]
    assert covered == [r for r in rows if r[1] == rule and r[2] == principal] and covered
    # any principal: the whole rule
    triage.suppress(lake, rule, "noisy rule", "alice", at=T1)
    active = triage.suppressions(lake)
    assert [r for r in rows if triage.suppressed_by(active, r[1], r[2], r[3])] == [r for r in rows if r[1] == rule]
    triage.unsuppress(lake, s.suppression_id, "bob", at=T2)
    assert [x.principal for x in triage.suppressions(lake)] == [None]


@pytest.mark.parametrize(("call", "field"), [
    (lambda lake: triage.set_state(lake, ["f1"], "closed", "alice"), "state"),
    (lambda lake: triage.set_state(lake, ["f1"], "resolved", "  "), "who"),
    (lambda lake: triage.set_state(lake, [], "resolved", "alice"), "finding_id"),
    (lambda lake: triage.suppress(lake, "r1", "", "alice"), "reason"),
    (lambda lake: triage.suppress(lake, "", "why", "alice"), "rule_id"),
    (lambda lake: triage.unsuppress(lake, "nope", "alice"), "suppression_id"),
])
def test_bad_input_names_the_field(lake, call, field):
    with pytest.raises(InputError) as info:
        call(lake)
    assert info.value.field == field
    assert triage.decisions(lake) == {}
