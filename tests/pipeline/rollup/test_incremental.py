"""Incremental rollup steps (:mod:`pipeline.rollup.incremental`) end where a ``--full`` rebuild of
the same raw data ends: after random sequences of appends (random batch sizes, late data inside the
recompute window, duplicate rows, statistic sets and value lists), with raw compaction in between,
every tier has the same buckets with bit-equal count/min/max/sketches and sums equal to rounding.
A step reads only new files, and writes only the files of the buckets it recomputed."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.loader.compact import compact
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.killpoints import KILL_AT_NTH_WRITE
from tests.pipeline.rollup.gen import T0, event, point, write_cloudtrail, write_metrics

REPO = Path(__file__).resolve().parents[3]

TIERS = ("metrics_1m", "metrics_5m", "metrics_1h")
HOSTS = ["a", "b", "c"]


def tier_rows(lake: Lake, table: str) -> dict[tuple, tuple]:
    """Every row of a tier by (series, bucket); fails on a bucket seen twice."""
    files = [lake.uri(f) for f in lake.table_files(table)]
    if not files:
        return {}
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    rows = con.execute(
        "SELECT _wl_series_id, namespace, metric_name, dimensions, unit, timestamp, period, sample_count, "
        "sum, min, max, sketch_bins, sketch_bin_counts, sketch_count FROM read_parquet(?)", [files]).fetchall()
    out = {r[:7]: r[7:] for r in rows}
    assert len(out) == len(rows), f"{table}: a bucket is visible twice"
    return out


def assert_same_tiers(got: dict[str, dict], want: dict[str, dict]) -> None:
    for t in TIERS:
        assert got[t].keys() == want[t].keys(), t
        for k, (count, s, lo, hi, bins, counts, sk) in want[t].items():
            g = got[t][k]
            assert (g[0], g[2], g[3], g[4], g[5], g[6]) == (count, lo, hi, bins, counts, sk), (t, k)
            assert math.isclose(g[1], s, rel_tol=1e-12, abs_tol=1e-9), (t, k, g[1], s)


def _batch(r: random.Random, start: timedelta, end: timedelta, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        ts = T0 + start + timedelta(seconds=r.uniform(0, (end - start).total_seconds()))
        host = r.choice(HOSTS)
        kind = r.random()
        if kind < 0.8:
            rows.append(point(ts, round(r.lognormvariate(2, 1), 3), dims={"Host": host}))
        elif kind < 0.9:
            v = float(r.randint(1, 9))
            rows.append(point(ts, dims={"Host": host}, stats=(3.0, 3 * v, v, v)))
        else:
            rows.append(point(ts, dims={"Host": host}, values=[1.5, 20.0], counts=[2.0, 1.0]))
    if rows and r.random() < 0.3:
        rows += r.sample(rows, k=min(3, len(rows)))  # duplicate rows: counted by both paths alike
    return rows


def _settings(root: str):
    return load_settings(env={}, overrides={"lake.root": root})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_steps_end_like_a_full_rebuild(tmp_path, seed):
    r = random.Random(seed)
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, _batch(r, timedelta(0), timedelta(hours=2), 300))
    run_rollups(lake, settings, engine)                          # the first (batch) build
    now = timedelta(hours=2)
    for i in range(14):
        step = timedelta(seconds=r.choice([20, 60, 150, 400]))
        rows = _batch(r, now, now + step, r.randint(0, 60))
        if r.random() < 0.4:                                    # late, inside the 120-minute window
            back = timedelta(minutes=r.uniform(1, 100))
            rows += _batch(r, now - back, now - back + timedelta(seconds=30), r.randint(1, 5))
        write_metrics(lake, rows)
        if i % 2:
            write_cloudtrail(lake, [event(T0 + now + timedelta(seconds=r.uniform(0, step.total_seconds())),
                                          "s3.amazonaws.com", r.choice(["GetObject", "PutObject"]), i=k)
                                    for k in range(4)])
        if r.random() < 0.3:
            compact(lake, ["metrics", "cloudtrail"], min_files=2)
        report = run_rollups(lake, settings, engine)
        assert not any(j.late for j in report.jobs)
        now += step
    got = {t: tier_rows(lake, t) for t in TIERS}
    assert all(got.values())
    run_rollups(lake, settings, engine, full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


def test_a_step_reads_only_new_files_and_rewrites_only_their_buckets(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(150)])
    run_rollups(lake, settings, engine)
    before = set(lake.table_files("metrics_1m"))
    # a new minute: exactly one 1m bucket file is added, no other 1m file is touched
    write_metrics(lake, [point(T0 + timedelta(minutes=150, seconds=5), 2.0)])
    report = run_rollups(lake, settings, engine)
    after = set(lake.table_files("metrics_1m"))
    assert len(after - before) == 1 and before - after == set()
    assert (report.jobs[0].rows, report.jobs[2].rows, report.jobs[3].rows) == (1, 1, 1)
    # the 1h bucket 02:00 holds minutes 120..150: 31 samples, sum 29·1 + 2 + 1 (minute 120..149 = 1.0)
    h = {k[5].hour: v for k, v in tier_rows(lake, "metrics_1h").items()}
    assert (h[2][0], h[2][1]) == (31.0, 32.0)
    # nothing new: no engine work, no write
    files = {f: lake.size(f) for f in lake.list_files("rollups")}
    again = run_rollups(lake, settings, engine)
    assert all(not j.built for j in again.jobs)
    assert {f: lake.size(f) for f in lake.list_files("rollups")} == files


def test_compaction_of_consumed_files_recomputes_nothing(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(60)])
    run_rollups(lake, settings, engine)
    for m in range(60, 64):                                   # four small files in hour 01
        write_metrics(lake, [point(T0 + timedelta(minutes=m, seconds=1), 3.0)])
        run_rollups(lake, settings, engine)
    assert compact(lake, ["metrics"], min_files=2).compacted == 1
    report = run_rollups(lake, settings, engine)
    assert all(not j.built for j in report.jobs)


def test_late_data_older_than_the_window_is_reported_and_left_to_full(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(180)])
    run_rollups(lake, settings, engine)
    write_metrics(lake, [point(T0 + timedelta(minutes=30, seconds=2), 7.0),      # 150 minutes old
                         point(T0 + timedelta(minutes=179, seconds=9), 1.0)])
    report = run_rollups(lake, settings, engine)
    assert report.jobs[0].late == ["rollups/metrics_1m/dt=2026-11-05"]
    m30 = T0 + timedelta(minutes=30)
    assert [v[0] for k, v in tier_rows(lake, "metrics_1m").items() if k[5] == m30] == [1.0]
    run_rollups(lake, settings, engine, full=True)
    assert [v[:2] for k, v in tier_rows(lake, "metrics_1m").items() if k[5] == m30] == [(2.0, 8.0)]


WORKER = r"""
import os, signal, sys
from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups

