"""nab_noseq: its "default" kind is today's default bit for bit, and ``noseq`` differs from it."""

from __future__ import annotations

from benchmarks.nab_eval import CORPUS, file_scores
from benchmarks.nab_noseq import BEFORE, noseq_scores

FILE = CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def test_the_default_kind_is_the_default_and_the_variant_differs() -> None:
    before = file_scores(FILE, BEFORE)
    assert file_scores(FILE, noseq_scores, "default") == before
    assert file_scores(FILE, noseq_scores, "noseq") != before
