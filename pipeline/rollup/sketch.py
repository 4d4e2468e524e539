"""A mergeable quantile sketch (DDSketch-style logarithmic bins) with relative accuracy α = 1 %.

A value ``v`` falls into the bin with index

* ``0`` for ``v = 0``;
* ``key(v) + OFFSET`` for ``v > 0`` and ``−(key(|v|) + OFFSET)`` for ``v < 0``, where
  ``key(v) = ceil(ln|v| / ln γ)``, ``γ = (1 + α) / (1 − α)`` and ``OFFSET = 2¹⁶`` (``|key|`` is at
  most 37,300 for every finite float64, subnormals included).

So bins are fixed (the same log ranges for every series and tier) and **ascending bin index means
ascending value**, negatives and zero included. Positive bin ``key + OFFSET`` covers
``(γ^(key-1), γ^key]`` and is represented by ``2·γ^key / (γ + 1)``, within relative error α of
every value in it. A sketch is stored columnar, as two parallel lists per row
(:data:`pipeline.rollup.schema.ROLLUP`): ``sketch_bins`` (``int32``, strictly ascending) and
``sketch_bin_counts`` (``float64``, > 0). Merging two sketches adds the counts of equal bins, so
merging is exact, associative and commutative: a 1h sketch built from twelve 5m sketches is
*identical* to the one built from the raw values. The engines merge them with vectorised
numpy/Arrow operations (:mod:`pipeline.rollup.merge`), never per bucket in Python.

Quantile definition (documented because CloudWatch does not document its own): ``pNN`` is the
value of rank ``floor(q · (n − 1))`` (0-based) among the ``n`` samples in ascending order (the
"lower" nearest-rank quantile, numpy ``method="lower"``), estimated from its bin and clamped
to the bucket's exact ``[Minimum, Maximum]``. **Guarantee:** ``|estimate − exact| ≤ α · |exact|``
for every q, at every tier, for positive, negative and zero values.

The same bin formula is used in SQL (:func:`sql_bin`) by the DuckDB and Flink engines, so the
engines agree bin for bin (up to the last bit of ``ln`` at exact bin boundaries, which moves a
value to a neighbouring bin and stays within the same error bound).

>>> s = Sketch.from_values([1.0, 2.0, 3.0, 4.0, 100.0])
>>> round(s.quantile(0.5), 2), s.quantile(1.0) == s.quantile(1.0)
(3.01, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

ALPHA = 0.01
"""Relative accuracy of every quantile estimate."""
GAMMA = (1.0 + ALPHA) / (1.0 - ALPHA)
INV_LN_GAMMA = 1.0 / math.log(GAMMA)
OFFSET = 1 << 16
"""Added to a key so that every non-zero bin index is ≥ 1 in magnitude (keys are within ±37,300)."""

Entry = tuple[int, float]
"""``(bin, count)``."""


def bin_of(value: float) -> int:
    """The bin index of ``value`` (finite)."""
    if value == 0:
        return 0
    b = math.ceil(math.log(abs(value)) * INV_LN_GAMMA) + OFFSET
    return b if value > 0 else -b


def bin_value(b: int) -> float:
    """The representative value of bin ``b`` (within α of every value in it)."""
    if b == 0:
        return 0.0
    v = 2.0 * GAMMA ** (abs(b) - OFFSET) / (GAMMA + 1.0)
    return v if b > 0 else -v


def sql_bin(value_sql: str) -> str:
    """SQL (DuckDB and Flink) for the bin index of ``value_sql``, an ``INTEGER``."""
    key = f"CAST(CEIL(LN(ABS({value_sql})) * {INV_LN_GAMMA!r}) AS INTEGER) + {OFFSET}"
    return (f"CASE WHEN {value_sql} > 0 THEN {key} WHEN {value_sql} < 0 THEN -({key}) "
            f"ELSE 0 END")


def sql_bin_value(bin_sql: str) -> str:
    """DuckDB SQL for the representative value of bin ``bin_sql`` (:func:`bin_value`)."""
    return (f"sign({bin_sql}) * 2.0 * pow({GAMMA!r}, abs({bin_sql}) - {OFFSET}) / {GAMMA + 1.0!r}")


@dataclass
class Sketch:
    """An in-memory sketch: bin counts plus the exact count, min and max.

    The reference implementation, used in tests and for small merges in Python; the engines do
    the same arithmetic with SQL and numpy.
    """

    counts: dict[int, float] = field(default_factory=dict)
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def from_values(cls, values: Iterable[float], counts: Iterable[float] | None = None) -> Sketch:
        s = cls()
        if counts is None:
            for v in values:
                s.add(v)
        else:
            for v, c in zip(values, counts, strict=True):
                s.add(v, c)
        return s

    def add(self, value: float, count: float = 1.0) -> None:
        b = bin_of(value)
        self.counts[b] = self.counts.get(b, 0.0) + count
        self.min, self.max = min(self.min, value), max(self.max, value)

    def merge(self, other: Sketch) -> Sketch:
        """A new sketch holding both (exact: bin counts add)."""
        out = Sketch(dict(self.counts), min(self.min, other.min), max(self.max, other.max))
        for b, c in other.counts.items():
            out.counts[b] = out.counts.get(b, 0.0) + c
        return out

    @property
    def count(self) -> float:
        return sum(self.counts.values())

    def entries(self) -> list[Entry]:
        """``(bin, count)`` in ascending bin order, as stored in the rollup tables."""
        return sorted(self.counts.items())

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0 ≤ q ≤ 1) under the definition in the module docstring."""
        return quantile(self.entries(), q, self.min, self.max)


def quantile(entries: Iterable[Entry], q: float, lo: float | None = None,
             hi: float | None = None) -> float:
    """Quantile of a sketch given as ``(bin, count)`` entries (any order; equal bins may repeat);
    ``lo``/``hi`` (exact min/max) clamp the estimate.

    Raises:
        ValueError: q outside [0, 1] or an empty sketch.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q!r} is outside [0, 1]")
    if q == 0.0 and lo is not None and math.isfinite(lo):
        return lo
    if q == 1.0 and hi is not None and math.isfinite(hi):
        return hi
    items = sorted(entries)
    total = sum(c for _, c in items)
    if total <= 0:
        raise ValueError("empty sketch")
    rank = math.floor(q * (total - 1))
    cum = 0.0
    chosen = items[-1][0]
    for b, c in items:
        cum += c
        if cum > rank:
            chosen = b
            break
    v = bin_value(chosen)
    if lo is not None and math.isfinite(lo):
        v = max(v, lo)
    if hi is not None and math.isfinite(hi):
        v = min(v, hi)
    return v
