"""Alarms: current states, state-change history as intervals, composite alarms as trees."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.lakedb import LakeDB

if TYPE_CHECKING:
    import polars as pl

STATES = ("ALARM", "INSUFFICIENT_DATA", "OK")


def states(db: LakeDB) -> pl.DataFrame:
    """Every alarm's current state (ALARM first), with its reason, last transition and, for a
    composite whose actions its ActionsSuppressor holds, what holds them."""
    import polars as pl

    cols = {"alarm_name": pl.String, "alarm_type": pl.String, "state_value": pl.String,
            "state_reason": pl.String, "state_transitioned_timestamp": pl.String,
            "actions_suppressed_by": pl.String}
    if not db.has("alarm_state"):
        return pl.DataFrame(schema=cols)
    have = set(db.columns("alarm_state"))
    select = ", ".join(c if c in have else f"NULL::VARCHAR AS {c}" for c in cols)
    return db.df(f"SELECT {select} FROM alarm_state ORDER BY CASE state_value WHEN 'ALARM' THEN 0 "
                 "WHEN 'INSUFFICIENT_DATA' THEN 1 ELSE 2 END, alarm_name")


def history(db: LakeDB, start: datetime, end: datetime, name: str | None = None,
            limit: int = 1000) -> pl.DataFrame:
    """State changes in the range, newest first: time, alarm, old → new state, reason."""
    import polars as pl

    if not db.has("alarm_history"):
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "alarm_name": pl.String,
                                    "old_state": pl.String, "new_state": pl.String, "reason": pl.String})
    sql = ("SELECT timestamp, alarm_name, old_state, new_state, coalesce(state_reason, history_summary) "
           "AS reason FROM alarm_history WHERE history_item_type = 'StateUpdate' "
           "AND timestamp >= ? AND timestamp < ?")
    params: list[Any] = [start, end]
    if name:
        sql += " AND alarm_name = ?"
        params.append(name)
    return db.df(sql + " ORDER BY timestamp DESC, alarm_name LIMIT ?", [*params, limit])


def intervals(db: LakeDB, start: datetime, end: datetime) -> pl.DataFrame:
    """Each alarm's state as ``[start, end)`` segments clipped to the range (for a timeline).

    The state at the range start is the last transition before it (or the first one's old state)."""
    import polars as pl

    schema: dict[str, Any] = {"alarm_name": pl.String, "state": pl.String, "start": pl.Datetime("us", "UTC"),
              "end": pl.Datetime("us", "UTC"), "reason": pl.String}
    if not db.has("alarm_history"):
        return pl.DataFrame(schema=schema)
    frame = db.df(
        "WITH s AS (SELECT alarm_name, timestamp, old_state, new_state, "
        "coalesce(state_reason, history_summary) AS reason FROM alarm_history "
        "WHERE history_item_type = 'StateUpdate' AND timestamp < ?), "
        "before AS (SELECT alarm_name, arg_max(new_state, timestamp) AS state, "
        "arg_max(reason, timestamp) AS reason, ? AS t FROM s WHERE timestamp < ? GROUP BY 1), "
        "inside AS (SELECT alarm_name, new_state AS state, reason, timestamp AS t FROM s WHERE timestamp >= ?), "
        "allp AS (SELECT * FROM before UNION ALL SELECT * FROM inside) "
        "SELECT alarm_name, state, t AS start, "
        "coalesce(lead(t) OVER (PARTITION BY alarm_name ORDER BY t), ?) AS \"end\", reason "
        "FROM allp ORDER BY alarm_name, start", [end, start, start, start, end])
    return frame.filter(pl.col("end") > pl.col("start")).cast(schema)  # type: ignore[arg-type]


def composite_trees(db: LakeDB) -> list[dict[str, Any]]:
    """One tree per top-level composite alarm: ``{"name", "state", "rule", "children": [...]}``."""
    from pipeline.alarms import rule as rules
    from pipeline.alarms.model import CompositeAlarm
    from pipeline.alarms.store import AlarmStore

    store = AlarmStore(db.lake)
    comps = {a.name: a for a in store.alarms.values() if isinstance(a, CompositeAlarm)}
    kids = {n: sorted(rules.children(a.rule)) for n, a in comps.items()}
    used = {c for cs in kids.values() for c in cs}

    def state(name: str) -> str:
        s = store.states.get(name)
        return s.state_value if s else "INSUFFICIENT_DATA"

    def node(name: str, seen: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "state": state(name), "rule": None, "children": []}
        if name in comps and name not in seen:
            out["rule"] = comps[name].rule_text
            out["children"] = [node(c, seen | {name}) for c in kids[name]]
        return out

    return [node(n, frozenset()) for n in sorted(comps) if n not in used]


def render_tree(tree: dict[str, Any]) -> str:
    """A tree as plain text (box-drawing), one alarm per line with its state."""
    lines: list[str] = []

    def walk(n: dict[str, Any], prefix: str, last: bool, root: bool) -> None:
        head = "" if root else prefix + ("└── " if last else "├── ")
        rule = f"   := {n['rule']}" if n["rule"] else ""
        lines.append(f"{head}{n['name']}  [{n['state']}]{rule}")
        child_prefix = "" if root else prefix + ("    " if last else "│   ")
        for i, c in enumerate(n["children"]):
            walk(c, child_prefix, i == len(n["children"]) - 1, False)

    walk(tree, "", True, True)
    return "\n".join(lines)


def definition(db: LakeDB, name: str) -> dict[str, Any] | None:
    """A metric alarm's series and evaluation (namespace, metric_name, dimensions as canonical
    JSON, unit, stat, period, threshold, operator; ``expression`` the watched metric-math
    expression, the metric fields then its first metric query's); None for a composite alarm or
    an unknown name."""
    from pipeline.alarms.model import MetricAlarm
    from pipeline.alarms.store import AlarmStore
    from pipeline.query.metrics import canonical

    for a in AlarmStore(db.lake).metric_alarms():
        if a.name == name and isinstance(a, MetricAlarm):
            m = a.metric
            return {"namespace": m.namespace, "metric_name": m.metric_name,
                    "dimensions": canonical(m.dimension_dict), "unit": m.unit, "stat": m.stat,
                    "period": a.period, "threshold": a.threshold, "operator": a.comparison_operator,
                    "expression": None if a.math is None else a.math.texts[a.math.returned]}
    return None


def math_data(db: LakeDB, name: str, start: datetime, end: datetime) -> dict[str, Any]:
    """A metric-math alarm's expression over ``[start, end)`` as the alarm evaluates it (its windows
    every minute, each ``period`` long): ``timestamps`` (window starts) and ``values`` (None where
    the expression has no point); empty for an unknown or non-math alarm."""
    from datetime import UTC

    from pipeline.alarms.evaluate import math_datapoints
    from pipeline.alarms.model import MetricAlarm
    from pipeline.alarms.source import LakeSource, epoch, grid_step
    from pipeline.alarms.store import AlarmStore

    for a in AlarmStore(db.lake).metric_alarms():
        if a.name == name and isinstance(a, MetricAlarm) and a.math is not None:
            s = epoch(start) - epoch(start) % grid_step(a.period)
            dp = math_datapoints(a, LakeSource(db.lake), s, end)
            times = [datetime.fromtimestamp(dp.start + i * dp.step, UTC) for i in range(len(dp.values))]
            return {"timestamps": times, "values": [None if v != v else float(v) for v in dp.values]}
    return {"timestamps": [], "values": []}
