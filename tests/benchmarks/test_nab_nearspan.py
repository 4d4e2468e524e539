"""nab_nearspan: span 3 is the previous default, span 36 reaches further and is the default now."""

from __future__ import annotations

from functools import partial

import pytest

from benchmarks import nab
from benchmarks.nab_debounce import debounce
from benchmarks.nab_eval import CORPUS, context_scores, file_scores
from benchmarks.nab_nearspan import nearspan_scores

FILE = CORPUS / "data" / "realKnownCause" / "machine_temperature_system_failure.csv"


def test_span_3_is_the_previous_default_and_span_36_halves_more() -> None:
    before = file_scores(FILE, partial(context_scores, near=False))
    default = file_scores(FILE, nearspan_scores, "default")
    assert debounce(before) == default  # the file is in time order: file order is stream order
    longer = file_scores(FILE, nearspan_scores, "span36")
    assert longer != default
    assert all(b <= a for a, b in zip(default, longer, strict=True))  # it only ever halves
    assert [a for a in default if a >= 0.5] == [b for b in longer if b >= 0.5]


@pytest.mark.slow
def test_span36_is_the_adopted_default_bit_for_bit_on_all_41() -> None:
    adopted = partial(context_scores, runs=False)  # the default then: before the run judge
    for _, path in nab.labelled(CORPUS):
        assert file_scores(path, nearspan_scores, "span36") == file_scores(path, adopted), path.name
