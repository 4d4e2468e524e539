"""nab_debounce: the near-alert silence by hand."""

from __future__ import annotations

from functools import partial

import pytest

from benchmarks import nab
from benchmarks.nab_debounce import debounce, debounce_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores


def test_near_alerts_silence_the_next_three_points_below_the_alert_level() -> None:
    s = [0.1, 0.46, 0.48, 0.3, 0.485, 0.2, 0.2, 0.2, 0.2, 0.47]
    # 0.46 triggers: 0.48 and 0.3 halved; 0.48 (≥ 0.45 before halving) re-triggers: 0.485 halved,
    # which triggers again: the three 0.2 after it halved up to 3 points later, the fourth not
    assert debounce(s) == [0.1, 0.46, 0.24, 0.15, 0.2425, 0.1, 0.1, 0.1, 0.2, 0.47]


def test_a_point_at_the_alert_level_is_never_halved_by_it() -> None:
    assert debounce([0.45, 0.5, 0.9, 0.44]) == [0.45, 0.5, 0.9, 0.22]
    assert debounce([0.44, 0.49]) == [0.44, 0.49]  # 0.44 is not a near-alert


@pytest.mark.slow
def test_near045_is_the_adopted_near3_bit_for_bit_on_all_41() -> None:
    near3 = partial(context_scores, near=3, runs=False)
    for _, path in nab.labelled(CORPUS):
        assert file_scores(path, debounce_scores, "near0.45") == file_scores(path, near3), path.name
