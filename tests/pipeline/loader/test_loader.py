from __future__ import annotations

import base64
import gzip
import json
import os
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import Settings
from pipeline.lake import Lake, ledger
from pipeline.loader import Loader
from pipeline.query.duck import connect
from pipeline.schemas import CLOUDTRAIL
from pipeline.sources.base import Rejection
from tests.pipeline.loader.helpers import T0, ct_batch, ct_rows, metric_batch, record_batch


def load(lake: Lake, settings: Settings, *batches):
    return Loader(lake, settings.loader).add_all(batches)


def event_ids(lake: Lake) -> list[str]:
    con = connect(lake, ["cloudtrail"])
    return [r[0] for r in con.execute("SELECT eventID FROM cloudtrail ORDER BY eventID").fetchall()]


def test_partitions_from_event_time_and_counts(lake: Lake, settings: Settings):
    # 7200 events one second apart from 08:00 → hours 08 and 09 of 2026-11-01, 3600 each
    s = load(lake, settings, ct_batch(ct_rows(7200)))
    assert (s.records_in, s.loaded, s.rejected, s.duplicates, s.files) == (7200, 7200, 0, 0, 2)
    files = lake.table_files("cloudtrail")
    folders = sorted({f.rsplit("/", 1)[0] for f in files})
    assert folders == ["raw/cloudtrail/dt=2026-11-01/hour=08", "raw/cloudtrail/dt=2026-11-01/hour=09"]
    assert [pq.read_metadata(lake.path(f)).num_rows for f in files] == [3600, 3600]
    t = pq.read_table(lake.path(files[0]))
    assert t.schema.remove_metadata().equals(CLOUDTRAIL)
    assert pq.ParquetFile(lake.path(files[0])).metadata.row_group(0).column(0).compression == "ZSTD"
    assert t.column("_wl_ingest_time").null_count == 0
    assert event_ids(lake) == [f"ev-{i:08d}" for i in range(7200)]
    assert s.bytes == sum(lake.size(f) for f in files)


def test_dedup_within_batch_across_batches_and_runs(lake: Lake, settings: Settings):
    rows = ct_rows(100)
    s1 = load(lake, settings, ct_batch(rows + rows[:10]), ct_batch(rows[50:]))
    assert (s1.records_in, s1.loaded, s1.duplicates) == (160, 100, 60)
    before = lake.table_files("cloudtrail")
    s2 = load(lake, settings, ct_batch(rows + ct_rows(5, start=100)))
    assert (s2.loaded, s2.duplicates) == (5, 100)
    s3 = load(lake, settings, ct_batch(rows + ct_rows(5, start=100)))
    assert (s3.loaded, s3.duplicates, s3.files) == (0, 105, 0)
    assert event_ids(lake) == [f"ev-{i:08d}" for i in range(105)]
    after = lake.table_files("cloudtrail")
    assert len(after) == len(before) + 1 and set(before) <= set(after)  # only run 2 wrote a file


def test_rejections_go_to_errors_once(lake: Lake, settings: Settings):
    rows = ct_rows(5)
    rows[1]["eventTime"] = None
    rows[3]["eventID"] = ""
    reader_rej = Rejection("cloudtrail", "bad.json.gz", 7, "eventTime", "not a time", b'{"eventTime":"x"}')
    s = load(lake, settings, ct_batch(rows, rejections=[reader_rej]))
    assert (s.records_in, s.loaded, s.rejected) == (6, 3, 3)
    err_files = lake.table_files("errors")
    assert len(err_files) == 1 and err_files[0].startswith("errors/cloudtrail/dt=")
    lines = [json.loads(x) for x in gzip.decompress(open(lake.path(err_files[0]), 'rb').read()).splitlines()]
    by_reason = {r["reason"]: r for r in lines}
    assert set(by_reason) == {"not a time", "missing event time", "missing record key field"}
    assert base64.b64decode(by_reason["not a time"]["raw"]) == b'{"eventTime":"x"}'
    assert by_reason["not a time"]["line"] == 7
    assert json.loads(base64.b64decode(by_reason["missing event time"]["raw"]))["eventID"] == "ev-00000001"
    assert by_reason["missing record key field"]["field"] == "eventID"
    assert by_reason["missing event time"]["origin"] == "test.json.gz#1"
    s2 = load(lake, settings, ct_batch(rows, rejections=[reader_rej]))
    assert (s2.rejected, s2.duplicates, s2.error_files) == (3, 3, 0)
    assert lake.table_files("errors") == err_files


def test_zero_buffering_writes_per_batch_and_size_hint_flushes(lake: Lake, settings: Settings):
    settings.loader.buffer_seconds = 0
    s = load(lake, settings, ct_batch(ct_rows(10)), ct_batch(ct_rows(10, start=10)))
    assert s.files == 2
    settings.loader.buffer_seconds = 900
    big = ct_rows(3000, start=100, step=timedelta(milliseconds=1))
    loader = Loader(lake, settings.loader)
    loader.buffer_bytes = ct_batch(big[:1000]).table.nbytes * 2  # ~2 batches fill a buffer
    for i in range(3):
        loader.add(ct_batch(big[i * 1000:(i + 1) * 1000]))
    loader.sync()
    assert loader.summary.files == 1 and len(loader.buffers) == 1
    s2 = loader.close()
    assert (s2.files, s2.loaded) == (2, 3000)


def test_time_hint_flushes_old_buffers(lake: Lake, settings: Settings):
    now = [0.0]
    settings.loader.buffer_seconds = 60
    loader = Loader(lake, settings.loader, clock=lambda: now[0])
    loader.add(ct_batch(ct_rows(10)))
    now[0] = 59.0
    loader.tick()
    loader.sync()
    assert loader.summary.files == 0
    now[0] = 60.0
    loader.tick()
    loader.sync()
    assert loader.summary.files == 1 and not loader.buffers


