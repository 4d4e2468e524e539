"""Findings of a retroactive run in bulk: one DuckDB scan evaluates every rule, and the matches
are grouped into findings by array operations — no Python object per match.

1. :func:`~pipeline.detections.scan.match_rows_sql` — one row per event that matches at least
   one rule: bitmasks of the rules it matches (:data:`MASK_BITS` rules per ``BIGINT`` column), eventID, epoch-ms time,
   principal, IP, access key and the first value of every key path; each row's rank in (time,
   eventID) order comes from one Arrow sort.
2. (event, rule) pairs from the bitmasks; per rule, the group of each pair — its dedup key, or a
   counting rule's ``group_by`` key — as an integer code; pairs sorted by (rule, group, time,
   eventID).
3. Windows, with the semantics of :func:`pipeline.detections.findings.build_findings`: a finding
   is a contiguous run of one group's pairs. For every pair ``r`` at once, binary searches give
   the run a finding starting its window at ``r`` would hold, and the pair where the next window
   starts (per-event rules: the first pair at or after the dedup window's end; counting rules: the
   first pair where the count holds, then the dedup window's end). The findings are the pairs
   reachable from each group's first pair through "next", found by pointer doubling (log₂ of the
   longest chain rounds).
4. The ``findings`` rows (:data:`~pipeline.schemas.FINDINGS`) by Arrow ``take``; ``finding_id``
   by DuckDB's ``sha1``, exactly :attr:`Finding.finding_id`.

``match_counts``, ``match_rows_sql``, ``match_table``, ``key_paths`` and ``MASK_BITS`` live in
:mod:`pipeline.detections.scan` and are re-exported here.

Distinct counts (``count(field) …``) take the Python path (:func:`build_findings` on their
matches). Either way the rows equal those the Python engine builds from the same events (tests
compare them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.detections.engine import Match, time_filter
from pipeline.detections.findings import MAX_EVENT_IDS, Finding, build_findings, findings_table, threshold
from pipeline.detections.model import Rule
from pipeline.detections.scan import MASK_BITS, key_paths, match_counts, match_rows_sql, match_table
from pipeline.detections.sql import register_functions
from pipeline.rollup.merge import to_numpy
from pipeline.schemas import FINDINGS, PREFIX
from pipeline.timeutil import utcnow

if TYPE_CHECKING:
    import duckdb

__all__ = ["MASK_BITS", "LakeFindings", "key_paths", "lake_findings", "match_counts", "match_rows_sql",
           "match_table", "vectorised"]

_LIMIT = 1 << 62


def _codes(column: pa.ChunkedArray | pa.Array, dash: bool) -> tuple[np.ndarray, int]:
    """Integer codes of a string column's values and their number; with ``dash`` a null is
    the value ``-`` (as in a dedup key), else a value of its own (as in a group key)."""
    col = pc.fill_null(column, "-") if dash else column
    enc = pc.dictionary_encode(col, null_encoding="encode")
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    idx = to_numpy(enc.indices, np.int64)
    return idx, len(enc.dictionary) + 1


def _group_codes(parts: list[tuple[np.ndarray, int]], n: int) -> np.ndarray:
    """One int64 code per row for the tuple of ``parts`` codes (equal tuples, equal codes)."""
    code = np.zeros(n, np.int64)
    size = 1
    for idx, card in parts:
        if size * card >= _LIMIT:
            _, code = np.unique(np.stack([code, idx]), axis=1, return_inverse=True)
            code = code.astype(np.int64).reshape(-1)
            size = int(code.max()) + 1 if n else 1
        code = code * card + idx
        size *= card
    return code


def _reach(nxt: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """The nodes reachable from ``heads`` through ``nxt`` (``nxt[i] > i``; ``len(nxt)`` means
    none), sorted: pointer doubling — after round k the set holds every node fewer than 2ᵏ steps
    from a head."""
    n = len(nxt)
    jump = np.append(nxt, n)
    reached = heads
    while True:
        step = jump[reached]
        step = step[step < n]
        if not len(step):
            return np.sort(reached)
        reached = np.concatenate([reached, step])
        jump = jump[jump]


@dataclass
class _Pairs:
    """(event, rule) pairs sorted by (rule, group, time, eventID); ``seg`` numbers the groups."""

    row: np.ndarray
    rule: np.ndarray
    seg_start: np.ndarray  # per pair: index of its group's first pair
    seg_end: np.ndarray    # per pair: one past its group's last pair
    heads: np.ndarray      # first pair of every group
    comp: list[tuple[int, int, np.ndarray]]  # (lo, hi, monotone times) per chunk of groups


def _windows(p: _Pairs, rules: list[Rule]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair ``r``: whether a window starting at ``r`` makes a finding, the finding's first
    and one-past-last pair, and (in ``nxt``) the pair where the group's next window starts
    (``len`` when none). Chunks keep ``group · stride + time`` within int64."""
    n = len(p.row)
    idx = np.arange(n)
    dedup = np.array([r.dedup_window * 1000 for r in rules], np.int64)[p.rule]
    counting = np.array([r.aggregation is not None for r in rules])[p.rule]
    span = np.array([r.aggregation.timeframe * 1000 if r.aggregation else 0 for r in rules], np.int64)[p.rule]
    need = np.array([_need(r) for r in rules], np.int64)[p.rule]
    lo, reach = np.empty(n, np.int64), np.empty(n, np.int64)
    for a, b, comp in p.comp:  # binary searches within each chunk of whole groups
        lo[a:b] = a + np.searchsorted(comp, comp - span[a:b], "left")
        reach[a:b] = a + np.searchsorted(comp, comp + dedup[a:b], "left")
    # counting rules: the first pair j ≥ r + need − 1 whose timeframe holds ≥ need pairs fires
    valid = np.where(idx - lo + 1 >= need, idx, n)
    next_valid = np.append(np.minimum.accumulate(valid[::-1])[::-1], n)
    ahead = idx + need - 1
    fire = next_valid[np.minimum(ahead, n)]
    counted = counting & (ahead < p.seg_end) & (fire < p.seg_end)
    fire = np.minimum(fire, n - 1)
    first = np.where(counting, np.maximum(idx, lo[fire]), idx)
    for a, b, comp in p.comp:  # the window ends at the first event's time + the dedup window
        local = np.clip(first[a:b] - a, 0, b - a - 1)
        ends = a + np.searchsorted(comp, comp[local] + dedup[a:b], "left")
        reach[a:b] = np.where(counting[a:b], ends, reach[a:b])
    end = np.minimum(np.maximum(reach, np.where(counting, fire, idx) + 1), p.seg_end)
    exists = ~counting | counted
    nxt = np.where(exists & (end < p.seg_end), end, n)
    return exists, first, np.stack([end, nxt])


