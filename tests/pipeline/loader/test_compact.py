from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from pipeline.config import Settings
from pipeline.lake import Lake, ledger
from pipeline.loader import Loader
from pipeline.loader.compact import compact, compact_partition
from pipeline.query.duck import connect
from tests.pipeline.loader.helpers import ct_batch, ct_rows


def small_files(lake: Lake, settings: Settings, n_batches: int = 6, per: int = 300) -> None:
    settings.loader.buffer_seconds = 0  # zero buffering: one file per batch and partition
    loader = Loader(lake, settings.loader)
    for i in range(n_batches):
        loader.add(ct_batch(ct_rows(per, start=i * per, step=timedelta(seconds=5))))
    loader.close()


def ids(lake: Lake) -> list[tuple[str, int]]:
    return connect(lake, ["cloudtrail"]).execute(
        "SELECT eventID, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 1").fetchall()


def test_compact_merges_and_keeps_every_row_once(lake: Lake, settings: Settings):
    small_files(lake, settings)  # 1800 events 5 s apart from 08:00 → hours 08, 09, 10
    before = lake.table_files("cloudtrail")
    assert len(before) > 6
    s = compact(lake, ["cloudtrail"])
    after = lake.table_files("cloudtrail")
    assert (s.compacted, s.files_out, len(after)) == (3, 3, 3)
    assert s.rows == 1800 and s.files_in == len(before)
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(1800)]
    assert sum(pq.read_metadata(lake.path(f)).num_rows for f in after) == 1800
    again = compact(lake, ["cloudtrail"])
    assert again.compacted == 0 and lake.table_files("cloudtrail") == after
    # a later load of the same events (same ids and times) still de-duplicates against the compacted files
    again_rows = ct_rows(10, step=timedelta(seconds=5))
    assert Loader(lake, settings.loader).add_all([ct_batch(again_rows)]).duplicates == 10


def test_crash_after_the_commit_point_shows_the_output_alone_and_is_rolled_forward(
        lake: Lake, settings: Settings, monkeypatch):
    small_files(lake, settings, 3, 100)  # all in hour 08
    folder = "raw/cloudtrail/dt=2026-11-01/hour=08"
    inputs = lake.table_files("cloudtrail", folder)
    real_delete = Lake.delete

    def crash(self, rel):  # die after the commit point, before the inputs are gone
        raise KeyboardInterrupt

    monkeypatch.setattr(Lake, "delete", crash)
    with pytest.raises(KeyboardInterrupt):
        compact_partition(lake, "cloudtrail", folder, ledger.CommitIds("abcdefabcdef"))
    monkeypatch.setattr(Lake, "delete", real_delete)
    assert ledger.marker_names(lake, "cloudtrail") == {"abcdefabcdef000001.prepared.json",
                                                       "abcdefabcdef000001.committed.json"}
    assert all(lake.exists(f) for f in inputs)  # still on disk, but no reader sees them
    (output,) = lake.table_files("cloudtrail", folder)
    assert output.endswith("-abcdefabcdef000001.parquet")
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(300)]
    # a loader de-duplicates against the output alone
    s = Loader(lake, settings.loader).add_all([ct_batch(ct_rows(310, step=timedelta(seconds=5)))])
    assert (s.loaded, s.duplicates) == (10, 300)
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(310)]
    # the next compaction finishes the swap: inputs deleted, ledger entry written, marker done
    assert compact(lake, ["cloudtrail"]).recovered == 1
    assert not any(lake.exists(f) for f in inputs)
    assert ledger.entries(lake, "cloudtrail", folder)["abcdefabcdef000001"]["retires"] == inputs
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(310)]


@pytest.mark.parametrize("step", ["write_json", "move"])
def test_crash_before_the_commit_point_leaves_nothing_visible(lake: Lake, settings: Settings, monkeypatch,
                                                              step: str):
    """``write_json``: dies writing the prepared marker; ``move``: dies after it, before the
    output has its visible name. Either way readers see the inputs, and the next compaction
    rolls the attempt back and compacts."""
    small_files(lake, settings, 3, 100)
    folder = "raw/cloudtrail/dt=2026-11-01/hour=08"
    before = lake.table_files("cloudtrail")

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Lake, step, crash)
    with pytest.raises(KeyboardInterrupt):
        compact_partition(lake, "cloudtrail", folder, ledger.CommitIds("abcdefabcdef"))
    monkeypatch.undo()
    assert lake.table_files("cloudtrail") == before and ids(lake) == [(f"ev-{i:08d}", 1) for i in range(300)]
    assert compact(lake, ["cloudtrail"]).compacted == 1
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(300)]
    import os
    assert not [n for n in os.listdir(lake.path(folder)) if n.startswith(".")]
    assert {n.rsplit(".", 2)[1] for n in ledger.marker_names(lake, "cloudtrail")} == {"done"}


def test_compact_cli(lake: Lake, settings: Settings, capsys):
    small_files(lake, settings, 4, 100)
    assert main(["--lake", settings.lake.root, "compact", "--table", "cloudtrail"]) == 0
    err = capsys.readouterr().err
    assert "partitions compacted  1" in err and "4 → 1" in err


def test_an_intent_of_the_earlier_protocol_is_still_rolled_forward(lake: Lake, settings: Settings):
    """A lake where a compaction of the earlier (intent entry) protocol crashed before the
    upgrade: the next loader that visits the partition publishes the output and drops the inputs."""
    import pyarrow as pa

    small_files(lake, settings, 3, 100)
    folder = "raw/cloudtrail/dt=2026-11-01/hour=08"
    inputs = lake.table_files("cloudtrail", folder)
    merged = pa.concat_tables([pq.read_table(lake.path(f)) for f in inputs])
    commit = "abcdefabcdef000009"
    pending = f"{folder}/.compact-{commit}.pending"
    output = f"{folder}/part-20261101T000000Z-0123456789ab-{commit}.parquet"
    lake.write_parquet(pending, merged)
    files = [{"path": output, "rows": 300, "bytes": lake.size(pending)}]
    ledger.write_entry(lake, "cloudtrail", folder, commit + ".intent", "compact", state="intent",
                       inputs=inputs, pending=pending, output=output, files=files, rows=300)
    s = Loader(lake, settings.loader).add_all([ct_batch(ct_rows(310, step=timedelta(seconds=5)))])
    assert (s.loaded, s.duplicates) == (10, 300)
    assert output in lake.table_files("cloudtrail", folder) and not any(lake.exists(f) for f in inputs)
    assert ids(lake) == [(f"ev-{i:08d}", 1) for i in range(310)]
    assert ledger.entries(lake, "cloudtrail", folder)[commit]["state"] == "done"
