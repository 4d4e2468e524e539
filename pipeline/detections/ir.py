"""The predicate language every rule kind compiles to, and that both engines evaluate.

Sigma selections and EventBridge patterns become trees of :class:`Pred` leaves joined by
:class:`And`, :class:`Or` and :class:`Not`. A leaf tests the *candidates* of a dotted field path
(:mod:`pipeline.detections.fields`): the value at the path, and when a path crosses a list, every
element's value; a leaf matches when **any** candidate passes its test. Leaves never yield SQL
NULL: a missing field simply has no candidates, so ``NOT leaf`` is true for it (Sigma's rule that
a filter on a missing field does not match).

Leaf operators (``Pred.op``):

=============  ==================================================================================
``eq``         candidate equals ``arg`` (case-insensitive unless ``cased``)
``like``       candidate matches glob ``arg`` (a :data:`Glob`: ``*`` any run, ``?`` one char)
``re``         regular expression ``arg`` found in the candidate (case-sensitive; inline flags)
``cidr``       candidate is an IP address inside network ``arg``
``num``        candidate is a JSON number and ``candidate <cmp> value`` for ``arg=(cmp, value)``
``absent``     the path has no candidate (field missing or null)
``fieldref``   some candidate equals / contains / starts / ends with a candidate of another path;
               ``arg=(other_path, mode)``
=============  ==================================================================================

``negate_each`` turns a leaf into "some candidate does *not* pass" (EventBridge ``anything-but``:
the field must exist and one of its values must differ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

GlobToken = tuple[str, str]
"""``("lit", text)``, ``("any", "")`` for ``*`` or ``("one", "")`` for ``?``."""
Glob = tuple[GlobToken, ...]


@dataclass(frozen=True)
class Pred:
    path: str
    op: str
    arg: Any = None
    cased: bool = False
    negate_each: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Const:
    value: bool


Node = Pred | And | Or | Not | Const

OPS = frozenset({"eq", "like", "re", "cidr", "num", "absent", "fieldref"})
NUM_CMPS = frozenset({"<", "<=", ">", ">=", "="})


def sigma_glob(text: str) -> Glob:
    """Parse a Sigma value: ``*`` and ``?`` are wildcards, ``\\*``, ``\\?`` and ``\\\\`` are
    literal, any other backslash is itself."""
    out: list[GlobToken] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "*?\\":
            buf.append(text[i + 1])
            i += 2
            continue
        if c in "*?":
            if buf:
                out.append(("lit", "".join(buf)))
                buf = []
            out.append(("any", "") if c == "*" else ("one", ""))
        else:
            buf.append(c)
        i += 1
    if buf:
        out.append(("lit", "".join(buf)))
    return tuple(out)


def literal_glob(text: str) -> Glob:
    return (("lit", text),) if text else ()


def has_wildcard(glob: Glob) -> bool:
    return any(kind != "lit" for kind, _ in glob)


def glob_text(glob: Glob) -> str:
    """The literal text of a wildcard-free glob."""
    return "".join(t for _, t in glob)


def glob_regex(glob: Glob) -> str:
    """Anchored-by-fullmatch Python regex of a glob."""
    parts = []
    for kind, text in glob:
        parts.append(re.escape(text) if kind == "lit" else ".*" if kind == "any" else ".")
    return "".join(parts)


def glob_like(glob: Glob) -> str:
    """SQL LIKE pattern of a glob, escaped with ``\\``."""
    parts = []
    for kind, text in glob:
        if kind == "lit":
            parts.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            parts.append("%" if kind == "any" else "_")
    return "".join(parts)


def lower_glob(glob: Glob) -> Glob:
    return tuple((k, t.lower()) for k, t in glob)


def paths(node: Node) -> set[str]:
    """Every field path a tree reads (fieldref targets included)."""
    if isinstance(node, Pred):
        out = {node.path}
        if node.op == "fieldref":
            out.add(node.arg[0])
        return out
    if isinstance(node, (And, Or)):
        return set().union(*(paths(i) for i in node.items)) if node.items else set()
    if isinstance(node, Not):
        return paths(node.item)
    return set()


def leaves(node: Node) -> list[Pred]:
    if isinstance(node, Pred):
        return [node]
    if isinstance(node, (And, Or)):
        return [p for i in node.items for p in leaves(i)]
    if isinstance(node, Not):
        return leaves(node.item)
    return []


def required_values(node: Node) -> tuple[dict[str, set[str]], list[str]]:
    """Values (lower case) each path must equal for ``node`` to hold, and contradictions found."""
    if isinstance(node, Pred):
        if node.op == "eq" and not node.negate_each and not node.cased:
            return {node.path: {node.arg.lower()}}, []
        return {}, []
    if isinstance(node, Or):
        parts = [required_values(i) for i in node.items]
        problems = [p for _, ps in parts for p in ps]
        common = set.intersection(*(set(c) for c, _ in parts)) if parts else set()
        return {k: set().union(*(c[k] for c, _ in parts)) for k in common}, problems
    if isinstance(node, And):
        out: dict[str, set[str]] = {}
        problems = []
        for item in node.items:
            c, ps = required_values(item)
            problems += ps
            for k, v in c.items():
                if k in out:
                    both = out[k] & v
                    if not both:
                        problems.append(f"`{k}` must equal {sorted(out[k])} and {sorted(v)} in the same event")
                    out[k] = both
                else:
                    out[k] = set(v)
        return out, problems
    return {}, []
