"""Sigma ``condition`` strings: ``and``/``or``/``not``, parentheses, ``1 of x_*``,
``all of x_*``, ``1 of them``, ``all of them``, and a legacy aggregation after ``|``
(``count([field]) [by f1, f2] <op> N``).

Precedence is ``not`` > ``and`` > ``or``. ``them`` means every selection whose name does not start
with ``_``. A name or pattern that matches no selection is an error, never an empty match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.detections.ir import And, Node, Not, Or

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_*?.\-]+)")
_AGG = re.compile(
    r"^\s*count\(\s*(?P<field>[A-Za-z0-9_.\-]*)\s*\)\s*(?:by\s+(?P<by>[A-Za-z0-9_.\-]+(?:\s*,\s*[A-Za-z0-9_.\-]+)*)\s*)?"
    r"(?P<op>>=|<=|==|=|>|<)\s*(?P<value>\d+(?:\.\d+)?)\s*$", re.I)


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message says where."""


@dataclass(frozen=True)
class AggSpec:
    field: str | None
    group_by: tuple[str, ...]
    op: str
    value: float


def split_aggregation(condition: str) -> tuple[str, AggSpec | None]:
    """``"sel | count() by ip > 5"`` → ``("sel", AggSpec(...))``."""
    if "|" not in condition:
        return condition, None
    expr, _, agg = condition.partition("|")
    text = agg.strip()
    word = text.split("(")[0].split()[0].lower() if text else ""
    if word != "count":
        raise ConditionError(f"aggregation `{text}` is not supported (only count() … by … <op> N)")
    m = _AGG.match(text)
    if not m:
        raise ConditionError(f"cannot parse aggregation `{text}` (expected count([field]) [by f] <op> N)")
    by = tuple(b.strip() for b in m.group("by").split(",")) if m.group("by") else ()
    return expr, AggSpec(m.group("field") or None, by, m.group("op"), float(m.group("value")))


class _Parser:
    def __init__(self, text: str, selections: Mapping[str, Node]):
        self.text, self.sel = text, selections
        pos, toks = 0, []
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                raise ConditionError(f"unexpected character {text[pos:].strip()[0]!r} in condition `{text}`")
            toks.append(m.group(1))
            pos = m.end()
        self.toks, self.i = toks, 0
        self.used: set[str] = set()

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"condition `{self.text}` ends too early")
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise ConditionError("empty condition")
        node = self.or_()
        if self.peek() is not None:
            raise ConditionError(f"unexpected `{self.peek()}` in condition `{self.text}`")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while (self.peek() or "").lower() == "or":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while (self.peek() or "").lower() == "and":
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        if (self.peek() or "").lower() == "not":
            self.take()
            return Not(self.not_())
        return self.atom()

    def _names(self, pattern: str) -> list[str]:
        if pattern.lower() == "them":
            names = [n for n in self.sel if not n.startswith("_")]
        else:
            names = [n for n in self.sel if fnmatch.fnmatchcase(n, pattern)]
        if not names:
            raise ConditionError(f"`{pattern}` matches no selection (have: {', '.join(self.sel)})")
        self.used.update(names)
        return names

    def atom(self) -> Node:
        tok = self.take()
        low = tok.lower()
        if tok == "(":
            node = self.or_()
            if self.take() != ")":
                raise ConditionError(f"missing `)` in condition `{self.text}`")
            return node
        if low in ("and", "or", ")"):
            raise ConditionError(f"unexpected `{tok}` in condition `{self.text}`")
        if (low.isdigit() or low in ("all", "any")) and (self.peek() or "").lower() == "of":
            self.take()
            names = self._names(self.take())
            nodes = tuple(self.sel[n] for n in names)
            if low == "all":
                return nodes[0] if len(nodes) == 1 else And(nodes)
            if low in ("1", "any"):
                return nodes[0] if len(nodes) == 1 else Or(nodes)
            raise ConditionError(f"`{tok} of` is not Sigma (only `1 of` and `all of`)")
        if tok not in self.sel:
            raise ConditionError(f"condition names `{tok}`, which is not a selection (have: {', '.join(self.sel)})")
        self.used.add(tok)
        return self.sel[tok]


def parse_condition(text: str, selections: Mapping[str, Node]) -> tuple[Node, set[str]]:
    """Parse a condition (without aggregation) into a tree; also returns the selections used."""
    p = _Parser(text, selections)
    node = p.parse()
    return node, p.used
