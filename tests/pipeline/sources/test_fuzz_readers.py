"""Seeded fuzz over every reader (:mod:`tests.pipeline.sources.fuzzgen`): per file, every valid
record is loaded exactly once and every damaged one is one rejection with a reason; no input
raises. Bounded: about 150 files of 30 records, a few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.sources import read

from .fuzzgen import KINDS, cases, check


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_reader_holds_on_seeded_hostile_files(tmp_path: Path, seed: int) -> None:
    failures = []
    tried = 0
    for case in cases(seed, files=10):
        path = tmp_path / case.name
        path.write_bytes(case.data)
        kind = "metrics" if case.kind == "metrics_csv" else case.kind
        batches = list(read(kind, path, **case.options))
        tried += 1
        failures += [f"{case.name} ({case.notes.strip()}): {p}" for p in check(case, batches)]
    assert tried == 10 * len(KINDS)
    assert not failures, "\n".join(failures[:20])
