"""The loader's de-duplication index: bounded memory, exact answers (old and evicted files,
compacted files, files of other writers, forced hash collisions), through the real commit path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.lake import Lake, layout, ledger
from pipeline.loader import keyhash
from pipeline.loader.commit import Outcome, Work, commit
from pipeline.loader.compact import compact_partition
from pipeline.loader.index import UNIT_BYTES, KeyIndex
from pipeline.query.duck import connect
from pipeline.schemas import CLOUDTRAIL
from tests.pipeline.loader.helpers import T0, ct_rows

HALF_SECOND = timedelta(milliseconds=500)
FOLDER = layout.partition_path("cloudtrail", layout.time_partitions("cloudtrail", T0))


def _commit(lake: Lake, index: KeyIndex, ids: ledger.CommitIds, rows: list[dict[str, Any]]) -> Outcome:
    t = pa.Table.from_pylist(rows, schema=CLOUDTRAIL)
    return commit(lake, index, Work("cloudtrail", FOLDER, [t], t.num_rows, t.nbytes), ids.next())


def _lake_ids(lake: Lake) -> list[tuple[str, int]]:
    return connect(lake, ["cloudtrail"]).execute(
        "SELECT eventID, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 1").fetchall()


def _rows(b: int, n: int = 200) -> list[dict[str, Any]]:
    """Batch ``b``: keys ev-(b·n)…, event times advancing half a second per key (one hour partition)."""
    return ct_rows(n, start=b * n, step=HALF_SECOND)


def test_memory_stays_under_budget_while_the_partition_grows(lake: Lake) -> None:
    budget = 4000  # 500 hashes; the partition grows to 6,000 keys (48,000 bytes of hashes)
    index, ids = KeyIndex(lake, "cloudtrail", budget_bytes=budget), ledger.CommitIds("t")
    for b in range(30):
        out = _commit(lake, index, ids, _rows(b))
        assert (out.rows, out.duplicates) == (200, 0)
        assert index.cached_bytes <= budget
        assert index.nbytes() <= budget + UNIT_BYTES * (b + 1)
    assert index.stats.loads == 0  # in-order data never needs an older file's keys
    # the first batch again (its file evicted long ago) with 50 new keys: the 200 are duplicates
    out = _commit(lake, index, ids, _rows(0) + _rows(120, 50))
    assert (out.rows, out.duplicates) == (50, 200)
    assert index.stats.loads >= 1 and index.cached_bytes <= budget
    got = _lake_ids(lake)
    assert len(got) == 30 * 200 + 50 and {n for _, n in got} == {1}


def test_a_duplicate_of_an_evicted_file_is_rejected_in_a_mixed_batch(lake: Lake) -> None:
    index, ids = KeyIndex(lake, "cloudtrail", budget_bytes=1600), ledger.CommitIds("t")  # one file's hashes
    for b in range(10):
        _commit(lake, index, ids, _rows(b))
    # a replay that spans old and new data: batches 2 (evicted), 5 (evicted) and 9 (cached)
    replay = _rows(2)[::7] + _rows(5)[3::11] + _rows(9)[::13]
    out = _commit(lake, index, ids, replay + ct_rows(20, start=5000, step=HALF_SECOND))
    assert (out.rows, out.duplicates) == (20, len(replay))
    assert index.stats.loads == 2  # exactly the two evicted files the replay falls into
    assert {n for _, n in _lake_ids(lake)} == {1}


def test_replayed_data_is_rejected_after_compaction(lake: Lake) -> None:
    index, ids = KeyIndex(lake, "cloudtrail"), ledger.CommitIds("t")
    for b in range(6):
        _commit(lake, index, ids, _rows(b))
    assert compact_partition(lake, "cloudtrail", FOLDER, ledger.CommitIds("c"))
    assert len(lake.table_files("cloudtrail", FOLDER)) == 1
    out = _commit(lake, index, ids, _rows(3) + _rows(6))
    assert (out.rows, out.duplicates) == (200, 200)
    assert index.stats.loads == 1  # the compacted file's one row group, read back from disk
    assert len(_lake_ids(lake)) == 7 * 200


def test_a_foreign_file_is_checked_row_group_by_row_group(lake: Lake) -> None:
    """A file another writer left (no ledger entry, 10 row groups): adopted, and a duplicate of
    its 8th row group costs reading that row group only."""
    rows = _rows(0, 1000)
    rel = f"{FOLDER}/{layout.file_name(tag='other')}"
    lake.fs.create_dir(lake.path(FOLDER), recursive=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=CLOUDTRAIL), lake.path(rel), row_group_size=100)
    index, ids = KeyIndex(lake, "cloudtrail"), ledger.CommitIds("t")
    out = _commit(lake, index, ids, rows[750:760] + _rows(1000, 5))
    assert (out.rows, out.duplicates) == (5, 10)
    assert index.adopted == 1
    assert index.stats.loads == 1 and index.stats.loaded_rows == 100


def test_a_forced_hash_collision_never_drops_a_distinct_record(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyhash, "key_hashes", lambda keys: np.zeros(len(keys), dtype=np.uint64))
    index, ids = KeyIndex(lake, "cloudtrail"), ledger.CommitIds("t")
    same_times = [ct_rows(100, start=b * 100, step=timedelta(0)) for b in range(3)]  # one instant, all collide
    for rows in same_times:
        assert _commit(lake, index, ids, rows).rows == 100
    assert index.stats.collisions >= 200
    out = _commit(lake, index, ids, same_times[1][:10] + ct_rows(10, start=300, step=timedelta(0)))
    assert (out.rows, out.duplicates) == (10, 10)
    got = _lake_ids(lake)
    assert len(got) == 310 and {n for _, n in got} == {1}


def test_the_same_key_at_the_same_time_is_one_record_across_loaders(lake: Lake) -> None:
    """Two indexes (two loaders) on one partition: each sees the other's files."""
    a, b, ids = KeyIndex(lake, "cloudtrail"), KeyIndex(lake, "cloudtrail"), ledger.CommitIds("t")
    assert _commit(lake, a, ids, _rows(0)).rows == 200
    assert _commit(lake, b, ids, _rows(0)[50:] + _rows(1)).duplicates == 150
    assert _commit(lake, a, ids, _rows(1)[:5]).duplicates == 5
    assert len(_lake_ids(lake)) == 400


