"""CloudWatch Logs filter patterns: parse a ``filterPattern`` once, then match every log event.

:func:`parse_pattern` turns the text into a :class:`Pattern` whose :meth:`Pattern.match` is a
precompiled closure (wildcards split into parts, selectors into tuples of keys): nothing is
re-parsed per message, a JSON message is decoded once per call, and no message content makes
``match`` raise. Semantics (``shared/reference/aws-semantics.md`` §4.4), case-sensitive throughout:

* **terms** — ``ERROR`` (contains), ``ERROR ARGUMENTS`` (both), ``?ERROR ?ARGUMENTS`` (either),
  ``ERROR -ARGUMENTS`` (exclude), ``"INTERNAL SERVER ERROR"`` / ``-"Bad Request"`` (quoted phrase,
  ``\\"`` and ``\\\\`` escape inside quotes). Every plain term must occur, no ``-`` term may occur,
  and if there are ``?`` terms one of them must occur. Empty, all-space and ``" "`` match everything.
* **JSON** (``{ … }``) — ``$.a.b``, ``$.list[0].id`` selectors; ``=``/``!=`` with a string (quoted,
  or an unquoted word; ``*`` is a wildcard; a lone ``*`` = present and not null) against a string
  field, or against a number field's text; ``= != < <= > >=`` with a number against a number field;
  ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``; ``&&`` over ``||``, parentheses. A
  missing key or index, or a field of the wrong type, makes a comparison false (``!=`` too). A
  message that is not a JSON object matches nothing.
* **space-delimited** (``[ … ]``) — message fields are runs of non-spaces, or the inside of
  ``[…]`` / ``"…"`` (a trailing newline is ignored); pattern items are field names (letters,
  digits, ``_``) or ``...`` (any number of fields, anywhere); without ``...`` the counts must be
  equal. An item may carry conditions on its own name joined by ``&&`` (binds tighter) and
  ``||``: ``=``/``!=`` compare numerically when both sides are numbers (a quoted value is always a
  string), else as strings with ``*`` wildcards; ``< <= > >=`` need a number and a numeric field.

Not supported, refused with :class:`PatternError`: regular expressions (``%…%``) and comparing
two fields.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Any

from pipeline.errors import RuleError

MAX_PATTERN_CHARS = 1024
_MISSING: Any = object()
_NUMERIC = (int, float)  # JSON numbers (bool is not one)
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.A)
_NAME = re.compile(r"[A-Za-z0-9_]+")
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[(\d+)\]")
_ESCAPE = re.compile(r"\\(.)", re.S)
_TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(")|([^\s"]+))', re.S)
_STR = r'(?P<s>"(?:[^"\\]|\\.)*")|(?P<q>")'
_JTOK = re.compile(r"\s*(?:(?P<p>[()}]|&&|\|\|)|(?P<op>[=!<>&|~]+)|" + _STR + r'|(?P<w>[^\s()=!<>&|"{}~]+)|(?P<x>\S))',
                   re.S)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
Token = tuple[str, str, int]
"""``(kind, text, position)``; kind ``p`` punctuation, ``op``, ``s`` quoted string (unescaped),
``w`` word, ``end``."""


class PatternError(RuleError):
    """A filter pattern is malformed. ``reason`` says what and where (``… at character N``, 1-based),
    ``pos`` is the 0-based offset of the offending character (``None`` when unknown), ``text`` (and
    ``value``) the whole pattern."""

    def __init__(self, text: str, reason: str, pos: int | None = None):
        at = f" at character {pos + 1}" if pos is not None else ""
        super().__init__("filterPattern", f"{reason}{at}", field="filterPattern", value=text)
        self.pos, self.text = pos, text


@dataclass(frozen=True)
class Match:
    """What a matching event offers metric values and dimensions: the decoded JSON object (JSON
    patterns) or the named fields (space-delimited patterns)."""

    doc: Any | None
    fields: dict[str, str]

    def value_of(self, ref: str) -> Any | None:
        """The value ``ref`` names: ``$.a.b[0]`` in :attr:`doc`, ``$name`` in :attr:`fields`;
        ``None`` when absent, JSON null, not applicable to this kind of match, or malformed."""
        parsed = _parse_ref(ref)
        if parsed is None:
            return None
        if isinstance(parsed, str):
            return self.fields.get(parsed)
        if self.doc is None:
            return None
        value = _lookup(self.doc, parsed)
        return None if value is _MISSING else value


class Pattern:
    """A parsed filter pattern: ``kind`` is ``terms``, ``json`` or ``delimited``; ``text`` the
    original text. Equal patterns are patterns with equal text."""

    __slots__ = ("kind", "text", "_match")

    def __init__(self, kind: str, text: str, matcher: Callable[[str], Match | None]):
        self.kind, self.text, self._match = kind, text, matcher

    def match(self, message: str) -> Match | None:
        """The :class:`Match` when ``message`` matches, else ``None``; never raises."""
        return self._match(message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Pattern({self.kind}, {self.text!r})"


def parse_pattern(text: str) -> Pattern:
    """Parse ``text`` (≤ 1,024 characters) into a :class:`Pattern`; raise :class:`PatternError`
    naming the offending character when it is malformed."""
    if len(text) > MAX_PATTERN_CHARS:
        raise PatternError(text, f"a filter pattern may hold at most {MAX_PATTERN_CHARS:,} characters",
                           MAX_PATTERN_CHARS)
    stripped = text.lstrip()
    start = len(text) - len(stripped)
    if stripped.startswith("{"):
        return Pattern("json", text, _parse_json(text, start))
    if stripped.startswith("["):
        from pipeline.metricfilters.delimited import parse_delimited  # it builds on this module's parts

        return Pattern("delimited", text, parse_delimited(text, start))
    return Pattern("terms", text, _parse_terms(text))


def _refuse_regex(text: str, value: str, pos: int) -> None:
    if len(value) >= 2 and value.startswith("%") and value.endswith("%"):
        raise PatternError(text, "regular expressions (%…%) are not supported", pos)


def _number(word: str) -> int | float | None:
    """``word`` as a number when it is one (``-1``, ``2.5``, ``1e3``), else ``None``."""
    if not _NUMBER.fullmatch(word):
        return None
    return int(word) if word.lstrip("-").isdigit() else float(word)


def _wildcard(value: str) -> Callable[[str], bool]:
    """A test for whole strings equal to ``value``, where ``*`` stands for any run of characters;
    the parts between stars are placed leftmost in turn (no backtracking, linear in practice)."""
    if "*" not in value:
        return value.__eq__
    first, *middle, last = value.split("*")
    least = len(first) + len(last)

    def test(s: str) -> bool:
        if len(s) < least or not s.startswith(first) or not s.endswith(last):
            return False
        pos, end = len(first), len(s) - len(last)
        for part in middle:
            if (pos := s.find(part, pos, end)) < 0:
                return False
            pos += len(part)
        return True

    return test


class _Cursor:
    """The tokens of ``text[start:]`` (an unterminated quote or a stray character is a
    PatternError), read one at a time; the last token is ``("end", "", len(text))``."""

    def __init__(self, regex: re.Pattern[str], text: str, start: int):
        self.text, self.toks, self.i = text, [], 0
        pos = start
        while (m := regex.match(text, pos)) is not None:
            kind = m.lastgroup or ""
            if kind in ("q", "x"):
                what = "unbalanced quote" if kind == "q" else f"unexpected `{m.group(kind)}`"
                raise PatternError(text, what, m.start(kind))
            value = _ESCAPE.sub(r"\1", m.group(kind)[1:-1]) if kind == "s" else m.group(kind)
            self.toks.append((kind, value, m.start(kind)))
            pos = m.end()
        self.toks.append(("end", "", len(text)))

    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += tok[0] != "end"
        return tok

    def at(self, kind: str, *values: str) -> bool:
        return self.toks[self.i][0] == kind and self.toks[self.i][1] in values

    def fail(self, reason: str, pos: int) -> PatternError:
        return PatternError(self.text, reason, pos)

    def operand(self) -> tuple[str, str, bool]:
        """Take ``op value`` of a comparison: ``(op, value, quoted)``; ``< <= > >=`` need a number."""
        kind, op, pos = self.take()
        if kind not in ("op", "w"):
            raise self.fail("a comparison needs an operator", pos)
        if op not in _OPS:
            raise self.fail(f"unknown operator `{op}`", pos)
        kind, value, pos = self.take()
        if kind not in ("w", "s"):
            raise self.fail("a comparison needs a value", pos)
        if kind == "w":
            _refuse_regex(self.text, value, pos)
            if value.startswith("$"):
                raise self.fail("comparing two fields is not supported", pos)
        if op not in ("=", "!=") and (kind == "s" or _number(value) is None):
            raise self.fail(f"`{op}` compares numbers only", pos)
        return op, value, kind == "s"


def _parse_terms(text: str) -> Callable[[str], Match | None]:
    terms: dict[str, list[str]] = {"": [], "-": [], "?": []}
    for m in _TERM.finditer(text):
        if m.group(3) is not None:
            raise PatternError(text, "unbalanced quote", m.start(3))
        if m.group(2) is not None:
            term = _ESCAPE.sub(r"\1", m.group(2))
            term = "" if term.isspace() else term
        else:
            term = m.group(4)
            _refuse_regex(text, term, m.start(4))
        terms[m.group(1)].append(term)
    req, exc, opt = tuple(t for t in terms[""] if t), tuple(terms["-"]), tuple(terms["?"])

    def match(message: str) -> Match | None:
        for term in req:
            if term not in message:
                return None
        for term in exc:
            if term in message:
                return None
        if opt and not any(term in message for term in opt):
            return None
        return Match(None, {})

    return match


JsonTest = Callable[[dict[str, Any]], bool]


def _parse_selector(text: str, selector: str, pos: int) -> tuple[str | int, ...]:
    """``$.a.b[0]`` → ``("a", "b", 0)``; ``pos`` is where ``selector`` starts in ``text``."""
    if not selector.startswith("$."):
        raise PatternError(text, "a JSON selector must start with `$.`", pos)
    steps: list[str | int] = []
    i = 1
    while i < len(selector):
        m = _STEP.match(selector, i)
        if m is None:
            raise PatternError(text, "a selector step is `.key` or `[index]`", pos + i)
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        i = m.end()
    return tuple(steps)


@lru_cache(maxsize=1024)
def _parse_ref(ref: str) -> str | tuple[str | int, ...] | None:
    """A metric-value reference: a field name for ``$name``, selector steps for ``$.a``, else None."""
    if ref.startswith("$."):
        try:
            return _parse_selector(ref, ref, 0)
        except PatternError:
            return None
    return ref[1:] if ref.startswith("$") and _NAME.fullmatch(ref[1:]) else None


def _lookup(doc: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at ``steps`` in ``doc``, or ``_MISSING`` when a key or index is absent."""
    cur = doc
    for step in steps:
        if isinstance(step, str):
            if not isinstance(cur, dict) or (cur := cur.get(step, _MISSING)) is _MISSING:
                return _MISSING
        elif isinstance(cur, list) and step < len(cur):
            cur = cur[step]
        else:
            return _MISSING
    return cur