_NEVER = 1 << 40
"""A count no window reaches: the ``need`` of a condition no count satisfies."""


def _need(rule: Rule) -> int:
    """Pairs a counting window must hold to fire, ≥ 1, or :data:`_NEVER`. The count is checked
    as each match joins the window, and grows by one at a time from 1, so the condition first
    holds at: ``> v`` ⌊v⌋ + 1; ``>= v`` ⌈v⌉; ``= v`` v itself when v is a whole number ≥ 1 (a
    count cannot pass v without equalling it), never otherwise; ``< v`` and ``<= v`` the first
    match (a count of 1) when 1 satisfies them, never otherwise."""
    agg = rule.aggregation
    if agg is None:
        return 1
    v = agg.value
    if agg.op in (">", ">="):
        return max(1, math.floor(v) + 1 if agg.op == ">" else math.ceil(v))
    if agg.op in ("=", "=="):
        return int(v) if v >= 1 and v == int(v) else _NEVER
    return 1 if agg.holds(1) else _NEVER


def vectorised(rule: Rule) -> bool:
    """Whether :func:`lake_findings` groups ``rule``'s matches in bulk (else :func:`build_findings`):
    every rule but distinct counts (``count(field)``)."""
    agg = rule.aggregation
    return agg is None or (agg.field is None and agg.op in (">", ">=", "<", "<=", "=", "=="))


