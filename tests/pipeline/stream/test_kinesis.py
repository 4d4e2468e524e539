"""The consumer against a real Kinesis API: moto's server mode on 127.0.0.1."""

from __future__ import annotations

import boto3
import pytest

from jobs.cli import main
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.query.duck import connect
from pipeline.stream.consumer import Checkpoints
from pipeline.stream.kinesis import KinesisConsumer
from tests.conftest import moto_server


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _stream(endpoint: str, name: str, n: int) -> list[str]:
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1")
    k.create_stream(StreamName=name, ShardCount=2)
    seqs = []
    for i in range(0, n, 100):
        resp = k.put_records(StreamName=name, Records=[
            {"Data": f"event {j}".encode(), "PartitionKey": f"pk{j}"} for j in range(i, min(n, i + 100))])
        seqs += [r["SequenceNumber"] for r in resp["Records"]]
    return seqs


def test_consumer_reads_all_shards_and_resumes(endpoint, aws_env, tmp_path):
    _stream(endpoint, "kin1", 250)
    cps = Checkpoints.for_consumer(str(tmp_path), "kin1", "c", endpoint)
    c = KinesisConsumer("kin1", endpoint, cps)
    got = []
    while True:
        tables = c.poll(100)
        got += [d for t in tables for d in t.column("data").to_pylist()]
        if c.caught_up:
            break
    assert sorted(got) == sorted(f"event {j}".encode() for j in range(250))
    c.checkpoint([])
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1")
    k.put_record(StreamName="kin1", Data=b"late", PartitionKey="x")
    c2 = KinesisConsumer("kin1", endpoint, cps)
    assert [d for t in c2.poll() for d in t.column("data").to_pylist()] == [b"late"]


def test_load_from_kinesis_endpoint_exactly_once(endpoint, aws_env, settings: Settings, lake: Lake, monkeypatch):
    monkeypatch.setenv("WATCHLAKE__STREAM__ROOT", settings.stream.root)
    seqs = _stream(endpoint, "kin2", 120)
    args = ["--lake", settings.lake.root, "load", "--from-stream", "kin2", "--once", "--kinesis-endpoint", endpoint]
    assert main(args) == 0
    assert main([*args, "--consumer", "another"]) == 0  # re-reads everything: all duplicates
    con = connect(lake, ["records"])
    rows = con.execute("SELECT shardId, sequenceNumber, count(*) FROM records GROUP BY 1, 2").fetchall()
    assert len(rows) == len(seqs) == 120 and all(r[2] == 1 for r in rows)
    data = con.execute("SELECT data FROM records").fetchall()
    assert sorted(r[0] for r in data) == sorted(f"event {j}".encode() for j in range(120))
    assert main(["--lake", settings.lake.root, "load", "--from-stream", "nope", "--once",
                 "--kinesis-endpoint", endpoint]) == 2


def test_expired_iterator_resumes_after_last_record(endpoint, aws_env, tmp_path):
    _stream(endpoint, "kin3", 30)
    c = KinesisConsumer("kin3", endpoint, Checkpoints.for_consumer(str(tmp_path), "kin3", "c", endpoint))
    first = [d for t in c.poll(10) for d in t.column("data").to_pylist()]
    real = c.client.get_records
    calls = [0]

    def expire_once(**kw):
        from botocore.exceptions import ClientError

        calls[0] += 1
        if calls[0] == 1:
            raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "x"}}, "GetRecords")
        return real(**kw)

    c.client.get_records = expire_once
    rest = []
    while True:
        rest += [d for t in c.poll(10) for d in t.column("data").to_pylist()]
        if c.caught_up:
            break
    assert sorted(first + rest) == sorted(f"event {j}".encode() for j in range(30))
