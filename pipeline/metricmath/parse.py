"""CloudWatch metric math: parse an ``Expression`` and evaluate it over a grid of windows.

Used by alarms (:mod:`pipeline.alarms.validate`, :mod:`pipeline.alarms.evaluate`) and by
GetMetricData-style requests (:mod:`pipeline.query.metricdata`). An alarm's queries are evaluated
on its own grid of sliding windows (window ``i`` starts at ``start + i·step`` and lasts
``period``; :class:`~pipeline.alarms.source.Datapoints`), a request's on its periods (``step`` =
``period``); either way every series is one float array over the same windows, ``NaN`` where it
has no datapoint. The windows one ``period`` apart form the series CloudWatch would return for
that phase; functions that look at "the previous point" (``RATE``, ``DIFF``, ``FILL(m,
REPEAT)``…) look along those.

Semantics, as CloudWatch documents them (``shared/reference/aws-semantics.md`` §1.7):

* ``+ - * / ^`` and unary ``-`` on scalars, series and arrays of series; between two series a
  missing value counts as 0 where the other has one, and a result with neither is missing; a
  division by zero is dropped (missing); comparisons (``== != < <= > >=``) give 1 or 0 and
  ``AND``/``&&``, ``OR``/``||`` combine truth values (non-zero is true), under the same rule;
* ``IF(c, a[, b])`` per window: missing where ``c`` is missing; ``a`` where ``c`` is non-zero (0
  if ``a`` has no point there); ``b`` where ``c`` is 0, dropped if ``b`` is omitted or has no point;
* ``FILL(m, v | REPEAT | LINEAR)``, ``RATE``, ``DIFF``, ``DIFF_TIME``; ``ABS CEIL FLOOR LOG LOG10``
  (a logarithm of a value ≤ 0 is dropped); ``SUM AVG MIN MAX STDDEV`` (population) of an array,
  per window over the series that have a value; ``METRICS()`` / ``METRICS("s")``;
  ``FIRST``/``LAST``/``REMOVE_EMPTY``/``METRIC_COUNT`` of an array; ``TIME_SERIES(s)``;
  ``PERIOD(m)``; ``MINUTE HOUR DAY DATE MONTH YEAR EPOCH (m)`` of each window's start (UTC,
  ``DAY`` 1 = Monday).

In requests, also ``SUM AVG MIN MAX STDDEV`` of one series (a number over the request's range),
``RUNNING_SUM`` (along each phase; a missing point stays missing) and ``DATAPOINT_COUNT``; alarms
refuse these by name (:class:`MathError`): their result depends on how many points an alarm happens
to fetch, and CloudWatch advises against them there. Refused everywhere: ``SEARCH``, ``SORT``,
``SLICE``, ``INSIGHT_RULE_METRIC``, ``SERVICE_QUOTA``, and ``ANOMALY_DETECTION_BAND`` inside
another expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import RuleError

Node = tuple[Any, ...]
"""``("num", v)``, ``("str", s)``, ``("ref", id)``, ``("neg", x)``, ``("bin", op, a, b)``,
``("call", NAME, args)``, ``("kw", "REPEAT" | "LINEAR")`` (FILL's modes)."""

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>\"[^\"]*\"|'[^']*')"
                    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^<>(),]))")
