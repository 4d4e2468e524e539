"""Type-checking and evaluating the metric math of :mod:`pipeline.metricmath.parse` over a
:class:`~pipeline.metricmath.parse.Grid`.

Kinds: ``S`` a scalar (float), ``TS`` a series (float array over the grid, ``NaN`` = no point),
``TSA`` an array of series (list of arrays). :func:`check` decides every node's kind when the
alarm is defined, so an expression that could never give one series is refused then, not at its
first evaluation; :func:`evaluate` then computes values and cannot meet a kind error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import numpy as np

from pipeline.metricmath.parse import CLOCK, ELEMENTWISE, RANGE_DEPENDENT, REDUCERS, Grid, MathError, Node

Value = float | np.ndarray | list[np.ndarray]
S, TS, TSA = "S", "TS", "TSA"

_OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power,
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
    ">=": np.greater_equal,
    "&&": lambda a, b: (a != 0) & (b != 0), "||": lambda a, b: (a != 0) | (b != 0),
}


_ARITH = frozenset("+-*/^")
_REDUCE: dict[str, Callable[..., np.ndarray]] = {
    "SUM": np.nansum, "AVG": np.nanmean, "MIN": np.nanmin, "MAX": np.nanmax, "STDDEV": np.nanstd}


#: functions of one argument of a fixed kind: name → (the kind it takes, the kind it gives)
_TAKES = {"FIRST": (TSA, TS), "LAST": (TSA, TS), "REMOVE_EMPTY": (TSA, TSA), "METRIC_COUNT": (TSA, S),
          "TIME_SERIES": (S, TS)}
_WORDS = {S: "a number", TS: "a series", TSA: "an array of series"}


class _Ctx:
    """One alarm's queries: ``texts`` (Id → expression text) for errors, ``trees`` their syntax."""

    def __init__(self, trees: Mapping[str, Node], texts: Mapping[str, str], metric_ids: list[str]):
        self.trees, self.texts, self.metric_ids = trees, texts, metric_ids
        self.stack: list[str] = []
        self.alarm = True

    def err(self, qid: str, reason: str) -> MathError:
        return MathError(qid, self.texts.get(qid, ""), reason)


# -- kinds ---------------------------------------------------------------------------------------

def check(qid: str, trees: Mapping[str, Node], texts: Mapping[str, str], metric_ids: list[str], *,
          alarm: bool = True) -> str:
    """The kind of expression ``qid`` (``S``, ``TS`` or ``TSA``); :class:`MathError` for an unknown
    Id, a cycle, or a function given a kind it does not take — and, for an ``alarm``, a function
    whose value depends on how many points are fetched."""
    c = _Ctx(trees, texts, metric_ids)
    c.alarm = alarm
    return _kind_of(c, qid)


def _kind_of(c: _Ctx, qid: str) -> str:
    if qid in c.metric_ids:
        return TS
    if qid not in c.trees:
        raise c.err(c.stack[-1] if c.stack else qid, f"unknown query Id {qid!r}")
    if qid in c.stack:
        raise c.err(qid, "the expressions refer to each other in a cycle: " + " → ".join([*c.stack, qid]))
    c.stack.append(qid)
    try:
        return _kind(c, qid, c.trees[qid])
    finally:
        c.stack.pop()


def _kind(c: _Ctx, qid: str, n: Node) -> str:
    tag = n[0]
    if tag == "num":
        return S
    if tag in ("str", "kw"):
        raise c.err(qid, f"{n[1]!r} can only be an argument of " + ("METRICS" if tag == "str" else "FILL"))
    if tag == "ref":
        return _kind_of(c, n[1])
    if tag == "neg":
        return _kind(c, qid, n[1])
    if tag == "bin":
        a, b = _kind(c, qid, n[2]), _kind(c, qid, n[3])
        if a == TSA and b == TSA:
            raise c.err(qid, f"{n[1]} cannot combine two arrays of series")
        return TSA if TSA in (a, b) else TS if TS in (a, b) else S
    name, args = n[1], n[2]
    if name == "METRICS":
        if args and args[0][0] != "str":
            raise c.err(qid, 'METRICS takes a quoted string: METRICS("name")')
        return TSA
    if name == "FILL":
        k = _kind(c, qid, args[0])
        if k == S:
            raise c.err(qid, "FILL needs a series or an array of series")
        if args[1][0] != "kw" and _kind(c, qid, args[1]) == TSA:
            raise c.err(qid, "FILL's value must be a number, a series, REPEAT or LINEAR")
        return k
    kinds = [_kind(c, qid, a) for a in args]
    if name in ELEMENTWISE:
        return kinds[0]
    if name in ("RATE", "DIFF", "DIFF_TIME"):
        if kinds[0] == S:
            raise c.err(qid, f"{name} needs a series")
        return kinds[0]
    if name in REDUCERS:
        if kinds[0] == TSA:
            return TS
        if c.alarm or kinds[0] == S:
            raise c.err(qid, f"{name} of one series is a single number over however many points the alarm "
                             f"fetches — use it on an array, e.g. {name}(METRICS())" if c.alarm else
                        f"{name} needs a series or an array of series")
        return S
    if name in RANGE_DEPENDENT:
        if c.alarm:
            raise c.err(qid, f"{name} depends on how many points the alarm fetches (not accepted in alarms)")
        if kinds[0] != TS:
            raise c.err(qid, f"{name} needs one series")
        return TS if name == "RUNNING_SUM" else S
    if name in _TAKES:
        takes, gives = _TAKES[name]
        if kinds[0] != takes:
            raise c.err(qid, f"{name} needs {_WORDS[takes]}")
        return gives
    if name == "PERIOD":
        if args[0][0] != "ref" or args[0][1] not in c.metric_ids:
            raise c.err(qid, "PERIOD needs the Id of a metric query")
        return S
    if name in CLOCK:
        if kinds[0] == S:
            raise c.err(qid, f"{name} needs a series")
        return kinds[0]
    # IF
    if TSA in kinds:
        raise c.err(qid, "IF works on series and numbers, not arrays of series")
    return TS if TS in kinds else S


