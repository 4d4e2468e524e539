"""Judges of :mod:`benchmarks.nab_levers` computed on demand from a recording's values (memoised in
the :class:`~benchmarks.nab_levers.Components`, so ``--cache`` keeps them): the ART judge, the
CAD OSE-style judges, and the default's two sequence judges apart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.nab_eval import BAGLESS

if TYPE_CHECKING:
    from benchmarks.nab_levers import Components


def _rows(c: Components) -> list[int] | np.ndarray:
    """The rows with a value, in the streaming order."""
    return np.flatnonzero(c.present) if c.order is None else [i for i in c.order if c.present[i]]


def art_raw(c: Components, params: dict[str, Any] | None = None) -> np.ndarray:
    """The ART judge's confidence per row of ``c`` (NaN where it does not judge), the present
    values streamed in order through one :class:`~pipeline.anomaly.art.ArtJudge` (memoised;
    ``probation="file"``: ARTime's own probation, 15 % of the file's rows, at most 750 — it needs
    the length in advance, so it is a reference, not a streaming option; ``range="file"``: the
    file's minimum and maximum given in advance, as NAB gives them to ARTime — also a reference)."""
    from pipeline.anomaly.art import art_scores

    key = repr(sorted((params or {}).items()))
    if key not in c.art:
        assert c.x is not None
        rows = _rows(c)
        kw = dict(params or {})
        if kw.get("probation") == "file":  # ARTime's own rule; needs the length: a reference only
            n = len(c.s)
            p = int(0.15 * n) if n < 5000 else 750
            kw["probation"] = p - p % 2
        if kw.pop("range", None) == "file":  # ARTime's NAB range: the file's extremes, in advance
            kw["value_range"] = (float(c.x[rows].min()), float(c.x[rows].max()))
        out = np.full(len(c.s), np.nan)
        out[rows] = art_scores(c.x[rows], **kw)
        c.art[key] = out
    return c.art[key]


def cad_raw_rows(c: Components, params: dict[str, Any] | None = None) -> np.ndarray:
    """The CAD-style judge's raw novelty per row of ``c`` (0 where no value), the present values
    streamed in order through one :class:`~pipeline.anomaly.cad.CadJudge` (memoised)."""
    from pipeline.anomaly.cad import cad_raw

    memo = c.__dict__.setdefault("cad", {})  # recordings pickled before the field existed
    key = repr(sorted((params or {}).items()))
    if key not in memo:
        assert c.x is not None
        rows = _rows(c)
        out = np.zeros(len(c.s))
        out[rows] = cad_raw(c.x[rows], **(params or {}))
        memo[key] = out
    return memo[key]


def sequence_parts(c: Components) -> tuple[np.ndarray, np.ndarray]:
    """The two sequence judges of ``c`` apart (each less the judges' ``log10 3``, as ``q`` holds
    their maximum): the judge on values, and the judge on 4-value means (NaN where no block
    closes). Recomputed from the values through the default's own :class:`SequenceModel` settings
    and checked against the recorded ``q`` (memoised)."""
    from pipeline.anomaly.context import ContextDetector

    memo = c.__dict__.setdefault("cad", {})
    if "seq parts" not in memo:
        assert c.x is not None
        d = ContextDetector(**BAGLESS)
        qs, qb = np.zeros(len(c.s)), np.full(len(c.s), np.nan)
        rows = _rows(c)
        for i in rows:
            x = float(c.x[i])
            qs[i] = d.seq.surprise(x) - d.judges
            if d.block is not None and d.acc_n + 1 == d.block_len:
                qb[i] = d.block.surprise((d.acc + x) / d.block_len) - d.judges
                d.acc, d.acc_n = 0.0, 0
            else:
                d.acc += x
                d.acc_n += 1
        both = np.where(np.isnan(qb), qs, np.maximum(qs, np.nan_to_num(qb, nan=-1e9)))
        assert np.array_equal(both[rows], c.q[rows]), "sequence judges do not reproduce the recording"
        memo["seq parts"] = (qs, qb)
    return memo["seq parts"]


def cad_ose_rows(c: Components, params: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CAD OSE's raw and reported anomalies per row of ``c`` (:mod:`pipeline.anomaly.cad_ose`;
    memoised). ``range="file"`` / ``rest="file"``: NAB's look-aheads (the file's extremes; rest =
    its probation / 5) — a reference, not streaming; otherwise the range of the first ``warmup``
    values (default 300) and a rest of 150."""
    from pipeline.anomaly.cad_ose import cad_ose_scores

    memo = c.__dict__.setdefault("cad", {})
    kw = dict(params or {})
    key = "ose " + repr(sorted(kw.items()))
    if key not in memo:
        assert c.x is not None
        rows = _rows(c)
        xs = c.x[rows]
        if kw.pop("range", None) == "file":
            kw["lo"], kw["hi"] = float(xs.min()), float(xs.max())
        else:
            kw.setdefault("warmup", 300)
        if kw.get("rest") == "file":
            kw["rest"] = min(int(0.15 * len(c.s)), 750) / 5.0
        raw, out = np.zeros(len(c.s)), np.zeros(len(c.s))
        raw[rows], out[rows] = cad_ose_scores(xs, **kw)
        memo[key] = (raw, out)
    return memo[key]


def bocpd_rows(c: Components, params: dict[str, Any] | None = None, short: bool = False) -> np.ndarray:
    """The BOCPD judge's raw value per row of ``c`` (0 where no value; ``short``: the mass of
    runs shorter than 10 values instead), the present values streamed in order through one
    :class:`~pipeline.anomaly.bocpd.Bocpd` (memoised)."""
    from pipeline.anomaly.bocpd import bocpd_raw

    memo = c.__dict__.setdefault("bocpd", {})
    key = repr(sorted((params or {}).items()))
    if key not in memo:
        assert c.x is not None
        rows = _rows(c)
        raw, mass = np.zeros(len(c.s)), np.zeros(len(c.s))
        raw[rows], mass[rows] = bocpd_raw(c.x[rows], **(params or {}))
        memo[key] = (raw, mass)
    return memo[key][1 if short else 0]