root, die_at = sys.argv[1], int(sys.argv[2])
""" + KILL_AT_NTH_WRITE + r"""
run_rollups(Lake(root), load_settings(env={}, overrides={"lake.root": root}), DuckDBEngine())
"""


def _appends(r: random.Random) -> list[list[dict]]:
    now, out = timedelta(hours=2), []
    for _ in range(3):
        rows = _batch(r, now, now + timedelta(minutes=3), 40)
        rows += _batch(r, now - timedelta(minutes=50), now - timedelta(minutes=49), 3)   # late, in window
        out.append(rows)
        now += timedelta(minutes=3)
    return out


@pytest.mark.slow
def test_steps_killed_at_random_writes_end_like_uninterrupted_steps(tmp_path):
    """Each incremental step is SIGKILLed at random lake writes (every write of the first step in
    turn) and rerun until it finishes: readers never see a bucket twice, and the end state equals
    the same steps run without interruption, and a ``--full`` rebuild."""
    r = random.Random(7)
    base = _batch(r, timedelta(0), timedelta(hours=2), 200)
    appends = _appends(r)
    ref, root = Lake(tmp_path / "ref"), tmp_path / "lake"
    lake = Lake(root)
    for each in (ref, lake):
        write_metrics(each, base)
        run_rollups(each, _settings(each.root), DuckDBEngine())
    for rows in appends:
        write_metrics(ref, rows)
        run_rollups(ref, _settings(ref.root), DuckDBEngine())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    for n, rows in enumerate(appends):
        write_metrics(lake, rows)
        die_at = 1
        while True:
            p = subprocess.run([sys.executable, "-c", WORKER, str(root), str(die_at)], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300)
            assert p.returncode in (0, -signal.SIGKILL), p.stderr
            for t in TIERS:
                tier_rows(lake, t)                         # no bucket visible twice, at any point
            if p.returncode == 0:
                break
            kills += 1
            die_at = die_at + 1 if n == 0 else die_at + r.randint(1, 12)
    assert kills > 20
    got = {t: tier_rows(lake, t) for t in TIERS}
    assert_same_tiers(got, {t: tier_rows(ref, t) for t in TIERS})
    run_rollups(lake, _settings(str(root)), DuckDBEngine(), full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


def test_live_steps_defer_coarser_tiers_until_their_source_buckets_close(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(60)])
    run_rollups(lake, settings, engine)
    write_metrics(lake, [point(T0 + timedelta(minutes=60, seconds=10), 5.0)])   # opens 1m 01:00
    live = run_rollups(lake, settings, engine, defer_seconds=3600)
    assert [bool(j.built) for j in live.jobs] == [True, False, False, False]   # 1m fresh, 5m/1h wait
    assert T0 + timedelta(hours=1) not in {k[5] for k in tier_rows(lake, "metrics_5m")}
    write_metrics(lake, [point(T0 + timedelta(minutes=61, seconds=10), 7.0)])   # 01:00 has closed
    live = run_rollups(lake, settings, engine, defer_seconds=3600)
    assert [bool(j.built) for j in live.jobs] == [True, False, True, False]    # 5m 01:00 (still open)
    m5 = {k[5]: v for k, v in tier_rows(lake, "metrics_5m").items()}
    assert m5[T0 + timedelta(hours=1)][:2] == (2.0, 12.0)                     # from every 1m row it has
    batch = run_rollups(lake, settings, engine)                                 # a batch run flushes all
    assert [bool(j.built) for j in batch.jobs] == [False, False, True, True]
    assert {k[5]: v for k, v in tier_rows(lake, "metrics_1h").items()}[T0 + timedelta(hours=1)][:2] == (2.0, 12.0)


def test_steps_across_midnight_and_retention_end_like_a_full_rebuild(tmp_path):
    """Steps cross a day boundary (new 1m/5m day partitions, the 1h month partition shared), and
    retention drops the raw partitions of an older day in between: the tiers still equal a
    ``--full`` rebuild (which, like retention, leaves buckets older than the raw retention alone)."""
    from pipeline.rollup.retention import apply_retention

    r = random.Random(11)
    root = str(tmp_path)
    lake, engine = Lake(tmp_path), DuckDBEngine()
    settings = load_settings(env={}, overrides={"lake.root": root, "tiers.raw_days": "1"})
    write_metrics(lake, _batch(r, timedelta(hours=10), timedelta(hours=11), 60))         # day 1
    write_metrics(lake, _batch(r, timedelta(hours=46), timedelta(hours=47, minutes=50), 150))  # day 2
    run_rollups(lake, settings, engine)
    now = timedelta(hours=47, minutes=50)
    dropped = 0
    for i in range(10):
        step = timedelta(minutes=r.choice([1, 3, 5]))
        rows = _batch(r, now, now + step, r.randint(5, 40))
        rows += _batch(r, now - timedelta(minutes=20), now - timedelta(minutes=19), 2)      # late
        write_metrics(lake, rows)
        if i == 5:
            dropped = len(apply_retention(lake, settings).dropped)
        assert not any(j.late for j in run_rollups(lake, settings, engine).jobs)
        now += step
    assert dropped == 1                                          # raw/metrics day 1, hour 10
    got = {t: tier_rows(lake, t) for t in TIERS}
    assert {k[5].day for k in got["metrics_1m"]} == {5, 6, 7}    # the steps crossed midnight
    run_rollups(lake, settings, engine, full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


def test_a_live_partition_removed_whole_takes_its_buckets_away(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(130)])
    run_rollups(lake, settings, engine)
    write_metrics(lake, [point(T0 + timedelta(minutes=130, seconds=1), 1.0)])
    run_rollups(lake, settings, engine)
    lake.delete("raw/metrics/dt=2026-11-05/hour=01")          # minutes 60..119, inside the window
    run_rollups(lake, settings, engine)
    minutes = sorted(int((k[5] - T0).total_seconds()) // 60 for k in tier_rows(lake, "metrics_1m"))
    assert minutes == list(range(60)) + list(range(120, 131))
    h1 = {k[5]: v for k, v in tier_rows(lake, "metrics_1h").items()}
    assert T0 + timedelta(hours=1) not in h1 and h1[T0 + timedelta(hours=2)][0] == 11.0


def test_live_steps_hold_late_buckets_and_recompute_them_together(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(180)])
    run_rollups(lake, settings, engine)

    def m1() -> dict:
        return {k[5]: v[:2] for k, v in tier_rows(lake, "metrics_1m").items()}

    late_a, late_b = T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=30)
    write_metrics(lake, [point(late_a + timedelta(seconds=1), 4.0),
                         point(T0 + timedelta(minutes=179, seconds=30), 2.0)])
    run_rollups(lake, settings, engine, late_seconds=600)
    assert m1()[late_a] == (1.0, 1.0) and m1()[T0 + timedelta(minutes=179)] == (2.0, 3.0)  # recent at once
    write_metrics(lake, [point(late_b + timedelta(seconds=1), 5.0), point(T0 + timedelta(minutes=184), 1.0)])
    run_rollups(lake, settings, engine, late_seconds=600)
    assert (m1()[late_a], m1()[late_b]) == ((1.0, 1.0), (1.0, 1.0))     # both held, 5 minutes on
    write_metrics(lake, [point(T0 + timedelta(minutes=190), 1.0)])       # the first held 10 minutes
    report = run_rollups(lake, settings, engine, late_seconds=600)
    assert (m1()[late_a], m1()[late_b]) == ((2.0, 5.0), (2.0, 6.0))     # recomputed together
    assert not any(j.late for j in report.jobs)
    got = {t: tier_rows(lake, t) for t in TIERS}
    run_rollups(lake, settings, engine, full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


def test_late_rows_recompute_only_their_series(tmp_path):
    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 0.0, dims={"Host": h})
                         for m in range(180) for h in HOSTS])
    run_rollups(lake, settings, engine)
    late = T0 + timedelta(hours=2)
    write_metrics(lake, [point(late + timedelta(seconds=3), 9.0, dims={"Host": "b"}),
                         point(T0 + timedelta(minutes=179, seconds=9), 1.0, dims={"Host": "a"})])
    report = run_rollups(lake, settings, engine)
    # the engine recomputed host b at 02:00 and host a at 02:59: one row each, not three
    assert report.jobs[0].rows_in == 2
    m1 = {(k[3], k[5]): v[:2] for k, v in tier_rows(lake, "metrics_1m").items()}
    assert [m1[f'{{"Host":"{h}"}}', late] for h in HOSTS] == [(1.0, 0.0), (2.0, 9.0), (1.0, 0.0)]
    h1 = {(k[3], k[5]): v[:2] for k, v in tier_rows(lake, "metrics_1h").items()}
    assert h1['{"Host":"b"}', late] == (61.0, 9.0) and h1['{"Host":"c"}', late] == (60.0, 0.0)
    got = {t: tier_rows(lake, t) for t in TIERS}
    run_rollups(lake, settings, engine, full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})


def test_a_file_landing_while_the_first_build_runs_is_rolled_up_by_the_next_step(tmp_path, monkeypatch):
    """The first build lists the raw files before its jobs run and scans them for the incremental
    state while they run: a raw file that lands meanwhile (here: once the 1m job is done) is not
    in that state, so the next step finds it new and rolls it up — ending where a full rebuild
    ends."""
    from pipeline.rollup import runner

    lake, settings, engine = Lake(tmp_path), _settings(str(tmp_path)), DuckDBEngine()
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(90)])
    real, calls = runner.run_job, []

    def run_job(*a, **k):
        calls.append(a[3].name)
        if len(calls) == 3:  # the 1m jobs (metrics, cloudtrail) are done: a file lands
            write_metrics(lake, [point(T0 + timedelta(minutes=95, seconds=7), 5.0)])
        return real(*a, **k)

    monkeypatch.setattr(runner, "run_job", run_job)
    run_rollups(lake, settings, engine)
    monkeypatch.setattr(runner, "run_job", real)
    minute = T0 + timedelta(minutes=95)
    assert all(k[5] != minute for k in tier_rows(lake, "metrics_1m"))  # not in the first build
    run_rollups(lake, settings, engine)                                 # the next step
    assert any(k[5] == minute and v[1] == 5.0 for k, v in tier_rows(lake, "metrics_1m").items())
    got = {t: tier_rows(lake, t) for t in TIERS}
    run_rollups(lake, settings, engine, full=True)
    assert_same_tiers(got, {t: tier_rows(lake, t) for t in TIERS})
