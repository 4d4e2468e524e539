"""nab_corrections: its "default" kind is today's default bit for bit, and each variant moves the
corrections it declares."""

from __future__ import annotations

import math

from benchmarks.nab_corrections import BEFORE, CORRECTIONS, corrections_scores
from pipeline.anomaly.context import ART_PEN
from tests.benchmarks.family import check_declared


def test_the_default_kind_is_the_default_and_the_variants_differ() -> None:
    check_declared(corrections_scores, BEFORE, CORRECTIONS)


def test_the_declared_counts() -> None:
    assert ART_PEN == math.log10(4.0)
    less, judges, art = CORRECTIONS["flat5"]
    assert less == 0.0 and math.log10(judges) == art == math.log10(5.0)  # every test one of five
    less, judges, art = CORRECTIONS["nested3"]
    assert math.isclose(0.7 + less, math.log10(9.0), abs_tol=0.002) and judges == 3.0 and art == math.log10(3.0)
