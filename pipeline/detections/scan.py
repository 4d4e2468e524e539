"""One DuckDB scan that evaluates every rule on the ``cloudtrail`` view: per matching event,
bitmasks of the rules it matches and the columns findings are built from
(:mod:`pipeline.detections.grouping` groups them); per rule, the number of events it matches
(``watchlake rules check --fired``).

Where the time goes (57 SigmaHQ rules, 10 M events, 2 cores; ``benchmarks/bench_detect.py``,
CPU seconds measured piece by piece on the shared machine): reading the 16 columns the rules and
findings read is the bare scan of them (~1.7 s); the prefilter (a hash lookup of the lowered
``eventName`` plus the few rules that require no name, ~0.5 s), the rules on the tenth of the
rows that pass it (~0.7 s) and those rows' ids, times and identity columns (~0.2 s) make this
query ~3.1 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.detections.engine import BASE_PATHS, first_sql, prefilter, time_filter
from pipeline.detections.model import Rule
from pipeline.detections.sql import Compiler, register_functions

if TYPE_CHECKING:
    import duckdb

MASK_BITS = 63
"""Rules per bitmask column (a signed ``BIGINT`` keeps 63 bits clear of the sign)."""


def key_paths(rules: list[Rule]) -> list[str]:
    """Every path some rule groups, counts or dedups by, in column order (``k0``, ``k1`` …)."""
    return sorted({p for r in rules for p in r.key_paths()})


def match_rows_sql(rules: list[Rule], source: str = "cloudtrail", where: str = "true") -> str:
    """One query over ``source`` returning a row per event some rule matches: ``m0, m1 …``
    (bit ``i % 63`` of ``m{i // 63}`` set when rule ``i`` matches), ``eid``, ``t`` (epoch ms),
    ``principal``, ``ip``, ``akey``, ``k0 …`` (:func:`key_paths` other than :data:`BASE_PATHS`,
    which are those columns), in any order (an ``ORDER BY`` that carries every column costs
    more than sorting ``t, eid`` in Arrow afterwards)."""
    lowered: dict[str, str] = {}
    comp = Compiler(lowered)
    preds = [comp.compile(r.predicate) for r in rules]
    masks = [" | ".join(f"CASE WHEN {p} THEN {1 << (i - c)}::BIGINT ELSE 0::BIGINT END"
                        for i, p in enumerate(preds[c:c + MASK_BITS], start=c))
             for c in range(0, len(preds), MASK_BITS)]
    names = [f"m{j}" for j in range(len(masks))]
    packed = ", ".join(f"'{n}': {m}" for n, m in zip(names, masks))
    base = ", ".join(f"{first_sql(p, comp)} AS {a}" for p, a in zip(BASE_PATHS, ("principal", "ip", "akey")))
    keys = "".join(f", {first_sql(p, comp)} AS k{j}" for j, p in enumerate(key_paths(rules)) if p not in BASE_PATHS)
    low = "".join(f", lower({expr}) AS {alias}" for expr, alias in lowered.items())
    # the masks are computed once per row that passes the prefilter, and only the matching rows
    # get their ids, times and keys. The masks come out of an unnest(): DuckDB would otherwise
    # push the filter on them below the projection that computes them, evaluating every rule twice
    return (f"SELECT {', '.join(f'_m.{n} AS {n}' for n in names)}, \"eventID\" AS eid, "
            f"epoch_ms(\"eventTime\") AS t, {base}{keys} "
            f"FROM (SELECT unnest([{{{packed}}}]) AS _m, * FROM (SELECT *{low} FROM {source} "
            f"WHERE ({where}) AND ({prefilter(rules)}))) "
            f"WHERE {' OR '.join(f'_m.{n} <> 0' for n in names)}")


def match_table(con: duckdb.DuckDBPyConnection, rules: list[Rule], source: str = "cloudtrail",
                where: str = "true") -> pa.Table:
    """The rows of :func:`match_rows_sql`, one chunk per column (every ``take`` on a chunked
    column would concatenate its chunks again), with every ``k{j}`` column (a key that is a
    base column shares that column's buffers)."""
    m = con.sql(match_rows_sql(rules, source, where)).to_arrow_table().combine_chunks()
    aliases = dict(zip(BASE_PATHS, ("principal", "ip", "akey")))
    for j, p in enumerate(key_paths(rules)):
        if p in aliases:
            m = m.append_column(f"k{j}", m[aliases[p]])
    return m


def match_counts(con: duckdb.DuckDBPyConnection, rules: list[Rule], start: datetime | None = None,
                 end: datetime | None = None, source: str = "cloudtrail") -> dict[str, int]:
    """Events each rule matches in ``source`` with ``start <= eventTime < end``, by rule id (0
    for a rule that matched nothing; rules sharing an id add up): the bits of one
    :func:`match_rows_sql` scan counted in SQL — the matches
    :func:`~pipeline.detections.engine.match_lake` lists."""
    out = {r.id: 0 for r in rules}
    if not rules:
        return out
    register_functions(con)
    counts = ", ".join(f"count_if((m{i // MASK_BITS} & {1 << (i % MASK_BITS)}::BIGINT) <> 0)"
                       for i in range(len(rules)))
    (row,) = con.sql(f"SELECT {counts} FROM ({match_rows_sql(rules, source, time_filter(start, end))})").fetchall()
    for rule, n in zip(rules, row):
        out[rule.id] += int(n)
    return out
