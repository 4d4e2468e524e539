"""Demo stage: roll the demo lake's metrics and CloudTrail activity up into 1m/5m/1h, apply
retention, and answer one GetMetricData-style query.

Runs after the ingest stage(s) have loaded ``sample_data/`` into the lake. Retention uses the
configured clock (the data clock by default, so the committed sample days are kept).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jobs.batch_rollup import rollup
from jobs.retention import retention
from pipeline.timeutil import floor

if TYPE_CHECKING:
    from jobs.demo import Demo
    from pipeline.rollup.retention import RetentionReport
    from pipeline.rollup.runner import RollupReport


@dataclass
class RollupStage:
    """The ``rollups`` stage: the rollup and retention reports, the series in the 1h tier, and a
    GetMetricData-style answer (``query``: what was asked and how many points came back)."""

    rollup: RollupReport
    retention: RetentionReport
    series: int
    activity_series: int
    query: str

    def lines(self) -> dict[str, object]:
        report, ret = self.rollup, self.retention
        rows = report.rows_by_table()
        late = sum(len(j.late) for j in report.jobs)
        return {
            "data clock": report.clock.isoformat() if report.clock else "(no data)",
            "rows written": ", ".join(f"{t} {n:,}" for t, n in sorted(rows.items())) or "none (up to date)",
            "series": f"{self.series:,} ({self.activity_series:,} CloudTrail activity series in "
                      "CloudTrail/Activity)",
            "partitions": f"{sum(len(j.built) for j in report.jobs)} built, "
                          f"{sum(j.unchanged for j in report.jobs)} unchanged, {late} late",
            "retention": f"{ret.clock_kind} clock: dropped {len(ret.dropped)} partitions, "
                         f"kept {len(ret.kept)} not yet rolled up",
            "metrics get": self.query,
            "rollup time": f"{report.seconds:.2f} s (duckdb engine)",
        }


def _query(demo: Demo, clock: Any) -> str:
    """Average of one sample series (a non-Count one if there is) over the last day of data, at
    the period the planner picks. (The sample metrics are Metric Streams statistic sets, from
    which CloudWatch, and so watchlake, gives no percentiles.)"""
    from pipeline.query.metrics import get_metric_data, list_metrics

    infos = [m for m in list_metrics(demo.lake) if m.namespace != "CloudTrail/Activity"]
    if not infos or clock is None:
        return "(no metrics in the lake)"
    m = next((i for i in infos if i.unit != "Count"), infos[0])
    end = floor(clock, 60) + timedelta(minutes=1)   # include the newest minute
    t0 = time.perf_counter()
    md = get_metric_data(demo.lake, m.namespace, m.metric_name, m.dimensions, "Average",
                         end - timedelta(days=1), end, unit=m.unit, now=clock)
    ms = (time.perf_counter() - t0) * 1000
    dims = ",".join(f"{k}={v}" for k, v in m.dimensions.items())
    return (f"{m.namespace} {m.metric_name} {{{dims}}} Average over the last day: {len(md.values)} points "
            f"at {md.period} s from tier {md.tier} in {ms:.0f} ms")


def rollup_stage(demo: Demo) -> RollupStage:
    """The ``rollups`` stage of ``watchlake demo``."""
    import duckdb

    report = rollup(demo.lake, demo.settings, "duckdb",
                    progress=None if demo.quiet else (lambda line: print("  " + line)))
    files = [demo.lake.uri(f) for f in demo.lake.table_files("metrics_1h")]
    series = activity = 0
    if files:
        series, activity = duckdb.connect().execute(
            "SELECT count(DISTINCT _wl_series_id), count(DISTINCT _wl_series_id) FILTER "
            "(namespace = 'CloudTrail/Activity') FROM read_parquet(?)", [files]).fetchone() or (0, 0)
    ret = retention(demo.lake, demo.settings)
    demo.state["rollups"] = {"clock": report.clock, "rows": report.rows_by_table()}
    return RollupStage(report, ret, int(series), int(activity), _query(demo, report.clock))
