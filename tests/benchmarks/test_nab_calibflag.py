"""nab_calibflag: its "default" kind is today's default bit for bit (multiview on the Python path,
through the family's wrappers), and each variant differs from it."""

from __future__ import annotations

from benchmarks.nab_calibflag import BEFORE, VARIANTS, calibflag_scores
from tests.benchmarks.family import check_declared


def test_the_default_kind_is_the_default_and_the_variants_differ() -> None:
    check_declared(calibflag_scores, BEFORE, VARIANTS)