# -- values --------------------------------------------------------------------------------------

def evaluate(qid: str, trees: Mapping[str, Node], texts: Mapping[str, str],
             metrics: Mapping[str, np.ndarray], grid: Grid) -> Value:
    """The value of query ``qid`` over ``grid`` from the metric queries' windows ``metrics`` (Id →
    array, in the order of the alarm's ``Metrics``); every expression is evaluated once."""
    ev = _Eval(_Ctx(trees, texts, list(metrics)), metrics, grid)
    return ev.query(qid)


class _Eval:
    def __init__(self, c: _Ctx, metrics: Mapping[str, np.ndarray], grid: Grid):
        self.c, self.metrics, self.grid = c, metrics, grid
        self.done: dict[str, Value] = {}

    def query(self, qid: str) -> Value:
        if qid in self.metrics:
            return self.metrics[qid]
        if qid not in self.done:
            self.done[qid] = self.node(self.c.trees[qid])
        return self.done[qid]

    def node(self, n: Node) -> Value:
        tag = n[0]
        if tag == "num":
            return n[1]
        if tag == "ref":
            return self.query(n[1])
        if tag == "neg":
            return _map(self.node(n[1]), np.negative)
        if tag == "bin":
            return _binary(n[1], self.node(n[2]), self.node(n[3]))
        return self.call(n[1], n[2])

    def call(self, name: str, args: list[Node]) -> Value:
        g = self.grid
        if name == "METRICS":
            part = args[0][1] if args else ""
            return [self.metrics[i] for i in self.metrics if part in i]
        if name == "FILL":
            return _map(self.node(args[0]), lambda a: _fill(a, args[1], self, g))
        if name == "IF":
            return _if(*(self.node(a) for a in args), n=g.n)
        v = self.node(args[0]) if name != "PERIOD" else 0.0
        if name in ELEMENTWISE:
            f = ELEMENTWISE[name]
            return _map(v, lambda a: _clean(f(np.where(a > 0, a, np.nan)) if name.startswith("LOG") else f(a)))
        if name in ("RATE", "DIFF", "DIFF_TIME"):
            return _map(v, lambda a: _previous(a, g, name))
        if name in REDUCERS:
            if isinstance(v, np.ndarray):  # one series: a number over the range (requests only)
                have = v[~np.isnan(v)]
                return float(_REDUCE[name](have)) if len(have) else float("nan")
            return _reduce(name, v, g.n)  # type: ignore[arg-type]
        if name == "DATAPOINT_COUNT":
            return float((~np.isnan(v)).sum())  # type: ignore[operator]
        if name == "RUNNING_SUM":
            return _running_sum(v, g)  # type: ignore[arg-type]
        if name in ("FIRST", "LAST"):
            arr = v if isinstance(v, list) else [v]
            return (arr[0] if name == "FIRST" else arr[-1]) if arr else np.full(g.n, np.nan)  # type: ignore[return-value]
        if name == "REMOVE_EMPTY":
            return [a for a in v if not np.isnan(a).all()]  # type: ignore[union-attr]
        if name == "METRIC_COUNT":
            return float(len(v))  # type: ignore[arg-type]
        if name == "TIME_SERIES":
            return np.full(g.n, float(v))  # type: ignore[arg-type]
        if name == "PERIOD":
            return float(g.period)
        return _clock(name, v, g)  # CLOCK


