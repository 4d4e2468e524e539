"""Ingest in several processes (pipeline.loader.parallel): shares, summed summaries, keys loaded
once even when the shares overlap, and a failing worker reported as one error."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.lake import Lake
from pipeline.loader.core import LoadSummary, combine
from pipeline.loader.ingest import ingest
from pipeline.loader.parallel import WorkerFailed, shares
from pipeline.query.duck import connect
from pipeline.sources.locations import Unit


def _units(sizes: list[int]) -> list[Unit]:
    return [Unit(f"f{i}", s, lambda: b"") for i, s in enumerate(sizes)]


def test_shares_are_contiguous_and_balanced_by_size():
    assert shares(_units([10] * 6), 2) == [["f0", "f1", "f2"], ["f3", "f4", "f5"]]
    # one big file first: it is a share of its own
    assert shares(_units([100, 10, 10, 10, 10, 10]), 2) == [["f0"], ["f1", "f2", "f3", "f4", "f5"]]
    assert shares(_units([5, 5]), 8) == [["f0"], ["f1"]]                 # never more shares than files
    assert shares(_units([-1, -1, 10, 10]), 2) == [["f0", "f1"], ["f2", "f3"]]  # unknown = the average
    assert shares([], 3) == []
    parts = shares(_units([7, 1, 3, 9, 2, 8, 4]), 3)
    assert [o for p in parts for o in p] == [f"f{i}" for i in range(7)] and all(parts)


def test_combined_summary_adds_every_count_and_tally():
    a = LoadSummary(records_in=10, loaded=7, rejected=1, duplicates=2, files=2, bytes=100, inputs=3,
                    skipped={"digest_files": 1}, per_table={"cloudtrail": 7}, seconds=5.0)
    b = LoadSummary(records_in=4, loaded=4, files=1, bytes=50, inputs=1, skipped={"digest_files": 2,
                    "control_messages": 1}, per_table={"cloudtrail": 4}, seconds=3.0)
    c = combine([a, b], seconds=6.0)
    assert (c.records_in, c.loaded, c.rejected, c.duplicates, c.files, c.bytes, c.inputs) == (14, 11, 1, 2, 3, 150, 4)
    assert c.skipped == {"digest_files": 3, "control_messages": 1} and c.per_table == {"cloudtrail": 11}
    assert c.seconds == 6.0 and c.balanced()


def _file(path: Path, ids: range, hour: int) -> None:
    events = [{"eventVersion": "1.08", "eventID": f"id-{i}", "eventTime": f"2026-11-01T{hour:02d}:{i % 60:02d}:00Z",
               "eventName": "GetObject", "eventSource": "s3.amazonaws.com"} for i in ids]
    path.write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))


def test_keys_in_several_shares_load_once_and_counts_balance(lake: Lake, settings: Settings, tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(6):  # every file repeats half of the previous one's keys, and all share one hour
        _file(src / f"f{k}.json.gz", range(k * 50, k * 50 + 100), hour=10)
    s = ingest(lake, settings.loader, "cloudtrail", [src], workers=3)
    assert (s.records_in, s.loaded, s.duplicates, s.inputs) == (600, 350, 250, 6)
    ids = [r[0] for r in connect(lake, ["cloudtrail"]).execute("SELECT eventID FROM cloudtrail").fetchall()]
    assert sorted(ids) == sorted(f"id-{i}" for i in range(350))
    again = ingest(lake, settings.loader, "cloudtrail", [src], workers=3)
    assert (again.loaded, again.duplicates) == (0, 600)


def test_a_failing_worker_is_one_error(lake: Lake, settings: Settings, tmp_path: Path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(2):
        _file(src / f"f{k}.json.gz", range(k * 10, k * 10 + 10), hour=3)

    def broken(*args, **kwargs):
        raise PipelineError("disk on fire")

    monkeypatch.setattr("pipeline.sources.read", broken)   # the forked workers see it
    with pytest.raises(WorkerFailed, match="disk on fire"):
        ingest(lake, settings.loader, "cloudtrail", [src], workers=2)
