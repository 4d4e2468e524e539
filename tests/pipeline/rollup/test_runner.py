"""Incremental rollups: idempotent reruns, late data inside and outside the recompute window,
atomic one-file partitions, and CloudTrail activity counts on real CloudTrail events."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import duckdb
import pytest

from pipeline.config import load_settings
from pipeline.errors import InputError
from pipeline.lake import Lake
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.timeutil import floor, parse_time
from tests.pipeline.rollup.gen import T0, event, point, write_cloudtrail, write_metrics


def rows_of(lake: Lake, table: str) -> list[tuple]:
    files = [lake.uri(f) for f in lake.table_files(table)]
    if not files:
        return []
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return con.execute("SELECT namespace, metric_name, dimensions, unit, timestamp, sample_count, sum, "
                       "min, max, sketch_count FROM read_parquet(?) ORDER BY ALL", [files]).fetchall()


def bucket(lake, table, ts, dims='{"Host":"a"}'):
    return [r for r in rows_of(lake, table) if r[4] == ts and r[2] == dims]


@pytest.fixture
def three_hours(lake, settings):
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(180)])
    return run_rollups(lake, settings, DuckDBEngine())


def test_rerun_changes_nothing(lake, settings, three_hours):
    before = {t: rows_of(lake, t) for t in ("metrics_1m", "metrics_5m", "metrics_1h")}
    assert [len(before[t]) for t in before] == [180, 36, 3]
    files = {f: lake.size(f) for f in lake.list_files("rollups")}
    again = run_rollups(lake, settings, DuckDBEngine())
    assert all(not j.built for j in again.jobs)
    assert {t: rows_of(lake, t) for t in before} == before
    assert {f: lake.size(f) for f in lake.list_files("rollups")} == files
    # clock T0+2:59: seventeen settled 10-minute chunk files, and the open chunk (2:50-3:00) one
    # file per minute bucket; named after the job's tag and the range they hold
    names = sorted(f.rsplit("/", 1)[1] for f in lake.table_files("metrics_1m"))
    start = int(T0.timestamp())
    want = {f"-rollup-t{start + 600 * c}-600.parquet" for c in range(17)}
    want |= {f"-rollup-t{start + 170 * 60 + 60 * m}-60.parquet" for m in range(10)}
    assert len(names) == 27 and {n[n.index("-rollup-"):] for n in names} == want


def test_late_data_inside_window_updates_every_tier_once(lake, settings, three_hours):
    # clock = T0+2:59, window 120 min → buckets from T0+0:59 on are recomputed
    late = T0 + timedelta(hours=2, minutes=30, seconds=5)
    write_metrics(lake, [point(late, 41.0)])
    report = run_rollups(lake, settings, DuckDBEngine())
    assert [len(j.built) for j in report.jobs] == [1, 0, 1, 1]
    m1 = bucket(lake, "metrics_1m", floor(late, 60))
    assert [(r[5], r[6], r[8]) for r in m1] == [(2.0, 42.0, 41.0)]
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_5m", floor(late, 300))] == [(6.0, 46.0)]
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_1h", floor(late, 3600))] == [(61.0, 101.0)]
    assert len(rows_of(lake, "metrics_1m")) == 180            # updated, not duplicated
    run_rollups(lake, settings, DuckDBEngine())
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_1h", floor(late, 3600))] == [(61.0, 101.0)]


def test_late_data_outside_window_is_frozen_until_full(lake, settings, three_hours):
    old = T0 + timedelta(minutes=10, seconds=1)
    write_metrics(lake, [point(old, 9.0), point(T0 + timedelta(hours=2, minutes=59, seconds=30), 1.0)])
    run_rollups(lake, settings, DuckDBEngine())
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_1m", floor(old, 60))] == [(1.0, 1.0)]
    run_rollups(lake, settings, DuckDBEngine(), full=True)
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_1m", floor(old, 60))] == [(2.0, 10.0)]
    assert [(r[5], r[6]) for r in bucket(lake, "metrics_1h", T0)] == [(61.0, 69.0)]


def test_whole_partition_older_than_window_is_reported_late(lake, settings, three_hours):
    write_metrics(lake, [point(T0 - timedelta(days=1), 5.0)])
    run_rollups(lake, settings, DuckDBEngine(), full=True)             # first build of that day
    write_metrics(lake, [point(T0 - timedelta(days=1, minutes=-3), 5.0)])
    report = run_rollups(lake, settings, DuckDBEngine())
    assert report.jobs[0].late == ["rollups/metrics_1m/dt=2026-11-04"]
    assert len(bucket(lake, "metrics_1m", T0 - timedelta(days=1) + timedelta(minutes=3))) == 0


def test_recompute_window_is_configurable(lake, tmp_path):
    s = load_settings(env={}, overrides={"lake.root": str(lake.root),
                                         "tiers.recompute_window_minutes": "0"})
    write_metrics(lake, [point(T0 + timedelta(minutes=m), 1.0) for m in range(60)])
    run_rollups(lake, s, DuckDBEngine())
    write_metrics(lake, [point(T0 + timedelta(minutes=58, seconds=1), 1.0)])  # before the last minute
    run_rollups(lake, s, DuckDBEngine())
    assert [r[5] for r in bucket(lake, "metrics_1m", T0 + timedelta(minutes=58))] == [1.0]


def test_activity_counts_match_real_cloudtrail(lake, settings, shared_data):
    events = []
    for f in sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json")):
        events += json.loads(f.read_text())
    rows = [event(parse_time(e["eventTime"]), e["eventSource"], e["eventName"], e.get("errorCode"), i)
            for i, e in enumerate(events)]
    write_cloudtrail(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())

    def minute(e):
        return floor(parse_time(e["eventTime"]), 60)

    calls = Counter((minute(e), e["eventSource"], e["eventName"]) for e in events)
    errors = Counter((minute(e), e["eventSource"], e["eventName"], e["errorCode"])
                     for e in events if e.get("errorCode"))
    total = Counter(minute(e) for e in events)
    got = rows_of(lake, "metrics_1m")
    assert {r[0] for r in got} == {"CloudTrail/Activity"} and {r[3] for r in got} == {"Count"}
    got_calls = {(r[4], *json.loads(r[2]).values()): r[6] for r in got
                 if r[1] == "CallCount" and r[2] != "{}"}
    assert got_calls == {(m, en, es): float(n) for (m, es, en), n in calls.items()}
    got_errors = {(r[4], *json.loads(r[2]).values()): r[6] for r in got
                  if r[1] == "ErrorCount" and len(json.loads(r[2])) == 3}
    assert got_errors == {(m, ec, en, es): float(n) for (m, es, en, ec), n in errors.items()}
    by_code = Counter((minute(e), e["errorCode"]) for e in events if e.get("errorCode"))
    got_codes = {(r[4], json.loads(r[2])["ErrorCode"]): r[6] for r in got
                 if r[1] == "ErrorCount" and len(json.loads(r[2])) == 1}
    assert got_codes == {k: float(n) for k, n in by_code.items()}
    assert {r[4]: r[6] for r in got if r[2] == "{}"} == {m: float(n) for m, n in total.items()}
    assert sum(errors.values()) > 10           # the real data has AccessDenied-style errors
    # and they roll up: Sum over the hour equals the number of events in that hour
    hours = Counter(floor(parse_time(e["eventTime"]), 3600) for e in events)
    h1 = {r[4]: r[6] for r in rows_of(lake, "metrics_1h") if r[1] == "CallCount" and r[2] == "{}"}
    assert h1 == {h: float(n) for h, n in hours.items()}


def test_empty_lake(lake, settings):
    r = run_rollups(lake, settings, DuckDBEngine())
    assert r.clock is None and r.jobs == []


def test_bad_series_id_is_a_clear_error(lake, settings):
    bad = point(T0, 1.0)
    bad["_wl_series_id"] = "not-a-hex-id"
    write_metrics(lake, [bad])
    with pytest.raises(InputError, match="series ids must be the 16 hex digits") as err:
        run_rollups(lake, settings, DuckDBEngine())
    assert err.value.field == "_wl_series_id" and "metrics_1m/dt=2026-11-05" in err.value.path
