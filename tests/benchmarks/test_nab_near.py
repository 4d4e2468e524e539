"""nab_near: each part of the combination switched off is the detector it came from, bit for bit."""

from __future__ import annotations

from pathlib import Path

from benchmarks.nab_bin0 import bin0_scores
from benchmarks.nab_ensemble import mv_bag_scores
from benchmarks.nab_eval import bagless_scores, file_scores
from benchmarks.nab_near import near_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_a_bag_of_one_default_member_with_both_judges_is_the_default_detector() -> None:
    assert file_scores(FILE, near_scores, (1000.0,), False, False) == file_scores(FILE, bagless_scores)


def test_bin0_alone_is_the_bin0_family_and_the_bag_alone_is_the_ensemble_one() -> None:
    assert file_scores(FILE, near_scores, (1000.0,), False, True) == file_scores(FILE, bin0_scores, "bin0")
    hs = (600.0, 1000.0, 2000.0)
    assert file_scores(FILE, near_scores, hs, False, False) == file_scores(FILE, mv_bag_scores, hs)


def test_values_only_drops_the_judge_on_4_value_means() -> None:
    both = file_scores(FILE, near_scores, (1000.0,), False, False)
    values = file_scores(FILE, near_scores, (1000.0,), True, False)
    assert values != both
    assert sum(v >= 0.5 for v in values) <= sum(v >= 0.5 for v in both) + 2  # one judge fewer to fire
