"""Pure metric-alarm evaluation over sliding windows: one evaluation, or a whole range vectorised.

An evaluation at boundary ``b`` (a whole minute; every 10 s for 10/20/30 s periods) looks at the
evaluation range: the ``R = N + 2`` windows ``[b − (k+1)·P, b − k·P)``, k = R−1 … 0 (oldest first).
Each window is BAD (breaching), GOOD or MISSING (no data, or no anomaly band yet), then
:mod:`pipeline.alarms.missing` decides. With ``EvaluateLowSampleCountPercentile: ignore`` a
percentile alarm keeps its state while the newest real window has fewer samples than
``10 / (1 − p)`` (p ≥ 0.5) or ``10 / p`` (p < 0.5).

:func:`prepare` fetches a metric once for a whole range (plus the band's history for anomaly
alarms; for a metric-math alarm every metric query, then its expression: :func:`math_datapoints`);
:func:`evaluate_one` and :func:`evaluate_many` then work in memory only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from pipeline.alarms import missing
from pipeline.alarms.missing import BAD, GOOD, MISSING, RETAIN, Decision
from pipeline.alarms.model import STATIC_OPERATORS, MetricAlarm
from pipeline.alarms.reason import metric_reason
from pipeline.alarms.source import Datapoints, MetricSource, epoch, grid_step
from pipeline.alarms.validate import percentile_of
from pipeline.timeutil import EPOCH

BAND_HISTORY = timedelta(days=7)
"""History fed to the anomaly band model before the first evaluation (CloudWatch trains on up to two weeks)."""

BandFn = Callable[[list[datetime], list[float | None], float], Any]


def min_samples(stat: str) -> float | None:
    """Samples a percentile needs to be significant (§2.6); None if the rule does not apply."""
    p = percentile_of(stat)
    if p is None or p <= 0 or p >= 1:
        return None
    return 10 / (1 - p) if p >= 0.5 else 10 / p


def _default_band(ts: list[datetime], values: list[float | None], k: float) -> Any:
    from pipeline.anomaly.band import expected_band

    return expected_band(ts, values, k=k)


@dataclass
class Prepared:
    """One alarm's datapoints over a range, classified."""

    alarm: MetricAlarm
    dp: Datapoints
    codes: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    low: np.ndarray | None = None

    def slot_index(self, boundaries: np.ndarray) -> np.ndarray:
        """Window indexes of the evaluation range at each boundary, shape (len, R), oldest first."""
        r = missing.evaluation_range(self.alarm.evaluation_periods)
        k = np.arange(r, 0, -1)  # R … 1: oldest window first
        starts = boundaries[:, None] - k[None, :] * self.alarm.period
        return (starts - self.dp.start) // self.dp.step

    def slot_times(self, idx: np.ndarray) -> np.ndarray:
        return self.dp.start + idx * self.dp.step


def classify(alarm: MetricAlarm, values: np.ndarray, lower: np.ndarray | None = None,
             upper: np.ndarray | None = None) -> np.ndarray:
    """GOOD / BAD / MISSING per window (int8)."""
    codes = np.full(len(values), MISSING, dtype=np.int8)
    present = ~np.isnan(values)
    if alarm.band is None:
        with np.errstate(invalid="ignore"):
            bad = STATIC_OPERATORS[alarm.comparison_operator](values, alarm.threshold)
    else:
        assert lower is not None and upper is not None
        present &= ~np.isnan(lower) & ~np.isnan(upper)
        with np.errstate(invalid="ignore"):
            below, above = values < lower, values > upper
        op = alarm.comparison_operator
        bad = below if op == "LessThanLowerThreshold" else above if op == "GreaterThanUpperThreshold" else below | above
    codes[present] = np.where(bad[present], BAD, GOOD)
    return codes


def fetch_start(alarm: MetricAlarm, first: datetime) -> int:
    """Epoch second of the first window evaluating from ``first`` needs (band history included)."""
    start = epoch(first) - missing.evaluation_range(alarm.evaluation_periods) * alarm.period
    if alarm.band is not None:
        start -= int(BAND_HISTORY.total_seconds())
    return start - start % grid_step(alarm.period)


def prepare(alarm: MetricAlarm, source: MetricSource, first: datetime, last: datetime, *,
            as_of: datetime | None = None, band_fn: BandFn | None = None) -> Prepared:
    """Fetch and classify everything needed to evaluate at every boundary in ``[first, last]``."""
    start = fetch_start(alarm, first)
    if alarm.math is not None:
        dp = math_datapoints(alarm, source, start, last, as_of=as_of)
        return Prepared(alarm, dp, classify(alarm, dp.values))
    dp = source.datapoints(alarm.metric, alarm.period, EPOCH + timedelta(seconds=start), last, as_of=as_of)
    lower = upper = None
    if alarm.band is not None:
        times = [EPOCH + timedelta(seconds=int(dp.start + i * dp.step)) for i in range(len(dp.values))]
        vals: list[float | None] = [None if np.isnan(v) else float(v) for v in dp.values]
        band = (band_fn or _default_band)(times, vals, alarm.band.k)
        lower = np.array([np.nan if x is None else x for x in band.lower], dtype=np.float64)
        upper = np.array([np.nan if x is None else x for x in band.upper], dtype=np.float64)
    low = None
    need = min_samples(alarm.metric.stat)
    if alarm.evaluate_low_sample_count_percentile == "ignore" and need is not None and dp.counts is not None:
        low = np.nan_to_num(dp.counts, nan=0.0) < need
    return Prepared(alarm, dp, classify(alarm, dp.values, lower, upper), lower, upper, low)


