"""Closed tier partitions as one file per job (:mod:`pipeline.rollup.settle`): once the data clock
passes a day's end plus the recompute window, the day's 1m and 5m partitions hold exactly one
file per job, with the rows the chunk files held and the layout and rows a ``--full`` rebuild
writes; a late write into a merged day replaces just its buckets; a merge killed at any lake
write leaves either the chunk files or the merged file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake, layout
from pipeline.lake.replace import replacing
from pipeline.rollup import chunks, settle
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.schema import ROLLUP, SORT_KEYS
from pipeline.rollup.state import load_state
from pipeline.rollup.tiers import JOBS
from pipeline.timeutil import epoch_ms
from tests.killpoints import KILL_AT_NTH_WRITE
from tests.pipeline.rollup.gen import T0, event, write_cloudtrail, write_metrics
from tests.pipeline.rollup.test_incremental import TIERS, _batch, assert_same_tiers, tier_rows

REPO = Path(__file__).resolve().parents[3]
DAY = "2026-11-05"                      # T0's day
DAY_START_S = int(T0.timestamp())
NEXT = T0 + timedelta(days=1)


def _settings(root: str, **extra: str):
    return load_settings(env={}, overrides={"lake.root": root, **extra})


def job_files(lake: Lake, table: str, folder: str) -> dict[str, list[str]]:
    """The files of each job (by tag) in one tier partition folder."""
    values = layout.parse_partition_path(table, folder)
    out: dict[str, list[str]] = {}
    for rel in lake.table_files(table, folder):
        for job in JOBS:
            if job.target == table and chunks.file_range(job, rel, values) is not None:
                out.setdefault(job.tag, []).append(rel)
    return out


def day_rows(rows: dict[tuple, tuple], day: str = DAY) -> dict[tuple, tuple]:
    return {k: v for k, v in rows.items() if k[5].strftime("%Y-%m-%d") == day}


def _day_lake(root: Path, seed: int, start_h: int = 20) -> Lake:
    """Metrics (3 hosts) and CloudTrail calls (activity) from ``start_h``:00 to 23:30 of DAY."""
    r = random.Random(seed)
    lake = Lake(root)
    write_metrics(lake, _batch(r, timedelta(hours=start_h), timedelta(hours=23, minutes=30), 300))
    write_cloudtrail(lake, [event(T0 + timedelta(hours=start_h, minutes=7 * i), "s3.amazonaws.com", "GetObject",
                                  i=i) for i in range((23 - start_h) * 8)])
    return lake


def _next_day(lake: Lake, seed: int, hours: float = 2.5, since: float = 0.0) -> None:
    """Data of the next day from ``since`` to ``hours`` after midnight (2.5: the clock passes DAY's
    end + the 2-hour window)."""
    r = random.Random(seed)
    write_metrics(lake, _batch(r, timedelta(days=1, hours=since), timedelta(days=1, hours=hours), 200))


def test_a_closed_day_becomes_one_file_per_job_with_the_same_rows_as_a_full_rebuild(tmp_path, monkeypatch):
    lake, settings, engine = _day_lake(tmp_path / "lake", 3), _settings(str(tmp_path / "lake")), DuckDBEngine()
    run_rollups(lake, settings, engine)                    # clock 23:30: the day is still open
    m1 = layout.partition_path("metrics_1m", {"dt": DAY})
    m5 = layout.partition_path("metrics_5m", {"dt": DAY})
    before = job_files(lake, "metrics_1m", m1)
    assert len(before["rollup"]) > 10 and len(before["activity"]) > 1      # chunk and bucket files
    assert len(job_files(lake, "metrics_5m", m5)["rollup"]) > 3
    rows_before = {t: day_rows(tier_rows(lake, t)) for t in ("metrics_1m", "metrics_5m")}

    _next_day(lake, 4, hours=1.0)                          # clock ~01:00: 1m cutoff 23:00, still open
    run_rollups(lake, settings, engine)
    assert len(job_files(lake, "metrics_1m", m1)["rollup"]) > 1
    calls: list[str] = []
    real = settle.merge
    monkeypatch.setattr(settle, "merge", lambda lk, job, folder, *a: calls.append(folder) or real(lk, job, folder, *a))
    _next_day(lake, 5, since=1.0)                          # clock ~02:30: cutoff 00:30 ≥ the day's end
    run_rollups(lake, settings, engine)
    assert sorted(calls) == sorted([m1, m1, m5])           # each job's day merged once (1m: two jobs)

    whole = f"-t{DAY_START_S}-86400.parquet"
    for table, folder, tags in (("metrics_1m", m1, {"rollup", "activity"}), ("metrics_5m", m5, {"rollup"})):
        files = job_files(lake, table, folder)
        assert set(files) == tags and all(len(v) == 1 for v in files.values()), files
        assert all(v[0].endswith(f"-{tag}{whole}") for tag, v in files.items())
        assert day_rows(tier_rows(lake, table)) == rows_before[table]            # the same rows, moved
        t = pq.read_table(lake.path(files["rollup"][0]), columns=SORT_KEYS)
        keys = list(zip(*(t[c].to_pylist() for c in SORT_KEYS)))
        assert keys == sorted(keys)                                              # by series, then time
        assert len({k[:4] for k in keys}) == (3 if table == "metrics_1m" else 5)  # 5m: with the activity
    month = layout.partition_path("metrics_1h", {"month": DAY[:7]})
    assert len(job_files(lake, "metrics_1h", month)["rollup"]) > 1               # a month closes later
    state = load_state(lake)["incremental"]["open"]
    assert m1 not in state["metrics→1m"] and m5 not in state["1m→5m"] and month in state["5m→1h"]

    merged = sorted(lake.table_files("metrics_1m", m1))
    calls.clear()
    _next_day(lake, 6, hours=3.0, since=2.5)               # later steps leave the merged day alone
    run_rollups(lake, settings, engine)
    assert sorted(lake.table_files("metrics_1m", m1)) == merged and calls == []   # not even looked at
    monkeypatch.undo()

    # a --full rebuild of the same raw data writes the same layout and the same rows
    got = {t: tier_rows(lake, t) for t in TIERS}
    run_rollups(lake, settings, engine, full=True)
    for table, folder in (("metrics_1m", m1), ("metrics_5m", m5)):
        assert {k: len(v) for k, v in job_files(lake, table, folder).items()} == \
            ({"rollup": 1, "activity": 1} if table == "metrics_1m" else {"rollup": 1})
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})
    # and so does the first build of a fresh lake holding the same files
    fresh = tmp_path / "fresh"
    for rel in lake.table_files("metrics") + lake.table_files("cloudtrail"):
        (fresh / rel).parent.mkdir(parents=True, exist_ok=True)
        (fresh / rel).write_bytes(Path(lake.path(rel)).read_bytes())
    run_rollups(Lake(fresh), _settings(str(fresh)), engine)
    assert {k: len(v) for k, v in job_files(Lake(fresh), "metrics_1m", m1).items()} == {"rollup": 1, "activity": 1}
    assert_same_tiers({t: tier_rows(Lake(fresh), t) for t in TIERS}, got)


def test_a_late_write_into_a_merged_day_replaces_only_its_buckets(tmp_path):
    lake, engine = _day_lake(tmp_path, 8, start_h=21), DuckDBEngine()
    settings = _settings(str(tmp_path))
    run_rollups(lake, settings, engine)
    for seed, since, hours in ((9, 0.0, 1.0), (10, 1.0, 2.5)):   # steps, none late
        _next_day(lake, seed, hours, since)
        run_rollups(lake, settings, engine)
    m1 = layout.partition_path("metrics_1m", {"dt": DAY})
    (merged,) = job_files(lake, "metrics_1m", m1)["rollup"]
    old = day_rows(tier_rows(lake, "metrics_1m"))

    # replace_runs on the merged file: a bucket of host "a" (in the middle of its rows) gets new
    # rows; the partition is open again (no cutoff), so the day is split into chunk files
    job = JOBS[0]
    table = pq.read_table(lake.path(merged)).select(ROLLUP.names).cast(ROLLUP)
    host_a = [i for i, d in enumerate(table["dimensions"].to_pylist()) if d == '{"Host":"a"}']
    mine = [host_a[len(host_a) // 2]]
    run_lo = epoch_ms(table["timestamp"][mine[0]].as_py())
    new = table.take(pa.array(mine)).set_column(ROLLUP.get_field_index("max"), "max", pa.array([1e6]))
    clock = epoch_ms(NEXT + timedelta(hours=2, minutes=30))
    with replacing(lake, "metrics_1m") as tx:
        chunks.replace_runs(tx, job, m1, {"dt": DAY}, [(run_lo, run_lo + 60_000)], new, clock,
                            (new["_wl_series_id"][0].as_py(),))
    after = day_rows(tier_rows(lake, "metrics_1m"))           # fails on a bucket seen twice
    changed = {k for k in after if after[k] != old[k]}
    assert after.keys() == old.keys() and len(changed) == 1
    (k,) = changed
    assert epoch_ms(k[5]) == run_lo and k[3] == '{"Host":"a"}' and after[k][3] == 1e6
    assert merged not in lake.table_files("metrics_1m", m1) and len(job_files(lake, "metrics_1m", m1)["rollup"]) > 1

    # a forced step into the day: a run of the jobs with a two-day window rebuilds its buckets
    # from the raw data (with a late row); each bucket once, as a --full rebuild has them
    write_metrics(lake, _batch(random.Random(11), timedelta(hours=22), timedelta(hours=22, minutes=1), 1))
    wide = _settings(str(tmp_path), **{"tiers.recompute_window_minutes": "2880", "tiers.raw_highres_hours": "49"})
    run_rollups(lake, wide, engine, jobs=JOBS)
    got = {t: tier_rows(lake, t) for t in TIERS}
    assert got["metrics_1m"][k][3] != 1e6                    # rebuilt from the raw rows
    run_rollups(lake, settings, engine, full=True)             # the default window: one file again
    assert len(job_files(lake, "metrics_1m", m1)["rollup"]) == 1
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


MERGE_WORKER = r"""
import os, signal, sys
from pipeline.lake import Lake
from pipeline.rollup import settle
from pipeline.rollup.tiers import JOBS

