"""Retention per tier with the data clock and the wall clock, and its safety rule."""

from __future__ import annotations

from datetime import timedelta

from pipeline.config import load_settings
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.retention import apply_retention
from pipeline.rollup.runner import run_rollups
from tests.pipeline.rollup.gen import T0, point, write_metrics


def _lake_with_days(lake, settings, days):
    write_metrics(lake, [point(T0 + timedelta(days=d, minutes=m), 1.0) for d in days for m in (0, 30)])


def _settings(lake, **kw):
    return load_settings(env={}, overrides={"lake.root": str(lake.root),
                                            **{f"tiers.{k}": str(v) for k, v in kw.items()}})


def test_data_clock_drops_whole_expired_partitions(lake):
    s = _settings(lake, raw_days=2, m1_days=3, m5_days=5, h1_days=40, recompute_window_minutes=60)
    _lake_with_days(lake, s, [0, 1, 2, 3, 4, 5, 6])          # clock = T0 + 6d 00:30
    run_rollups(lake, s, DuckDBEngine())
    dry = apply_retention(lake, s, dry_run=True)
    assert dry.clock == T0 + timedelta(days=6, minutes=30)
    assert lake.exists("raw/metrics/dt=2026-11-05")           # dry run deletes nothing
    report = apply_retention(lake, s)
    assert report.dropped == dry.dropped
    dropped = {(e.table, e.folder.rsplit("/", 1)[1]) for e in report.dropped}
    # raw keeps 2 days: partitions ending at or before T0+4d 00:30 go (days 0..3, hour=00)
    assert {f for t, f in dropped if t == "metrics"} == {"hour=00"}
    assert sorted(e.folder for e in report.dropped if e.table == "metrics") == [
        f"raw/metrics/dt=2026-11-0{d}/hour=00" for d in (5, 6, 7, 8)]
    assert sorted(f for t, f in dropped if t == "metrics_1m") == ["dt=2026-11-05", "dt=2026-11-06",
                                                                   "dt=2026-11-07"]
    assert sorted(f for t, f in dropped if t == "metrics_5m") == ["dt=2026-11-05"]
    assert not any(t == "metrics_1h" for t, _ in dropped)
    assert not lake.exists("raw/metrics/dt=2026-11-05/hour=00")
    assert lake.exists("rollups/metrics_5m/dt=2026-11-06")
    assert apply_retention(lake, s).dropped == []             # nothing left to drop
    # the rollup does not treat the dropped sources as a change
    assert all(not j.built and not j.late for j in run_rollups(lake, s, DuckDBEngine()).jobs)


def test_wall_clock(lake):
    s = _settings(lake, clock="wall")
    _lake_with_days(lake, s, [0])
    run_rollups(lake, s, DuckDBEngine())
    report = apply_retention(lake, s, now=T0 + timedelta(days=100))
    assert report.by_table() == {"metrics": 1, "metrics_1m": 1, "metrics_5m": 1, "metrics_1h": 0}
    assert apply_retention(lake, s, now=T0 + timedelta(days=500)).by_table()["metrics_1h"] == 1


def test_never_drops_data_not_yet_rolled_up(lake):
    s = _settings(lake, clock="wall")
    _lake_with_days(lake, s, [0])
    report = apply_retention(lake, s, now=T0 + timedelta(days=100))
    assert report.dropped == []
    assert [(e.table, why) for e, why in report.kept] == [("metrics", "not rolled up yet by metrics→1m")]
    assert lake.exists("raw/metrics/dt=2026-11-05/hour=00")
