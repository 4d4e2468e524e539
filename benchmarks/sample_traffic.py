"""Generated normal traffic for the false-alarm checks: the 15 sample series of
:mod:`pipeline.synthetic.metrics` rolled up as the anomaly jobs read them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any


def sample_month(seed: int = 7, days: int = 28, anomalies: bool = False, step: int = 5,
                 ) -> tuple[list[tuple[str, list[float], list[float]]], list[dict]]:
    """The 15 sample series of :mod:`pipeline.synthetic.metrics` over ``days`` (same generator,
    same drops and gaps), rolled up to ``step``-minute Averages (Σsum / Σcount) — 5 as
    ``anomalies detect`` reads them by default, 1 as ``watchlake run`` scores them —, plus the Sum
    of each ``Count`` series (the demo's second model); with ``anomalies`` the generator's labelled
    incidents are injected (offsets scale with the duration). Returns ``(series_id, times,
    values)`` per model and the generator's labels."""
    from datetime import UTC

    import numpy as np

    from pipeline.synthetic import metrics as gen

    start = datetime(2026, 11, 2, tzinfo=UTC)
    minutes = days * 1440
    scale = minutes * 60 / (96 * 3600)
    active = gen.ANOMALIES if anomalies else []
    gaps = {g[0]: (g[1] * scale * 60, (g[1] + g[2]) * scale * 60) for g in gen.GAPS}
    sums = np.zeros((len(gen.SERIES), minutes // step))
    cnts = np.zeros_like(sums)
    for day0 in range(0, minutes, 1440):
        m = np.arange(day0, min(minutes, day0 + 1440))
        ts_h = m / 60.0
        rng = np.random.default_rng([seed, day0])
        counts: dict = {}
        pts = [gen._points(i, s, ts_h, start, rng, counts, scale, active)
               for i, s in enumerate(gen.SERIES)]
        drop = rng.random((len(gen.SERIES), m.size)) < 0.002
        for i in range(len(gen.SERIES)):
            g = gaps.get(i)
            for j, minute in enumerate(m):
                p = pts[i][j]
                if p is None or drop[i, j] or (g and g[0] <= minute < g[1]):
                    continue
                sums[i, minute // step] += p[2]
                cnts[i, minute // step] += p[3]
    t0 = start.timestamp()
    series = []
    for i, s in enumerate(gen.SERIES):
        ok = cnts[i] > 0
        ts = [t0 + 60.0 * step * k for k in np.flatnonzero(ok)]
        series.append((s.sid(), ts, (sums[i][ok] / cnts[i][ok]).tolist()))
        if s.unit == "Count":  # as the demo: count metrics also get a model of their Sum
            series.append((s.sid(), ts, sums[i][ok].tolist()))
    return series, gen._labels(start, minutes, scale, active)


def detection_delays(make: Callable[[], Any], incidents: Sequence[tuple[str, list[float], list[float]]],
                     labels: Sequence[dict], threshold: float, step: int = 5) -> str:
    """``"<incident> <n> min; …"``: per labelled incident of :func:`sample_month` (``anomalies``),
    the time from its onset to the first score ≥ ``threshold`` of a fresh ``make()`` detector on any
    of its series' models, from the ``step``-minute bucket that holds the onset to 1 h after its end
    ("missed" when none)."""
    from pipeline.timeutil import parse_time

    delays = []
    for lab in labels:
        if lab["kind"] == "gap":
            continue
        t0 = parse_time(lab["start"]).timestamp()
        t1 = parse_time(lab["end"]).timestamp() + 3600
        first = math.inf
        for sid, ts, vs in incidents:
            if sid != lab["series_id"]:
                continue
            det = make()
            for t, v in zip(ts, vs, strict=True):
                if t > t1:
                    break
                score = det.step(t, v).score  # every point is learnt, the ones before the onset too
                if t0 - 60 * step < t and score >= threshold:
                    first = min(first, max(t - t0, 0.0))
                    break
        delays.append(f"{lab['anomaly']} " + ("missed" if first == math.inf else f"{first / 60:.0f} min"))
    return "; ".join(delays)


def alerts_per_week(scores: Callable[[list[float], list[float]], Sequence[float]],
                    traffic: Sequence[tuple[str, list[float], list[float]]], days: int, threshold: float) -> float:
    """Scores at or above ``threshold`` per model per week: ``scores(times, values)`` of every model of
    ``traffic`` (:func:`sample_month` over ``days``), each streamed through a fresh detector."""
    hits = sum(sum(v >= threshold for v in scores(ts, vs)) for _, ts, vs in traffic)
    return hits / (len(traffic) * days / 7)
