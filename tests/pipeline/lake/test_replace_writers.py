"""A commit's files are encoded by several threads at once (pipeline.lake.replace.WRITERS), and
a write that fails among them rolls the whole commit back."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from pipeline.lake import Lake
from pipeline.lake.files import table_lock
from pipeline.lake.locks import locked
from pipeline.lake.replace import recover, replace_rows
from tests.pipeline.lake.test_replace import SCHEMA, TABLE, by_day, content, rows


def test_a_commits_files_are_written_at_once_and_one_failed_write_rolls_it_back(
        lake: Lake, monkeypatch: pytest.MonkeyPatch):
    from pipeline.errors import WriteError
    from pipeline.lake import replace

    monkeypatch.setattr(replace, "WRITERS", 2)
    days = [("a", "r1", 1, "2025-01-01 03"), ("b", "r1", 2, "2025-01-02 05"), ("c", "r2", 3, "2025-01-03 01")]
    real, writing, most = Lake.write_parquet, set(), [0]

    def slow(self: Lake, rel: str, table: pa.Table, **kw: object):  # noqa: ANN202
        writing.add(rel)
        most[0] = max(most[0], len(writing))
        time.sleep(0.3)  # every write overlaps the next one if two run at once
        try:
            if "2025-01-03" in rel and fail:
                raise WriteError(rel, "disk full")
            return real(self, rel, table, **kw)
        finally:
            writing.discard(rel)

    monkeypatch.setattr(Lake, "write_parquet", slow)
    fail = False
    res = replace_rows(lake, TABLE, rows(days), schema=SCHEMA, partition_of=by_day, key=["k"])
    assert most[0] == 2 and res.rows == 3 and content(lake) == sorted(days)
    assert [a.rsplit("/", 2)[1] for a in res.added] == ["dt=2025-01-01", "dt=2025-01-02", "dt=2025-01-03"]
    fail, most[0] = True, 0
    changed = [(k, r, v + 10, t) for k, r, v, t in days]
    with pytest.raises(WriteError, match="disk full"):
        replace_rows(lake, TABLE, rows(changed), schema=SCHEMA, partition_of=by_day, key=["k"])
    assert most[0] == 2 and not writing  # the other writes ended before the error was raised
    with locked(lake, table_lock(TABLE)):
        recover(lake, TABLE)
    assert content(lake) == sorted(days)  # the failed commit left nothing of itself
