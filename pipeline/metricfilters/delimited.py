"""Space-delimited filter patterns (``[ip, user, ..., status = 4*, bytes]``), the third kind of
:mod:`pipeline.metricfilters.pattern` (whose module docstring states the semantics): message fields
are runs of non-spaces or the inside of ``[…]`` / ``"…"``; ``...`` matches any number of fields;
each named field may carry conditions on itself joined by ``&&`` / ``||``."""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.metricfilters.pattern import _NAME, _NUMBER, _OPS, _STR, Match, _Cursor, _number, _wildcard

_DTOK = re.compile(r"\s*(?:(?P<p>[,\]]|&&|\|\|)|(?P<op>[=!<>&|~]+)|" + _STR + r'|(?P<w>[^\s,\]=!<>&|"~]+)|(?P<x>\S))',
                   re.S)
_FIELD = re.compile(r'\[([^\[\]]*)\]|"([^"]*)"|([^ ]+)')  # no `[` inside `[…]`: linear on any message


FieldTest = Callable[[str], bool]
Segment = tuple[tuple[str, FieldTest | None], ...]


def _field_number(s: str) -> float | None:
    return float(s) if _NUMBER.fullmatch(s) else None


def _field_comparison(op: str, value: str, quoted: bool) -> FieldTest:
    """The test ``<field> op value`` on one message field: numeric when both are numbers, else a
    string (wildcard) test; ``!=`` is the negation of ``=``."""
    num = None if quoted else _number(value)
    if num is not None:
        cmp = _OPS[op]
        if op == "!=":
            return lambda s: (n := _field_number(s)) is None or n != num
        return lambda s: (n := _field_number(s)) is not None and cmp(n, num)
    test = _wildcard(value)
    return test if op == "=" else (lambda s: not test(s))


def _field_tests(cur: _Cursor, name: str) -> FieldTest | None:
    """The conditions after field ``name`` (``&&`` binds tighter than ``||``), None when none."""
    if cur.peek()[0] != "op":
        return None
    groups = [[_field_comparison(*cur.operand())]]
    while cur.at("p", "&&", "||"):
        if cur.take()[1] == "||":
            groups.append([])
        if not cur.at("w", name):
            raise cur.fail(f"a condition here must name the field `{name}`", cur.peek()[2])
        cur.take()
        groups[-1].append(_field_comparison(*cur.operand()))
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]
    frozen = tuple(tuple(g) for g in groups)
    return lambda s: any(all(t(s) for t in g) for g in frozen)


def parse_delimited(text: str, start: int) -> Callable[[str], Match | None]:
    cur = _Cursor(_DTOK, text, start + 1)
    segs: list[Segment] = [()]  # the runs of named fields between `...`
    while True:
        kind, val, pos = cur.take()
        if kind == "end":
            raise cur.fail("unbalanced `[`", start)
        if (kind, val) == ("w", "..."):
            segs.append(())
        elif kind == "w" and _NAME.fullmatch(val):
            segs[-1] += ((val, _field_tests(cur, val)),)
        elif kind == "p" and val in (",", "]"):
            raise cur.fail("a field name or `...` is missing", pos)
        else:
            raise cur.fail("a field name holds only letters, digits and `_`", pos)
        kind, val, pos = cur.take()
        if (kind, val) == ("p", "]"):
            break
        if kind == "end":
            raise cur.fail("unbalanced `[`", start)
        if (kind, val) != ("p", ","):
            raise cur.fail("expected `,` or `]`", pos)
    if not cur.at("end", ""):
        raise cur.fail("unexpected text after `]`", cur.peek()[2])
    return _delimited_matcher(segs)


def _delimited_matcher(segs: list[Segment]) -> Callable[[str], Match | None]:
    """Without ``...`` the fields pair off one to one. With it, the first segment is anchored at the
    start and the last at the end (either may be empty), and those between are placed leftmost
    where their tests hold — correct, as each test looks at one field only."""
    need = sum(len(s) for s in segs)

    def fits(seg: Segment, vals: list[str], at: int) -> bool:
        return all(t is None or t(vals[at + k]) for k, (_, t) in enumerate(seg))

    def match(message: str) -> Match | None:
        vals = [a or b or c for a, b, c in _FIELD.findall(message.strip())]
        n = len(vals)
        if len(segs) == 1:
            if n != need or not fits(segs[0], vals, 0):
                return None
            return Match(None, {name: v for (name, _), v in zip(segs[0], vals)})
        first, last, end = segs[0], segs[-1], n - len(segs[-1])
        if need > n or not fits(first, vals, 0) or not fits(last, vals, end):
            return None
        placed, p = [(first, 0)], len(first)
        for seg in segs[1:-1]:
            while p + len(seg) <= end and not fits(seg, vals, p):
                p += 1
            if p + len(seg) > end:
                return None
            placed.append((seg, p))
            p += len(seg)
        placed.append((last, end))
        return Match(None, {name: vals[at + k] for seg, at in placed for k, (name, _) in enumerate(seg)})

    return match
