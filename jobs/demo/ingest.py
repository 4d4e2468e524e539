"""Demo stages "ingest" and "stream": load the committed sample data into the demo lake.

- ``ingest``: every kind under ``sample_data/`` (CloudTrail S3-layout gzip, Metric Streams
  files, CloudWatch Logs subscription payloads and exports, Kinesis get-records output and a
  Lambda Kinesis event) through the readers into the loader. Re-running it loads nothing new.
- ``stream``: creates a local Kinesis-like stream ``demo-clickstream`` (2 shards), puts every
  record of the sample get-records files (once, when the stream is new: clickstream JSON plus
  forwarded CloudTrail events, Logs and Metric Streams payloads) and runs the Firehose-like
  loader on it with payload routing until it has drained it (``watchlake load --once --route``).
  The routed CloudTrail/log/metric rows were already loaded by ``ingest`` and are dropped as
  duplicates; the clickstream rows land under ``raw/records/stream=demo-clickstream``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.console import human_bytes
from pipeline.loader import Loader, LoadSummary

if TYPE_CHECKING:
    from jobs.demo import Demo

STREAM = "demo-clickstream"


def _units(sample: Path) -> list[tuple[str, list[Path], dict[str, Any]]]:
    """(kind, locations, reader options) for every sample input that exists."""
    out: list[tuple[str, list[Path], dict[str, Any]]] = []
    for kind in ("cloudtrail", "metrics"):
        if (sample / kind).is_dir():
            out.append((kind, [sample / kind], {}))
    logs = sample / "logs"
    payloads = [p for p in (logs / "firehose", logs / "lambda", logs / "raw") if p.exists()]
    if payloads:
        out.append(("logs", payloads, {}))
    if (logs / "filter-log-events.json").exists():
        out.append(("logs", [logs / "filter-log-events.json"], {"log_group": "/aws/lambda/orders-api"}))
    records = sample / "records"
    for f in sorted(records.glob("get-records-*.json")):
        shard = f.name[len("get-records-"):].rsplit("-", 1)[0]
        out.append(("records", [f], {"stream_name": "clickstream", "shard_id": shard}))
    if (records / "lambda-kinesis-event.json").exists():
        out.append(("records", [records / "lambda-kinesis-event.json"], {}))
    return out


def _merge(total: LoadSummary, s: LoadSummary) -> None:
    for name in ("records_in", "loaded", "rejected", "duplicates", "files", "bytes", "error_files", "inputs"):
        setattr(total, name, getattr(total, name) + getattr(s, name))
    for k, v in s.per_table.items():
        total.per_table[k] = total.per_table.get(k, 0) + v
    for k, v in s.skipped.items():
        total.skipped[k] = total.skipped.get(k, 0) + v


def _lines(s: LoadSummary) -> dict[str, Any]:
    return {
        "records in": f"{s.records_in:,}",
        "loaded": f"{s.loaded:,}" + (" (" + ", ".join(f"{k} {v:,}" for k, v in sorted(s.per_table.items())) + ")"
                                     if s.per_table else ""),
        "rejected": f"{s.rejected:,}",
        "duplicates dropped": f"{s.duplicates:,}",
        "files written": f"{s.files} ({human_bytes(s.bytes)})",
        **({"skipped": ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items()))} if s.skipped else {}),
    }


@dataclass
class IngestStage:
    """The ``ingest`` stage: what the loader did, and the rows each raw table then holds."""

    load: LoadSummary
    lake_rows: dict[str, int]
    readers_missing: list[str] = field(default_factory=list)

    def lines(self) -> dict[str, object]:
        lines = _lines(self.load)
        if self.readers_missing:
            lines["readers missing"] = ", ".join(self.readers_missing)
        lines["lake rows"] = ", ".join(f"{k} {v:,}" for k, v in self.lake_rows.items())
        return lines


@dataclass
class StreamStage:
    """The ``stream`` stage: records put on the demo stream, and what loading it did."""

    stream: str
    shards: int
    root: str
    put: int
    load: LoadSummary

    def lines(self) -> dict[str, object]:
        return {"stream": f"{self.stream} ({self.shards} shards, {self.root})", "records put": f"{self.put:,}",
                **_lines(self.load)}


def ingest_stage(demo: Demo) -> IngestStage:
    """Load all of ``sample_data/`` into the demo lake."""
    from pipeline.sources import read

    total = LoadSummary()
    missing = set()
    for kind, locations, options in _units(demo.sample_dir):
        try:
            batches = read(kind, [str(p) for p in locations], **options)
            _merge(total, Loader(demo.lake, demo.settings.loader).add_all(batches))
        except ImportError:
            missing.add(kind)  # that reader has not been installed in this checkout
    demo.state["ingest"] = total
    return IngestStage(total, _table_counts(demo), sorted(missing))


def _table_counts(demo: Demo) -> dict[str, int]:
    from pipeline.query.duck import connect

    tables = ["cloudtrail", "metrics", "logs", "records"]
    con = connect(demo.lake, tables)
    return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}


def _sample_records(sample: Path) -> list[tuple[str, bytes]]:
    """(partition key, data) of every record in the sample get-records files."""
    out = []
    for f in sorted((sample / "records").glob("get-records-*.json")):
        out += [(r["PartitionKey"], base64.b64decode(r["Data"]))
                for r in json.loads(f.read_text()).get("Records", [])]
    return out


def stream_stage(demo: Demo) -> StreamStage:
    """Create a local stream, put sample records (once), drain it into the lake."""
    from pipeline.errors import InputError
    from pipeline.loader.from_stream import StreamDelivery
    from pipeline.stream import Stream
    from pipeline.stream.consumer import Checkpoints, LocalConsumer

    root = demo.settings.stream.root
    put = 0
    try:
        stream = Stream.create(root, STREAM, 2)
        records = _sample_records(demo.sample_dir)
        for i in range(0, len(records), 500):
            put += len(stream.put(records[i:i + 500]))
    except InputError:
        stream = Stream.open(root, STREAM)  # created by an earlier demo run: nothing new to put
    consumer = LocalConsumer(stream, Checkpoints.for_consumer(root, STREAM, "demo-loader"))
    s = StreamDelivery(consumer, Loader(demo.lake, demo.settings.loader), route=True).drain()
    return StreamStage(STREAM, len(stream.shard_ids), str(root), put, s)
