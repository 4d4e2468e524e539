"""Log events → metric datapoints, as CloudWatch Logs metric filters publish them.

For each event of a log group, each of the group's filters: a matching event gives one datapoint
at the event's time — the transformation's number, or the event's field (``$.field`` of a JSON
event, ``$name`` of a space-delimited one; an event whose field is missing or not a number gives
none, and is counted) — with the transformation's dimensions taken from the event's fields; an
event that does not match gives ``defaultValue`` when one is set. Datapoints are raw ``metrics``
rows (a single value: sample count 1), so rollups, alarms, anomaly detection and GetMetricData
see them like any other custom metric; ``_wl_origin`` names the filter and the event.

:class:`FilterFollower` is the live path (``watchlake run``'s ``metricfilters`` stage,
``watchlake metric-filters follow``): the ``logs`` files committed since its checkpoint
(:class:`~pipeline.lake.follow.NewFiles`, compactions included), through the filters the lake
holds *at that moment* — a filter applies to events that arrive after it was put, as in
CloudWatch. Exactly once: the files of a step are named in the checkpoint as *pending* before the
step writes its datapoints (files tagged with the step), and a follower that finds a pending step
deletes that step's files before reading its log files again. :func:`apply_range` is the explicit
backfill (``metric-filters apply --from --to``), which CloudWatch does not have.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.metricfilters.model import FilterStore, MetricFilter
from pipeline.values import finite_float

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.lake import Lake

STATE = "_state/metricfilters/follow.json"
COLUMNS = ["logGroup", "logStream", "id", "timestamp", "message"]
DIMENSION_LIMIT = 1000
"""Distinct dimension value sets one filter may publish within an hour: CloudWatch disables a
filter past about 1,000 (each set is a custom metric); so does the follower, until the filter is
put again."""


@dataclass
class ApplyReport:
    """What one pass did: events read, datapoints written, events whose field gave no value."""

    files: int = 0
    events: int = 0
    matched: int = 0
    datapoints: int = 0
    defaults: int = 0
    no_value: int = 0
    by_filter: dict[str, int] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)  # filters disabled in this pass, with the reason


class DimensionGuard:
    """Counts each filter's distinct dimension value sets per hour of event time and disables a
    filter (``group/name@creationTime``: putting it again starts afresh) past
    :data:`DIMENSION_LIMIT`."""

    def __init__(self, disabled: dict[str, str] | None = None):
        self.hour: int | None = None
        self.seen: dict[str, set[str]] = {}
        self.disabled: dict[str, str] = dict(disabled or {})

    def allow(self, f: MetricFilter, dims: str, at: datetime, report: ApplyReport) -> bool:
        """Whether ``f`` may publish a datapoint with dimensions ``dims`` at ``at``."""
        key = f"{f.log_group}/{f.name}@{f.created}"
        if key in self.disabled:
            return False
        hour = int(at.timestamp()) // 3600
        if hour != self.hour:
            self.hour, self.seen = hour, {}
        seen = self.seen.setdefault(key, set())
        seen.add(dims)
        if len(seen) <= DIMENSION_LIMIT:
            return True
        self.disabled[key] = (f"disabled: its dimensions gave over {DIMENSION_LIMIT:,} distinct values within the "
                              f"hour from {datetime.fromtimestamp(hour * 3600, at.tzinfo).isoformat()} "
                              "(put it again to re-enable)")
        report.disabled.append(f"{f.log_group} {f.name}: {self.disabled[key]}")
        return False


def datapoints(filters: list[MetricFilter], events: list[dict[str, Any]], report: ApplyReport,
               now: datetime, guard: DimensionGuard | None = None) -> list[dict[str, Any]]:
    """The ``metrics`` rows the ``filters`` publish for ``events`` (dicts with the ``logs`` table's
    columns), counted in ``report`` (module docstring); ``guard`` disables a filter whose
    dimensions run away (:class:`DimensionGuard`; a fresh one per call when not given)."""
    from pipeline.config import ACCOUNT_ID, REGION
    from pipeline.sources.cloudwatch import canonical_dimensions, series_id_from_canonical

    guard = guard if guard is not None else DimensionGuard()

    by_group: dict[str, list[MetricFilter]] = defaultdict(list)
    for f in filters:
        by_group[f.log_group].append(f)
    rows: list[dict[str, Any]] = []
    for ev in events:
        report.events += 1
        for f in by_group.get(ev.get("logGroup") or "", ()):
            t = f.transformation
            m = f.pattern.match(ev.get("message") or "")
            dims: dict[str, str] = {}
            if m is None:
                if t.default is None:
                    continue
                value: float | None = t.default
                report.defaults += 1
            else:
                report.matched += 1
                value = t.number if t.number is not None else finite_float(m.value_of(t.value))
                for name, ref in t.dimensions:
                    got = m.value_of(ref)
                    if got is None:
                        value = None
                        break
                    dims[name] = got if isinstance(got, str) else json.dumps(got)
                if value is None:
                    report.no_value += 1
                    continue
            canon = canonical_dimensions(dims)
            if t.dimensions and not guard.allow(f, canon, ev["timestamp"], report):
                continue
            rows.append({"namespace": t.namespace, "metric_name": t.metric_name, "dimensions": canon,
                         "timestamp": ev["timestamp"], "unit": t.unit, "storage_resolution": 60,
                         "sample_count": 1.0, "sum": value, "min": value, "max": value,
                         "account_id": ACCOUNT_ID, "region": REGION,
                         "_wl_series_id": series_id_from_canonical(t.namespace, t.metric_name, canon, t.unit),
                         "_wl_origin": f"metric-filter/{f.log_group}/{f.name}:{ev.get('id')}",
                         "_wl_ingest_time": now})
            report.by_filter[f.name] = report.by_filter.get(f.name, 0) + 1
    report.datapoints += len(rows)
    return rows


def write_datapoints(lake: Lake, rows: list[dict[str, Any]], tag: str) -> list[str]:
    """Write ``rows`` into the ``metrics`` table, one file per partition, each named with ``tag``."""
    import pyarrow as pa

    from pipeline.lake import layout
    from pipeline.schemas import METRICS

    parts: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        parts[tuple(layout.time_partitions("metrics", r["timestamp"]).items())].append(r)
    written = []
    for part, rs in sorted(parts.items()):
        table: pa.Table = pa.Table.from_pylist(rs, schema=METRICS)
        written.append(lake.write_partition("metrics", dict(part), table, tag=tag,
                                            sort_by=["_wl_series_id", "timestamp"]).path)
    return written


def _tag(files: list[str]) -> str:
    return "mf" + hashlib.sha1("\n".join(sorted(files)).encode()).hexdigest()[:16]


class FilterFollower:
    """Applies the lake's metric filters to every ``logs`` file committed since its checkpoint
    (module docstring). ``from_start``: also the files already there when it first starts."""

    def __init__(self, lake: Lake, *, from_start: bool = False, resume: bool = True):
        from pipeline.lake.follow import NewFiles

        self.lake = lake
        self.files = NewFiles(lake, "logs", STATE, from_start=from_start, resume=resume)
        state = lake.read_json(STATE) if resume and lake.exists(STATE) else {}
        self.guard = DimensionGuard(state.get("disabled"))
        self.recovered = self._recover() if resume else 0

    def _recover(self) -> int:
        """Delete the datapoint files of a step that did not reach its checkpoint; their log files
        are read again by the next poll. Returns the files deleted."""
        if not self.lake.exists(STATE):
            return 0
        pending = self.lake.read_json(STATE).get("pending") or []
        if not pending:
            return 0
        suffix = f"-{_tag(pending)}.parquet"
        gone = [f for f in self.lake.table_files("metrics") if f.endswith(suffix)]
        for rel in gone:
            self.lake.delete(rel)
        self.lake.write_json(STATE, self._state())
        return len(gone)

    def _state(self, pending: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"files": sorted(self.files.seen), "disabled": self.guard.disabled}
        if pending:
            out["pending"] = sorted(pending)
        return out

    def poll(self, now: datetime | None = None) -> ApplyReport:
        """One step: the new log files through the current filters, their datapoints written, the
        checkpoint advanced."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from pipeline.lake.follow import read_table
        from pipeline.timeutil import utcnow

        new, to_read = self.files.poll()
        report = ApplyReport(files=len(new))
        if not new:
            return report
        filters = list(FilterStore(self.lake).filters.values())
        rows: list[dict[str, Any]] = []
        if filters:
            groups = pa.array(sorted({f.log_group for f in filters}), pa.string())
            for rel, ranges in to_read:  # only the filtered groups' events become dicts
                table = read_table(self.lake, rel, ranges, COLUMNS)
                events = table.filter(pc.is_in(table["logGroup"], value_set=groups)).to_pylist()
                rows += datapoints(filters, events, report, now or utcnow(), self.guard)
        if rows:
            self.lake.write_json(STATE, self._state(new))
            write_datapoints(self.lake, rows, _tag(new))
        self.files.done(new, {"disabled": self.guard.disabled})
        return report