def math_datapoints(alarm: MetricAlarm, source: MetricSource, start: int, last: datetime, *,
                    as_of: datetime | None = None) -> Datapoints:
    """A metric-math alarm's returned expression over its windows from epoch second ``start``:
    every metric query fetched on the alarm's grid, then the expression evaluated window by window
    (:mod:`pipeline.metricmath.evaluate`)."""
    from pipeline.metricmath.evaluate import evaluate
    from pipeline.metricmath.parse import Grid

    spec = alarm.math
    assert spec is not None
    got = {q: source.datapoints(ref, alarm.period, EPOCH + timedelta(seconds=start), last, as_of=as_of)
           for q, ref in spec.metrics.items()}
    one = next(iter(got.values()))
    n = min(len(d.values) for d in got.values())
    grid = Grid(one.start, one.step, one.period, n)
    values = evaluate(spec.returned, spec.trees, spec.texts, {q: d.values[:n] for q, d in got.items()}, grid)
    return Datapoints(one.start, one.step, one.period, np.asarray(values, dtype=np.float64))


def _take(arr: np.ndarray, idx: np.ndarray, fill: float) -> np.ndarray:
    ok = (idx >= 0) & (idx < len(arr))
    out = np.full(idx.shape, fill, dtype=arr.dtype)
    out[ok] = arr[idx[ok]]
    return out


def _low_newest(prep: Prepared, idx: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows whose newest real window has too few samples (low-sample percentile rule)."""
    if prep.low is None:
        return np.zeros(len(idx), dtype=bool)
    real = codes != MISSING
    newest = idx.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1)
    low = _take(prep.low.astype(np.int8), idx, 0).astype(bool)
    return real.any(axis=1) & low[np.arange(len(idx)), newest]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: the decided state (RETAIN resolved), and reason text/data for a change."""

    state: str
    decision: Decision
    reason: str
    reason_data: str


def evaluate_one(prep: Prepared, at: datetime, current: str) -> Evaluation:
    """Evaluate at boundary ``at`` given the current state."""
    b = np.array([epoch(at)])
    idx = prep.slot_index(b)
    codes = _take(prep.codes, idx, MISSING)
    alarm = prep.alarm
    if _low_newest(prep, idx, codes)[0]:
        d = Decision(RETAIN, rule="low-sample-count")
    else:
        d = missing.decide(codes[0].tolist(), alarm.evaluation_periods, alarm.datapoints_to_alarm,
                           alarm.effective_treat_missing)
    state = current if d.state == RETAIN else d.state
    if state == current:
        return Evaluation(state, d, "", "")
    reason, data = reason_for(prep, idx[0], codes[0], d, current, at)
    return Evaluation(state, d, reason, data)


def reason_for(prep: Prepared, idx: np.ndarray, codes: np.ndarray, d: Decision, old: str,
               at: datetime) -> tuple[str, str]:
    vals = _take(prep.dp.values, idx, np.nan)
    counts = _take(prep.dp.counts, idx, np.nan) if prep.dp.counts is not None else None
    lower = _take(prep.lower, idx, np.nan) if prep.lower is not None else None
    upper = _take(prep.upper, idx, np.nan) if prep.upper is not None else None
    return metric_reason(prep.alarm, d, old, at, prep.slot_times(idx).tolist(), vals.tolist(),
                         codes.tolist(), lower, upper, counts)


def evaluate_many(prep: Prepared, boundaries: np.ndarray, initial: str) -> np.ndarray:
    """State codes (0 OK, 1 ALARM, 2 INSUFFICIENT_DATA) after each boundary, starting from ``initial``."""
    alarm = prep.alarm
    out = np.empty(len(boundaries), dtype=np.int8)
    chunk = max(1, 2_000_000 // max(1, missing.evaluation_range(alarm.evaluation_periods)))
    for lo in range(0, len(boundaries), chunk):
        b = boundaries[lo:lo + chunk]
        idx = prep.slot_index(b)
        codes = _take(prep.codes, idx, MISSING)
        dec = missing.decide_many(codes, alarm.evaluation_periods, alarm.datapoints_to_alarm,
                                  alarm.effective_treat_missing)
        dec[_low_newest(prep, idx, codes)] = missing.RETAIN_CODE
        out[lo:lo + chunk] = dec
    # resolve "retain": forward-fill the last decided state
    decided = out != missing.RETAIN_CODE
    pos = np.where(decided, np.arange(len(out)), -1)
    np.maximum.accumulate(pos, out=pos)
    init = missing.STATE_CODES[initial]
    return np.where(pos >= 0, out[np.maximum(pos, 0)], init).astype(np.int8)


def boundaries_between(first: datetime, last: datetime, period: int) -> np.ndarray:
    """Evaluation boundaries (epoch seconds) from ``first`` to ``last`` inclusive, on the grid."""
    step = grid_step(period)
    a, z = epoch(first), epoch(last)
    a += (-a) % step
    return np.arange(a, z + 1, step, dtype=np.int64)


def decide_codes_at(prep: Prepared, b: int) -> tuple[np.ndarray, np.ndarray]:
    """(window indexes, slot codes) of the evaluation range at one boundary."""
    idx = prep.slot_index(np.array([b]))[0]
    return idx, _take(prep.codes, idx, MISSING)


__all__ = ["BAD", "GOOD", "MISSING", "Evaluation", "Prepared", "boundaries_between", "classify",
           "evaluate_many", "evaluate_one", "prepare", "reason_for"]
