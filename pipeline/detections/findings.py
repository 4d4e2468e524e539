"""Findings: matches grouped by rule, dedup key and window; the lake table ``findings``.

Columns of ``findings`` (partitioned by ``dt`` of ``time``; the SQL view of the same name):

=================  =====================================================================================
``finding_id``     stable id: hash of rule_id, dedup_key and the first event's eventID
``rule_id``        the rule's own id (a Sigma rule's UUID, an EventBridge/rate rule's ``id``)
``rule_kind``      ``sigma`` | ``eventbridge`` | ``rate``
``title``          the rule's title
``level``          informational | low | medium | high | critical
``mitre``          MITRE ATT&CK tags (``T1562.008``, ``defense-evasion`` …)
``time``           eventTime of the first event of the finding
``last_time``      eventTime of the last event
``principal``      ``userIdentity.arn`` of the first event
``source_ip``      ``sourceIPAddress`` of the first event
``access_key``     ``userIdentity.accessKeyId`` of the first event
``event_ids``      eventIDs of the events in the finding, in time order: the first
                   :data:`MAX_EVENT_IDS` of them (all of them up to that count)
``event_count``    number of events (all of them, also beyond :data:`MAX_EVENT_IDS`)
``dedup_key``      ``path=value`` pairs the finding is grouped by (default: principal)
``dedup_window_s`` seconds after ``time`` during which a repeat updates this finding
``window_start``   = ``time``; ``window_end`` = ``time + dedup_window_s``
``threshold``      events needed before the finding is reported (per-event rules), or the
                   aggregation's limit (counting rules)
``condition``      the aggregation (``count() by sourceIPAddress > 5 within 600s``) or empty
``_wl_detected_at`` when the finding was (last) written; ``_wl_engine`` ``duckdb`` | ``python``
=================  =====================================================================================

Per-event rules: in time order, an event whose dedup key has an open finding with
``event.time < window_end`` joins it; otherwise it opens a new one. A finding is reported only
when it has at least ``threshold`` events. Counting rules (Sigma ``| count() … > N``, rate rules):
per group, a sliding ``timeframe`` of matches; when the condition holds, a finding opens with the
events in the timeframe, and later matches before its ``window_end`` join it; after it closes,
counting starts afresh.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.detections.engine import Match
from pipeline.detections.model import Rule
from pipeline.schemas import FINDINGS, PREFIX
from pipeline.timeutil import utcnow

if TYPE_CHECKING:
    from pipeline.lake import Lake


MAX_EVENT_IDS = 10_000
"""A finding lists the eventIDs of its first this many events (``event_count`` counts them all):
a finding that stays open for its dedup window under a steady stream of matches (a rate rule on
a busy principal: 500 events/s for an hour) holds and writes a bounded row, not millions of ids.
The rest are the rule's matches for the dedup key between ``time`` and ``last_time``."""


@dataclass
class Finding:
    """One finding: the rule, its dedup key, its first event, the ids (time order, the first
    :data:`MAX_EVENT_IDS`) and last time of its events, and how many there are (``total``; None:
    ``len(event_ids)``). Built by :func:`build_findings` from matches (the Python engine) or in
    bulk from a lake scan (:mod:`pipeline.detections.grouping`); both give equal rows."""

    rule: Rule
    dedup_key: str
    first: Match
    event_ids: list[str] = field(default_factory=list)
    last_time: datetime | None = None
    total: int | None = None

    @classmethod
    def of(cls, rule: Rule, dedup_key: str, matches: list[Match]) -> Finding:
        """A finding of ``matches`` (non-empty, in time order)."""
        return cls(rule, dedup_key, matches[0], [m.event_id for m in matches[:MAX_EVENT_IDS]], matches[-1].time,
                   len(matches))

    def add(self, m: Match) -> None:
        """``m`` (normally later than every event so far) joins the finding."""
        self.total = self.event_count + 1
        if len(self.event_ids) < MAX_EVENT_IDS:
            self.event_ids.append(m.event_id)
        if self.last_time is None or m.time > self.last_time:
            self.last_time = m.time

    @property
    def event_count(self) -> int:
        return len(self.event_ids) if self.total is None else self.total

    @cached_property
    def window_end(self) -> datetime:
        """``time`` of the first event + the rule's dedup window (the first event never changes)."""
        return self.first.time + timedelta(seconds=self.rule.dedup_window)

    @property
    def finding_id(self) -> str:
        text = f"{self.rule.id}\x1f{self.dedup_key}\x1f{self.first.event_id}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    def row(self, engine: str, now: datetime) -> dict[str, Any]:
        r, f = self.rule, self.first
        return {
            "finding_id": self.finding_id, "rule_id": r.id, "rule_kind": r.kind, "title": r.title,
            "level": r.level, "mitre": r.mitre, "time": f.time, "last_time": self.last_time or f.time,
            "principal": f.principal, "source_ip": f.source_ip, "access_key": f.access_key,
            "event_ids": self.event_ids, "event_count": self.event_count, "dedup_key": self.dedup_key,
            "dedup_window_s": r.dedup_window, "window_start": f.time, "window_end": self.window_end,
            "threshold": threshold(r), "condition": r.aggregation.describe() if r.aggregation else "",
            f"{PREFIX}detected_at": now, f"{PREFIX}engine": engine,
        }


def threshold(rule: Rule) -> int:
    """The ``threshold`` column: events a per-event rule's finding needs, or a counting rule's limit."""
    return int(rule.aggregation.value) if rule.aggregation else rule.threshold