def _json_comparison(get: Callable[[dict[str, Any]], Any], op: str, value: str, quoted: bool) -> JsonTest:
    """The test ``<field> op value``: numeric when ``value`` is an unquoted number, else a string
    (wildcard) test on a string field or on a number field's text."""
    num = None if quoted else _number(value)
    if num is not None:
        cmp = _OPS[op]
        return lambda d: type(v := get(d)) in _NUMERIC and cmp(v, num)
    if value == "*":
        return (lambda d: (v := get(d)) is not _MISSING and v is not None) if op == "=" else (lambda d: False)
    test, want = _wildcard(value), op == "="

    def compare(d: dict[str, Any]) -> bool:
        v = get(d)
        if type(v) is str:
            return test(v) == want
        return type(v) in _NUMERIC and test(str(v)) == want

    return compare


def _json_or(cur: _Cursor) -> JsonTest:
    tests = [_json_and(cur)]
    while cur.at("p", "||"):
        cur.take()
        tests.append(_json_and(cur))
    return reduce(lambda a, b: lambda d: a(d) or b(d), tests)


def _json_and(cur: _Cursor) -> JsonTest:
    tests = [_json_unary(cur)]
    while cur.at("p", "&&"):
        cur.take()
        tests.append(_json_unary(cur))
    return reduce(lambda a, b: lambda d: a(d) and b(d), tests)


