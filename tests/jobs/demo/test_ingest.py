from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from jobs.demo import SAMPLE_DATA, Demo
from jobs.demo.ingest import ingest_stage, stream_stage
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.query.duck import connect


@pytest.mark.slow
def test_demo_stages_load_sample_data_once(lake: Lake, settings: Settings):
    manifest = json.loads((SAMPLE_DATA / "labels" / "manifest.json").read_text())
    demo = Demo(lake=lake, settings=settings, quiet=True)
    first = ingest_stage(demo)
    file_ids = set()  # eventIDs of the CloudTrail log files, parsed independently
    for f in (SAMPLE_DATA / "cloudtrail").rglob("*_CloudTrail_*.json.gz"):
        file_ids |= {r["eventID"] for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]}
    assert len(file_ids) == manifest["cloudtrail"]["events"]
    con = connect(lake, ["cloudtrail", "metrics", "logs", "records"])
    distinct, total = con.execute("SELECT count(DISTINCT eventID), count(*) FROM cloudtrail").fetchall()[0]
    assert distinct == total >= len(file_ids)  # plus events routed from Kinesis payloads
    con.register("ids", pa.table({"id": sorted(file_ids)}))
    assert con.execute("SELECT count(*) FROM cloudtrail JOIN ids ON eventID = id").fetchall()[0][0] == len(file_ids)
    assert first.load.loaded == total + _rows(con, "metrics", "logs", "records")
    assert first.lake_rows["cloudtrail"] == total and not first.readers_missing
    assert first.load.skipped["digest_files"] == 1
    assert first.load.records_in == first.load.loaded + first.load.rejected + first.load.duplicates
    again = ingest_stage(demo)
    assert again.load.loaded == 0 and again.load.files == 0
    s = stream_stage(demo)
    assert s.put == manifest["records"]["get_records"]
    kinds = manifest["records"]["payload_kinds"]
    assert s.load.loaded == kinds["clickstream"] and s.load.per_table == {"records": kinds["clickstream"]}
    assert s.load.skipped["routed_to_cloudtrail"] > 0
    s2 = stream_stage(demo)
    assert s2.put == 0 and s2.load.loaded == 0


def _rows(con, *tables: str) -> int:
    return sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables)
