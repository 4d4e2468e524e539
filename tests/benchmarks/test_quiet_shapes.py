"""quiet_shapes: the shapes are what they say, seeded, and false alerts are counted as documented."""

from __future__ import annotations

import numpy as np

from benchmarks.quiet_shapes import CHANGE, WEEK, N, false_alerts, shapes


def test_shapes_are_seeded_four_weeks_of_five_minute_points() -> None:
    a, b = shapes(), shapes()
    assert a == b
    for t, v in a.values():
        assert len(t) == len(v) == N == 4 * WEEK
        assert np.all(np.diff(t) == 300.0)
    _, flat = a["flat_then_noise"]
    assert set(flat[:CHANGE]) == {5.0} and len(set(flat[CHANGE:])) > 1000
    _, zeros = a["zero_with_bursts"]
    assert 0.95 < np.mean(np.asarray(zeros) == 0.0) < 1.0


def test_false_alerts_skip_the_first_week_and_the_one_change() -> None:
    def fake(t: list[float], v: list[float]) -> list[float]:
        s = np.zeros(len(v))
        s[[10, WEEK + 5, CHANGE, CHANGE + 1]] = 0.9  # one warm-up alert, one later, the change
        return list(s)

    res = false_alerts(fake)
    weeks = (N - WEEK) / WEEK
    assert res["count_p5"] == (3 / weeks, 1)
    assert res["flat_then_noise"] == (2 / weeks, 1)  # the first alert at the change is not false


def test_gaps_leave_rows_out_and_keep_the_weeks() -> None:
    full, gapped = shapes(), shapes(gaps=True)
    for name, (t, v) in gapped.items():
        assert 12 <= N - len(t) <= 6 * 144  # six gaps of 12–144 rows (they may overlap)
        assert set(t) <= set(full[name][0]) and t[:WEEK] == full[name][0][:WEEK]
        at = dict(zip(*full[name], strict=True))
        assert v == [at[x] for x in t]  # the rows kept are the gapless series' own
        gaps = np.diff(t)
        assert gaps.max() >= 13 * 300.0 and sum(gaps > 300.0) <= 6


def test_false_alerts_count_weeks_by_time() -> None:
    def late(t: list[float], v: list[float]) -> list[float]:
        return [0.9 if x >= t[0] + 3 * WEEK * 300.0 else 0.0 for x in t]  # the whole last week

    weeks = (N - WEEK) / WEEK
    res = false_alerts(late, gaps=True)
    assert all(0 < rate <= WEEK / weeks and first == 0 for rate, first in res.values())


def test_every_minute_the_same_four_weeks_with_the_same_hourly_and_daily_events() -> None:
    a = shapes(step=60)
    for t, v in a.values():
        assert len(t) == len(v) == 5 * N and np.all(np.diff(t) == 60.0)
        assert t[-1] - t[0] == 4 * 7 * 86_400.0 - 60.0
    t, cron = a["hourly_cron_spike"]
    spikes = np.asarray(t)[np.asarray(cron) > 25.0]
    assert np.all(np.diff(spikes) == 3600.0)  # still hourly
    t, flat = a["flat_then_noise"]
    assert set(flat[:5 * CHANGE]) == {5.0} and flat[5 * CHANGE] != 5.0  # the change still halfway
    for t, _ in shapes(step=60, gaps=True).values():
        gaps = np.diff(t)  # six gaps of 1–12 hours (they may overlap)
        assert 60 <= 5 * N - len(t) <= 6 * 720 and gaps.max() > 3600.0 and sum(gaps > 60.0) <= 6


def test_false_alerts_every_minute_count_weeks_by_time() -> None:
    def fake(t: list[float], v: list[float]) -> list[float]:
        s = np.zeros(len(v))
        s[[10, 5 * WEEK + 5, 5 * CHANGE, 5 * CHANGE + 1]] = 0.9  # one warm-up alert, one later, the change
        return list(s)

    res = false_alerts(fake, step=60)
    weeks = (N - WEEK) / WEEK
    assert res["count_p5"] == (3 / weeks, 1)
    assert res["flat_then_noise"] == (2 / weeks, 1)