_LEVELS = (("OR", "||"), ("AND", "&&"), ("==", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/"))
ELEMENTWISE = {"ABS": np.abs, "CEIL": np.ceil, "FLOOR": np.floor, "LOG": np.log, "LOG10": np.log10}
REDUCERS = ("SUM", "AVG", "MIN", "MAX", "STDDEV")
CLOCK = ("MINUTE", "HOUR", "DAY", "DATE", "MONTH", "YEAR", "EPOCH")
REFUSED = {
    "SEARCH": "is not supported here (name the metrics in MetricStat queries)",
    "SORT": "is not supported here", "SLICE": "is not supported here",
    "INSIGHT_RULE_METRIC": "is not supported here", "SERVICE_QUOTA": "is not supported here",
    "ANOMALY_DETECTION_BAND": "can only be an alarm's ThresholdMetricId expression, not part of another",
}
RANGE_DEPENDENT = ("RUNNING_SUM", "DATAPOINT_COUNT")
"""Functions whose value depends on how many points are fetched: refused in alarms."""
ARITY = {**{f: (1, 1) for f in (*ELEMENTWISE, *REDUCERS, *CLOCK, *RANGE_DEPENDENT, "RATE", "DIFF", "DIFF_TIME",
                                "PERIOD", "TIME_SERIES", "FIRST", "LAST", "REMOVE_EMPTY", "METRIC_COUNT")},
         "IF": (2, 3), "FILL": (2, 2), "METRICS": (0, 1)}


class MathError(RuleError):
    """An expression that cannot be parsed or evaluated; names the query Id, the expression and
    where in it."""

    def __init__(self, qid: str, expression: str, reason: str, pos: int | None = None):
        at = f" at character {pos + 1}" if pos is not None else ""
        super().__init__(qid, f"metric math: {reason}{at}", field=f"Metrics[{qid}].Expression", value=expression)
        self.expression = expression


@dataclass(frozen=True)
class Grid:
    """The alarm's windows: ``n`` of them, starting at epoch second ``start``, ``step`` apart,
    ``period`` long (so the same phase repeats every ``period // step`` windows)."""

    start: int
    step: int
    period: int
    n: int

    @property
    def lag(self) -> int:
        return max(1, self.period // self.step)


def parse(qid: str, text: str) -> Node:
    """The syntax tree of ``text``; :class:`MathError` at the first token that does not fit."""
    toks: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise MathError(qid, text, "unexpected character", len(text) - len(text[pos:].lstrip()))
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    p = _Parser(qid, text, toks)
    node = p.expr(0)
    if p.i < len(toks):
        raise MathError(qid, text, f"unexpected {toks[p.i][1]!r}", toks[p.i][2])
    return node


class _Parser:
    def __init__(self, qid: str, text: str, toks: list[tuple[str, str, int]]):
        self.qid, self.text, self.toks, self.i = qid, text, toks, 0

    def err(self, reason: str) -> MathError:
        at = self.toks[self.i][2] if self.i < len(self.toks) else len(self.text)
        return MathError(self.qid, self.text, reason, at)

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want: str) -> None:
        if self.peek() != want:
            raise self.err(f"expected {want!r}")
        self.i += 1

    def expr(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.expr(level + 1)
        while self.peek() in _LEVELS[level]:
            op = self.toks[self.i][1]
            self.i += 1
            left = ("bin", {"OR": "||", "AND": "&&"}.get(op, op), left, self.expr(level + 1))
        return left

    def unary(self) -> Node:
        if self.peek() == "-":
            self.i += 1
            return ("neg", self.unary())
        base = self.atom()
        if self.peek() == "^":
            self.i += 1
            return ("bin", "^", base, self.unary())  # right-associative, binds tighter than unary minus
        return base

    def atom(self) -> Node:
        if self.i >= len(self.toks):
            raise self.err("the expression ends too early")
        kind, tok, _ = self.toks[self.i]
        self.i += 1
        if kind == "num":
            return ("num", float(tok))
        if kind == "str":
            return ("str", tok[1:-1])
        if tok == "(":
            node = self.expr(0)
            self.take(")")
            return node
        if kind != "name":
            self.i -= 1
            raise self.err(f"unexpected {tok!r}")
        if self.peek() != "(":
            if tok in ("REPEAT", "LINEAR"):
                return ("kw", tok)
            if not tok[0].islower():
                self.i -= 1
                raise self.err(f"{tok} is not a query Id (Ids start with a lower-case letter)")
            return ("ref", tok)
        name = tok
        if name in REFUSED:
            self.i -= 1
            raise self.err(f"{name} {REFUSED[name]}")
        if name not in ARITY:
            self.i -= 1
            raise self.err(f"unknown function {name}")
        self.take("(")
        args: list[Node] = []
        if self.peek() != ")":
            args.append(self.expr(0))
            while self.peek() == ",":
                self.i += 1
                args.append(self.expr(0))
        self.take(")")
        lo, hi = ARITY[name]
        if not lo <= len(args) <= hi:
            self.i -= 1
            raise self.err(f"{name} takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), got {len(args)}")
        return ("call", name, args)


def refs(node: Node) -> set[str]:
    """The query Ids ``node`` names (``METRICS()`` is resolved by the evaluator, not listed)."""
    if node[0] == "ref":
        return {node[1]}
    if node[0] == "neg":
        return refs(node[1])
    if node[0] == "bin":
        return refs(node[2]) | refs(node[3])
    if node[0] == "call":
        return set().union(*(refs(a) for a in node[2])) if node[2] else set()
    return set()


def uses_metrics(node: Node) -> bool:
    """Whether ``node`` calls ``METRICS(…)`` anywhere."""
    if node[0] == "call":
        return node[1] == "METRICS" or any(uses_metrics(a) for a in node[2])
    if node[0] == "bin":
        return uses_metrics(node[2]) or uses_metrics(node[3])
    return node[0] == "neg" and uses_metrics(node[1])
