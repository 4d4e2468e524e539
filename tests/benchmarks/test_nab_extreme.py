"""nab_extreme: β = 0 is the default detector; the week's range is the previous 7 clock hours'
extremes as written, and a boosted value scores as ``max(C, 0) + β`` would."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_extreme import WeekRange, extreme_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")
H = 3600.0


def test_beta_0_is_the_default_detector() -> None:
    assert file_scores(FILE, extreme_scores, 0.0) == file_scores(FILE, bagless_scores)


def test_the_week_range_holds_169_clock_hours_and_waits_a_day() -> None:
    w = WeekRange()
    w.add(0.0, 10.0)
    w.add(0.5 * H, 20.0)
    assert not w.beyond(23 * H, 99.0)             # the series is not a day old yet
    assert w.beyond(24 * H, 20.5) and w.beyond(24 * H, 9.0) and not w.beyond(24 * H, 15.0)
    assert not w.beyond(24 * H, 20.0)             # equal to the largest: not beyond
    assert w.beyond(168 * H, 19.0) is False       # hour 0 is still inside h − 168 … h
    assert not w.beyond(169 * H, 99.0)            # hour 0 has left the week: nothing to compare with
    w.add(169 * H + 1, 15.0)
    assert 0 not in w.hours and len(w.hours) == 1  # the old hour is dropped when a new hour starts


def test_a_value_beyond_the_week_gets_beta_added_to_its_surprise() -> None:
    day = [(i * 300.0, 50.0 + (i % 7)) for i in range(400)]        # 33 h between 50 and 56
    ts, vs = [t for t, _ in day] + [400 * 300.0], [v for _, v in day] + [57.0]
    plain, boosted = extreme_scores(ts, vs, 0.0), extreme_scores(ts, vs, 1.0)
    assert plain[:-1] == boosted[:-1]                                # only the new extreme differs
    c = 3.0 * plain[-1] / (1.0 - plain[-1])
    assert abs(boosted[-1] - (c + 1.0) / (c + 4.0)) < 1e-12
