"""nab_gaps: which rows are muted, by hand; without a gap it is the default detector bit for bit."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from benchmarks.nab_eval import context_scores, file_scores
from benchmarks.nab_gaps import gaps_scores
from pipeline.anomaly.gaps import MUTE, muted_rows

PREVIOUS = partial(context_scores, near=False, runs=False)  # the default before the near-alert silence
FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "artificialWithAnomaly"
        / "art_daily_jumpsup.csv")


def test_muted_rows_by_hand() -> None:
    times = [300.0 * i for i in range(200)]
    values: list[float | None] = [1.0] * 200
    assert muted_rows(times, values) == []
    # 12 intervals is not a gap, 13 are: the 56 values from the first one after it are muted
    assert muted_rows([*times[:50], *(t + 11 * 300.0 for t in times[50:])], values) == []
    late = [*times[:50], *(t + 12 * 300.0 for t in times[50:])]
    assert muted_rows(late, values) == list(range(50, 50 + MUTE))
    # a missing value neither counts nor is muted
    values[51] = None
    assert muted_rows(late, values) == [50, *range(52, 51 + MUTE)]


def test_without_gaps_both_are_the_default_detector_bit_for_bit() -> None:
    default = file_scores(FILE, PREVIOUS)
    assert file_scores(FILE, gaps_scores, "default") == default
    assert file_scores(FILE, gaps_scores, "gapmute") == default


def test_gapmute_is_the_adopted_default_and_differs_from_the_previous_one_across_gaps() -> None:
    gappy = FILE.parents[1] / "realTraffic" / "TravelTime_387.csv"  # 143 gaps of over 12 intervals
    default = file_scores(gappy, PREVIOUS)
    assert file_scores(gappy, gaps_scores, "gapmute") == default
    assert file_scores(gappy, gaps_scores, "default") != default