root, die_at, folder, clock, cutoff = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
""" + KILL_AT_NTH_WRITE + r"""
settle.merge(Lake(root), JOBS[0], folder, clock, cutoff)
print("finished", flush=True)
"""


@pytest.mark.slow
def test_a_merge_killed_at_any_write_leaves_the_chunk_files_or_the_merged_file(tmp_path):
    lake, settings = _day_lake(tmp_path, 12, start_h=22), _settings(str(tmp_path))
    run_rollups(lake, settings, DuckDBEngine())
    m1 = layout.partition_path("metrics_1m", {"dt": DAY})
    chunk_files = sorted(job_files(lake, "metrics_1m", m1)["rollup"])
    assert len(chunk_files) > 5
    rows = tier_rows(lake, "metrics_1m")
    clock = epoch_ms(NEXT + timedelta(hours=3))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    die_at, outcomes = 1, set()
    while True:
        p = subprocess.run([sys.executable, "-c", MERGE_WORKER, str(tmp_path), str(die_at), m1, str(clock),
                            str(clock - 7_200_000)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode in (0, -signal.SIGKILL), p.stderr
        now = sorted(job_files(lake, "metrics_1m", m1)["rollup"])
        is_merged = len(now) == 1 and now[0].endswith(f"-rollup-t{DAY_START_S}-86400.parquet")
        assert now == chunk_files or is_merged, now
        outcomes.add(is_merged)
        assert tier_rows(lake, "metrics_1m") == rows              # the same rows, each bucket once
        if p.returncode == 0:
            break
        die_at += 1
    assert die_at > 5 and outcomes == {False, True}             # killed before and after the commit point
    assert settle.merge(lake, JOBS[0], m1, clock, clock - 7_200_000) == 0   # done: nothing to redo


def test_settled_chunks_of_an_open_day_merge_into_aligned_blocks():
    h = 3_600_000                                          # a 5m chunk: one hour
    day = (0, 24 * h)
    hours = [(i * h, (i + 1) * h) for i in range(23)]      # chunk files of hours 0-22
    clock = 23 * h + 300_000                               # hour 22 settled (its end + one period)
    assert chunks.blocks(hours, *day, 300, clock) == [(0, 16 * h), (16 * h, 20 * h), (20 * h, 22 * h)]
    assert chunks.blocks(hours, *day, 300, clock - 1) == [(0, 16 * h), (16 * h, 20 * h), (20 * h, 22 * h)]
    assert chunks.blocks(hours[:22], *day, 300, 22 * h + 299_999) == [(0, 16 * h), (16 * h, 20 * h)]
    # merged blocks count as files; a block with one file (hours without data around it) is left
    files = [(0, 16 * h), (16 * h, 17 * h), (19 * h, 20 * h), (21 * h, 22 * h)]
    assert chunks.blocks(files, *day, 300, clock) == [(16 * h, 20 * h)]
    assert chunks.blocks([(0, 16 * h), (16 * h, 20 * h)], *day, 300, clock) == []
    # 1h: day chunks of a 30-day month: 16 + 8 + 4 + 2 days, never past the partition's end
    d = 24 * h
    days = [(i * d, (i + 1) * d) for i in range(30)]
    assert chunks.blocks(days, 0, 30 * d, 3600, 31 * d) == [(0, 16 * d), (16 * d, 24 * d), (24 * d, 28 * d),
                                                          (28 * d, 30 * d)]
    # 1m (10-minute chunks) keeps its chunk files until the day closes
    m = 600_000
    assert chunks.blocks([(i * m, (i + 1) * m) for i in range(144)], 0, 144 * m, 60, 145 * m) == []


def test_a_state_from_before_merging_gets_its_closed_days_merged_at_the_next_step(tmp_path):
    from pipeline.rollup.state import save_state

    lake, settings, engine = _day_lake(tmp_path, 13, start_h=21), _settings(str(tmp_path)), DuckDBEngine()
    run_rollups(lake, settings, engine)
    _next_day(lake, 14, hours=1.0)
    run_rollups(lake, settings, engine)
    state = load_state(lake)
    del state["incremental"]["open"]                     # as an earlier version wrote it
    save_state(lake, state)
    m5 = layout.partition_path("metrics_5m", {"dt": DAY})
    assert len(job_files(lake, "metrics_5m", m5)["rollup"]) > 1
    rows = tier_rows(lake, "metrics_5m")
    _next_day(lake, 15, since=1.0)
    run_rollups(lake, settings, engine)
    assert len(job_files(lake, "metrics_5m", m5)["rollup"]) == 1
    assert day_rows(tier_rows(lake, "metrics_5m")) == day_rows(rows)
    assert "open" in load_state(lake)["incremental"]


# -- the streamed merge (settle.write_sorted): the file the in-memory merge wrote, bounded memory --

def _chunk_day(lake: Lake, n_series: int, hours: int, seed: int) -> tuple[str, int]:
    """``hours`` of 1m chunk files of DAY for ``n_series`` series and a twin without a unit of
    every 17th (same namespace, metric and dimensions), random partials and sketches, each file
    sorted as the job writes it; returns the folder and the rows written."""
    r = random.Random(seed)
    job = JOBS[0]
    folder = layout.partition_path(job.target, {"dt": DAY})
    span = chunks.chunk_ms(60)
    series = [(f"{r.getrandbits(64):016x}", f"NS{i % 3}", f"M{i % 5}", f'{{"Host":"h{i}"}}', unit)
              for i in range(n_series) for unit in (("Count", None) if i % 17 == 0 else ("Count",))]
    with replacing(lake, job.target) as tx:
        for c in range(hours * 6):
            rows = []
            for s in series:
                for m in range(10):
                    bins = sorted(r.sample(range(-40, 400), r.randint(0, 6)))
                    counts = [float(r.randint(1, 3)) for _ in bins]
                    rows.append(dict(zip(ROLLUP.names, (*s, T0 + timedelta(minutes=c * 10 + m), 60,
                                                        r.random() * 9, r.random(), -r.random(), r.random(),
                                                        bins, counts, sum(counts)), strict=True)))
            start = epoch_ms(T0) + c * span
            tx.add({"dt": DAY}, pa.Table.from_pylist(rows, schema=ROLLUP), tag=chunks.tag(job, start, span),
                   sort_by=SORT_KEYS)
    return folder, len(series) * hours * 60


def _copy_lake(src: Path, dst: Path) -> Lake:
    import shutil

    shutil.copytree(src, dst)
    return Lake(dst)


def test_the_streamed_merge_writes_the_file_the_in_memory_merge_wrote(tmp_path):
    lake = Lake(tmp_path / "a")
    folder, n = _chunk_day(lake, 230, 3, seed=21)               # 18 files, 244 series: 43,920 rows
    assert len(lake.table_files("metrics_1m", folder)) == 18 and n == 43_920
    ref = _copy_lake(tmp_path / "a", tmp_path / "b")
    clock = epoch_ms(NEXT + timedelta(hours=3))
    assert settle.merge(lake, JOBS[0], folder, clock, clock - 7_200_000) == n
    with replacing(ref, "metrics_1m") as tx:                    # the merge before streaming: pyarrow's sort
        chunks.replace_runs(tx, JOBS[0], folder, {"dt": DAY}, [], ROLLUP.empty_table(), clock,
                            cutoff_ms=clock - 7_200_000)
    (got,), (want,) = lake.table_files("metrics_1m", folder), ref.table_files("metrics_1m", folder)
    assert got.endswith(f"-rollup-t{DAY_START_S}-86400.parquet") and got.rsplit("-", 3)[1:] == want.rsplit("-", 3)[1:]
    schema = pq.read_schema(lake.path(got))
    assert schema.equals(ROLLUP) and schema.names == ROLLUP.names
    assert schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("sketch_bins").type == pa.list_(pa.int32()) and schema.field("period").type == pa.int32()
    meta, ref_meta = pq.read_metadata(lake.path(got)), pq.read_metadata(ref.path(want))
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    # series-aligned (test_rowgroups.py): each (namespace, metric) of 2,700–3,060 rows is past the
    # 2,048 rows at which a new metric starts a group, and within the 8,192-row target: one group each
    pairs = Counter((f"NS{i % 3}", f"M{i % 5}") for i in range(230) for _ in range(2 if i % 17 == 0 else 1))
    assert groups == [180 * pairs[k] for k in sorted(pairs)]
    assert groups == [ref_meta.row_group(i).num_rows for i in range(ref_meta.num_row_groups)]  # in batches too
    assert meta.row_group(0).column(0).compression == "ZSTD"
    t = pq.read_table(lake.path(got))
    assert t.equals(pq.read_table(ref.path(want)))              # every row and value, in the same order
    h0 = [u for d, u in zip(t["dimensions"].to_pylist(), t["unit"].to_pylist(), strict=True) if d == '{"Host":"h0"}']
    assert h0 == ["Count"] * 180 + [None] * 180               # a null unit sorts after the others
    assert not [e for e in lake.entries(folder) if "settle" in e.path]   # no pending file left
    assert settle.merge(lake, JOBS[0], folder, clock, clock - 7_200_000) == 0


KILLED_WRITE_WORKER = r"""
import os, signal, sys
import pyarrow.parquet as pq
from pipeline.lake import Lake
from pipeline.rollup import settle
from pipeline.rollup.tiers import JOBS