class LakeFindings:
    """The findings of one scan: :meth:`table` (the rows to write) and :meth:`findings` (objects,
    built on demand). ``match_count`` is the number of (event, rule) matches."""

    def __init__(self, rules: list[Rule], matches: pa.Table, pairs: _Pairs | None,
                 spans: np.ndarray, python: list[Finding], con: duckdb.DuckDBPyConnection) -> None:
        self.rules, self._m, self._pairs, self._spans = rules, matches, pairs, spans
        self._python, self._con = python, con
        self.match_count = 0 if pairs is None else len(pairs.row)

    def __len__(self) -> int:
        return len(self._spans[0]) + len(self._python)

    def _first_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self._pairs is not None
        fa, fb = self._spans
        return self._pairs.rule[fa], self._pairs.row[fa], self._pairs.row[fb - 1]

    def _dedup_keys(self, rule_of: np.ndarray, first: np.ndarray) -> pa.Array:
        """Per finding, ``path=value, …`` over its rule's ``dedup_by`` at its first event (a
        missing value is ``-``), as :func:`pipeline.detections.findings._dedup_key` spells it."""
        paths = key_paths(self.rules)
        keys: list[pa.Array] = []
        sels: list[np.ndarray] = []
        for i in np.unique(rule_of):
            sel = np.flatnonzero(rule_of == i)
            rows = pa.array(first[sel])
            parts = [pc.binary_join_element_wise(f"{p}=", pc.fill_null(self._m[f"k{paths.index(p)}"].take(rows), "-"),
                                                 "") for p in self.rules[i].dedup_by]
            key = (pc.binary_join_element_wise(*parts, ", ") if len(parts) > 1 else parts[0]) if parts \
                else pa.array([""] * len(sel), pa.string())
            keys.append(key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key)
            sels.append(sel)
        return pa.concat_arrays(keys).take(pa.array(np.argsort(np.concatenate(sels), kind="stable")))

    def table(self, engine: str, now: datetime | None = None) -> pa.Table:
        """The ``findings`` rows, ordered by (time, rule id, first eventID) like :func:`findings_for`."""
        stamp = now or utcnow()
        parts = [findings_table(self._python, engine, stamp)]
        if self._pairs is not None and len(self._spans[0]):
            parts.append(self._bulk_table(engine, stamp))
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        first_id = pc.list_element(table["event_ids"], 0)
        order = pc.sort_indices(pa.table({"t": table["time"], "r": table["rule_id"], "e": first_id}),
                                [("t", "ascending"), ("r", "ascending"), ("e", "ascending")])
        return table.take(order)

    def _bulk_table(self, engine: str, stamp: datetime) -> pa.Table:
        assert self._pairs is not None
        fa, fb = self._spans
        rule_of, first, last = self._first_rows()
        lengths = fb - fa
        listed = np.minimum(lengths, MAX_EVENT_IDS)  # a finding lists its first MAX_EVENT_IDS ids
        offsets = np.zeros(len(fa) + 1, np.int32)
        np.cumsum(listed, out=offsets[1:])
        pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], listed) + np.repeat(fa, listed)
        eids = self._m["eid"].combine_chunks().take(pa.array(self._pairs.row[pos]))
        ids = pa.ListArray.from_arrays(pa.array(offsets), eids)
        t = to_numpy(self._m["t"], np.int64)
        rules = self.rules
        ri = pa.array(rule_of)

        def per_rule(values: list[Any], typ: pa.DataType) -> pa.Array:
            return pa.array(values, typ).take(ri)

        def ts(ms: np.ndarray) -> pa.Array:
            return pa.array(ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))

        window = np.array([r.dedup_window for r in rules], np.int64)[rule_of]
        dedup = self._dedup_keys(rule_of, first)
        rule_ids = per_rule([r.id for r in rules], pa.string())
        first_rows = pa.array(first)
        cols: dict[str, Any] = {
            "finding_id": self._finding_ids(rule_ids, dedup, pc.list_element(ids, 0)),
            "rule_id": rule_ids, "rule_kind": per_rule([r.kind for r in rules], pa.string()),
            "title": per_rule([r.title for r in rules], pa.string()),
            "level": per_rule([r.level for r in rules], pa.string()),
            "mitre": per_rule([r.mitre for r in rules], pa.list_(pa.string())),
            "time": ts(t[first]), "last_time": ts(t[last]),
            "principal": self._m["principal"].take(first_rows), "source_ip": self._m["ip"].take(first_rows),
            "access_key": self._m["akey"].take(first_rows), "event_ids": ids,
            "event_count": pa.array(lengths, pa.int64()), "dedup_key": dedup,
            "dedup_window_s": pa.array(window), "window_start": ts(t[first]),
            "window_end": ts(t[first] + window * 1000),
            "threshold": per_rule([threshold(r) for r in rules], pa.int64()),
            "condition": per_rule([r.aggregation.describe() if r.aggregation else "" for r in rules], pa.string()),
            f"{PREFIX}detected_at": pa.array([stamp] * len(fa), pa.timestamp("ms", tz="UTC")),
            f"{PREFIX}engine": pa.array([engine] * len(fa), pa.string()),
        }
        return pa.table(cols).cast(FINDINGS)

    def _finding_ids(self, rule_ids: pa.Array, dedup: pa.Array, first_ids: pa.Array) -> pa.Array:
        """``sha1(rule id ␟ dedup key ␟ first eventID)[:20]`` (:attr:`Finding.finding_id`) in DuckDB."""
        parts = pa.table({"r": rule_ids, "k": dedup, "e": pc.fill_null(pc.cast(first_ids, pa.string()), "None")})
        rel = self._con.from_arrow(parts)
        out = rel.project("left(sha1(r || chr(31) || k || chr(31) || e), 20) AS id").to_arrow_table()
        return out["id"].combine_chunks()

    def findings(self) -> list[Finding]:
        """Every finding as an object, ordered like :meth:`table` (builds one :class:`Match` per
        finding, for its first event; use :meth:`table` for bulk work)."""
        out = list(self._python)
        if self._pairs is not None and len(self._spans[0]):
            rule_of, first, last = self._first_rows()
            tbl = self._bulk_table("", utcnow())
            keys = key_paths(self.rules)
            key_cols = [self._m[f"k{j}"].take(pa.array(first)).to_pylist() for j in range(len(keys))]
            col = {p: j for j, p in enumerate(keys)}
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            t = to_numpy(self._m["t"], np.int64)
            for n, (i, ids, count, dk, pr, ip, ak) in enumerate(zip(
                    rule_of.tolist(), tbl["event_ids"].to_pylist(), tbl["event_count"].to_pylist(),
                    tbl["dedup_key"].to_pylist(), tbl["principal"].to_pylist(), tbl["source_ip"].to_pylist(),
                    tbl["access_key"].to_pylist())):
                rule = self.rules[i]
                when = epoch + timedelta(milliseconds=int(t[first[n]]))
                m = Match(rule.id, ids[0], when, pr, ip, ak, tuple(key_cols[col[p]][n] for p in rule.key_paths()))
                out.append(Finding(rule, dk, m, ids, epoch + timedelta(milliseconds=int(t[last[n]])), count))
        return sorted(out, key=lambda f: (f.first.time, f.rule.id, f.first.event_id))


