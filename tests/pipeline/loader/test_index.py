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
    budget, blooms = 4000, 1000  # 500 hashes, 800 keys' filters; the partition grows to 6,000 keys
    index, ids = KeyIndex(lake, "cloudtrail", budget_bytes=budget, bloom_budget_bytes=blooms), ledger.CommitIds("t")
    for b in range(30):
        out = _commit(lake, index, ids, _rows(b))
        assert (out.rows, out.duplicates) == (200, 0)
        assert index.cached_bytes <= budget and index.bloom_bytes <= blooms
        assert index.nbytes() <= budget + blooms + UNIT_BYTES * (b + 1)  # in-order data: no outliers
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


def test_late_rows_mixed_into_files_cost_no_reads_unless_they_are_duplicates(lake: Lake) -> None:
    """Every file: 199 current rows and one row 10 minutes late. Past the hot window, new late
    rows are told new from the files' outlier hashes alone; a replayed late row is still caught."""
    index, ids = KeyIndex(lake, "cloudtrail", hot_ms=60_000), ledger.CommitIds("t")
    late_rows = []
    for b in range(4, 24):  # 100 s of events per file, from 08:33:20 on
        rows = _rows(b, 199)
        late = ct_rows(1, start=10_000 + b, t0=rows[0]["eventTime"] - timedelta(minutes=10), step=timedelta(0))
        late_rows += late
        assert _commit(lake, index, ids, rows + late).rows == 200
    assert index.stats.loads == 0
    # new late rows (fresh keys) at the times the files' late rows have, plus one replayed late row
    probe = [dict(r, eventID=f"new-{i}") for i, r in enumerate(late_rows[:10])] + late_rows[3:4]
    out = _commit(lake, index, ids, probe)
    assert (out.rows, out.duplicates) == (10, 1)
    assert index.stats.loads == 0 and index.stats.confirms == 1  # one row group read, to confirm the replay
    assert {n for _, n in _lake_ids(lake)} == {1}