def apply_range(lake: Lake, start: datetime | None, end: datetime | None, *,
                names: list[str] | None = None, dry_run: bool = False) -> tuple[ApplyReport, pa.Table]:
    """The filters (all, or those named) over the ``logs`` events in ``[start, end)`` (a backfill;
    CloudWatch has none): the datapoints as a table, written to ``metrics`` unless ``dry_run``.
    Running it twice over the same range writes the datapoints twice."""
    import pyarrow as pa

    from pipeline.query.duck import connect
    from pipeline.schemas import METRICS
    from pipeline.timeutil import utcnow

    filters = [f for f in FilterStore(lake).filters.values() if not names or f.name in names]
    report = ApplyReport()
    logs = lake.table_files("logs")
    if not filters or not logs:
        return report, METRICS.empty_table()
    con = connect(lake, ["logs"])
    where = ["logGroup IN (SELECT unnest($groups))"]
    params: dict[str, Any] = {"groups": sorted({f.log_group for f in filters})}
    if start is not None:
        where.append("timestamp >= $start")
        params["start"] = start
    if end is not None:
        where.append("timestamp < $end")
        params["end"] = end
    events = con.sql(f"SELECT {', '.join(COLUMNS)} FROM logs WHERE {' AND '.join(where)} ORDER BY timestamp, id",
                     params=params).to_arrow_table().to_pylist()
    report.files = len(logs)
    now = utcnow()
    rows = datapoints(filters, events, report, now)
    if rows and not dry_run:
        write_datapoints(lake, rows, "mfbackfill")
    return report, pa.Table.from_pylist(rows, schema=METRICS) if rows else METRICS.empty_table()