root, folder, clock = sys.argv[1], sys.argv[2], int(sys.argv[3])
real = pq.ParquetWriter.write_table
def write_then_die(self, *a, **k):
    real(self, *a, **k)
    os.kill(os.getpid(), signal.SIGKILL)          # a row group is on disk, the file unfinished
pq.ParquetWriter.write_table = write_then_die
settle.merge(Lake(root), JOBS[0], folder, clock, clock - 7_200_000)
"""


def test_a_merge_killed_while_streaming_leaves_the_chunk_files_and_its_leftover_goes_next_time(tmp_path):
    lake = Lake(tmp_path)
    folder, n = _chunk_day(lake, 60, 5, seed=22)                # 30 files, 19,200 rows: two row groups
    inputs = sorted(lake.table_files("metrics_1m", folder))
    rows = tier_rows(lake, "metrics_1m")
    clock = epoch_ms(NEXT + timedelta(hours=3))
    p = subprocess.run([sys.executable, "-c", KILLED_WRITE_WORKER, str(tmp_path), folder, str(clock)], cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr
    (left,) = [e for e in lake.entries(folder) if e.path.endswith(".pending")]
    assert left.bytes > 0 and "/.settle-rollup-" in left.path
    assert sorted(lake.table_files("metrics_1m", folder)) == inputs and tier_rows(lake, "metrics_1m") == rows
    assert settle.merge(lake, JOBS[0], folder, clock, clock - 7_200_000) == n
    assert not [e for e in lake.entries(folder) if e.path.endswith(".pending")]
    assert len(lake.table_files("metrics_1m", folder)) == 1 and tier_rows(lake, "metrics_1m") == rows
