"""The Python engine: evaluate a predicate tree (:mod:`pipeline.detections.ir`) on one event.

Semantics are those of :mod:`pipeline.detections.sql` exactly (a test runs both on the same
events): case-insensitive comparison lowers both sides with ``str.lower``; globs match the whole
candidate; ``re`` searches (not anchored); a number is text matching :data:`NUMBER_RE`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pipeline.detections import fields
from pipeline.detections.ir import And, Const, Node, Not, Or, Pred, glob_regex, lower_glob

NUMBER_RE = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
_NUMBER = re.compile(NUMBER_RE)


@lru_cache(maxsize=4096)
def resolve_cached(path: str) -> fields.Access:
    """:func:`fields.resolve`, memoised (paths are few, events many)."""
    return fields.resolve(path)


_resolve = resolve_cached


@lru_cache(maxsize=4096)
def _compile_glob(glob: tuple[Any, ...], cased: bool) -> re.Pattern[str]:
    return re.compile(glob_regex(glob if cased else lower_glob(glob)), re.S)


@lru_cache(maxsize=4096)
def _compile_re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=1024)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def ip_in_cidr(value: str | None, network: str | None) -> bool:
    """True when ``value`` is an IPv4/IPv6 address inside ``network`` (never raises; a value
    that is not an address — ``AWS Internal``, ``035.1.2.3`` with leading zeros — is False).
    Also registered in DuckDB as ``wl_cidr``."""
    if value is None or network is None:
        return False
    try:
        return ipaddress.ip_address(value.strip()) in _network(network)
    except ValueError:
        return False


def _num_cmp(text: str, cmp: str, value: float) -> bool:
    if not _NUMBER.fullmatch(text):
        return False
    x = float(text)
    return {"<": x < value, "<=": x <= value, ">": x > value, ">=": x >= value, "=": x == value}[cmp]


@lru_cache(maxsize=8192)
def leaf_test(pred: Pred) -> Callable[[str], bool]:
    """The per-candidate test of a leaf (not for ``absent``/``fieldref``)."""
    op, arg, cased = pred.op, pred.arg, pred.cased
    if op == "eq":
        want = arg if cased else arg.lower()
        return (lambda s: s == want) if cased else (lambda s: s.lower() == want)
    if op == "like":
        rx = _compile_glob(arg, cased)
        return (lambda s: rx.fullmatch(s) is not None) if cased else (lambda s: rx.fullmatch(s.lower()) is not None)
    if op == "re":
        rx2 = _compile_re(arg)
        return lambda s: rx2.search(s) is not None
    if op == "cidr":
        return lambda s: ip_in_cidr(s, arg)
    if op == "num":
        cmp, value = arg
        return lambda s: _num_cmp(s, cmp, float(value))
    raise ValueError(f"no per-candidate test for op {op!r}")


def _fieldref(a: str, b: str, mode: str, cased: bool) -> bool:
    if not cased:
        a, b = a.lower(), b.lower()
    if mode == "eq":
        return a == b
    if mode == "contains":
        return b in a
    if mode == "startswith":
        return a.startswith(b)
    return a.endswith(b)


Check = Callable[[fields.EventView], bool]


def _compile_leaf(node: Pred) -> Check:
    access = _resolve(node.path)
    cands = fields.candidates
    if node.op == "absent":
        return lambda v: not cands(v, access)
    if node.op == "fieldref":
        other_path, mode = node.arg
        other, cased, neg = _resolve(other_path), node.cased, node.negate_each

        def check_ref(v: fields.EventView) -> bool:
            others = cands(v, other)
            hit = [any(_fieldref(a, b, mode, cased) for b in others) for a in cands(v, access)]
            return any(not h for h in hit) if neg else any(hit)
        return check_ref
    test = leaf_test(node)
    if node.negate_each:
        return lambda v: any(not test(c) for c in cands(v, access))
    return lambda v: any(map(test, cands(v, access)))


@lru_cache(maxsize=4096)
def compile_py(node: Node) -> Check:
    """``node`` as a Python function of an :class:`EventView` (memoised per tree)."""
    if isinstance(node, Pred):
        return _compile_leaf(node)
    if isinstance(node, And):
        parts = [compile_py(i) for i in node.items]
        return lambda v: all(f(v) for f in parts)
    if isinstance(node, Or):
        alts = [compile_py(i) for i in node.items]
        return lambda v: any(f(v) for f in alts)
    if isinstance(node, Not):
        inner = compile_py(node.item)
        return lambda v: not inner(v)
    if isinstance(node, Const):
        value = node.value
        return lambda v: value
    raise TypeError(f"not a predicate node: {node!r}")


def evaluate(node: Node, view: fields.EventView) -> bool:
    """Whether the event in ``view`` satisfies ``node``."""
    return compile_py(node)(view)


def matches(node: Node, event: dict[str, Any] | fields.EventView) -> bool:
    """Convenience: evaluate on a raw event dict or a prepared :class:`EventView`."""
    view = event if isinstance(event, fields.EventView) else fields.EventView(event)
    return evaluate(node, view)
