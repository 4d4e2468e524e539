"""The loader on an s3:// lake served by moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import pytest

from pipeline.config import Settings, load_settings
from pipeline.lake import Lake
from pipeline.loader import Loader
from pipeline.loader.compact import compact
from pipeline.query.duck import connect
from tests.conftest import moto_server
from tests.pipeline.loader.helpers import ct_batch, ct_rows


@pytest.fixture(scope="module")
def s3():
    with moto_server() as url:
        yield url


def _s3_lake(s3: str, monkeypatch, bucket: str) -> tuple[Settings, Lake]:
    """Settings and a lake at ``s3://BUCKET/wl`` on the moto server (the bucket created)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=s3, region_name="us-east-1").create_bucket(Bucket=bucket)
    settings = load_settings(env={}, overrides={"lake.root": f"s3://{bucket}/wl", "lake.s3_endpoint_url": s3,
                                                "loader.buffer_seconds": "0"})
    return settings, Lake.from_settings(settings)


@pytest.mark.slow
def test_load_dedup_errors_and_compact_on_s3(s3, monkeypatch, tmp_path: Path):
    settings, lake = _s3_lake(s3, monkeypatch, "lake")
    rows = ct_rows(50)
    rows[3]["eventTime"] = None
    s = Loader(lake, settings.loader).add_all([ct_batch(rows[:30]), ct_batch(rows[20:])])
    assert (s.loaded, s.rejected, s.duplicates, s.files) == (49, 1, 10, 2)
    assert Loader(lake, settings.loader).add_all([ct_batch(rows)]).loaded == 0
    n = connect(lake, ["cloudtrail"]).execute("SELECT count(*), count(DISTINCT eventID) FROM cloudtrail").fetchall()
    assert n == [(49, 49)]
    err = lake.table_files("errors")
    assert len(err) == 1
    with lake.fs.open_input_stream(lake.path(err[0]), compression=None) as f:
        line = json.loads(gzip.decompress(f.read()).splitlines()[0])  # stored once-gzipped
    assert line["reason"] == "missing event time"
    c = compact(lake, ["cloudtrail"])
    assert (c.compacted, c.files_in, c.files_out) == (1, 2, 1)
    assert connect(lake, ["cloudtrail"]).execute("SELECT count(*) FROM cloudtrail").fetchall() == [(49,)]


@pytest.mark.slow
def test_the_detect_follower_matches_new_files_on_s3(s3, monkeypatch):
    """The live detect follower reads an s3:// lake's new files through DuckDB as the retroactive
    run does, including the rows of a compaction it had not read: the same findings, each event once."""
    from jobs.detect_job import Follower, run_retro
    from pipeline.detections.ir import Pred
    from pipeline.detections.model import Rule

    settings, lake = _s3_lake(s3, monkeypatch, "follow")
    rule = Rule(id="r-u3", title="u3 reads", kind="sigma", predicate=Pred("userIdentity.userName", "eq", "u3"))
    rows = ct_rows(60)
    fol = Follower(lake, [rule], from_start=True, duckdb_from=0)  # the DuckDB path, however few rows
    Loader(lake, settings.loader).add_all([ct_batch(rows[:20], origin="a")])
    first = fol.poll()
    assert (first.files, first.events) == (1, 20)
    Loader(lake, settings.loader).add_all([ct_batch(rows[20:40], origin="b"), ct_batch(rows[40:], origin="c")])
    compact(lake, ["cloudtrail"])  # the file read and the two new ones → one file
    second = fol.poll()
    assert second.events == 40  # only the rows not read before
    retro = run_retro(lake, [rule], write=False).findings
    assert len(retro) == 1 and retro[0].event_count == sum(i % 7 == 3 for i in range(60)) == 9
    assert second.changed[-1].event_count == 9
    assert second.changed[-1].finding_id == retro[0].finding_id
