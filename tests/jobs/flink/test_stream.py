"""The streaming rollup end to end on the embedded mini-cluster, driven by the ``run --engine flink``
stage: raw metrics committed by the loader in batches (with re-delivered duplicates and late rows),
the job reading its segments continuously, the committer writing ``metrics_1m`` — equal to the DuckDB
engine on the same raw data; the stage stopped (with a savepoint) and resumed mid-stream."""

from __future__ import annotations

import math
import os
import time
from datetime import timedelta

import duckdb
import pytest

from jobs.flink.committer import FlinkCommitter
from jobs.flink.stream import StreamConfig, compile_plan, latest_checkpoint, submit
from jobs.run.flink_stages import FlinkRollupStage
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader import segments
from pipeline.rollup.engine import rollup_table
from tests.jobs.flink.feed import Feeder
from tests.jobs.test_flink_rollup import _metric_rows
from tests.pipeline.rollup.gen import T0

pytestmark = [pytest.mark.flink, pytest.mark.slow]

COLS = "_wl_series_id, epoch_ms(timestamp), sample_count, min, max, sketch_bins, sketch_bin_counts, sketch_count, sum"


def _tier(lake, end_ms):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = [lake.uri(f) for f in lake.table_files("metrics_1m")]
    if not files:
        return []
    return con.execute(f"SELECT {COLS} FROM read_parquet(?) WHERE epoch_ms(timestamp) < ? ORDER BY ALL",
                       [files, end_ms]).fetchall()


def _duckdb(lake, end):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t = rollup_table(con, "raw", [lake.uri(f) for f in lake.table_files("metrics")], 60, T0, end)
    con.register("t", t)
    return con.execute(f"SELECT {COLS} FROM t ORDER BY ALL").fetchall()


def _same(got, want):
    if len(got) != len(want):
        return False
    return all(g[:-1] == w[:-1] and math.isclose(g[-1], w[-1], rel_tol=1e-12, abs_tol=1e-9) for g, w in zip(got, want))


