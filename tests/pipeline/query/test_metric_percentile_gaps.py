"""pNN over statistic sets: a period whose samples were published as statistic sets (count, sum,
min, max — no values) has no percentile, and the message names that cause, not
``tiers.percentiles`` (which keeps sketches for every namespace here)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.config import load_settings
from pipeline.lake import Lake
from pipeline.query.metrics import get_metric_data
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from tests.pipeline.rollup.gen import T0, point, write_metrics


def _lake(tmp_path) -> Lake:
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / "lake"), "tiers.percentiles": "*"})
    lake = Lake.from_settings(settings)
    rows = []
    for m in range(60):
        ts = T0 + timedelta(minutes=m)
        # "Sets": every minute one statistic set of 4 samples between 10 and 40
        rows.append(point(ts, ns="App", metric="Sets", stats=(4.0, 100.0, 10.0, 40.0)))
        # "Mixed": the first 30 minutes raw values, the last 30 statistic sets
        if m < 30:
            rows.append(point(ts, ns="App", metric="Mixed", values=[1.0, 2.0, 3.0]))
        else:
            rows.append(point(ts, ns="App", metric="Mixed", stats=(3.0, 6.0, 1.0, 3.0)))
    write_metrics(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())
    return lake


def test_statistic_sets_are_named_as_the_cause(tmp_path):
    lake = _lake(tmp_path)
    end = T0 + timedelta(hours=1)
    p99 = get_metric_data(lake, "App", "Sets", {"Host": "a"}, "p99", T0, end, 300, now=end, sketched=True)
    assert p99.values == []
    assert len(p99.messages) == 1
    assert "statistic sets" in p99.messages[0] and "tiers.percentiles" not in p99.messages[0]
    avg = get_metric_data(lake, "App", "Sets", {"Host": "a"}, "Average", T0, end, 300, now=end, sketched=True)
    assert avg.values == [25.0] * 12 and not avg.messages          # 100 / 4 per minute


def test_partly_statistic_sets_counts_the_periods_without_pnn(tmp_path):
    lake = _lake(tmp_path)
    end = T0 + timedelta(hours=1)
    p50 = get_metric_data(lake, "App", "Mixed", {"Host": "a"}, "p50", T0, end, 300, now=end, sketched=True)
    # 12 five-minute periods: minutes 0-29 (6 periods) raw values 1, 2, 3 → median 2; the rest sets
    assert len(p50.values) == 6
    assert p50.values == [pytest.approx(2.0, rel=0.01)] * 6
    assert p50.messages == ["6 of 12 periods have no pNN: they hold samples published as statistic sets "
                            "(count, sum, min, max without values), from which percentiles cannot be taken"]


def test_a_namespace_without_sketches_blames_the_setting(tmp_path):
    lake = _lake(tmp_path)
    end = T0 + timedelta(hours=1)
    p99 = get_metric_data(lake, "App", "Sets", {"Host": "a"}, "p99", T0, end, 300, now=end, sketched=False)
    assert p99.values == [] and "tiers.percentiles" in p99.messages[0]

