"""An ``s3://`` source of `watchlake run` against a real S3 API (moto's server mode on 127.0.0.1): it
lists each date-foldered group from the day before its newest day on (S3 StartAfter), so new
objects of every region and late ones for yesterday load at the next poll, while a key that sorts
earlier waits for the periodic full relist; every object loads exactly once; a bad object is one
rejection with its reason and never stops the stage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import duckdb
import pytest

from jobs.run.sources import FULL_RELIST_SECONDS, FolderStage
from tests.conftest import moto_server

BASE = "AWSLogs/111122223333/CloudTrail"


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def _event(eid: str, day: str) -> dict:
    return {"eventVersion": "1.08", "eventID": eid, "eventTime": f"{day.replace('/', '-')}T10:00:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a"}}


def _deliver(s3, region: str, day: str, name: str, n: int = 3) -> set[str]:
    """One CloudTrail log file, as CloudTrail writes it; returns its event ids."""
    ids = [f"{region}-{day}-{name}-{i}" for i in range(n)]
    body = gzip.compress(json.dumps({"Records": [_event(e, day) for e in ids]}).encode())
    s3.put_object(Bucket="trail", Key=f"{BASE}/{region}/{day}/111122223333_CloudTrail_{region}_{name}.json.gz",
                  Body=body)
    return set(ids)


def _loaded(lake_root: Path) -> list[str]:
    glob = str(lake_root / "raw" / "cloudtrail" / "**" / "*.parquet")
    return [r[0] for r in duckdb.connect().execute("SELECT eventID FROM read_parquet(?)", [glob]).fetchall()]


def test_s3_prefix_listed_incrementally_and_fully_now_and_then(endpoint, lake, settings, lake_root):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    want = _deliver(s3, "us-west-2", "2026/11/08", "a") | _deliver(s3, "us-east-1", "2026/11/08", "b")
    settings.lake.s3_endpoint_url = endpoint
    settings.run.buffer_seconds = 0
    stage = FolderStage(lake, settings, f"cloudtrail=s3://trail/{BASE}/")
    assert stage.lister is not None
    clock = [0.0]
    stage.lister.clock = lambda: clock[0]
    assert stage.step().detail == "2 new objects" and stage.lister.full_lists == 1
    # new deliveries: us-east-1 (sorting before every us-west-2 key), a late file for the day
    # before in us-west-2, the next day in us-west-2 — and a file from a month ago
    want |= _deliver(s3, "us-east-1", "2026/11/08", "c") | _deliver(s3, "us-west-2", "2026/11/07", "late")
    want |= _deliver(s3, "us-west-2", "2026/11/09", "d")
    old = _deliver(s3, "us-east-1", "2026/10/01", "old")
    clock[0] = 10.0
    rep = stage.step()
    assert rep.detail == "3 new objects" and rep.records_in == 9
    assert (stage.lister.full_lists, stage.lister.incremental_lists) == (1, 1)
    clock[0] = 20.0
    assert stage.step().detail == "0 new objects"  # nothing new: nothing loaded twice
    clock[0] = 10.0 + FULL_RELIST_SECONDS
    assert stage.step().detail == "1 new objects" and stage.lister.full_lists == 2  # the one sorting earlier
    stage.close()
    ids = _loaded(lake_root)
    assert sorted(ids) == sorted(want | old)


def test_a_bad_object_is_rejected_with_its_reason_and_the_rest_loads(endpoint, lake, settings, lake_root):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="mixed")
    good = [_event(f"g-{i}", "2026/11/08") for i in range(4)]
    s3.put_object(Bucket="mixed", Key=f"{BASE}/us-east-1/2026/11/08/good.json.gz",
                  Body=gzip.compress(json.dumps({"Records": good}).encode()))
    s3.put_object(Bucket="mixed", Key=f"{BASE}/us-east-1/2026/11/08/bad.json.gz", Body=b"\x1f\x8b\x08 not gzip")
    settings.lake.s3_endpoint_url = endpoint
    settings.run.buffer_seconds = 0
    stage = FolderStage(lake, settings, f"cloudtrail=s3://mixed/{BASE}/")
    rep = stage.step()
    assert rep.error == "" and rep.rejected == 1 and rep.records_in == 5
    assert rep.warnings == [f"s3://mixed/{BASE}/us-east-1/2026/11/08/bad.json.gz: 1 record rejected (truncated gzip "
                            "stream (file ends before the gzip trailer)); kept in errors/cloudtrail"]
    stage.close()
    assert sorted(_loaded(lake_root)) == [f"g-{i}" for i in range(4)]
    rows = [json.loads(line) for f in (lake_root / "errors" / "cloudtrail").rglob("*.jsonl.gz")
            for line in gzip.decompress(f.read_bytes()).splitlines()]
    assert len(rows) == 1 and rows[0]["origin"].endswith("/bad.json.gz") and "gzip" in rows[0]["reason"]
    assert stage.step().detail == "0 new objects"  # remembered: not rejected again at every poll
