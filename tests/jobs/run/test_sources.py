"""The polled-folder source of `watchlake run`: new objects load once, a restart does not reload
them, a vanished folder is an error the supervisor retries, and streams created later are followed."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from jobs.follow import Schedule
from jobs.run.health import Health
from jobs.run.sources import FolderStage, StreamsStage
from jobs.run.supervisor import Supervisor
from pipeline.errors import InputNotFoundError
from pipeline.stream import Stream

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "cloudtrail" / "AWSLogs" / "111122223333" / \
    "CloudTrail" / "us-east-1" / "2026" / "11" / "08"


def _count(lake_root: Path, table: str = "cloudtrail") -> tuple[int, int]:
    glob = str(lake_root / "raw" / table / "**" / "*.parquet")
    row = duckdb.connect().execute("SELECT count(*), count(DISTINCT eventID) FROM read_parquet(?)", [glob]).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _ids(files: list[Path]) -> set[str]:
    import gzip

    return {r["eventID"] for f in files for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]}


def test_new_objects_load_once_across_restarts(tmp_path, lake, settings, lake_root):
    drop = tmp_path / "trail"
    drop.mkdir()
    files = sorted(SAMPLE.glob("*.json.gz"))
    for f in files[:3]:
        shutil.copy(f, drop / f.name)
    settings.run.buffer_seconds = 0
    st = FolderStage(lake, settings, f"cloudtrail={drop}")
    first = st.step()  # read and handed to the loader, whose commits complete asynchronously
    assert first.records_in == len(_ids(files[:3])) and first.detail == "3 new objects"
    assert st.step().records_in == 0  # nothing new
    for f in files[3:6]:  # CloudTrail delivers more
        shutil.copy(f, drop / f.name)
    assert st.step().detail == "3 new objects"
    st.close()
    again = FolderStage(lake, settings, f"cloudtrail={drop}")  # a restart remembers what it loaded
    assert again.step().records_in == 0
    assert _count(lake_root) == (len(_ids(files[:6])), len(_ids(files[:6])))


def test_a_vanished_folder_is_retried_by_the_supervisor(tmp_path, lake, settings):
    drop = tmp_path / "gone"
    st = FolderStage(lake, settings, f"cloudtrail={drop}")
    st.schedule = Schedule(1)
    with pytest.raises(InputNotFoundError):
        st.step()
    lines: list[str] = []
    sup = Supervisor([st], Health(lake, settings, metrics=False), log=lines.append)
    sup.tick()
    assert len(lines) == 1 and lines[0].startswith(f"watchlake run: load:cloudtrail:{drop}: ")
    assert sup.states[0].failures == 1


def test_streams_created_later_are_followed(tmp_path, lake, settings, lake_root):
    settings = dataclasses.replace(settings, run=dataclasses.replace(settings.run, buffer_seconds=0))
    stage = StreamsStage(lake, settings)
    assert stage.step().detail == "0 streams"
    s = Stream.create(settings.stream.root, "later", 1)
    s.put([("k", json.dumps({"eventID": "e-1", "eventTime": "2026-11-08T10:00:00Z", "eventName": "GetObject",
                             "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1",
                             "eventVersion": "1.08"}).encode())])
    rep = stage.step()
    assert rep.detail == "1 streams" and rep.records_in == 1
    stage.close()
    assert _count(lake_root) == (1, 1)
