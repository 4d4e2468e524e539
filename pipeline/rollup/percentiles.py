"""Which series keep percentile sketches in their rollups (``tiers.percentiles``).

By default every series does (``"*"``), as CloudWatch answers pNN for any metric published as
raw values. A sketch at 1 % relative error holds about one entry per distinct value bucket, so
at 1m it is about as large as the raw data itself and costs most of a rollup's time (see
``benchmarks/bench_rollup.py``). Namespaces nobody asks percentiles of can go without:
``tiers.percentiles`` is a comma-separated list of namespace patterns (``*`` any run of
characters, ``?`` one character, matched against the whole namespace, case-sensitive), and
``""`` (or ``none``) keeps no sketches at all.

Guarantees: a row of a series whose namespace matches no pattern has an empty sketch and
``sketch_count = 0``, whatever the engine; its SampleCount/Sum/Minimum/Maximum/Average are
unchanged; a pNN query on it returns no datapoints and says why. Rows already in the lake keep
what they were built with until rebuilt (``watchlake rollup --full``).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import ConfigError

Patterns = tuple[str, ...] | None
"""``None``: every namespace keeps sketches; ``()``: none does; else the namespace patterns."""


def parse(text: str, *, key: str = "tiers.percentiles") -> Patterns:
    """The patterns of a ``tiers.percentiles`` value (raises :class:`ConfigError` on a bad one)."""
    items = [p.strip() for p in text.split(",")]
    if [p for p in items if p] == [] or text.strip().lower() == "none":
        return ()
    if any(not p for p in items):
        raise ConfigError(key, "empty pattern in the comma-separated list", text)
    if "*" in items:
        return None
    return tuple(items)


def _regex(patterns: tuple[str, ...]) -> str:
    parts = ["".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p) for p in patterns]
    return "^(?:" + "|".join(parts) + ")$"


def keeps(patterns: Patterns, namespace: str) -> bool:
    """True when series of ``namespace`` keep sketches."""
    if patterns is None:
        return True
    return bool(patterns) and re.match(_regex(patterns), namespace) is not None


def sql_condition(patterns: Patterns, column: str = "namespace") -> str:
    """A DuckDB SQL condition on ``column``, true where sketches are kept."""
    if patterns is None:
        return "TRUE"
    if not patterns:
        return "FALSE"
    return f"regexp_full_match({column}, '{_regex(patterns).replace(chr(39), chr(39) * 2)}')"


def strip(rows: pa.Table, patterns: Patterns) -> pa.Table:
    """``rows`` (rollup schema) with empty sketches and ``sketch_count = 0`` wherever the
    namespace keeps none; the same table when every row keeps its sketch."""
    if patterns is None or rows.num_rows == 0:
        return rows
    if patterns:
        kept = pc.match_substring_regex(rows.column("namespace"), _regex(patterns))
        kept = pc.fill_null(kept, False)
        if pc.all(kept).as_py():
            return rows
    else:
        kept = pa.array([False] * rows.num_rows)
    i_sk, i_n = rows.schema.get_field_index("sketch"), rows.schema.get_field_index("sketch_count")
    sketch = rows.column(i_sk)
    empty = pa.array([[]] * rows.num_rows, sketch.type)
    zero = pa.array([0.0] * rows.num_rows, pa.float64())
    rows = rows.set_column(i_sk, rows.field(i_sk), pc.if_else(kept, sketch.combine_chunks(), empty))
    return rows.set_column(i_n, rows.field(i_n), pc.if_else(kept, rows.column(i_n).combine_chunks(), zero))
