"""The committer of the streaming rollup, on part files as Flink's file sink writes them (CSV,
no header; values worked out by hand), without a JVM: keyed exactly-once commits, late repairs,
the 5m cascade."""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import pytest

from jobs.flink import repaired as frepaired
from jobs.flink.committer import LATE, OUT, FlinkCommitter
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader.segments import INBOX
from pipeline.rollup.sketch import bin_of
from tests.pipeline.rollup.gen import T0, point, sid, write_metrics

MS0 = 1_793_836_800_000  # T0 in epoch ms
A = sid("App", "Latency", {"Host": "a"}, "Milliseconds")


@pytest.fixture
def lake(tmp_path):
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    write_metrics(lake, [point(T0 + timedelta(seconds=10), 1.0), point(T0 + timedelta(seconds=20), 3.0),
                         point(T0 + timedelta(seconds=70), stats=(2.0, 8.0, 4.0, 4.0))])
    return lake, settings


def _part(lake, folder, name, text):
    path = lake.path(f"{folder}/{name}")
    import os

    os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


WINDOWS = (f'{A},{MS0},2.0,4.0,1.0,3.0,2.0,"{bin_of(3.0)},{bin_of(1.0)}"\n'
           f"{A},{MS0 + 60_000},2.0,8.0,4.0,4.0,2.0,{bin_of(4.0)}:2.0\n")


def _rows(lake, table="metrics_1m"):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.execute("SELECT _wl_series_id, namespace, dimensions, epoch_ms(timestamp), period, sample_count, sum, "
                       "min, max, sketch_bins, sketch_bin_counts, sketch_count FROM read_parquet(?) ORDER BY ALL",
                       [[lake.uri(f) for f in lake.table_files(table)]]).fetchall()


def test_windows_become_rollup_rows_once_even_when_redelivered(lake, tmp_path):
    lake, settings = lake
    path = _part(lake, OUT, "part-0-0", WINDOWS)
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1)
    saved = str(tmp_path / "saved")
    shutil.copy(path, saved)
    rep = c.step()
    assert (rep.parts, rep.windows, rep.rows, rep.late) == (1, 2, 2, 0)
    expected = [(A, "App", '{"Host":"a"}', MS0, 60, 2.0, 4.0, 1.0, 3.0, sorted([bin_of(1.0), bin_of(3.0)]),
                 [1.0, 1.0], 2.0),
                (A, "App", '{"Host":"a"}', MS0 + 60_000, 60, 2.0, 8.0, 4.0, 4.0, [bin_of(4.0)], [2.0], 2.0)]
    assert _rows(lake) == expected
    assert not lake.exists(f"{OUT}/part-0-0")              # consumed
    # the 5m tier follows from 1m: partials add up
    assert [r[5:9] for r in _rows(lake, "metrics_5m")] == [(4.0, 12.0, 1.0, 4.0)]
    # a crash after the commit and before the delete re-delivers the same file: replaced, never doubled
    shutil.copy(saved, path)
    assert c.step().rows == 2
    assert _rows(lake) == expected
    assert [r[5] for r in _rows(lake, "metrics_5m")] == [4.0]


def test_late_lines_recompute_their_bucket_from_the_lake(lake):
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])   # arrived behind the watermark
    _part(lake, OUT, "part-0-0", WINDOWS)
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{119 * 60 - 30},\n")  # ~2 h window: just inside
    rep = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0).step()
    assert (rep.late, rep.late_repaired, rep.late_dropped) == (1, 1, 0)
    first = _rows(lake)[0]
    assert first[3:12] == (MS0, 60, 3.0, 6.0, 1.0, 3.0, sorted(bin_of(v) for v in (1.0, 2.0, 3.0)), [1.0] * 3, 3.0)


def test_a_window_published_after_its_bucket_was_repaired_does_not_undo_the_repair(lake):
    # The two sinks' part files become visible at the checkpoint after each rolls, so the window of
    # minute 0, fired before the late line reached the job (dropped), can reach the committer a step
    # after that line's repair: the bucket is recomputed from the lake again, never the partial window.
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{60},\n")
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    assert (c.step(cascade=False).late_repaired, _rows(lake)[0][3], _rows(lake)[0][5]) == (1, MS0, 3.0)
    _window_after_repair(lake, c)