def test_memory_cap_flushes_least_recent_partitions(lake: Lake, settings: Settings):
    loader = Loader(lake, settings.loader)
    batch = ct_batch(ct_rows(600, step=timedelta(minutes=3)))  # 30 hour partitions
    loader.max_buffered = batch.table.nbytes // 2
    loader.add(batch)
    assert loader.buffered_bytes <= loader.max_buffered
    assert loader.close().loaded == 600


def test_orphan_file_is_adopted_and_dedups(lake: Lake, settings: Settings):
    # a loader that died between the atomic rename and its ledger entry leaves a complete file
    rows = ct_rows(50)
    orphan = pa.Table.from_pylist(rows[:20], schema=CLOUDTRAIL)
    rel = "raw/cloudtrail/dt=2026-11-01/hour=08/part-20261101T080000Z-abcdefabcdef-0123456789abcdef01.parquet"
    lake.write_parquet(rel, orphan)
    folder = lake.path("raw/cloudtrail/dt=2026-11-01/hour=08")
    with open(os.path.join(folder, ".part-x.parquet.1234.tmp"), "wb") as f:
        f.write(b"half a file")
    led = lake.path("_ledger/cloudtrail/dt=2026-11-01/hour=08")
    os.makedirs(led, exist_ok=True)
    with open(os.path.join(led, ".abc.json.1234.tmp"), "w") as f:
        f.write('{"half": ')
    s = load(lake, settings, ct_batch(rows))
    assert (s.loaded, s.duplicates, s.adopted_files) == (30, 20, 1)
    entries = ledger.entries(lake, "cloudtrail", "raw/cloudtrail/dt=2026-11-01/hour=08")
    assert sorted(e["kind"] for e in entries.values()) == ["adopted", "load"]
    assert Loader(lake, settings.loader).add_all([ct_batch(rows)]).adopted_files == 0
    assert event_ids(lake) == [f"ev-{i:08d}" for i in range(50)]
    assert not [n for n in os.listdir(folder) + os.listdir(led) if n.endswith(".tmp")]
    assert lake.exists("_ledger/cloudtrail/dt=2026-11-01/hour=08/0123456789abcdef01.json")


def test_metrics_key_is_series_timestamp_and_sample(lake: Lake, settings: Settings):
    # two values of i-1 at T0 are two samples (CloudWatch counts both); the same datapoint
    # again — here from another origin, as a redelivery would bring it — is a duplicate
    pts = [("i-1", T0, 1.0), ("i-2", T0, 2.0), ("i-1", T0 + timedelta(minutes=1), 3.0), ("i-1", T0, 9.0)]
    s = load(lake, settings, metric_batch(pts), metric_batch([("i-1", T0, 9.0)], origin="again.json"))
    assert (s.loaded, s.duplicates) == (4, 1)
    con = connect(lake, ["metrics"])
    assert con.execute("SELECT sum(sum) FROM metrics").fetchone()[0] == 15.0


def test_records_partition_by_stream_and_day(lake: Lake, settings: Settings):
    s = load(lake, settings, record_batch("orders", "shardId-000000000000", list(range(5))),
             record_batch("clicks", "shardId-000000000001", [0, 1, 86400]),
             record_batch("orders", "shardId-000000000000", [3, 4, 5]))
    assert (s.loaded, s.duplicates) == (9, 2)
    folders = sorted({f.rsplit("/", 1)[0] for f in lake.table_files("records")})
    assert folders == ["raw/records/stream=clicks/dt=2026-11-01", "raw/records/stream=clicks/dt=2026-11-02",
                       "raw/records/stream=orders/dt=2026-11-01"]


def test_illegal_stream_name_is_rejected_not_a_path(lake: Lake, settings: Settings):
    s = load(lake, settings, record_batch("../evil", "shardId-000000000000", [1, 2]))
    assert (s.loaded, s.rejected) == (0, 2)
    assert lake.table_files("records") == []


@pytest.mark.parametrize("bad", ["eventTime"])
def test_schema_is_conformed(lake: Lake, settings: Settings, bad: str):
    b = ct_batch(ct_rows(3))
    b.table = b.table.select(list(reversed(b.table.column_names)))
    assert load(lake, settings, b).loaded == 3


def test_memory_cap_keeps_one_file_per_partition_for_time_ordered_input(lake: Lake, settings: Settings):
    loader = Loader(lake, settings.loader)
    batches = [ct_batch(ct_rows(200, start=i * 200, step=timedelta(seconds=90))) for i in range(10)]
    loader.max_buffered = batches[0].table.nbytes * 2  # room for about two batches
    s = loader.add_all(batches)  # 2000 events × 90 s = 50 hours, in time order
    assert s.loaded == 2000 and s.files == 50 == len({f.rsplit("/", 1)[0] for f in lake.table_files("cloudtrail")})


def test_held_bytes_stay_under_the_cap_whatever_the_input_size(lake: Lake, settings: Settings):
    loader = Loader(lake, settings.loader)
    batches = [ct_batch(ct_rows(300, start=i * 300, step=timedelta(seconds=20))) for i in range(20)]
    cap = loader.max_buffered = batches[0].table.nbytes * 3
    peak = 0
    for b in batches:  # 6,000 events over 33 hours
        loader.add(b)
        peak = max(peak, loader.buffered_bytes + loader.committer.inflight_bytes())
    assert peak <= cap
    assert loader.close().loaded == 6_000
