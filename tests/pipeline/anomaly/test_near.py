"""The silence after a near-alert (``after_near``, adopted in the nineteenth session): by hand, in
the default detector, and across a saved state."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.anomaly import restore_detector
from pipeline.anomaly.base import NEAR, NEAR_SPAN, after_near
from pipeline.anomaly.context import ContextDetector
from pipeline.anomaly.series_io import read_series

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"


def _run(scores: list[float], span: int = NEAR_SPAN) -> list[float]:
    out, since = [], 1 << 30
    for s in scores:
        y, since = after_near(s, since, 0.5, span)
        out.append(y)
    return out


def test_after_near_by_hand() -> None:
    assert (NEAR, NEAR_SPAN) == (0.45, 36)
    # span 3 (as first adopted): 0.46 starts it, the next three points below 0.5 are halved; 0.48
    # (≥ 0.45 before halving) starts it again, so the two 0.2s within three points of it are
    # halved, the next ones not
    assert _run([0.1, 0.46, 0.48, 0.3, 0.2, 0.2, 0.2, 0.2], 3) == [0.1, 0.46, 0.24, 0.15, 0.1, 0.1, 0.2, 0.2]
    # a point at the alert level is never halved, and a score under 0.45 starts nothing
    assert _run([0.45, 0.5, 0.9, 0.3], 3) == [0.45, 0.5, 0.9, 0.15]
    assert _run([0.44, 0.49, 0.2], 3) == [0.44, 0.49, 0.1]
    # span 36 (the default): the 36th point after a near-alert is halved, the 37th not
    assert _run([0.47, *[0.4] * 36]) == [0.47, *[0.2] * 36]
    assert _run([0.47, *[0.3] * 36, 0.3]) == [0.47, *[0.15] * 36, 0.3]


def _nab(name: str) -> tuple[list[float], list[float]]:
    sf = read_series(NAB / name)
    return [sf.times[i] for i in sf.order], [sf.values[i] for i in sf.order]  # type: ignore[misc]


def test_the_default_is_the_previous_default_with_the_near_alert_silence() -> None:
    times, vals = _nab("realKnownCause/machine_temperature_system_failure.csv")
    a, b, c = ContextDetector(), ContextDetector(), ContextDetector(near=0)
    got, prev = [], []
    for t, v in zip(times[:8000], vals[:8000], strict=True):
        s = a.step(t, v)
        assert b.score_one(t, v) == s  # score_one + learn_one ≡ step
        b.learn_one(t, v)
        got.append(s.score)
        old = c.step(t, v)
        assert (s.expected, s.lower, s.upper) == (old.expected, old.lower, old.upper)  # the band is untouched
        prev.append(old.score)
    assert got == _run(prev) and got != prev
    assert [g for g in got if g >= 0.5] == [p for p in prev if p >= 0.5]  # alerts at 0.5 are unchanged


def test_a_state_saved_inside_the_silence_restores_it_and_an_older_one_restores_without() -> None:
    times, vals = _nab("realKnownCause/machine_temperature_system_failure.csv")
    d = ContextDetector()
    scores = [d.step(t, v).score for t, v in zip(times[:3000], vals[:3000], strict=True)]
    k = next(i for i in range(1000, 2999) if scores[i] >= NEAR)  # a near-alert: the silence is on
    d = ContextDetector()
    for t, v in zip(times[:k + 1], vals[:k + 1], strict=True):
        d.step(t, v)
    st = json.loads(json.dumps(d.state()))
    assert st["near"] == [0, NEAR_SPAN]
    copy = restore_detector("context", st)
    assert [copy.step(t, v).score for t, v in zip(times[k + 1:3000], vals[k + 1:3000], strict=True)] == scores[k + 1:]
    st["near"] = 0  # a bare count: saved while the silence was 3 points long
    assert (restore_detector("context", st).near, restore_detector("context", st).since_near) == (3, 0)
    st.pop("near")
    assert restore_detector("context", st).near == 0
