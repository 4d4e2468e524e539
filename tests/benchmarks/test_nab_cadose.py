"""The CAD OSE judge family: its written-out step is the default detector's bit for bit, and the
judge does change the scores once it counts."""

from __future__ import annotations

from functools import partial

from benchmarks.nab_cadose import REPORT_AFTER, cadose_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores

PREVIOUS = partial(context_scores, near=False, runs=False)  # the default when the family was declared
GAPPY = CORPUS / "data" / "realTraffic" / "TravelTime_387.csv"  # 143 gaps of over 12 intervals


def test_the_written_out_step_is_the_default_detector_bit_for_bit_across_gaps() -> None:
    assert file_scores(GAPPY, cadose_scores, "default") == file_scores(GAPPY, PREVIOUS)


def test_the_judge_counts_only_after_its_first_values() -> None:
    path = CORPUS / "data" / "artificialWithAnomaly" / "art_daily_jumpsup.csv"
    default, ose = file_scores(path, PREVIOUS), file_scores(path, cadose_scores, "ose10")
    assert ose[:REPORT_AFTER] == default[:REPORT_AFTER]
    assert ose != default
    # a fifth judge only ever raises the evidence before the silence after an alert reshapes it,
    # so the largest score cannot fall
    assert max(ose) >= max(default)
