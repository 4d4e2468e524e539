"""nab_bin0bag: its "default" kind is today's default bit for bit; bin0 changes the scores only
where a member's calibrator has seen nothing but 0 in a view."""

from __future__ import annotations

import pytest

from benchmarks import nab
from benchmarks.nab_bin0bag import BEFORE, bin0bag_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores

FILE = CORPUS / "data" / "realAdExchange" / "exchange-2_cpc_results.csv"


def test_the_default_kind_is_the_previous_default_and_bin0_the_adopted_one() -> None:
    before = file_scores(FILE, BEFORE)
    assert file_scores(FILE, bin0bag_scores, "default") == before
    got = file_scores(FILE, bin0bag_scores, "bin0")
    assert got != before and got == file_scores(FILE, context_scores)


@pytest.mark.slow
def test_bin0_is_the_adopted_default_bit_for_bit_on_all_41() -> None:
    for _, path in nab.labelled(CORPUS):
        assert file_scores(path, bin0bag_scores, "bin0") == file_scores(path, context_scores), path.name
