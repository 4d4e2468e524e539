"""Is a stage's lag flat? The verdict of :mod:`benchmarks.bench_run_soak`, from lag samples.

A stage keeps up when the per-minute maxima of its lag have a least-squares slope under a bound
and stay under a ceiling, over the last 80 % of the run (the first 20 % is warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES = ("load", "rollup", "anomalies", "detect")


@dataclass
class Sample:
    t: float
    rate: int
    rss: float
    load1: float
    lag: dict[str, float]
    step_seconds: dict[str, float]
    files: dict[str, int] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)  # the run's own account (status.json "memory")


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t seconds, lag seconds) in seconds of lag per minute."""
    pts = [(t, v) for t, v in points if v == v]
    if len(pts) < 3:
        return float("nan")
    n = len(pts)
    mt, mv = sum(t for t, _ in pts) / n, sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 60.0 * sum((t - mt) * (v - mv) for t, v in pts) / den if den else float("nan")


def minute_maxima(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The largest lag in each minute: minute-stepped lags (rollups, detectors) are saw-tooths of a
    minute's period, whose per-minute maxima are flat when the stage keeps up."""
    bins: dict[int, tuple[float, float]] = {}
    for t, v in points:
        if v == v and (int(t // 60) not in bins or v > bins[int(t // 60)][1]):
            bins[int(t // 60)] = (t, v)
    return [bins[k] for k in sorted(bins)]


def flat(samples: list[Sample], max_slope: float, max_lag: float) -> dict[str, tuple[bool, float, float]]:
    """Per stage: (flat?, slope s/min of its per-minute maxima, max lag s) over the last 80 % of
    ``samples``."""
    if not samples:
        return {}
    t_lo = samples[0].t + 0.2 * (samples[-1].t - samples[0].t)
    win = [s for s in samples if s.t >= t_lo]
    out: dict[str, tuple[bool, float, float]] = {}
    for stage in STAGES:
        pts = [(s.t, s.lag[stage]) for s in win if stage in s.lag]
        vals = [v for _, v in pts if v == v]
        if not vals:
            out[stage] = (False, float("nan"), float("nan"))
            continue
        sl, mx = slope_per_min(minute_maxima(pts)), max(vals)
        out[stage] = (sl == sl and sl < max_slope and mx < max_lag, sl, mx)
    return out


def verdict_line(flats: dict[str, tuple[bool, float, float]]) -> str:
    return "; ".join(f"{k} {'flat' if ok else 'NOT flat'} (slope {sl:+.2f} s/min, max {mx:.1f} s)"
                     for k, (ok, sl, mx) in flats.items())