def _window_after_repair(lake, c):
    """Publish minute 0's window (without the late line) and minute 1's; check that minute 0 is the
    recomputed bucket (3 samples), not the window's 2, and minute 1 the window's row."""
    _part(lake, OUT, "part-0-1", WINDOWS)
    rep = c.step(cascade=False)
    assert (rep.windows, rep.rows) == (2, 2)
    first = _rows(lake)[0]
    assert first[3:12] == (MS0, 60, 3.0, 6.0, 1.0, 3.0, sorted(bin_of(v) for v in (1.0, 2.0, 3.0)), [1.0] * 3, 3.0)
    assert _rows(lake)[1][5] == 2.0                          # minute 1, never repaired: the window's row
    return rep


def test_a_repair_survives_a_restart_of_the_committer(lake):
    # The stage restarts (a new committer on the same lake) between the late line's repair and the
    # window of its bucket: the bucket is still recomputed from the lake, never the partial window.
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{60},\n")
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    assert (c.step(cascade=False).late_repaired, _rows(lake)[0][5]) == (1, 3.0)
    c.close()
    del c
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    rep = _window_after_repair(lake, c)
    assert (rep.note, frepaired.load(lake)) == ("", ({f"{A}|{MS0}": MS0}, ""))


def test_the_saved_repairs_keep_only_the_recompute_window_behind_the_newest(lake):
    lake, settings = lake
    later = MS0 + 3 * 3600_000                               # 3 h on: the 2 h window has left minute 0
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0), point(T0 + timedelta(hours=3, seconds=5), 5.0)])
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{60},\n")
    c.step(cascade=False)
    assert frepaired.load(lake) == ({f"{A}|{MS0}": MS0}, "")
    _part(lake, LATE, "part-0-1", f"{A},{later + 5_000},{60},\n")
    assert c.step(cascade=False).late_repaired == 1
    assert frepaired.load(lake) == ({f"{A}|{later}": later}, "")


@pytest.mark.parametrize("damage", [b'{"version": 1, "buckets": {"17938368', b"\xff\xfe\x00",
                                    b'{"version": 1, "buckets": {"minute 0": ["a"]}}', b"[1, 2]"],
                         ids=["truncated", "not-utf8", "bad-bucket", "not-a-map"])
def test_a_damaged_repaired_state_starts_empty_and_says_so(lake, damage):
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    lake.write_bytes(frepaired.PATH, damage)
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    assert c._repaired == {}
    first = c.step(cascade=False)
    assert first.note.startswith(f"repaired buckets state {frepaired.PATH} unreadable (")
    assert first.note.endswith("): started with none")
    assert c.step(cascade=False).note == ""                  # said once
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{60},\n")
    assert c.step(cascade=False).late_repaired == 1          # the next repair writes the state anew
    assert frepaired.load(lake) == ({f"{A}|{MS0}": MS0}, "")


def test_late_lines_older_than_the_recompute_window_are_counted_not_applied(lake):
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    _part(lake, OUT, "part-0-0", WINDOWS)
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{121 * 60 - 30},\n")  # the job's clock was 2 h 1 min on
    rep = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0).step(cascade=False)
    assert (rep.late, rep.late_repaired, rep.late_dropped) == (1, 0, 1)
    assert _rows(lake)[0][5] == 2.0                          # the published bucket stays


def _segment(lake, name, newest_ms, mtime_s):
    """An inbox segment whose last line has event time ``newest_ms``, modified at ``mtime_s``."""
    import os

    line = "{},{},0,1.0,1.0,1.0,1.0,,\n"
    path = _part(lake, INBOX, name, line.format(A, newest_ms - 5_000) + line.format(A, newest_ms))
    os.utime(path, (mtime_s, mtime_s))


