"""Tokens of the CloudWatch Logs Insights query language.

Handles ``#`` comment lines, double/single-quoted strings with backslash escapes, backticked
field names, ``/regex/`` literals (told apart from division by the previous token), durations
(``5m``, ``1h``, ``30s``, ``100ms``, ``1d``, ``1w``) and field names with ``@`` and dots
(``@timestamp``, ``userIdentity.sessionContext.sessionIssuer.arn``). Every token keeps its
character position so errors can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import QueryError

KEYWORDS = frozenset({"and", "or", "not", "in", "like", "as", "by", "asc", "desc"})

DURATION_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
                  "d": 86400, "w": 604800}

_IDENT = re.compile(r"[A-Za-z_@$][A-Za-z0-9_@$.]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_OPS = ("!=", "<>", "<=", ">=", "=~", "=", "<", ">", "+", "-", "*", "/", "%", "^")
_PUNCT = "(),[]|"


@dataclass(frozen=True)
class Token:
    """``kind`` is one of IDENT, STRING, REGEX, NUMBER, DURATION, OP, PUNCT, EOF."""

    kind: str
    value: str
    pos: int
    end: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.value.lower() in words


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raises QueryError at the first character it cannot read."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == "#" and _line_start(text, i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c in "\"'":
            value, j = _quoted(text, i, c)
            tokens.append(Token("STRING", value, i, j))
            i = j
            continue
        if c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise QueryError("unterminated `field name`", query=text, position=i)
            tokens.append(Token("IDENT", text[i + 1:j], i, j + 1))
            i = j + 1
            continue
        if c == "/" and _regex_allowed(tokens):
            value, j = _regex(text, i)
            tokens.append(Token("REGEX", value, i, j))
            i = j
            continue
        m = _NUMBER.match(text, i)
        if m:
            j = m.end()
            unit = re.match(r"[A-Za-z]+", text[j:])
            if unit and unit.group(0).lower() in DURATION_UNITS:
                tokens.append(Token("DURATION", text[i:j + unit.end()], i, j + unit.end()))
                i = j + unit.end()
                continue
            tokens.append(Token("NUMBER", m.group(0), i, j))
            i = j
            continue
        m = _IDENT.match(text, i)
        if m:
            value = m.group(0).rstrip(".")
            tokens.append(Token("IDENT", value, i, i + len(value)))
            i += len(value)
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            tokens.append(Token("OP", op, i, i + len(op)))
            i += len(op)
            continue
        if c in _PUNCT:
            tokens.append(Token("PUNCT", c, i, i + 1))
            i += 1
            continue
        raise QueryError(f"unexpected character {c!r}", query=text, position=i)
    tokens.append(Token("EOF", "", n, n))
    return tokens


def _line_start(text: str, i: int) -> bool:
    j = text.rfind("\n", 0, i)
    return text[j + 1:i].strip() == ""


def _quoted(text: str, i: int, quote: str) -> tuple[str, int]:
    out, j = [], i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise QueryError("unterminated string", query=text, position=i)


def _regex(text: str, i: int) -> tuple[str, int]:
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "/":
            return text[i + 1:j], j + 1
        j += 1
    raise QueryError("unterminated /regex/", query=text, position=i)


def _regex_allowed(tokens: list[Token]) -> bool:
    """A ``/`` starts a regex unless it follows a value (number, `)`, `]`, a field)."""
    if not tokens:
        return True
    prev = tokens[-1]
    if prev.kind in ("NUMBER", "DURATION", "STRING") or (prev.kind == "PUNCT" and prev.value in ")]"):
        return False
    if prev.kind == "IDENT" and prev.value.lower() not in KEYWORDS:
        # `parse @message /re/`: the field after `parse` is followed by a regex
        return len(tokens) >= 2 and tokens[-2].is_kw("parse")
    return True
