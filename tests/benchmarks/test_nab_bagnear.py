"""nab_bagnear: its variant, built from the previous default and the benchmarks' bag, is the
adopted default bit for bit."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pytest

from benchmarks import nab
from benchmarks.nab_bin0bag import BEFORE as BEFORE_BIN0  # the default this family was adopted as
from benchmarks.nab_ensemble import MvBag
from benchmarks.nab_eval import BAGLESS, CORPUS, bagless_scores, file_scores
from benchmarks.nab_near import VARIANTS

ADOPTED = partial(BEFORE_BIN0, runs=False)  # the default then: before the run judge (benchmarks/nab_runs.py)

FILE = CORPUS / "data" / "realTweets" / "Twitter_volume_KO.csv"


def _declared(times: Sequence[float], values: Sequence[float | None]) -> list[float]:
    """``bag+values`` as declared: the default of the time (one multiview at half-life 1,000, the
    4-value sequence judge), multiview replaced by the benchmarks' median bag of three whole
    detectors, the 4-value judge dropped and the sequence correction kept at ``log10 3``."""
    from pipeline.anomaly.context import ContextDetector

    halflives, values_only, bin0 = VARIANTS["bag+values"]
    assert values_only and not bin0
    d = ContextDetector(**BAGLESS)
    d.mv, d.block = MvBag(halflives), None
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def test_the_declared_variant_is_the_default_and_differs_from_the_previous_one() -> None:
    got = file_scores(FILE, ADOPTED)
    assert file_scores(FILE, _declared) == got
    assert file_scores(FILE, bagless_scores) != got


@pytest.mark.slow
def test_the_declared_variant_is_the_adopted_default_bit_for_bit_on_all_41() -> None:
    for _, path in nab.labelled(CORPUS):
        assert file_scores(path, _declared) == file_scores(path, ADOPTED), path.name
