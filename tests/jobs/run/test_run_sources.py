"""`watchlake run` as a process with its remote and bad sources: a Kinesis stream on a real Kinesis API
(moto's server mode on 127.0.0.1) loads exactly once and its checkpoint survives a restart; a
vanished folder, an unreachable Kinesis endpoint and a bad object are each one clear log line per
attempt, retried with a growing backoff, while the good sources load and the run keeps going."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import duckdb
import pytest

from pipeline.stream import Stream
from tests.conftest import AWS_TEST_ENV, moto_server
from tests.jobs.run.test_run_process import _wait

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow
ONLY_LOAD = "rollup,alarms,anomalies,insights,detect,retention,compact"


def _event(eid: str) -> dict:
    return {"eventVersion": "1.08", "eventID": eid, "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/a"}}


def _start(tmp_path: Path, lake: Path, **run: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLAKE__")}
    env.update({f"WATCHLAKE__RUN__{k.upper()}": v for k, v in run.items()})
    env.update(AWS_TEST_ENV)  # credentials for moto, and for an endpoint that never answers
    env.update(PYTHONPATH=str(REPO), WATCHLAKE__STREAM__ROOT=str(tmp_path / "streams"),
               WATCHLAKE__RUN__BUFFER_SECONDS="1", WATCHLAKE__RUN__POLL_SECONDS="0.5",
               WATCHLAKE__RUN__DISABLE=ONLY_LOAD)
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", "--lake", str(lake), "run"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ids(lake: Path) -> list[str]:
    glob = str(lake / "raw" / "cloudtrail" / "**" / "*.parquet")
    try:
        return [r[0] for r in duckdb.connect().execute("SELECT eventID FROM read_parquet(?)", [glob]).fetchall()]
    except duckdb.IOException:
        return []


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    return err


def test_kinesis_stream_loads_exactly_once_and_resumes_after_a_restart(tmp_path):
    lake = tmp_path / "lake"
    with moto_server() as url:
        kin = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1")
        kin.create_stream(StreamName="trail", ShardCount=2)

        def put(lo: int, hi: int) -> None:
            for i in range(lo, hi, 100):
                kin.put_records(StreamName="trail", Records=[
                    {"Data": json.dumps(_event(f"k-{j}")).encode(), "PartitionKey": f"p{j}"}
                    for j in range(i, min(hi, i + 100))])

        put(0, 300)
        proc = _start(tmp_path, lake, kinesis_streams="trail", kinesis_endpoint=url)
        _wait(lambda: len(_ids(lake)) >= 300, 60, proc)
        _stop(proc)
        put(300, 500)  # arrives while the run is down
        proc = _start(tmp_path, lake, kinesis_streams="trail", kinesis_endpoint=url)
        _wait(lambda: len(_ids(lake)) >= 500, 60, proc)
        time.sleep(2)  # a few more polls: nothing more may arrive
        _stop(proc)
    ids = _ids(lake)
    assert sorted(ids) == sorted(f"k-{j}" for j in range(500))  # each record once
    status = json.loads((lake / "_state" / "run" / "status.json").read_text())
    # the second run read only what came while it was down: the checkpoint survived the restart
    assert status["stages"]["load:kinesis:trail"]["records_in"] == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_sources_are_one_line_each_retried_with_backoff_and_the_run_goes_on(tmp_path):
    lake = tmp_path / "lake"
    drop, gone = tmp_path / "drop", tmp_path / "gone"
    drop.mkdir()
    gone.mkdir()
    good = [_event(f"f-{i}") for i in range(5)]
    early = [_event(f"v-{i}") for i in range(2)]
    (drop / "good.json.gz").write_bytes(gzip.compress(json.dumps({"Records": good}).encode()))
    (gone / "early.json.gz").write_bytes(gzip.compress(json.dumps({"Records": early}).encode()))
    (drop / "bad.json.gz").write_bytes(gzip.compress(b'{"Records": [{"eventID": ')[:-8])  # cut short
    stream = Stream.create(str(tmp_path / "streams"), "live", 1)
    stream.put([("k", json.dumps(_event("s-0")).encode())])
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    proc = _start(tmp_path, lake, kinesis_streams="nowhere", kinesis_endpoint=dead,
                  sources=f"cloudtrail={drop},cloudtrail={gone}")
    _wait(lambda: len(_ids(lake)) >= 8, 60, proc)  # both folders' good objects and the local stream
    shutil.rmtree(gone)  # the folder vanishes while the run follows it
    time.sleep(8)  # long enough for a few retries of the two failing stages (polled every 5 s at most)
    stream.put([("k", json.dumps(_event("s-1")).encode())])
    _wait(lambda: "s-1" in _ids(lake), 30, proc)  # still running, still loading
    err = _stop(proc)
    assert sorted(_ids(lake)) == sorted(["s-0", "s-1", *(e["eventID"] for e in good + early)])
    lines = [line for line in err.splitlines() if line.startswith("watchlake run: load:")]
    kinesis = [line for line in lines if line.startswith("watchlake run: load:kinesis:nowhere: ")]
    vanished = [line for line in lines if line.startswith(f"watchlake run: load:cloudtrail:{gone}: ")]
    bad = [line for line in lines if "bad.json.gz" in line]
    assert len(kinesis) >= 2 and all("KinesisError" in line and dead in line for line in kinesis), lines
    assert len(vanished) >= 2 and all("InputNotFoundError" in line for line in vanished), lines
    for attempts in (kinesis, vanished):  # retried with a backoff that doubles: 1 s, 2 s, 4 s ...
        waits = [int(re.search(r"\(retry in (\d+) s\)$", line).group(1)) for line in attempts]  # type: ignore[union-attr]
        assert waits[:3] == [1, 2, 4][:len(waits[:3])]
    assert len(bad) == 1 and "rejected (" in bad[0] and "kept in errors/cloudtrail" in bad[0]  # once, not per poll
    assert len(lines) == len(kinesis) + len(vanished) + len(bad)  # nothing else was logged about them
