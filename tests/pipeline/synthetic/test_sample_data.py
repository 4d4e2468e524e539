"""The committed sample_data/: size, labels, reader agreement, and byte-exact regeneration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.cli import main
from pipeline.sources import read
from pipeline.synthetic.sample import OWNED
from tests.conftest import SAMPLE_DATA


def test_sample_data_is_small_and_labelled() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DATA.rglob("*") if p.is_file())
    assert total < 15 * 1024 * 1024
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    assert manifest["seed"] == 20261101 and manifest["command"] == "watchlake sample-data regenerate"
    assert 15_000 <= manifest["cloudtrail"]["events"] <= 25_000
    scenarios = json.loads((SAMPLE_DATA / "labels" / "cloudtrail_scenarios.json").read_text())
    assert len(scenarios) == 6 and all(s["start"].startswith("2026-11-08") for s in scenarios)
    anomalies = json.loads((SAMPLE_DATA / "labels" / "metric_anomalies.json").read_text())
    assert {a["kind"] for a in anomalies} >= {"spike", "level_shift", "drift"}


def test_sample_cloudtrail_reads_as_the_manifest_says() -> None:
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    rows, rej, digests, ids, times = 0, 0, 0, set(), []
    for b in read("cloudtrail", SAMPLE_DATA / "cloudtrail"):
        rows += b.table.num_rows
        rej += len(b.rejections)
        digests += b.skipped.get("digest_files", 0)
        ids.update(b.table.column("eventID").to_pylist())
        times.extend(b.table.column("eventTime").to_pylist())
    assert (rows, rej, digests) == (manifest["cloudtrail"]["events"], 0, 1)
    for s in json.loads((SAMPLE_DATA / "labels" / "cloudtrail_scenarios.json").read_text()):
        assert set(s["event_ids"]) <= ids
    assert min(times).isoformat() >= "2026-11-01" and max(times).isoformat() < "2026-11-09"


@pytest.mark.slow
def test_regenerate_reproduces_the_committed_files(tmp_path: Path) -> None:
    assert main(["-q", "sample-data", "regenerate", "--out", str(tmp_path)]) == 0
    for name in OWNED:
        committed = {p.relative_to(SAMPLE_DATA).as_posix(): p.read_bytes()
                     for p in (SAMPLE_DATA / name).rglob("*") if p.is_file()}
        fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
                 for p in (tmp_path / name).rglob("*") if p.is_file()}
        assert committed.keys() == fresh.keys(), name
        assert all(committed[k] == fresh[k] for k in committed), name


def test_regenerate_leaves_other_folders_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.synthetic.sample as sample

    (tmp_path / "alarms").mkdir()
    (tmp_path / "alarms" / "demo.yaml").write_text("keep me")
    (tmp_path / "README.md").write_text("mine")
    monkeypatch.setattr(sample, "CLOUDTRAIL_DAYS", 1)
    monkeypatch.setattr(sample, "METRICS_DAYS", 1)
    sample.regenerate(tmp_path)
    assert (tmp_path / "alarms" / "demo.yaml").read_text() == "keep me"
    assert (tmp_path / "README.md").read_text() == "mine"
    assert (tmp_path / "labels" / "manifest.json").exists()
