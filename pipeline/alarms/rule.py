"""The composite-alarm ``AlarmRule`` language: parser, evaluator and dependency checks.

Grammar (CloudWatch's, with the usual precedence NOT > AND > OR)::

    rule   := or
    or     := and ("OR" and)*
    and    := not ("AND" not)*
    not    := "NOT" not | atom
    atom   := "(" rule ")" | "TRUE" | "FALSE" | FUNC "(" name ")"
    FUNC   := "ALARM" | "OK" | "INSUFFICIENT_DATA"
    name   := "quoted name" | unquoted-name | alarm ARN (the name after ``:alarm:`` is used)

Keywords are upper case. Limits enforced: rule ≤ 10,240 characters, ≤ 100 distinct child alarms,
≤ 500 elements (children, TRUE/FALSE and parentheses). Parse errors raise :class:`RuleError`
with the character position.

>>> sorted(children(parse('ALARM(CPUHigh) AND NOT ALARM("Deploy in progress")')))
['CPUHigh', 'Deploy in progress']
>>> evaluate(parse("(ALARM(a) OR ALARM(b)) AND OK(c)"), {"a": "OK", "b": "ALARM", "c": "OK"})
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipeline.errors import RuleError

MAX_RULE_CHARS = 10_240
MAX_CHILDREN = 100
MAX_ELEMENTS = 500
MAX_PARENTS = 150
FUNCS = ("ALARM", "OK", "INSUFFICIENT_DATA")

Node = tuple[Any, ...]
"""AST nodes: ("const", bool) | ("state", STATE, name) | ("not", n) | ("and", [n…]) | ("or", [n…])."""

_TOKEN = re.compile(r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<q>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()"]+))""")


class _Parser:
    def __init__(self, text: str, alarm: str):
        self.text, self.alarm = text, alarm
        self.pos = 0
        self.elements = 0

    def fail(self, reason: str, pos: int | None = None) -> RuleError:
        at = self.pos if pos is None else pos
        return RuleError(self.alarm, f"{reason} at position {at}", field="AlarmRule",
                         value=self.text[max(0, at - 20): at + 20] or self.text)

    def peek(self) -> tuple[str, str, int] | None:
        m = _TOKEN.match(self.text, self.pos)
        if not m or m.end() == m.start() or self.text[self.pos:].strip() == "":
            return None
        kind = m.lastgroup or ""
        return kind, m.group(kind), m.start(kind)

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end of rule", len(self.text))
        m = _TOKEN.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()
        return tok

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise self.fail(f"unexpected {tok[1]!r}", tok[2])
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while (tok := self.peek()) and tok[0] == "word" and tok[1] == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else ("or", items)

    def and_(self) -> Node:
        items = [self.not_()]
        while (tok := self.peek()) and tok[0] == "word" and tok[1] == "AND":
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else ("and", items)

    def not_(self) -> Node:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1] == "NOT":
            self.take()
            return ("not", self.not_())
        return self.atom()

    def atom(self) -> Node:
        kind, value, at = self.take()
        if kind == "lp":
            self.elements += 1
            node = self.or_()
            closing = self.take()
            if closing[0] != "rp":
                raise self.fail(f"expected ')' but found {closing[1]!r}", closing[2])
            return node
        if kind == "word" and value in ("TRUE", "FALSE"):
            self.elements += 1
            return ("const", value == "TRUE")
        if kind == "word" and value in FUNCS:
            lp = self.take()
            if lp[0] != "lp":
                raise self.fail(f"expected '(' after {value}", lp[2])
            name = self._name()
            rp = self.take()
            if rp[0] != "rp":
                raise self.fail(f"expected ')' after the alarm name in {value}(…)", rp[2])
            self.elements += 1
            return ("state", value, name)
        if kind == "word" and value.upper() in FUNCS + ("TRUE", "FALSE", "AND", "OR", "NOT"):
            raise self.fail(f"keywords are upper case: {value!r}", at)
        raise self.fail(f"expected ALARM(…), OK(…), INSUFFICIENT_DATA(…), TRUE, FALSE, NOT or '(' "
                        f"but found {value!r}", at)

    def _name(self) -> str:
        start = self.pos
        m = re.compile(r'\s*"((?:[^"\\]|\\.)*)"').match(self.text, self.pos)
        if m:
            self.pos = m.end()
            name = re.sub(r"\\(.)", r"\1", m.group(1))
        else:
            end = self.text.find(")", self.pos)
            if end < 0:
                raise self.fail("unclosed alarm reference", start)
            name = self.text[self.pos:end].strip()
            if "(" in name or '"' in name:
                raise self.fail("alarm names with '(' or '\"' must be quoted", start)
            self.pos = end
        if ":alarm:" in name:
            name = name.split(":alarm:", 1)[1]
        if not name:
            raise self.fail("empty alarm name", start)
        return name


def parse(text: str, alarm: str = "?") -> Node:
    """Parse an AlarmRule into an AST; raises :class:`RuleError` naming the position and limit."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError(alarm, "AlarmRule must be a non-empty string", field="AlarmRule", value=text)
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(alarm, f"AlarmRule is longer than {MAX_RULE_CHARS} characters",
                        field="AlarmRule", value=len(text))
    p = _Parser(text, alarm)
    node = p.parse()
    if p.elements > MAX_ELEMENTS:
        raise RuleError(alarm, f"AlarmRule has {p.elements} elements; the limit is {MAX_ELEMENTS}",
                        field="AlarmRule")
    kids = children(node)
    if len(kids) > MAX_CHILDREN:
        raise RuleError(alarm, f"AlarmRule references {len(kids)} alarms; the limit is {MAX_CHILDREN}",
                        field="AlarmRule")
    return node


def children(node: Node) -> set[str]:
    """Names of every alarm the rule references."""
    kind = node[0]
    if kind == "state":
        return {node[2]}
    if kind == "not":
        return children(node[1])
    if kind in ("and", "or"):
        out: set[str] = set()
        for n in node[1]:
            out |= children(n)
        return out
    return set()


def evaluate(node: Node, states: Mapping[str, Any], *,
             combine: tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any],
                            Callable[[Any], Any]] | None = None) -> Any:
    """Evaluate a rule against child states (``name -> state``).

    With ``combine=(and_, or_, not_)`` the states may be arrays (numpy element-wise evaluation);
    a child with no state counts as INSUFFICIENT_DATA.
    """
    kind = node[0]
    if kind == "const":
        return node[1]
    if kind == "state":
        return states.get(node[2], "INSUFFICIENT_DATA") == node[1]
    and_, or_, not_ = combine or (lambda a, b: a and b, lambda a, b: a or b, lambda a: not a)
    if kind == "not":
        return not_(evaluate(node[1], states, combine=combine))
    values = [evaluate(n, states, combine=combine) for n in node[1]]
    out = values[0]
    for v in values[1:]:
        out = and_(out, v) if kind == "and" else or_(out, v)
    return out


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle in ``composite -> children`` as a path ``[a, b, …, a]``, or None."""
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for c in graph.get(n, ()):
            if color.get(c) == 1:
                return stack[stack.index(c):] + [c]
            if color.get(c, 0) == 0 and c in graph:
                found = visit(c)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for node in sorted(graph):
        if color.get(node, 0) == 0:
            found = visit(node)
            if found:
                return found
    return None


def topological(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Composites ordered so every composite comes after the composites it references."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for c in sorted(graph.get(n, ())):
            if c in graph:
                visit(c)
        order.append(n)

    for n in sorted(graph):
        visit(n)
    return order
