"""Which series keep percentile sketches in their rollups (``tiers.percentiles``).

By default every series does (``"*"``), as CloudWatch answers pNN for any metric published as
raw values. A sketch at 1 % relative error holds about one entry per distinct value bucket, so
at 1m it is about as large as the raw data itself and costs most of a rollup's time (see
``benchmarks/bench_rollup.py``). Namespaces nobody asks percentiles of can go without:
``tiers.percentiles`` is a comma-separated list of namespace patterns (``*`` any run of
characters, ``?`` one character, matched against the whole namespace, case-sensitive), and
``""`` (or ``none``) keeps no sketches at all (parsed by :func:`pipeline.tierchain.parse_percentiles`).

Guarantees: a row of a series whose namespace matches no pattern has an empty sketch and
``sketch_count = 0``, whatever the engine; its SampleCount/Sum/Minimum/Maximum/Average are
unchanged; a pNN query on it returns no datapoints and says why. Rows already in the lake keep
what they were built with until rebuilt (``watchlake rollup --full``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipeline.tierchain import Patterns

if TYPE_CHECKING:  # pyarrow is imported where it is used: settings validation needs only the patterns
    import pyarrow as pa


def _regex(patterns: tuple[str, ...]) -> str:
    parts = ["".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p) for p in patterns]
    return "^(?:" + "|".join(parts) + ")$"


def kept(namespaces: pa.Array | pa.ChunkedArray, patterns: Patterns) -> pa.Array | pa.ChunkedArray:
    """Per namespace, True when its series keep sketches (a null namespace keeps none)."""
    import pyarrow.compute as pc
    if patterns is None:
        return pc.is_valid(namespaces)
    if not patterns:
        return pc.is_null(pc.is_valid(namespaces))  # all False, same length and chunking
    return pc.fill_null(pc.match_substring_regex(namespaces, _regex(patterns)), False)


def keeps(patterns: Patterns, namespace: str) -> bool:
    """True when series of ``namespace`` keep sketches (:func:`kept` for one name)."""
    if patterns is None or not patterns:
        return patterns is None
    return re.fullmatch(_regex(patterns), namespace) is not None


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
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.rollup.merge import from_numpy
    from pipeline.rollup.schema import empty_sketches

    if patterns is None or rows.num_rows == 0:
        return rows
    keep = kept(rows.column("namespace"), patterns)
    if pc.all(keep).as_py():
        return rows
    keep = keep.combine_chunks() if isinstance(keep, pa.ChunkedArray) else keep
    empty = empty_sketches(rows.num_rows)
    for name, none in (("sketch_bins", empty[0]), ("sketch_bin_counts", empty[1]),
                       ("sketch_count", from_numpy(np.zeros(rows.num_rows)))):  # pa.scalar imports pandas
        i = rows.schema.get_field_index(name)
        rows = rows.set_column(i, rows.field(i), pc.if_else(keep, rows.column(i).combine_chunks(), none))
    return rows
