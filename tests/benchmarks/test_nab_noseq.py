"""nab_noseq: its "default" kind is today's default bit for bit, and ``noseq`` differs from it."""

from __future__ import annotations

from benchmarks.nab_noseq import BEFORE, VARIANTS, noseq_scores
from tests.benchmarks.family import check_declared


def test_the_default_kind_is_the_default_and_the_variant_differs() -> None:
    check_declared(noseq_scores, BEFORE, VARIANTS)
