"""nab_clampbag: clamp0 is today's default bit for bit; before it, an ordinary 0 on a series at 0
between bursts was forecast below 0 and read as a rise."""

from __future__ import annotations

import pytest

from benchmarks import nab
from benchmarks.nab_clampbag import BEFORE, clampbag_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores
from benchmarks.quiet_shapes import shapes

FILE = CORPUS / "data" / "realKnownCause" / "rogue_agent_key_updown.csv"


def test_clamp0_no_longer_reads_a_zero_among_zeros_as_a_rise() -> None:
    t, v = shapes()["zero_with_bursts"]
    before, after = BEFORE(t, v), clampbag_scores(t, v, "clamp0")
    assert v[4069] == 0.0 and before[4069] >= 0.5  # the traced false alert (module docstring)
    assert after[4069] < 0.5
    assert after == context_scores(t, v)


def test_clamp0_is_the_default_bit_for_bit_on_a_real_series_at_zero_between_bursts() -> None:
    assert file_scores(FILE, clampbag_scores, "clamp0") == file_scores(FILE, context_scores)


@pytest.mark.slow
def test_clamp0_is_the_adopted_default_bit_for_bit_on_all_41() -> None:
    for _, path in nab.labelled(CORPUS):
        assert file_scores(path, clampbag_scores, "clamp0") == file_scores(path, context_scores), path.name
