"""nab_clampbag: its "default" kind is today's default bit for bit; clamp0 moves only the rows
where a member forecast a non-negative series below 0."""

from __future__ import annotations

from benchmarks.nab_clampbag import clampbag_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores
from benchmarks.quiet_shapes import shapes

FILE = CORPUS / "data" / "realAdExchange" / "exchange-2_cpc_results.csv"


def test_the_default_kind_is_the_default_bit_for_bit() -> None:
    assert file_scores(FILE, clampbag_scores, "default") == file_scores(FILE, context_scores)


def test_clamp0_no_longer_reads_a_zero_among_zeros_as_a_rise() -> None:
    t, v = shapes()["zero_with_bursts"]
    before, after = context_scores(t, v), clampbag_scores(t, v, "clamp0")
    assert v[4069] == 0.0 and before[4069] >= 0.5  # the traced false alert (module docstring)
    assert after[4069] < 0.5