def _clean(a: np.ndarray) -> np.ndarray:
    """Non-finite results (a division by zero, an overflow, a log of ≤ 0) are dropped points."""
    a = np.asarray(a, dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    return a


def _map(v: Value, f: Callable[[np.ndarray], np.ndarray]) -> Value:
    if isinstance(v, list):
        return [f(a) for a in v]
    if isinstance(v, np.ndarray):
        return f(v)
    out = f(np.array([v], dtype=np.float64))[0]
    return float(out)


def _binary(op: str, a: Value, b: Value) -> Value:
    if isinstance(a, list):
        return [_binary(op, x, b) for x in a]  # type: ignore[misc]
    if isinstance(b, list):
        return [_binary(op, a, y) for y in b]  # type: ignore[misc]
    f = _OPS[op]
    with np.errstate(all="ignore"):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            gone = np.isnan(a) & np.isnan(b)  # missing counts as 0 only beside a real point
            x, y = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
            out = np.asarray(f(x, y), dtype=np.float64)
            out[gone] = np.nan
        else:
            x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            out = np.asarray(f(x, y), dtype=np.float64)
            if op not in _ARITH:  # a comparison or logic keeps a missing point missing
                out = np.where(np.isnan(x) | np.isnan(y), np.nan, out)
        if op == "/":
            out = np.where(np.broadcast_to(y, out.shape) == 0, np.nan, out)
    out = _clean(np.atleast_1d(out))
    return out if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else float(out[0])


def _if(cond: Value, a: Value, b: Value | None = None, *, n: int) -> Value:
    if not isinstance(cond, np.ndarray):
        chosen = a if cond != 0 else b
        return np.full(n, np.nan) if chosen is None else chosen
    full = lambda v, missing: np.full(n, np.nan if v is None else float(v)) if not isinstance(v, np.ndarray) \
        else np.nan_to_num(v, nan=0.0) if missing == 0 else v  # noqa: E731
    yes, no = full(a, 0), full(b, np.nan)
    return np.where(np.isnan(cond), np.nan, np.where(cond != 0, yes, no))


def _phases(g: Grid) -> list[np.ndarray]:
    """The window indexes of each phase (windows one period apart)."""
    return [np.arange(r, g.n, g.lag) for r in range(min(g.lag, g.n))]


def _previous(a: np.ndarray, g: Grid, name: str) -> np.ndarray:
    """RATE / DIFF / DIFF_TIME along each phase, from each point to the previous one it has."""
    out = np.full(len(a), np.nan)
    for idx in _phases(g):
        have = idx[~np.isnan(a[idx])]
        if len(have) < 2:
            continue
        dv = np.diff(a[have])
        dt = np.diff(have).astype(np.float64) * g.step
        out[have[1:]] = dv / dt if name == "RATE" else dv if name == "DIFF" else dt
    return out


def _fill(a: np.ndarray, how: Node, ev: _Eval, g: Grid) -> np.ndarray:
    if how[0] != "kw":
        v = ev.node(how)
        return np.where(np.isnan(a), v, a)
    out = a.copy()
    for idx in _phases(g):
        sub = a[idx]
        have = np.flatnonzero(~np.isnan(sub))
        if not len(have):
            continue
        if how[1] == "REPEAT":  # the last point before, in the same phase; none before the first
            last = np.maximum.accumulate(np.where(np.isnan(sub), -1, np.arange(len(sub))))
            filled = np.where(last >= 0, sub[np.maximum(last, 0)], np.nan)
        else:  # LINEAR: between two points only
            filled = np.interp(np.arange(len(sub)), have, sub[have], left=np.nan, right=np.nan)
        out[idx] = filled
    return out


def _running_sum(a: np.ndarray, g: Grid) -> np.ndarray:
    """The sum of each phase's points so far, at each of its points (a missing point stays missing)."""
    out = np.full(len(a), np.nan)
    for idx in _phases(g):
        sub = a[idx]
        have = ~np.isnan(sub)
        out[idx[have]] = np.cumsum(sub[have])
    return out


def _reduce(name: str, arr: list[np.ndarray], n: int) -> np.ndarray:
    if not arr:
        return np.full(n, np.nan)
    m = np.vstack(arr)
    have = (~np.isnan(m)).any(axis=0)
    out = np.full(n, np.nan)
    if have.any():
        f: Callable[..., np.ndarray] = _REDUCE[name]
        out[have] = f(m[:, have], axis=0)
    return out


def _clock(name: str, v: Value, g: Grid) -> Value:
    starts = g.start + np.arange(g.n) * g.step
    if name == "EPOCH":
        series = starts.astype(np.float64)
    else:
        when = [datetime.fromtimestamp(int(s), UTC) for s in starts]
        pick = {"MINUTE": lambda d: d.minute, "HOUR": lambda d: d.hour, "DAY": lambda d: d.isoweekday(),
                "DATE": lambda d: d.day, "MONTH": lambda d: d.month, "YEAR": lambda d: d.year}[name]
        series = np.array([pick(d) for d in when], dtype=np.float64)
    return [series.copy() for _ in v] if isinstance(v, list) else series