def _rule_rows(m: pa.Table, n_rules: int, by_time: np.ndarray, which: list[int]) -> list[tuple[int, np.ndarray]]:
    """Per rule index in ``which``, the rows of ``m`` it matches in time order (``by_time``:
    the rows in time order)."""
    masks = [to_numpy(m[f"m{j}"], np.int64)[by_time] for j in range(-(-n_rules // MASK_BITS))]
    return [(i, by_time[np.flatnonzero(masks[i // MASK_BITS] & np.int64(1 << (i % MASK_BITS)))]) for i in which]


def _pairs(m: pa.Table, rules: list[Rule], bulk: list[int]) -> _Pairs:
    """The pairs of the rules at indexes ``bulk`` (see :class:`_Pairs`)."""
    by_time = to_numpy(pc.sort_indices(pa.table({"t": m["t"], "e": m["eid"]}),
                                       sort_keys=[("t", "ascending"), ("e", "ascending")]), np.int64)
    paths = key_paths(rules)
    dash: dict[int, tuple[np.ndarray, int]] = {}
    null: dict[int, tuple[np.ndarray, int]] = {}
    rows, rule, group = [], [], []
    for i, r in _rule_rows(m, len(rules), by_time, bulk):
        agg = rules[i].aggregation
        by, cache = (agg.group_by, null) if agg else (rules[i].dedup_by, dash)
        parts = []
        for p in by:
            j = paths.index(p)
            if j not in cache:
                cache[j] = _codes(m[f"k{j}"], dash=agg is None)
            parts.append((cache[j][0][r], cache[j][1]))
        code = _group_codes(parts, len(r))
        order = np.argsort(code, kind="stable")  # by group, time order kept within each
        rows.append(r[order])
        rule.append(np.full(len(r), i, np.int64))
        group.append(code[order])
    row, rl, grp = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (rows, rule, group))
    n = len(row)
    new = np.ones(n, bool)
    new[1:] = (rl[1:] != rl[:-1]) | (grp[1:] != grp[:-1])
    heads = np.flatnonzero(new)
    seg = np.cumsum(new) - 1
    seg_start = heads[seg]
    seg_end = np.append(heads[1:], n)[seg]
    t = to_numpy(m["t"], np.int64)[row]
    rel = t - t[seg_start]
    reach = max([r.dedup_window for r in rules] + [r.aggregation.timeframe for r in rules if r.aggregation]) * 1000
    stride = int(rel.max(initial=0)) + reach + 1
    per_chunk = max(1, _LIMIT // stride)
    comp = []
    for s0 in range(0, len(heads), per_chunk):  # one chunk unless the data spans centuries
        a, b = int(heads[s0]), int(heads[s0 + per_chunk]) if s0 + per_chunk < len(heads) else n
        comp.append((a, b, (seg[a:b] - seg[a]) * stride + rel[a:b]))
    return _Pairs(row, rl, seg_start, seg_end, heads, comp)


def lake_findings(con: duckdb.DuckDBPyConnection, rules: list[Rule], start: datetime | None = None,
                  end: datetime | None = None, source: str = "cloudtrail") -> LakeFindings:
    """Every finding of ``rules`` over ``source`` with ``start <= eventTime < end`` (see the
    module docstring); the same findings :func:`findings_for` builds from :func:`match_lake`."""
    register_functions(con)
    if not rules:
        return LakeFindings(rules, pa.table({}), None, np.zeros((2, 0), np.int64), [], con)
    m = match_table(con, rules, source, time_filter(start, end))
    bulk = [i for i, r in enumerate(rules) if vectorised(r)]
    pairs = _pairs(m, rules, bulk)
    python = _python_findings(m, rules, [i for i in range(len(rules)) if i not in set(bulk)])
    exists, first, ends = _windows(pairs, rules) \
        if len(pairs.row) else (np.zeros(0, bool), np.zeros(0, np.int64), np.zeros((2, 0), np.int64))
    starts = _reach(ends[1], pairs.heads)
    starts = starts[exists[starts]]
    fa, fb = first[starts], ends[0][starts]
    per_event = np.array([r.aggregation is None for r in rules])[pairs.rule[fa]] if len(fa) else np.zeros(0, bool)
    need = np.array([r.threshold for r in rules], np.int64)[pairs.rule[fa]] if len(fa) else np.zeros(0, np.int64)
    keep = ~per_event | (fb - fa >= need)
    found = LakeFindings(rules, m, pairs, np.stack([fa[keep], fb[keep]]), python, con)
    found.match_count += _python_matches(m, rules, bulk)
    return found


def _python_matches(m: pa.Table, rules: list[Rule], bulk: list[int]) -> int:
    masks = [to_numpy(m[f"m{j}"], np.int64) for j in range(-(-len(rules) // MASK_BITS))]
    return sum(int(np.count_nonzero(masks[i // MASK_BITS] & np.int64(1 << (i % MASK_BITS))))
               for i in range(len(rules)) if i not in set(bulk))


def _python_findings(m: pa.Table, rules: list[Rule], which: list[int]) -> list[Finding]:
    """:func:`build_findings` for the rules at ``which`` from their rows of the match table."""
    if not which:
        return []
    masks = [to_numpy(m[f"m{j}"], np.int64) for j in range(-(-len(rules) // MASK_BITS))]
    paths = key_paths(rules)
    cols = {c: m[c].to_pylist() for c in ("eid", "t", "principal", "ip", "akey")}
    keys = {p: m[f"k{j}"].to_pylist() for j, p in enumerate(paths)}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    out: list[Finding] = []
    for i in which:
        rule = rules[i]
        rows = np.flatnonzero(masks[i // MASK_BITS] & np.int64(1 << (i % MASK_BITS))).tolist()
        matches = [Match(rule.id, cols["eid"][n], epoch + timedelta(milliseconds=cols["t"][n]), cols["principal"][n],
                         cols["ip"][n], cols["akey"][n], tuple(keys[p][n] for p in rule.key_paths())) for n in rows]
        out += build_findings(rule, matches)
    return out