def _json_unary(cur: _Cursor) -> JsonTest:
    """``( or )`` or ``selector test``."""
    kind, val, pos = cur.take()
    if (kind, val) == ("p", "("):
        test = _json_or(cur)
        if not cur.at("p", ")"):
            if cur.at("p", "}") or cur.at("end", ""):
                raise cur.fail("unbalanced `(`", pos)
            raise cur.fail("expected `&&`, `||` or `)`", cur.peek()[2])
        cur.take()
        return test
    if kind != "w":
        raise cur.fail("expected a JSON selector such as `$.field`", pos)
    steps = _parse_selector(cur.text, val, pos)
    key = steps[0] if len(steps) == 1 else None
    get: Callable[[dict[str, Any]], Any] = (
        (lambda d: d.get(key, _MISSING)) if isinstance(key, str) else (lambda d: _lookup(d, steps)))
    if cur.at("w", "IS", "NOT"):
        keyword = cur.take()[1]
        word, wpos = cur.take()[1:]
        wanted = {"IS": {"NULL": None, "TRUE": True, "FALSE": False}, "NOT": {"EXISTS": _MISSING}}[keyword]
        if word not in wanted:
            raise cur.fail(f"expected {' or '.join(wanted)} after {keyword}", wpos)
        target = wanted[word]
        return lambda d: get(d) is target
    return _json_comparison(get, *cur.operand())


def _parse_json(text: str, start: int) -> Callable[[str], Match | None]:
    cur = _Cursor(_JTOK, text, start + 1)
    if cur.at("p", "}"):
        raise cur.fail("an empty JSON pattern", cur.peek()[2])
    test = _json_or(cur)
    kind, val, pos = cur.take()
    if kind == "end":
        raise cur.fail("unbalanced `{`", start)
    if (kind, val) != ("p", "}"):
        raise cur.fail("unbalanced `)`" if val == ")" else "expected `&&`, `||` or `}`", pos)
    if not cur.at("end", ""):
        raise cur.fail("unexpected text after `}`", cur.peek()[2])

    def match(message: str) -> Match | None:
        try:
            doc = json.loads(message)
        except (ValueError, RecursionError, TypeError):
            return None
        if type(doc) is not dict or not test(doc):
            return None
        return Match(doc, {})

    return match