def test_lateness_counts_from_the_lake_clock_when_the_segment_was_committed(lake):
    # The source read seg-b (committed later, 3 h on) before seg-a: Flink's clock was 3 h past the line,
    # but when seg-a was committed the lake's clock was 30 s: inside the recompute window, repaired.
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    _part(lake, OUT, "part-0-0", WINDOWS)
    _segment(lake, "seg-a.csv", MS0 + 30_000, 1_000_000)
    _segment(lake, "seg-b.csv", MS0 + 3 * 3600_000, 1_000_100)
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{3 * 3600 - 30},file:{lake.path(INBOX)}/seg-a.csv\n")
    c = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0)
    assert c.load_clocks({"seg-a.csv", "seg-b.csv", "seg-gone.csv"}) == {"seg-a.csv": MS0 + 30_000,
                                                                         "seg-b.csv": MS0 + 3 * 3600_000}
    rep = c.step(cascade=False)
    assert (rep.late, rep.late_repaired, rep.late_dropped) == (1, 1, 0)
    assert _rows(lake)[0][5] == 3.0                          # 1.0, 2.0 and 3.0


def test_a_segment_committed_after_newer_data_keeps_the_lake_clock_of_then(lake):
    # seg-b (3 h on) was committed first, seg-a after it: seg-a's lines were 3 h late when the lake got
    # them, as for the DuckDB rollup; so was a line whose segment has left the inbox (Flink's clock).
    lake, settings = lake
    write_metrics(lake, [point(T0 + timedelta(seconds=30), 2.0)])
    _part(lake, OUT, "part-0-0", WINDOWS)
    _segment(lake, "seg-b.csv", MS0 + 3 * 3600_000, 1_000_000)
    _segment(lake, "seg-a.csv", MS0 + 30_000, 1_000_100)
    _part(lake, LATE, "part-0-0", f"{A},{MS0 + 30_000},{3 * 3600 - 30},file:{lake.path(INBOX)}/seg-a.csv\n"
                                  f"{A},{MS0 + 40_000},{3 * 3600 - 40},file:{lake.path(INBOX)}/seg-gone.csv\n")
    rep = FlinkCommitter(lake, settings, segment_retention_seconds=-1, out_of_orderness=0).step(cascade=False)
    assert (rep.late, rep.late_repaired, rep.late_dropped) == (2, 0, 2)
    assert _rows(lake)[0][5] == 2.0


def test_a_series_without_identity_is_an_error_naming_it(lake):
    lake, settings = lake
    _part(lake, OUT, "part-0-0", f"00000000000000ff,{MS0},1.0,1.0,1.0,1.0,1.0,{bin_of(1.0)}\n")
    with pytest.raises(ValueError, match="00000000000000ff"):
        FlinkCommitter(lake, settings, segment_retention_seconds=-1).step()
    assert lake.exists(f"{OUT}/part-0-0")                    # kept for the next attempt


def test_segments_retire_by_the_jobs_checkpoints_since_its_start_not_by_age(lake):
    import os
    import time

    from jobs.flink.stream import CHECKPOINTS, SAVEPOINTS

    lake, settings = lake
    now = time.time()

    def touch(rel, age_s):
        path = _part(lake, rel.rsplit("/", 1)[0], rel.rsplit("/", 1)[1], "x\n")
        os.utime(path, (now - age_s, now - age_s))

    touch(f"{INBOX}/seg-down.csv", 3 * 3600)      # written while the job was down
    touch(f"{INBOX}/seg-new.csv", 600)
    c = FlinkCommitter(lake, settings, out_of_orderness=0)   # default retention: 1 h
    assert c.step(cascade=False).segments_retired == 0       # no run started by us: nothing retired
    c.job_started_ns = int(now * 1e9)                         # the job restarts now, after 3+ hours down
    touch(f"{CHECKPOINTS}/old/chk-7/_metadata", 4 * 3600)    # the previous run's last checkpoint
    touch(f"{CHECKPOINTS}/new/chk-1/_metadata", 0)           # the new run's first
    assert c.retire_cut_ns() is None
    assert c.step(cascade=False).segments_retired == 0       # by age alone seg-down would go: unread
    assert len(lake.entries(INBOX)) == 2
    c.job_started_ns = int((now - 2 * 3600) * 1e9)           # the run has lasted 2 h, checkpointing
    assert c.step(cascade=False).segments_retired == 1
    assert [e.path.rsplit("/", 1)[1] for e in lake.entries(INBOX)] == ["seg-new.csv"]
    shutil.rmtree(lake.path(CHECKPOINTS))                    # a savepoint counts as a snapshot too
    touch(f"{INBOX}/seg-down.csv", 3 * 3600)
    touch(f"{SAVEPOINTS}/savepoint-1/_metadata", 0)
    assert c.step(cascade=False).segments_retired == 1
