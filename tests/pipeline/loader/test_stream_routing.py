"""Stream loading routes each record directly (no re-encoded get-records document): Metric
Streams samples sharing a timestamp both load, and a second consumer re-reading adds nothing."""

from __future__ import annotations

import gzip
import json

from jobs.cli import main
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.loader.ingest import ingest
from pipeline.query.duck import connect
from pipeline.sources.kinesis_files import route_table
from pipeline.stream import Stream


def _metric(value: float) -> dict:
    return {"metric_stream_name": "ms", "namespace": "App", "metric_name": "Latency", "dimensions": {},
            "timestamp": 1794132000000, "unit": "Milliseconds",
            "value": {"max": value, "min": value, "sum": value, "count": 1.0}}


def test_samples_at_one_timestamp_from_a_stream_load_once(settings: Settings, lake: Lake, monkeypatch,
                                                          tmp_path) -> None:
    monkeypatch.setenv("WATCHLAKE__STREAM__ROOT", settings.stream.root)
    monkeypatch.setenv("WATCHLAKE__LAKE__ROOT", settings.lake.root)
    s = Stream.create(settings.stream.root, "m", 1)
    two_lines = (json.dumps(_metric(10.0)) + "\n" + json.dumps(_metric(500.0)) + "\n").encode()
    s.put([("a", two_lines), ("b", gzip.compress(b"\0" * (1 << 20)))])
    for consumer in ("first", "second"):
        assert main(["load", "--from-stream", "m", "--once", "--route", "--consumer", consumer]) == 0
    con = connect(lake, ["metrics", "records"])
    assert con.execute("SELECT sum(sample_count), max(max), min(min) FROM metrics").fetchall() == [(2.0, 500.0, 10.0)]
    assert con.execute("SELECT count(*) FROM records").fetchall() == [(1,)]  # the zeros stay a record
    # the same datapoints delivered again through another channel (a Firehose file) add nothing
    f = tmp_path / "stream-copy.jsonl"
    f.write_bytes(two_lines)
    again = ingest(lake, settings.loader, "metrics", [f])
    assert (again.records_in, again.loaded, again.duplicates) == (2, 0, 2)


def test_route_table_names_rows_by_sequence_number(settings: Settings) -> None:
    s = Stream.create(settings.stream.root, "r", 1)
    s.put([("a", json.dumps(_metric(1.0)).encode()), ("b", b"text")])
    from pipeline.stream.consumer import Checkpoints, LocalConsumer, StartPosition

    cps = Checkpoints.for_consumer(settings.stream.root, "r", "t", None)
    (table,) = LocalConsumer(Stream.open(settings.stream.root, "r"), cps, StartPosition()).poll(10)
    seqs = table.column("sequenceNumber").to_pylist()
    batches = {b.table_name: b for b in route_table(table, "kinesis:r/shardId-000000000000")}
    assert batches["metrics"].table.column("_wl_origin").to_pylist() == [f"kinesis:r/shardId-000000000000/{seqs[0]}"]
    assert batches["records"].table.column("sequenceNumber").to_pylist() == [seqs[1]]
    assert batches["records"].skipped == {"routed_to_metrics": 1}
