"""nab_calibflag: its "default" kind is today's default bit for bit (multiview on the Python path,
through the family's wrappers), and each variant differs from it."""

from __future__ import annotations

from benchmarks.nab_calibflag import BEFORE, VARIANTS, calibflag_scores
from benchmarks.nab_eval import CORPUS, file_scores

FILE = CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def test_the_default_kind_is_the_default_and_the_variants_differ() -> None:
    before = file_scores(FILE, BEFORE)
    assert file_scores(FILE, calibflag_scores, "default") == before
    for kind in VARIANTS:
        assert file_scores(FILE, calibflag_scores, kind) != before, kind
