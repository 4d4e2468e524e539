"""A mergeable quantile sketch (DDSketch-style logarithmic buckets) with relative accuracy α = 1 %.

A value ``v`` falls into the bucket ``(sign(v), key(v))`` with
``key(v) = ceil(ln|v| / ln γ)``, ``γ = (1 + α) / (1 − α)``; zero has its own bucket
``(0, 0)``. Bucket ``k`` covers ``(γ^(k-1), γ^k]`` and is represented by
``2·γ^k / (γ + 1)``, which is within relative error α of every value in it. A sketch is the list
of ``(sign, key, count)`` entries; merging two sketches adds the counts of equal buckets, so
merging is exact, associative and commutative: a 1h sketch built from twelve 5m sketches is
*identical* to the one built from the raw values.

Quantile definition (documented because CloudWatch does not document its own): ``pNN`` is the
value of rank ``floor(q · (n − 1))`` (0-based) among the ``n`` samples in ascending order (the
"lower" nearest-rank quantile, numpy ``method="lower"``), estimated from its bucket and clamped
to the bucket's exact ``[Minimum, Maximum]``. **Guarantee:** ``|estimate − exact| ≤ α · |exact|``
for every q, at every tier, for positive, negative and zero values.

The same bucket formula is used in SQL (:func:`sql_key`) by the DuckDB and Flink engines, so
the engines agree bucket for bucket (up to the last bit of ``ln`` at exact bucket boundaries,
which moves a value to a neighbouring bucket and stays within the same error bound).

>>> s = Sketch.from_values([1.0, 2.0, 3.0, 4.0, 100.0])
>>> round(s.quantile(0.5), 2), s.quantile(1.0) == s.quantile(1.0)
(3.01, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ALPHA = 0.01
"""Relative accuracy of every quantile estimate."""
GAMMA = (1.0 + ALPHA) / (1.0 - ALPHA)
INV_LN_GAMMA = 1.0 / math.log(GAMMA)

Entry = tuple[int, int, float]
"""``(sign, key, count)``: sign is -1, 0 or 1."""


def bucket_of(value: float) -> tuple[int, int]:
    """``(sign, key)`` of the bucket holding ``value`` (finite)."""
    if value == 0:
        return 0, 0
    return (1 if value > 0 else -1), math.ceil(math.log(abs(value)) * INV_LN_GAMMA)


def bucket_value(sign: int, key: int) -> float:
    """The representative value of a bucket (within α of every value in it)."""
    if sign == 0:
        return 0.0
    return sign * 2.0 * GAMMA ** key / (GAMMA + 1.0)


def order(sign: int, key: int) -> tuple[int, int]:
    """A sort key that orders buckets by the values they hold: negatives (largest key
    first), zero, positives (smallest key first); SQL: ``ORDER BY sign, sign * key``."""
    return sign, sign * key


def sql_key(value_sql: str) -> str:
    """SQL (DuckDB and Flink) for the bucket key of ``value_sql`` (0 for zero)."""
    return (f"CASE WHEN {value_sql} = 0 THEN 0 ELSE "
            f"CAST(CEIL(LN(ABS({value_sql})) * {INV_LN_GAMMA!r}) AS INTEGER) END")


def sql_sign(value_sql: str) -> str:
    """SQL for the bucket sign of ``value_sql`` as a small integer."""
    return f"CAST(CASE WHEN {value_sql} > 0 THEN 1 WHEN {value_sql} < 0 THEN -1 ELSE 0 END AS TINYINT)"


@dataclass
class Sketch:
    """An in-memory sketch: bucket counts plus the exact count, min and max.

    Used as the reference implementation in tests and for small merges in Python; the engines
    do the same arithmetic in SQL.
    """

    counts: dict[tuple[int, int], float] = field(default_factory=dict)
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def from_values(cls, values: Iterable[float], counts: Iterable[float] | None = None) -> Sketch:
        s = cls()
        cs = counts if counts is not None else None
        if cs is None:
            for v in values:
                s.add(v)
        else:
            for v, c in zip(values, cs, strict=True):
                s.add(v, c)
        return s

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], lo: float | None = None,
                     hi: float | None = None) -> Sketch:
        s = cls()
        for sign, key, count in entries:
            s.counts[(sign, key)] = s.counts.get((sign, key), 0.0) + count
        s.min = lo if lo is not None else math.inf
        s.max = hi if hi is not None else -math.inf
        return s

    def add(self, value: float, count: float = 1.0) -> None:
        b = bucket_of(value)
        self.counts[b] = self.counts.get(b, 0.0) + count
        self.min, self.max = min(self.min, value), max(self.max, value)

    def merge(self, other: Sketch) -> Sketch:
        """A new sketch holding both (exact: bucket counts add)."""
        out = Sketch(dict(self.counts), min(self.min, other.min), max(self.max, other.max))
        for b, c in other.counts.items():
            out.counts[b] = out.counts.get(b, 0.0) + c
        return out

    @property
    def count(self) -> float:
        return sum(self.counts.values())

    def entries(self) -> list[Entry]:
        """Entries sorted by ``(sign, key)``, as stored in the rollup tables."""
        return [(s, k, c) for (s, k), c in sorted(self.counts.items())]

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0 ≤ q ≤ 1) under the definition in the module docstring."""
        return quantile(self.entries(), q, self.min, self.max)


def _ascending(entries: Iterable[Entry]) -> Iterator[Entry]:
    return iter(sorted(entries, key=lambda e: order(e[0], e[1])))


def quantile(entries: Iterable[Entry], q: float, lo: float | None = None,
             hi: float | None = None) -> float:
    """Quantile of a sketch given as entries; ``lo``/``hi`` (exact min/max) clamp the estimate.

    Raises:
        ValueError: q outside [0, 1] or an empty sketch.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q!r} is outside [0, 1]")
    if q == 0.0 and lo is not None and math.isfinite(lo):
        return lo
    if q == 1.0 and hi is not None and math.isfinite(hi):
        return hi
    items = list(_ascending(entries))
    total = sum(c for _, _, c in items)
    if total <= 0:
        raise ValueError("empty sketch")
    rank = math.floor(q * (total - 1))
    cum = 0.0
    chosen = items[-1]
    for e in items:
        cum += e[2]
        if cum > rank:
            chosen = e
            break
    v = bucket_value(chosen[0], chosen[1])
    if lo is not None and math.isfinite(lo):
        v = max(v, lo)
    if hi is not None and math.isfinite(hi):
        v = min(v, hi)
    return v
