"""Alarm definitions, current state and history, persisted in the lake (layout: package docstring).

State survives restarts: :class:`AlarmStore` loads ``alarms/definitions.json`` and
``alarms/state.json`` and writes them back atomically with :meth:`AlarmStore.save`; history is
append-only Parquet in the ``alarm_history`` table, one file per day partition per write.
Putting alarms validates composite rules against the alarms that exist (or are put together):
unknown children, dependency cycles and more than 150 composites referencing one alarm are refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.alarms import rule as rules
from pipeline.alarms.model import INSUFFICIENT_DATA, Alarm, CompositeAlarm, alarm_arn
from pipeline.alarms.reason import cw_time
from pipeline.alarms.validate import parse_alarm
from pipeline.errors import RuleError
from pipeline.lake import layout
from pipeline.lake.replace import replace_rows, replacing
from pipeline.schemas import ALARM_HISTORY
from pipeline.timeutil import iso, parse_time, to_utc, utcnow

if TYPE_CHECKING:
    from pipeline.lake import Lake

DEFINITIONS_PATH = "alarms/definitions.json"
STATE_PATH = "alarms/state.json"
HISTORY_TABLE = "alarm_history"

HISTORY_SCHEMA = ALARM_HISTORY


@dataclass
class AlarmState:
    """Current state of one alarm (the ``alarm_state`` view's row)."""

    alarm_name: str
    alarm_type: str
    alarm_arn: str
    state_value: str = INSUFFICIENT_DATA
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated_timestamp: str = ""
    state_transitioned_timestamp: str = ""
    last_evaluated: str | None = None
    actions_enabled: bool = True
    # composites with an ActionsSuppressor (pipeline.alarms.suppression): what is held, why, until
    # when (epoch seconds), and the state the actions last announced
    actions_suppressed_by: str | None = None
    held_state: str | None = None
    held_until: int | None = None
    announced_state: str | None = None


def history_row(alarm_name: str, alarm_type: str, at: datetime, item_type: str, summary: str,
                data: dict[str, Any], *, old: str | None = None, new: str | None = None,
                reason: str | None = None, reason_data: str | None = None, origin: str = "evaluate") -> dict[str, Any]:
    return {"alarm_name": alarm_name, "alarm_type": alarm_type, "timestamp": to_utc(at),
            "history_item_type": item_type, "history_summary": summary[:255],
            "history_data": json.dumps(data, separators=(",", ":")), "old_state": old, "new_state": new,
            "state_reason": reason, "state_reason_data": reason_data, "origin": origin}


class AlarmStore:
    """Definitions and states of one lake's alarms."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.alarms: dict[str, Alarm] = {}
        self.updated: dict[str, str] = {}
        self.states: dict[str, AlarmState] = {}
        if lake.exists(DEFINITIONS_PATH):
            for doc in lake.read_json(DEFINITIONS_PATH):
                doc = dict(doc)
                stamp = doc.pop("AlarmConfigurationUpdatedTimestamp", "")
                a = parse_alarm(doc, DEFINITIONS_PATH)
                self.alarms[a.name] = a
                self.updated[a.name] = stamp
        if lake.exists(STATE_PATH):
            for row in lake.read_json(STATE_PATH):
                if row["alarm_name"] in self.alarms:
                    self.states[row["alarm_name"]] = AlarmState(**row)
        self.pending_history: list[dict[str, Any]] = []

    # -- definitions ---------------------------------------------------------------------------

    def metric_alarms(self) -> list[Alarm]:
        return [a for a in self.alarms.values() if not isinstance(a, CompositeAlarm)]

    def composite_order(self) -> list[CompositeAlarm]:
        graph = self.graph()
        return [a for n in rules.topological(graph) if isinstance(a := self.alarms[n], CompositeAlarm)]

    def graph(self, alarms: dict[str, Alarm] | None = None) -> dict[str, set[str]]:
        """Composite → the alarms it reads: its rule's children and its actions suppressor (both
        evaluated before it, neither deletable while it references them)."""
        src = self.alarms if alarms is None else alarms
        return {a.name: rules.children(a.rule) | ({a.suppressor} if a.suppressor else set())
                for a in src.values() if isinstance(a, CompositeAlarm)}

    def put(self, new: list[Alarm], *, at: datetime | None = None) -> list[str]:
        """Create or update alarms; returns ``created``/``updated`` per alarm. Refuses bad composites."""
        at = to_utc(at) if at else utcnow()
        merged = {**self.alarms, **{a.name: a for a in new}}
        graph = self.graph(merged)
        for a in new:
            if isinstance(a, CompositeAlarm):
                if a.suppressor and a.suppressor not in merged:
                    raise RuleError(a.name, "ActionsSuppressor names an alarm that does not exist",
                                    field="ActionsSuppressor", value=a.suppressor)
                unknown = sorted(c for c in graph[a.name] if c not in merged)
                if unknown:
                    raise RuleError(a.name, "AlarmRule references alarms that do not exist", field="AlarmRule",
                                    value=unknown)
        cycle = rules.find_cycle(graph)
        if cycle:
            raise RuleError(cycle[0], "composite alarms form a cycle: " + " -> ".join(cycle) +
                            " (set one AlarmRule to FALSE to break it)", field="AlarmRule")
        parents: dict[str, int] = {}
        for kids in graph.values():
            for c in kids:
                parents[c] = parents.get(c, 0) + 1
        over = sorted(c for c, k in parents.items() if k > rules.MAX_PARENTS)
        if over:
            raise RuleError(over[0], f"referenced by more than {rules.MAX_PARENTS} composite alarms",
                            field="AlarmRule")
        out = []
        for a in new:
            verb = "updated" if a.name in self.alarms else "created"
            out.append(verb)
            self.alarms[a.name] = a
            self.updated[a.name] = cw_time(at)
            st = self.states.get(a.name)
            if st is None:
                st = AlarmState(a.name, a.kind, alarm_arn(a.name), state_updated_timestamp=iso(at),
                                state_transitioned_timestamp=iso(at))
                self.states[a.name] = st
            st.actions_enabled = a.actions_enabled
            self.pending_history.append(history_row(
                a.name, a.kind, at, "ConfigurationUpdate", f'Alarm "{a.name}" {verb}',
                {"type": "Create" if verb == "created" else "Update", "version": "1.0",
                 "createdAlarm" if verb == "created" else "updatedAlarm": a.definition}, origin="put"))
        return out

    def delete(self, names: list[str], *, at: datetime | None = None) -> None:
        """Delete alarms; refused while a composite that is not deleted too references one."""
        at = to_utc(at) if at else utcnow()
        missing_names = [n for n in names if n not in self.alarms]
        if missing_names:
            raise RuleError(missing_names[0], "no such alarm")
        for parent, kids in self.graph().items():
            if parent in names:
                continue
            used = sorted(k for k in kids if k in names)
            if used:
                raise RuleError(used[0], f"referenced by composite alarm {parent!r}; change or delete it first")
        for n in names:
            a = self.alarms.pop(n)
            self.states.pop(n, None)
            self.updated.pop(n, None)
            self.pending_history.append(history_row(n, a.kind, at, "ConfigurationUpdate", f'Alarm "{n}" deleted',
                                                    {"type": "Delete", "version": "1.0"}, origin="put"))

    def state(self, name: str) -> AlarmState:
        return self.states[name]

    # -- persistence ---------------------------------------------------------------------------

    def save(self) -> None:
        """Write definitions, states and pending history (history first, state last)."""
        self.flush_history()
        docs = [{**a.definition, "AlarmConfigurationUpdatedTimestamp": self.updated.get(a.name, "")}
                for a in sorted(self.alarms.values(), key=lambda a: a.name)]
        self.lake.write_json(DEFINITIONS_PATH, docs)
        self.lake.write_json(STATE_PATH, [asdict(self.states[n]) for n in sorted(self.states)])

    def flush_history(self) -> int:
        rows, self.pending_history = self.pending_history, []
        if not rows:
            return 0
        by_day: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_day.setdefault(r["timestamp"].strftime("%Y-%m-%d"), []).append(r)
        with replacing(self.lake, HISTORY_TABLE) as tx:  # every day's new file, or none
            for day, items in sorted(by_day.items()):
                tx.add({"dt": day}, pa.Table.from_pylist(items, schema=HISTORY_SCHEMA), sort_by=["timestamp"])
        return len(rows)

    def drop_replayed(self, names: set[str], start: datetime, end: datetime) -> int:
        """Remove earlier replay rows of ``names`` in ``[start, end]`` so a replay can be re-recorded
        without duplicating history, in one atomic commit; returns the number of rows removed."""
        import pyarrow.compute as pc

        lo, hi = to_utc(start), to_utc(end)

        def days() -> list[dict[str, str]]:
            return [v for v, _ in self.lake.iter_partitions(HISTORY_TABLE)
                    if lo.strftime("%Y-%m-%d") <= v["dt"] <= hi.strftime("%Y-%m-%d")]
        removed = [0]

        def replayed(t: pa.Table) -> pa.Array | pa.ChunkedArray:
            ts = t["timestamp"]
            mine = pc.and_(pc.equal(t["origin"], "replay"), pc.is_in(t["alarm_name"], pa.array(sorted(names))))
            inside = pc.and_(pc.greater_equal(ts, pa.scalar(lo, ts.type)), pc.less_equal(ts, pa.scalar(hi, ts.type)))
            drop = pc.and_(mine, inside)
            removed[0] += pc.sum(pc.cast(drop, pa.int64())).as_py() or 0
            return drop

        replace_rows(self.lake, HISTORY_TABLE, HISTORY_SCHEMA.empty_table(), schema=HISTORY_SCHEMA,
                     partition_of=lambda t: pa.array([], pa.string()), where=replayed, partitions=days,
                     sort_by=["timestamp"], merge=False)
        return removed[0]

    def history(self, name: str | None = None, *, item_type: str | None = None,
                start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        """History items, newest first (ties keep write order reversed)."""
        import pyarrow.parquet as pq

        files = self.lake.table_files(HISTORY_TABLE)
        out: list[dict[str, Any]] = []
        for f in files:
            day = layout.parse_partition_path(HISTORY_TABLE, f.rsplit("/", 1)[0])["dt"]
            if start is not None and day < to_utc(start).strftime("%Y-%m-%d"):
                continue
            if end is not None and day > to_utc(end).strftime("%Y-%m-%d"):
                continue
            with self.lake.fs.open_input_file(self.lake.path(f)) as fh:
                t = pq.read_table(fh)
            for r in t.to_pylist():
                if name is not None and r["alarm_name"] != name:
                    continue
                if item_type is not None and r["history_item_type"] != item_type:
                    continue
                ts = to_utc(r["timestamp"])
                if (start is not None and ts < to_utc(start)) or (end is not None and ts >= to_utc(end)):
                    continue
                out.append(r)
        out.reverse()
        out.sort(key=lambda r: r["timestamp"], reverse=True)
        return out


def parse_stamp(text: str | None) -> datetime | None:
    return parse_time(text) if text else None
