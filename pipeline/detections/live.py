"""Findings built incrementally, for a follower of new events: what stays in memory is the open
findings and the counting windows not yet reached, never the history of matches.

:class:`OpenWindows` applies the grouping of :mod:`pipeline.detections.findings` one batch of new
matches at a time. Per rule it keeps

* per-event rules: the open finding of each dedup key;
* counting rules (Sigma ``| count()``, rate rules): per group, the open finding, or the sliding
  ``timeframe`` of matches of a count not yet reached (at most the matches of one timeframe);

and a finding holds its first :data:`~pipeline.detections.findings.MAX_EVENT_IDS` eventIDs and
its count. So memory follows the open windows, with a bound per window, not the event rate times
the dedup window (a rate rule on one busy principal stays open for its hour-long dedup window).

Guarantees:

* fed the matches of a history in time order, in batches of any size, the findings returned
  (the last version of each ``finding_id``) are exactly :func:`~pipeline.detections.findings.findings_for`
  of the whole history;
* each call returns only the findings that opened or grew in it (and are at or above their
  rule's threshold) — a caller writes and notifies exactly those;
* a match older than the newest already seen (late data) joins its group's open finding while
  that finding's window is open, else is counted like any match; state of a group with no match
  for :data:`LATENESS` after its window closed (by the newest match time seen) is dropped, so a
  key seen once does not stay in memory;
* a match of an event already held (its ``(rule id, eventID)`` among the listed ids of an open
  finding or in a counting window) is ignored: a file re-read does not count an event twice.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.detections.engine import Match
from pipeline.detections.findings import MAX_EVENT_IDS, Finding, _dedup_key, _dedup_keys, _group_key
from pipeline.detections.model import Rule

LATENESS = timedelta(minutes=10)
"""How long after its window closed a group's state is kept for late matches."""


def _order(m: Match) -> tuple[datetime, str]:
    return (m.time, m.event_id)


@dataclass
class _Group:
    """One dedup key (per-event rules) or aggregation group (counting rules)."""

    finding: Finding | None = None
    window: deque[Match] = field(default_factory=deque)  # counting rules: matches of a count not reached
    held: set[str] = field(default_factory=set)  # eventIDs listed in ``finding`` or in ``window``

    def join(self, m: Match) -> None:
        """``m`` joins the open finding (its id is held while the finding lists it)."""
        assert self.finding is not None
        if len(self.finding.event_ids) < MAX_EVENT_IDS:
            self.held.add(m.event_id)
        self.finding.add(m)

    def newest(self) -> datetime | None:
        times = [self.window[-1].time] if self.window else []
        if self.finding is not None:
            times.append(self.finding.window_end)
        return max(times) if times else None


class OpenWindows:
    """Open findings and counting windows of ``rules`` between batches (module docstring)."""

    def __init__(self, rules: list[Rule]):
        self.rules = {r.id: r for r in rules}
        self.groups: dict[str, dict[object, _Group]] = {r.id: {} for r in rules}
        self.clock: datetime | None = None  # the newest match time seen

    def add(self, matches: Iterable[Match]) -> list[Finding]:
        """Group new ``matches``; returns the findings that opened or grew, in time order."""
        touched: dict[int, Finding] = {}
        by_rule: dict[str, list[Match]] = {}
        for m in matches:
            if m.rule_id in self.rules:
                by_rule.setdefault(m.rule_id, []).append(m)
        for rid, ms in by_rule.items():
            ms.sort(key=_order)
            rule = self.rules[rid]
            step = self._event_rule if rule.aggregation is None else self._counting_rule
            for f in step(rule, ms):
                if f.event_count >= rule.threshold or rule.aggregation is not None:
                    touched[id(f)] = f
            if self.clock is None or ms[-1].time > self.clock:
                self.clock = ms[-1].time
        self._prune()
        return sorted(touched.values(), key=lambda f: (f.first.time, f.rule.id, f.first.event_id))

    def _event_rule(self, rule: Rule, ms: list[Match]) -> list[Finding]:
        groups, key_of, out = self.groups[rule.id], _dedup_keys(rule), []
        for m in ms:
            key = key_of(m)
            g = groups.get(key)
            if g is not None and m.event_id in g.held:
                continue
            if g is not None and g.finding is not None and m.time < g.finding.window_end:
                g.join(m)
            else:
                g = groups[key] = _Group(Finding.of(rule, key, [m]), held={m.event_id})
            out.append(g.finding)
        return [f for f in out if f is not None]

    def _counting_rule(self, rule: Rule, ms: list[Match]) -> list[Finding]:
        agg = rule.aggregation
        assert agg is not None
        groups, out = self.groups[rule.id], []
        span = timedelta(seconds=agg.timeframe)
        field_idx = rule.key_paths().index(agg.field) if agg.field else None
        for m in ms:
            gk = _group_key(rule, m)
            g = groups.setdefault(gk, _Group())
            if m.event_id in g.held:
                continue
            if g.finding is not None:
                if m.time < g.finding.window_end:
                    g.join(m)
                    out.append(g.finding)
                    continue
                g.finding, g.held = None, set()
            if g.window and _order(m) < _order(g.window[-1]):
                insort(g.window, m, key=_order)  # late data
            else:
                g.window.append(m)
            g.held.add(m.event_id)
            newest = g.window[-1].time
            while g.window and g.window[0].time < newest - span:
                g.held.discard(g.window.popleft().event_id)
            n = len({w.keys[field_idx] for w in g.window if w.keys[field_idx] is not None}) \
                if field_idx is not None else len(g.window)
            if agg.holds(n):
                g.finding = Finding.of(rule, _dedup_key(rule, g.window[0]), list(g.window))
                g.held = set(g.finding.event_ids)
                g.window = deque()
                out.append(g.finding)
        return out

    def _prune(self) -> None:
        if self.clock is None:
            return
        cut = self.clock - LATENESS
        for rid, groups in self.groups.items():
            rule = self.rules[rid]
            span = timedelta(seconds=rule.aggregation.timeframe) if rule.aggregation else timedelta(0)
            stale = [k for k, g in groups.items() if (newest := g.newest()) is None or newest + span < cut]
            for k in stale:
                del groups[k]

    def size(self) -> dict[str, int]:
        """What is held: groups, open findings, window matches, listed eventIDs (for status/tests)."""
        gs = [g for groups in self.groups.values() for g in groups.values()]
        return {"groups": len(gs), "open_findings": sum(g.finding is not None for g in gs),
                "window_matches": sum(len(g.window) for g in gs),
                "event_ids": sum(len(g.finding.event_ids) for g in gs if g.finding is not None)}
