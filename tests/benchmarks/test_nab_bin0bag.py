"""nab_bin0bag: its "default" kind is today's default bit for bit; bin0 changes the scores only
where a member's calibrator has seen nothing but 0 in a view."""

from __future__ import annotations

from benchmarks.nab_bin0bag import bin0bag_scores
from benchmarks.nab_eval import CORPUS, context_scores, file_scores

FILE = CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def test_the_default_kind_is_the_default_detector_and_bin0_differs() -> None:
    default = file_scores(FILE, context_scores)
    assert file_scores(FILE, bin0bag_scores, "default") == default
    assert file_scores(FILE, bin0bag_scores, "bin0") != default
