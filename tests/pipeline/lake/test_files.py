"""The one definition of a data file, and the lake's listings built on it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.lake import Lake, layout, ledger
from pipeline.lake.files import is_data_path, table_of

T = pa.table({"x": [1]})


def test_data_path_rules():
    assert is_data_path("findings/dt=2025-01-01/part-a.parquet")
    for hidden in ("findings/dt=2025-01-01/.part-a.parquet.1234abcd.tmp", "findings/dt=2025-01-01/x.tmp",
                   "findings/dt=2025-01-01/.compact-1.pending", "_ledger/findings/dt=2025-01-01/c.json",
                   "_state/rollups.json", "findings/_tmp/part-a.parquet"):
        assert not is_data_path(hidden), hidden


def test_table_of_and_no_table_folder_nests_another():
    assert table_of("rollups/metrics_1m/dt=2025-01-01/part-a.parquet") == "metrics_1m"
    assert table_of("alarms/history/dt=2025-01-01/part-a.parquet") == "alarm_history"
    assert table_of("alarms/state.json") is None and table_of("raw") is None
    # listings of one table rely on this: a table's folder never holds another table
    prefixes = [s.prefix for s in layout.TABLES.values()]
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a + "/")]


def test_listings_skip_hidden_temporary_foreign_and_uncommitted_files(lake: Lake):
    good = lake.write_parquet("findings/dt=2025-01-01/part-a.parquet", T).path
    other = lake.write_parquet("anomalies/dt=2025-01-01/part-b.parquet", T).path
    lake.write_bytes("findings/dt=2025-01-01/.part-c.parquet.0000aaaa.tmp", b"half")
    lake.write_bytes("findings/dt=2025-01-01/notes.json", b"{}")        # not the table's format
    lake.write_json("_state/x.json", {})
    lake.write_json("alarms/state.json", [])
    pending = lake.write_parquet("findings/dt=2025-01-02/part-d.parquet", T).path
    lake.write_json(ledger.marker_path("findings", "c1", "prepared"),
                    {"commit": "c1", "table": "findings", "adds": [pending], "retires": [], "state": "prepared"})
    assert lake.table_files("findings") == [good]
    assert lake.table_files("findings", "findings/dt=2025-01-02") == []
    assert [e.path for e in lake.table_entries("anomalies")] == [other]
    assert lake.list_files("") == ["alarms/state.json", other, good]
    assert [p for _, p in lake.iter_partitions("findings")] == ["findings/dt=2025-01-01"]
    # housekeeping sees everything, hidden files included
    assert {e.path for e in lake.entries("findings")} >= {good, pending, "findings/dt=2025-01-01/notes.json"}


def test_a_listing_that_never_settles_raises_lake_busy(lake: Lake, monkeypatch):
    """Commits that never stop changing the markers: the listing backs off, then gives up with a
    clear, retryable error naming the folder (it never returns a mixed snapshot)."""
    import itertools

    from pipeline.errors import LakeBusyError, TransientError
    from pipeline.lake import files

    ticks = itertools.count()
    monkeypatch.setattr(ledger, "marker_names", lambda lake_, t: frozenset({f"c{next(ticks)}.done.json"}))
    monkeypatch.setattr(ledger, "hidden_by_markers", lambda lake_, t, names: set())
    monkeypatch.setattr(files, "SNAPSHOT_TIMEOUT", 0.05)
    with pytest.raises(LakeBusyError) as err:
        lake.table_files("findings")
    assert isinstance(err.value, TransientError) and err.value.path == lake.uri("findings")


def test_local_listing_equals_pyarrow_local_filesystem(lake: Lake, tmp_path):
    """A local lake is listed with os.scandir (no pyarrow import): the same paths, sizes and
    modification times as pyarrow's LocalFileSystem, recursive or not, hidden and nested files
    included, a symlinked file followed, a missing folder empty."""
    import os

    import pyarrow.fs as pafs

    from pipeline.lake.files import Entry, entries

    root = tmp_path / "lake"
    for rel, data in [("raw/metrics/dt=2026-11-05/hour=01/a.parquet", b"x" * 7),
                      ("raw/metrics/dt=2026-11-05/hour=01/.a.parquet.1234.tmp", b"yy"),
                      ("raw/metrics/dt=2026-11-05/hour=02/b.parquet", b""),
                      ("_state/rollups.json", b"{}"), ("top.txt", b"abc")]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    os.symlink(root / "top.txt", root / "raw" / "link.txt")
    fs = pafs.LocalFileSystem()

    def by_pyarrow(rel: str, recursive: bool) -> list[Entry]:
        base = lake.path(rel)
        if fs.get_file_info(base).type != pafs.FileType.Directory:
            return []
        return sorted((Entry(i.path[len(lake.base) + 1:], int(i.size or 0), int(i.mtime_ns or 0))
                       for i in fs.get_file_info(pafs.FileSelector(base, recursive=recursive))
                       if i.type == pafs.FileType.File), key=lambda e: e.path)

    assert not lake.is_s3
    for rel in ("", "raw", "raw/metrics/dt=2026-11-05", "nope", "top.txt"):
        for recursive in (True, False):
            assert entries(lake, rel, recursive=recursive) == by_pyarrow(rel, recursive), (rel, recursive)
    assert len(entries(lake)) == 6
