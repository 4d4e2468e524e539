"""False alerts on anomaly-free series of the shapes CloudWatch metrics take.

    .venv/bin/python -m benchmarks.quiet_shapes

The normal-traffic check (``bench_anomaly.sample_month``) replays the generator's 15 sample
series; these are the shapes it does not make, each stationary and free of anomalies by
construction, four weeks of 5-minute points: sparse counts (``HTTPCode_ELB_5XX_Count``, mostly 0),
Poisson counts, percentages quantised to 0.1 or 0.001 (``CPUUtilization``), log-normal latency,
heavy-tailed byte counts (``NetworkIn``), an hourly cron spike, a daily cycle, a random walk, daily
counts, a flat value that starts moving halfway (an idle instance put to work: the one change,
at row 4,032, is the only thing worth an alert), two alternating levels and a zero series with
rare bursts. Every alert after the first week (the first week is the detectors' warm-up) is a false
one; the first week's are counted apart. The same again with six gaps of 1–12 hours in each
shape's last three weeks (a collector down, a metric CloudWatch does not emit while it is zero).
Seeded: the same series every run. ``step=60`` makes the same shapes sampled every minute (what
``watchlake run`` scores: four weeks of 1-minute points, the cron spike still hourly, the change
still halfway, the gaps still 1–12 hours).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

WEEK = 2016  # 5-minute points
N = 4 * WEEK
CHANGE = N // 2  # flat_then_noise's one change

ScoreFn = Callable[[Sequence[float], Sequence[float | None]], list[float]]


def shapes(seed: int = 7, gaps: bool = False, step: int = 300) -> dict[str, tuple[list[float], list[float]]]:
    """name → (epoch seconds, values) of every shape (module docstring), one value every ``step``
    seconds (a divisor of 300) for four weeks; with ``gaps``, six seeded gaps of 1–12 hours in each
    shape's last three weeks (the rows are left out)."""
    r = 300 // step  # points per 5 minutes
    n, week = N * r, WEEK * r
    rng = np.random.default_rng(seed)
    t = np.arange(n) * float(step) + 1.7e9
    hod = (t / 3600.0) % 24.0
    cycle = np.sin(2 * np.pi * hod / 24.0)
    vals = {
        "sparse_count_p0.05": rng.poisson(0.05, n).astype(float),
        "sparse_count_p0.5": rng.poisson(0.5, n).astype(float),
        "count_p5": rng.poisson(5, n).astype(float),
        "cpu_quantized_0.1": np.round(np.clip(rng.normal(2, 0.3, n), 0, None), 1),
        "cpu_low_quantized": np.round(np.clip(rng.normal(0.07, 0.01, n), 0, None), 3),
        "lognormal_latency": rng.lognormal(math.log(0.05), 0.5, n),
        "hourly_cron_spike": np.where(np.arange(n) % (12 * r) == 0, 50.0, 1.0) + rng.normal(0, 0.1, n),
        "daily_cycle": 100 + 50 * cycle + rng.normal(0, 5, n),
        "random_walk": np.cumsum(rng.normal(0, 1, n)),
        "daily_counts": rng.poisson(20 + 15 * cycle).astype(float),
        "heavy_tailed_bytes": rng.pareto(2.5, n) * 1e6,
        "flat_then_noise": np.concatenate([np.full(CHANGE * r, 5.0), 5 + rng.normal(0, 0.5, n - CHANGE * r)]),
        "two_levels": np.where(rng.random(n) < 0.3, 80.0, 10.0) + rng.normal(0, 1, n),
        "zero_with_bursts": np.where(rng.random(n) < 0.01, rng.exponential(100, n), 0.0),
    }
    if not gaps:
        return {k: (t.tolist(), v.tolist()) for k, v in vals.items()}
    out = {}
    for k, v in vals.items():
        keep = np.ones(n, dtype=bool)
        for _ in range(6):
            start = int(rng.integers(week, n - 200 * r))
            keep[start:start + int(rng.integers(12, 145)) * r] = False
        out[k] = (t[keep].tolist(), v[keep].tolist())
    return out


def false_alerts(fn: ScoreFn, threshold: float = 0.5, seed: int = 7,
                 gaps: bool = False, step: int = 300) -> dict[str, tuple[float, int]]:
    """name → (alerts per week after the first week, alerts in the first week) of ``fn``'s scores
    on :func:`shapes` (weeks by the rows' times, so gaps leave them in place); flat_then_noise's
    change (its first alert at or after the change) is not counted."""
    out = {}
    for name, (t, v) in shapes(seed, gaps, step).items():
        ts = np.asarray(t)
        hits = ts[np.asarray(fn(t, v)) >= threshold]
        later = hits[hits >= ts[0] + WEEK * 300.0]
        if name == "flat_then_noise":
            first = later[later >= ts[0] + CHANGE * 300.0][:1]
            later = np.setdiff1d(later, first)
        out[name] = (len(later) / ((N - WEEK) / WEEK), int((hits < ts[0] + WEEK * 300.0).sum()))
    return out


def report(runs: dict[str, ScoreFn], threshold: float = 0.5, step: int = 300) -> list[str]:
    """Each run's false alerts per series-week on every shape sampled every ``step`` seconds, and
    the mean over the shapes, without and with gaps."""
    out = []
    every = "5-minute" if step == 300 else f"{step}-second" if step < 60 else f"{step // 60}-minute"
    for gaps in (False, True):
        res = {name: false_alerts(fn, threshold, gaps=gaps, step=step) for name, fn in runs.items()}
        names = list(next(iter(res.values())))
        gapped = ", six gaps of 1–12 h" if gaps else ""
        out.append(f"  anomaly-free CloudWatch shapes (4 weeks of {every} points{gapped}), "
                   f"false alerts per week after the first (at {threshold}): " + " | ".join(runs))
        out += [f"    {shape:22s} " + " | ".join(f"{res[r][shape][0]:5.2f}" for r in runs) for shape in names]
        out.append(f"    {'mean':22s} " + " | ".join(f"{np.mean([x[0] for x in res[r].values()]):5.2f}"
                                                   for r in runs))
    return out


def main() -> int:
    from benchmarks.nab_eval import context_scores

    print("\n".join(report({"context": context_scores})))
    print("\n".join(report({"context": context_scores}, step=60)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
