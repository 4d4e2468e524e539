from __future__ import annotations

import json

import pytest

from jobs.demo import SAMPLE_DATA, Demo
from jobs.ingest_demo import ingest_stage, stream_stage
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.query.duck import connect


@pytest.mark.slow
def test_demo_stages_load_sample_data_once(lake: Lake, settings: Settings):
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    demo = Demo(lake=lake, settings=settings, quiet=True)
    first = ingest_stage(demo)
    con = connect(lake, ["cloudtrail"])
    assert con.execute("SELECT count(DISTINCT eventID), count(*) FROM cloudtrail").fetchone() == (
        manifest["cloudtrail"]["events"], manifest["cloudtrail"]["events"])
    assert "digest_files 1" in first["skipped"]
    again = ingest_stage(demo)
    assert again["loaded"] == "0" and again["files written"].startswith("0 ")
    s = stream_stage(demo)
    assert s["records put"] == s["records in"] and int(s["records in"].replace(",", "")) > 0
    s2 = stream_stage(demo)
    assert s2["records put"] == "0" and s2["loaded"] == "0"