def test_streaming_rollup_equals_duckdb_through_a_restart(tmp_path):
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    rows = sorted((r for r in _metric_rows() if r["timestamp"] < T0 + timedelta(hours=3)), key=lambda r: r["timestamp"])
    late = [r for r in rows if T0 + timedelta(minutes=100) <= r["timestamp"] < T0 + timedelta(minutes=103)]
    on_time = [r for r in rows if r not in late]
    half_hours = [T0 + timedelta(minutes=30 * k) for k in range(7)]
    batches = [[r for r in on_time if half_hours[k] <= r["timestamp"] < half_hours[k + 1]] for k in range(6)]
    feed = Feeder(lake)
    # the plan compiled ahead (`watchlake flink warm`) is the one every start below executes
    plan, made = compile_plan(StreamConfig.for_lake(lake))
    plan_file = plan.removeprefix("file://")
    assert made and os.path.isfile(plan_file) and compile_plan(StreamConfig.for_lake(lake)) == (plan, False)
    compiled_at = os.stat(plan_file).st_mtime_ns
    stage = FlinkRollupStage(lake, settings, checkpoint_seconds=1.0)
    try:
        stage.step()                                       # starts the job (nothing to seed yet)
        assert segments.enabled(lake) and stage.starts == 1
        stage.wait_running()          # the stream does not outrun the job by more than the recompute window
        for k, batch in enumerate(batches):
            assert feed.commit(batch) == len(batch)
            if k == 1:
                assert feed.commit(batches[0]) == 0        # re-delivered: duplicates, no segment
            if k == 3:                                     # stop mid-stream, resume from the savepoint
                ckpts = stage.config.checkpoints.removeprefix("file://")
                deadline = time.monotonic() + 120
                while latest_checkpoint(ckpts) is None and time.monotonic() < deadline:
                    time.sleep(0.5)
                stopped = stage.close()
                assert stopped is not None and "stopped with savepoint" in stopped.detail, stopped
                stage = FlinkRollupStage(lake, settings, checkpoint_seconds=1.0)
                assert "resumed from savepoint-" in stage.step().detail
                stage.wait_running()
            stage.step()
        assert feed.commit(late) == len(late)              # 80 minutes behind the watermark
        newest = max(r["timestamp"] for r in rows)
        end = T0 + timedelta(seconds=(int((newest - T0).total_seconds()) - 60) // 60 * 60)  # windows that fired
        want = _duckdb(lake, end)
        assert len(want) > 300
        deadline = time.monotonic() + 180
        got, details = [], []
        while time.monotonic() < deadline:
            rep = stage.step()
            assert not rep.error, rep.error
            if rep.detail:
                details.append(rep.detail)
            got = _tier(lake, int(end.timestamp() * 1000))
            if _same(got, want):
                break
            time.sleep(1)
        missing = sorted({w[:2] for w in want} - {g[:2] for g in got})
        # what to read if this fails: the (series, minute) keys missing, and what the steps reported
        assert _same(got, want), (len(got), len(want), missing[:8], stage.late_repaired, details[-6:])
        assert stage.late_repaired >= 1                             # the late rows went through the repair path
        assert lake.table_files("metrics_5m")              # the cascade ran
        assert os.listdir(os.path.dirname(plan_file)) == [os.path.basename(plan_file)]
        assert os.stat(plan_file).st_mtime_ns == compiled_at   # executed, never compiled again
    finally:
        stage.close()


def test_a_segment_read_after_newer_ones_is_repaired_not_dropped(tmp_path):
    """The filesystem source reads the segments one directory scan finds in listing order, not commit
    order (after a backlog: a restart, a slow job): here segment A (minutes 0-29) reaches the job after
    segment B (minutes 200-229), committed after it, has moved the watermark 3 h past A's lines. They
    were on time when the lake got them, so their buckets are recomputed (equal to DuckDB), not dropped
    as later than the recompute window."""
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    rows = sorted(_metric_rows(), key=lambda r: r["timestamp"])
    first = [r for r in rows if r["timestamp"] < T0 + timedelta(minutes=30)]
    second = [r for r in rows if T0 + timedelta(minutes=200) <= r["timestamp"] < T0 + timedelta(minutes=230)]
    segments.enable(lake)
    feed = Feeder(lake)
    assert feed.commit(first) == len(first)
    (seg_a,) = segments.inbox_segments(lake)
    held = lake.path(seg_a.path).replace("/seg-", "/_held-")      # the source skips names starting with _
    os.rename(lake.path(seg_a.path), held)
    assert feed.commit(second) == len(second)
    committer = FlinkCommitter(lake, settings, segment_retention_seconds=-1)
    job = submit(StreamConfig.for_lake(lake, checkpoint_seconds=1.0)).get_job_client()
    try:
        b_end = T0 + timedelta(minutes=228)                        # B's windows the watermark has closed
        want_b = _duckdb(lake, b_end)
        want_b = [r for r in want_b if r[1] >= int((T0 + timedelta(minutes=200)).timestamp() * 1000)]
        deadline = time.monotonic() + 180
        while not _same([r for r in _tier(lake, int(b_end.timestamp() * 1000)) if r[1] >= want_b[0][1]], want_b):
            assert time.monotonic() < deadline, "segment B's windows never arrived"
            committer.step(cascade=False)
            time.sleep(0.5)
        os.rename(held, lake.path(seg_a.path))                     # A reaches the job now, 3 h behind ...
        os.utime(lake.path(seg_a.path), ns=(seg_a.mtime_ns, seg_a.mtime_ns))   # ... committed before B
        a_end = T0 + timedelta(minutes=30)
        want_a = _duckdb(lake, a_end)
        assert len(want_a) == 60                                   # 2 hosts × 30 minutes
        repaired = 0
        while not _same(_tier(lake, int(a_end.timestamp() * 1000)), want_a):
            assert time.monotonic() < deadline + 180, repaired
            rep = committer.step(cascade=False)
            assert rep.late_dropped == 0, "A's lines were taken for later than the recompute window"
            repaired += rep.late_repaired
            time.sleep(0.5)
        assert repaired >= len(want_a)                             # every bucket through the late path
    finally:
        job.cancel().result()
        committer.close()


def test_late_lines_read_first_after_a_restore_are_repaired(tmp_path):
    """A restored job's window operator keeps the watermark it had (Flink stores it in its state),
    while a watermark assigner starts afresh: lines behind the restored watermark that the job reads
    before any newer line are dropped by the window. Here the only segment after the restore holds
    minutes 50-52, written after the job had closed minute 120: their buckets are recomputed through
    the late output (equal to DuckDB), not lost between the window and the late output."""
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    rows = sorted((r for r in _metric_rows() if r["timestamp"] < T0 + timedelta(minutes=130)),
                  key=lambda r: r["timestamp"])
    late = [r for r in rows if T0 + timedelta(minutes=50) <= r["timestamp"] < T0 + timedelta(minutes=53)]
    on_time = [r for r in rows if r not in late]
    feed = Feeder(lake)
    stage = FlinkRollupStage(lake, settings, checkpoint_seconds=1.0)
    try:
        stage.step()
        stage.wait_running()
        assert feed.commit(on_time) == len(on_time)
        closed = int((T0 + timedelta(minutes=120)).timestamp() * 1000)   # the window has passed minute 120
        deadline = time.monotonic() + 180
        while not any(r[1] == closed for r in _tier(lake, closed + 60_000)):
            assert time.monotonic() < deadline, "minute 120 never arrived"
            stage.step()
            time.sleep(0.5)
        stopped = stage.close()
        assert stopped is not None and "stopped with savepoint" in stopped.detail, stopped
        assert feed.commit(late) == len(late)                  # 70 minutes behind the restored watermark
        stage = FlinkRollupStage(lake, settings, checkpoint_seconds=1.0)
        assert "resumed from savepoint-" in stage.step().detail
        end = T0 + timedelta(minutes=53)
        want = _duckdb(lake, end)
        assert len(want) == 2 * 53
        got: list = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            rep = stage.step()
            assert not rep.error, rep.error
            got = _tier(lake, int(end.timestamp() * 1000))
            if _same(got, want):
                break
            time.sleep(1)
        missing = sorted({w[:2] for w in want} - {g[:2] for g in got})
        assert _same(got, want), (len(got), len(want), missing[:8], stage.late_repaired)
        assert stage.late_repaired >= 6                         # 3 minutes × 2 hosts, through the late path
    finally:
        stage.close()
