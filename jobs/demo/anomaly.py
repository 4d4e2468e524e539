"""Demo stages: metric anomalies over the rollups, and CloudTrail Insights.

``anomaly_stage`` replays the default detector over every series of ``metrics_5m`` (or
``metrics_1m`` when that is all there is), writes the ``anomalies`` table and checks the flagged
points against ``sample_data/labels/metric_anomalies.json``. ``insights_stage`` finds CloudTrail
Insights in the lake's ``cloudtrail`` table (or, if the lake has none, straight from
``sample_data/cloudtrail``), writes the ``insights`` table and checks them against the labelled
``access_denied_burst`` and ``api_call_rate_spike`` scenarios.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pipeline.timeutil import parse_time

if TYPE_CHECKING:
    from jobs.anomaly_job import DetectResult
    from jobs.demo import Demo
    from pipeline.anomaly.insights import Insight, InsightsResult

INSIGHT_SCENARIOS = ("access_denied_burst", "api_call_rate_spike")


@dataclass
class AnomalyStage:
    """The ``anomalies`` stage: the Average and Sum detection runs and, against the labels, which
    labelled anomalies were found. ``skipped`` says why nothing ran."""

    table: str = ""
    average: DetectResult | None = None
    sums: DetectResult | None = None
    labelled: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    other_flagged: int = 0
    skipped: str = ""

    def lines(self) -> dict[str, object]:
        if self.skipped or self.average is None or self.sums is None:
            return {"skipped": self.skipped}
        res, res_sum = self.average, self.sums
        out: dict[str, object] = {
            "source": f"{self.table}: Average of {res.series} series, Sum of {res_sum.series} count "
                      f"series, {res.points + res_sum.points:,} points",
            "anomalies table": f"{res.rows + res_sum.rows:,} rows (score, expected band), "
                               f"{res.anomalies + res_sum.anomalies} flagged",
        }
        if self.labelled:
            out["labelled found"] = f"{len(self.found)}/{len(self.labelled)}: {', '.join(self.found) or '-'}"
            out["missed"] = ", ".join(a for a in self.labelled if a not in self.found) or "-"
            out["other flagged points"] = self.other_flagged
        return out


@dataclass
class InsightsStage:
    """The ``insights`` stage: the Insights run, where its events came from, and for each labelled
    scenario the insights that start inside it."""

    result: InsightsResult
    source: str
    scenarios: dict[str, list[Insight]] = field(default_factory=dict)

    def lines(self) -> dict[str, object]:
        out: dict[str, object] = {"source": self.source, **self.result.summary()}
        for name, hit in self.scenarios.items():
            out[name] = (f"found ({len(hit)} insights, {hit[0].insight_type}, "
                         f"start {hit[0].start_time:%H:%M})" if hit else "MISSED")
        return out


def _labels(demo: Demo, name: str) -> list[dict[str, Any]]:
    path = demo.sample_dir / "labels" / name
    return json.loads(path.read_text()) if path.exists() else []


def anomaly_stage(demo: Demo) -> AnomalyStage:
    from jobs.anomaly_job import detect
    from pipeline.anomaly import DEFAULT_DETECTOR
    from pipeline.query.duck import connect

    lake = demo.lake
    table = next((t for t in ("metrics_5m", "metrics_1m") if lake.table_files(t)), None)
    if table is None:
        return AnomalyStage(skipped="no metric rollups in the lake (run the ingest and rollups stages)")
    con = connect(lake, [table])
    row = con.execute(f"SELECT min(timestamp) FROM {table}").fetchone()
    con.close()
    if row is None or row[0] is None:
        return AnomalyStage(skipped=f"{table} is empty")
    first = row[0]
    # one model per metric and statistic, as CloudWatch: Average for every series, and Sum for
    # count metrics (their Average per datapoint is often a constant 1)
    res = detect(lake, table=table, start=first)
    res_sum = detect(lake, table=table, stat="Sum", start=first, units=["Count"])
    con = connect(lake, ["anomalies"])
    flagged = con.execute(
        "SELECT namespace, metric_name, dimensions, timestamp FROM anomalies "
        "WHERE is_anomaly AND detector = ? ORDER BY timestamp", [DEFAULT_DETECTOR]
    ).fetchall()
    con.close()
    labels = [a for a in _labels(demo, "metric_anomalies.json") if a.get("kind") != "gap"]
    found, matched = [], set()
    for a in labels:
        lo = parse_time(a["start"]) - timedelta(minutes=10)
        hi = parse_time(a["end"]) + timedelta(minutes=30)
        dims = json.dumps(a["dimensions"], sort_keys=True, separators=(",", ":"))
        hits = [i for i, (ns, m, d, t) in enumerate(flagged)
                if ns == a["namespace"] and m == a["metric_name"]
                and json.loads(d) == json.loads(dims) and lo <= t < hi]
        if hits:
            found.append(a["anomaly"])
            matched.update(hits)
    return AnomalyStage(table, res, res_sum, [a["anomaly"] for a in labels], found,
                        len(flagged) - len(matched))


def insights_stage(demo: Demo) -> InsightsStage:
    from pipeline.anomaly.insight_events import write_insights
    from pipeline.anomaly.insights import InsightsResult, detect_insights, run_insights

    lake = demo.lake
    if lake.table_files("cloudtrail"):
        res = run_insights(lake)
        source = "lake table cloudtrail"
    else:
        import duckdb
        import pyarrow as pa

        from pipeline.sources import read

        tables = [b.table for b in read("cloudtrail", demo.sample_dir / "cloudtrail")]
        con = duckdb.connect()
        con.register("cloudtrail", pa.concat_tables(tables))
        res = InsightsResult()
        res.insights, res.apis, res.minutes = detect_insights(con)
        con.close()
        res.events, res.files = write_insights(lake, res.insights, None, None)
        source = "sample_data/cloudtrail (the lake has no cloudtrail table)"
    out = InsightsStage(res, source)
    scenarios = {s["scenario"]: s for s in _labels(demo, "cloudtrail_scenarios.json")}
    for name in INSIGHT_SCENARIOS:
        sc = scenarios.get(name)
        if sc is None:
            continue
        lo, hi = parse_time(sc["start"]) - timedelta(minutes=5), parse_time(sc["end"])
        out.scenarios[name] = [i for i in res.insights if lo <= i.start_time < hi]
    return out


__all__ = ["anomaly_stage", "insights_stage"]