def test_file_units_bound_every_row_also_without_statistics(lake: Lake) -> None:
    rows = _rows(0, 300)
    t = pa.Table.from_pylist(rows, schema=CLOUDTRAIL)
    for stats in (True, False):
        rel = f"{FOLDER}/{layout.file_name(tag=f's{int(stats)}')}"
        lake.fs.create_dir(lake.path(FOLDER), recursive=True)
        pq.write_table(t, lake.path(rel), row_group_size=128, write_statistics=stats)
        units = keyhash.file_units(lake, "cloudtrail", rel)
        assert [u.rows for u in units] == [128, 128, 44]
        for u, start in zip(units, (0, 128, 256)):
            times = [r["eventTime"] for r in rows[start:start + u.rows]]  # by hand: whole seconds / halves
            assert u.lo == int(min(times).timestamp() * 1000) and u.hi == int(max(times).timestamp() * 1000)


def test_event_ms_floors_every_unit() -> None:
    for unit, raw, want in (("s", 2, 2000), ("ms", 1_500, 1_500), ("us", 1_500_999, 1_500), ("ns", -1, -1)):
        t = pa.table({"eventTime": pa.array([raw], pa.timestamp(unit, tz="UTC"))})
        assert keyhash.event_ms("cloudtrail", t).tolist() == [want]


def test_hashes_older_than_the_hot_window_are_dropped_and_read_back_when_needed(lake: Lake) -> None:
    index, ids = KeyIndex(lake, "cloudtrail", hot_ms=60_000), ledger.CommitIds("t")  # 120 keys of 0.5 s
    for b in range(20):
        _commit(lake, index, ids, _rows(b, 60))  # 30 s of events per file
        # cached: at most the files whose newest event is within a minute of the newest (3 files + this one)
        assert index.cached_bytes <= 4 * 60 * 8
    assert index.stats.loads == 0
    out = _commit(lake, index, ids, _rows(0, 60) + _rows(19, 60))
    assert (out.rows, out.duplicates) == (0, 120) and index.stats.loads == 1  # the oldest file, read back
    assert index.cached_bytes <= 4 * 60 * 8  # ... and not kept
