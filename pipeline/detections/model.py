"""Rules as the engines see them, whatever file format they came from.

A :class:`Rule` is a predicate over single events (:mod:`pipeline.detections.ir`) plus, for
counting rules (Sigma ``| count() by … > N`` with a ``timeframe``, rate rules), an
:class:`Aggregation`. Findings are grouped by the rule's dedup key within its dedup window
(:mod:`pipeline.detections.findings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.detections.ir import Node

LEVELS = ("informational", "low", "medium", "high", "critical")
PRINCIPAL = "userIdentity.arn"
DEFAULT_DEDUP_WINDOW = 3600
"""Seconds a finding stays open for repeats of its dedup key (Panther's default, 60 min)."""


@dataclass(frozen=True)
class Aggregation:
    """Fire when, inside a sliding ``timeframe`` (seconds) per ``group_by`` key, the number of
    matching events (or of distinct ``field`` values) compares ``op`` ``value``."""

    group_by: tuple[str, ...]
    op: str
    value: float
    timeframe: int
    field: str | None = None

    def holds(self, n: int) -> bool:
        v = self.value
        return {">": n > v, ">=": n >= v, "<": n < v, "<=": n <= v, "==": n == v, "=": n == v}[self.op]

    def describe(self) -> str:
        what = f"count({self.field or ''})"
        by = f" by {', '.join(self.group_by)}" if self.group_by else ""
        return f"{what}{by} {self.op} {self.value:g} within {self.timeframe}s"


@dataclass
class Rule:
    """One detection rule. ``id`` is the rule's own id (a Sigma UUID); ``kind`` is ``sigma``,
    ``eventbridge`` or ``rate``; ``threshold`` is the number of events a finding needs before it
    is reported; ``dedup_by`` paths form the dedup key; ``warnings`` say why it may never fire."""

    id: str
    title: str
    kind: str
    predicate: Node
    level: str = "medium"
    tags: tuple[str, ...] = ()
    aggregation: Aggregation | None = None
    dedup_by: tuple[str, ...] = (PRINCIPAL,)
    dedup_window: int = DEFAULT_DEDUP_WINDOW
    threshold: int = 1
    path: str = ""
    description: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def mitre(self) -> list[str]:
        """MITRE ATT&CK tags (``attack.t1562.008`` → ``T1562.008``, tactics as given)."""
        out = []
        for t in self.tags:
            if t.lower().startswith("attack."):
                name = t[7:]
                out.append(name.upper() if name[:1].lower() == "t" and name[1:2].isdigit() else name)
        return out

    def key_paths(self) -> tuple[str, ...]:
        """Paths whose first value every match must carry (group, count field, dedup key)."""
        paths: list[str] = []
        if self.aggregation:
            paths += list(self.aggregation.group_by)
            if self.aggregation.field:
                paths.append(self.aggregation.field)
        paths += list(self.dedup_by)
        return tuple(dict.fromkeys(paths))


@dataclass
class Problem:
    """A rule file (or rule) that could not be used, and why."""

    path: str
    rule: str
    reason: str