def _dedup_key(rule: Rule, m: Match) -> str:
    paths = rule.key_paths()
    values = dict(zip(paths, m.keys))
    return ", ".join(f"{p}={values.get(p) if values.get(p) is not None else '-'}" for p in rule.dedup_by)


def _dedup_keys(rule: Rule) -> Callable[[Match], str]:
    """:func:`_dedup_key` for one rule, with the positions of its dedup paths looked up once."""
    at = [rule.key_paths().index(p) for p in rule.dedup_by]
    names = [f"{p}=" for p in rule.dedup_by]

    def key(m: Match) -> str:
        return ", ".join(n + ("-" if m.keys[i] is None else str(m.keys[i])) for n, i in zip(names, at))
    return key


def _group_key(rule: Rule, m: Match) -> tuple[str | None, ...]:
    assert rule.aggregation is not None
    values = dict(zip(rule.key_paths(), m.keys))
    return tuple(values.get(p) for p in rule.aggregation.group_by)


def build_findings(rule: Rule, matches: Iterable[Match]) -> list[Finding]:
    """Findings of one rule from its matches (any order; they are sorted by time, eventID), the
    documented semantics over the whole history. A follower builds the same findings incrementally
    with :class:`pipeline.detections.live.OpenWindows`."""
    ordered = sorted((m for m in matches if m.rule_id == rule.id), key=lambda m: (m.time, m.event_id))
    out: list[Finding] = []
    if rule.aggregation is None:
        open_: dict[str, Finding] = {}
        dedup_key = _dedup_keys(rule)
        for m in ordered:
            key = dedup_key(m)
            f = open_.get(key)
            if f is not None and m.time < f.window_end:
                f.add(m)
                continue
            f = open_[key] = Finding.of(rule, key, [m])
            out.append(f)
        return [f for f in out if f.event_count >= rule.threshold]
    agg = rule.aggregation
    groups: dict[tuple[str | None, ...], list[Match]] = {}
    for m in ordered:
        groups.setdefault(_group_key(rule, m), []).append(m)
    span = timedelta(seconds=agg.timeframe)
    field_idx = rule.key_paths().index(agg.field) if agg.field else None
    for ms in groups.values():
        window: deque[Match] = deque()
        current: Finding | None = None
        for m in ms:
            if current is not None:
                if m.time < current.window_end:
                    current.add(m)
                    continue
                current = None
            window.append(m)
            while window and window[0].time < m.time - span:
                window.popleft()
            n = len({w.keys[field_idx] for w in window if w.keys[field_idx] is not None}) \
                if field_idx is not None else len(window)
            if agg.holds(n):
                current = Finding.of(rule, _dedup_key(rule, window[0]), list(window))
                out.append(current)
                window.clear()
    return sorted(out, key=lambda f: (f.first.time, f.first.event_id))


def findings_for(rules: list[Rule], matches: list[Match]) -> list[Finding]:
    """Findings of every rule, in time order (then rule id, first eventID)."""
    by_rule: dict[str, list[Match]] = {}
    for m in matches:
        by_rule.setdefault(m.rule_id, []).append(m)
    out = [f for r in rules if r.id in by_rule for f in build_findings(r, by_rule[r.id])]
    return sorted(out, key=lambda f: (f.first.time, f.rule.id, f.first.event_id))


def findings_table(findings: list[Finding], engine: str, now: datetime | None = None) -> pa.Table:
    stamp = now or utcnow()
    return pa.Table.from_pylist([f.row(engine, stamp) for f in findings], schema=FINDINGS)


def write_findings(lake: Lake, table: pa.Table, *, replace_rules: set[str] | None = None,
                   replace_from: datetime | None = None, replace_to: datetime | None = None) -> int:
    """Merge ``table`` into the lake's ``findings``: per ``dt`` partition, rows with the same
    ``finding_id`` are replaced (an updated finding), and so are existing rows of
    ``replace_rules`` whose ``time`` is in ``[replace_from, replace_to)`` (a re-run of a range).
    Every touched partition is rewritten in one atomic commit (:mod:`pipeline.lake.replace`): a
    reader sees the findings before or after, never a finding twice or missing. Returns rows
    written."""
    import pyarrow.compute as pc

    from pipeline.lake import layout
    from pipeline.lake.replace import day_partitions, replace_rows

    def partitions() -> list[dict[str, str]]:  # the days a re-run of rules covers
        if not replace_rules:
            return []
        return [values for values, _folder in lake.iter_partitions("findings")
                if (replace_from is None or values["dt"] >= f"{replace_from:%Y-%m-%d}")
                and (replace_to is None or values["dt"] <= f"{replace_to:%Y-%m-%d}")]

    def rerun(old: pa.Table) -> pa.Array | pa.ChunkedArray:
        mask = pc.is_in(old["rule_id"], pa.array(sorted(replace_rules or ()), pa.string()))
        ts = old["time"]
        if replace_from is not None:
            mask = pc.and_(mask, pc.greater_equal(ts, pa.scalar(replace_from, ts.type)))
        if replace_to is not None:
            mask = pc.and_(mask, pc.less(ts, pa.scalar(replace_to, ts.type)))
        return mask

    prefix = layout.table("findings").prefix + "/dt="
    replace_rows(
        lake, "findings", table, schema=FINDINGS, key=["finding_id"],
        partition_of=lambda t: day_partitions(prefix, t["time"]),
        where=rerun if replace_rules is not None else None, partitions=partitions, sort_by=["time", "rule_id"])
    return table.num_rows
