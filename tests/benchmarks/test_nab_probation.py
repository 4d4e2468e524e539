"""nab_probation: probation 750 is the default detector; a shorter one judges sooner, the same
numbers on the compiled and the Python judge."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from benchmarks.nab_eval import context_scores, file_scores
from benchmarks.nab_probation import VARIANTS, probation_scores

FILE = (Path(__file__).resolve().parents[1] / "data" / "nab-corpus" / "data" / "realKnownCause"
        / "ec2_request_latency_system_failure.csv")


def test_probation_750_is_the_default_detector_and_the_variants_differ() -> None:
    own = file_scores(FILE, partial(context_scores, runs=False))
    assert file_scores(FILE, probation_scores, 750) == own
    for p in VARIANTS.values():
        assert file_scores(FILE, probation_scores, p) != own


@pytest.mark.parametrize("probation", sorted(VARIANTS.values()))
def test_a_shorter_probation_scores_alike_compiled_and_in_python(monkeypatch, probation) -> None:
    compiled = file_scores(FILE, probation_scores, probation)
    monkeypatch.setenv("WATCHLAKE_NATIVE", "0")
    assert file_scores(FILE, probation_scores, probation) == compiled
