"""Event times a single bad record could use to hijack the lake: rejected at load, and a bad
partition already on disk cannot break sql, rollups or time ranges."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.loader.core import Loader
from pipeline.loader.ingest import ingest
from pipeline.query.catalog import partition_span, table_extent
from pipeline.query.duck import run_query
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.rollup.tiers import partition_range
from pipeline.schemas import CLOUDTRAIL
from pipeline.timeutil import MAX_TIME, iso, utcnow
from tests.pipeline.loader.helpers import ct_batch, ct_rows


def _event(eid: str, when: str) -> dict[str, str]:
    return {"eventVersion": "1.09", "eventID": eid, "eventTime": when, "eventName": "GetObject",
            "eventSource": "s3.amazonaws.com"}


def test_far_future_events_are_rejected_naming_the_setting(tmp_path: Path, lake: Lake, settings: Settings) -> None:
    now = utcnow()
    soon = iso(now + timedelta(minutes=5))  # inside the 15 minutes of clock skew
    f = tmp_path / "ct.json"
    f.write_text(json.dumps({"Records": [_event("ok", "2026-11-01T00:00:00Z"), _event("skew", soon),
                                         _event("y9999", "9999-12-31T23:59:59Z"),
                                         _event("y2500", "2500-01-01T00:00:00Z")]}))
    s = ingest(lake, settings.loader, "cloudtrail", [f])
    assert (s.records_in, s.loaded, s.rejected) == (4, 2, 2)
    rejected = [json.loads(line) for p in lake.list_files("errors")
                for line in gzip.decompress(lake.read_bytes(p)).splitlines()]
    assert sorted((r["field"], r["reason"]) for r in rejected) == [
        ("eventTime", "event time more than 15 minutes in the future (loader.max_future_minutes)")] * 2
    assert max(values["dt"] for values, _ in lake.iter_partitions("cloudtrail")) < "2100"


def test_metric_time_window_follows_put_metric_data_without_backfill(lake: Lake, settings: Settings) -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    settings.loader.backfill = False
    rows = [
        ("a", now - timedelta(days=15)),           # older than 14 days: rejected
        ("b", now - timedelta(days=13)),           # kept
        ("c", now + timedelta(minutes=119)),       # kept
        ("d", now + timedelta(minutes=121)),       # more than 2 hours ahead: rejected
    ]
    from tests.pipeline.loader.helpers import metric_batch

    loader = Loader(lake, settings.loader, now=lambda: now)
    loader.add(metric_batch([(s, t, 1.0) for s, t in rows]))
    summary = loader.close()
    assert (summary.loaded, summary.rejected) == (2, 2)
    settings.loader.backfill = True  # backfill: history is welcome, the future still is not
    loader = Loader(lake, settings.loader, now=lambda: now)
    loader.add(metric_batch([(s, t, 1.0) for s, t in rows]))
    summary = loader.close()
    assert (summary.loaded, summary.rejected, summary.duplicates) == (1, 1, 2)


def test_an_existing_year_9999_partition_breaks_nothing(lake: Lake, settings: Settings) -> None:
    good = ct_rows(3)
    Loader(lake, settings.loader).add_all([ct_batch(good)])
    bad = pa.Table.from_pylist([{**ct_rows(1)[0], "eventID": "far",
                                 "eventTime": datetime(9999, 12, 31, 23, 59, tzinfo=UTC)}], schema=CLOUDTRAIL)
    lake.write_partition("cloudtrail", {"dt": "9999-12-31", "hour": "23"}, bad, tag="hand")
    assert partition_span("cloudtrail", {"dt": "9999-12-31", "hour": "23"})[1] == MAX_TIME
    assert partition_range({"dt": "9999-12-31"})[1] == MAX_TIME
    assert partition_range({"month": "9999-12"})[1] == MAX_TIME
    assert table_extent(lake, "cloudtrail")[1] == MAX_TIME
    res = run_query(lake, "SELECT count(*) AS n FROM cloudtrail WHERE eventTime >= TIMESTAMP '2026-01-01'")
    assert res.table.column("n").to_pylist() == [4]
    run_rollups(lake, settings, DuckDBEngine())
    from dashboards.timerange import CHOICES, dt_bounds, resolve

    for choice in CHOICES[:-1]:
        start, end = resolve(choice, oldest=datetime(2026, 11, 1, tzinfo=UTC), newest=MAX_TIME)
        assert start <= end
        dt_bounds(start, end)
