"""Labelled synthetic CloudWatch-like series, for tests, threshold choice and held-out checks.

Each series is 14 days of 5-minute points (4,032 rows, like NAB's AWS CloudWatch files) of one
metric *kind* with realistic texture, and 1–3 injected anomalies of a random *type*. Labels are
the anomaly onsets; windows follow NAB's rule (total width 10 % of the file, split evenly between
the anomalies, centred on each onset).

Kinds: ``ec2_cpu`` (daily cycle, cron spikes, clipped to 0–100), ``network_in`` (log-normal
bytes, daily + weekly), ``disk_write`` (zero-inflated bursts), ``rds_cpu`` (smooth, slow trend),
``elb_requests`` (Poisson counts, strong daily/weekly), ``latency`` (flat, heavy-tailed),
``asg_size`` (step-wise integers).
Anomaly types: ``spike``, ``level_up``, ``level_down``, ``variance``, ``ramp``, ``flatline``,
``pattern_break``, ``dip``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

KINDS = ("ec2_cpu", "network_in", "disk_write", "rds_cpu", "elb_requests", "latency",
         "asg_size")
#: Shapes used only for held-out validation (never for choosing the threshold).
HELDOUT_KINDS = ("batch_sawtooth", "bursty_network", "smooth_latency", "ec2_cpu", "elb_requests")
ANOMALIES = ("spike", "level_up", "level_down", "variance", "ramp", "flatline",
             "pattern_break", "dip")
STEP = 300
DAY = 288  # points per day at 5 minutes


@dataclass
class Series:
    """One labelled series."""

    name: str
    kind: str
    timestamps: list[datetime]
    values: list[float]
    onsets: list[int]
    types: list[str]
    windows: list[tuple[int, int]]


def nab_windows(n: int, onsets: list[int]) -> list[tuple[int, int]]:
    """NAB windows as row ranges: 10 % of ``n`` split over the onsets, centred on each."""
    if not onsets:
        return []
    half = max(1, int(0.10 * n / len(onsets)) // 2)
    out: list[tuple[int, int]] = []
    for o in sorted(onsets):
        lo, hi = max(0, o - half), min(n - 1, o + half)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _base(kind: str, n: int, rng: random.Random) -> tuple[list[float], float, float]:
    """Normal behaviour of one kind; returns values, a typical scale and the noise level."""
    ph = rng.uniform(0, 2 * math.pi)
    t = range(n)
    if kind == "ec2_cpu":
        lvl, amp, sd = rng.uniform(8, 45), rng.uniform(0, 12), rng.uniform(0.5, 4)
        period = rng.choice([36, 48, 60, 72])
        v = [lvl + amp * math.sin(2 * math.pi * i / DAY + ph) + rng.gauss(0, sd)
             + (rng.uniform(15, 35) if i % period == 0 else 0.0) for i in t]
        return [min(100.0, max(0.0, x)) for x in v], lvl, sd
    if kind == "network_in":
        lvl, amp = rng.uniform(1e6, 5e7), rng.uniform(0.1, 0.5)
        wk = [1.0, 1.0, 1.0, 1.0, 0.95, rng.uniform(0.5, 0.9), rng.uniform(0.5, 0.9)]
        sdl = rng.uniform(0.05, 0.3)
        return [lvl * (1 + amp * math.sin(2 * math.pi * i / DAY + ph)) * wk[(i // DAY) % 7]
                * math.exp(rng.gauss(0, sdl)) for i in t], lvl, lvl * sdl
    if kind == "disk_write":
        lvl, p = rng.uniform(1e4, 1e6), rng.uniform(0.05, 0.3)
        return [lvl * rng.expovariate(1.0) * 5 if rng.random() < p
                else lvl * 0.1 * rng.random() for _ in t], lvl, lvl
    if kind == "rds_cpu":
        lvl, sd, tr = rng.uniform(5, 30), rng.uniform(0.2, 1.5), rng.uniform(-1, 1) * 3 / n
        v, ar = [], 0.0
        for i in t:
            ar = 0.9 * ar + rng.gauss(0, sd)
            v.append(max(0.0, lvl * (1 + tr * i) + 2 * math.sin(2 * math.pi * i / DAY + ph) + ar))
        return v, lvl, sd * 2.3
    if kind == "elb_requests":
        lvl = rng.uniform(50, 3000)
        wk = [1.0, 1.0, 1.0, 1.0, 0.9, rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)]
        out = []
        for i in t:
            mu = lvl * (0.6 + 0.5 * math.sin(2 * math.pi * i / DAY + ph)) * wk[(i // DAY) % 7]
            out.append(float(max(0, round(rng.gauss(mu, math.sqrt(max(mu, 1)) * 1.5)))))
        return out, lvl, math.sqrt(lvl) * 1.5
    if kind == "latency":
        lvl, sd = rng.uniform(20, 200), rng.uniform(0.02, 0.1)
        return [lvl * (1 + abs(rng.gauss(0, sd)) + (rng.paretovariate(3) - 1) * 0.05)
                for _ in t], lvl, lvl * sd
    if kind == "batch_sawtooth":  # a batch job fills a buffer, flushes every few hours
        lvl, per, sd = rng.uniform(10, 60), rng.choice([30, 45, 72, 96]), rng.uniform(0.3, 2)
        return [lvl * (0.3 + 0.7 * (i % per) / per) + rng.gauss(0, sd) for i in t], lvl, sd
    if kind == "bursty_network":  # heavy-tailed bytes with a weekly business-hours pattern
        lvl = rng.uniform(1e5, 1e7)
        out = []
        for i in t:
            day, hour = (i // DAY) % 7, (i % DAY) / 12
            busy = 1.0 if day < 5 and 8 <= hour < 18 else 0.35
            out.append(lvl * busy * (rng.paretovariate(2.5) - 0.6))
        return out, lvl * 0.6, lvl * 0.5
    if kind == "smooth_latency":  # p99 latency: AR(1), slow random walk in the level
        lvl, sd = rng.uniform(80, 400), rng.uniform(0.01, 0.04)
        out, ar, walk = [], 0.0, 0.0
        for _ in t:
            ar = 0.8 * ar + rng.gauss(0, sd * lvl)
            walk += rng.gauss(0, lvl * 0.002)
            out.append(max(1.0, lvl + walk + ar))
        return out, lvl * 0.3, sd * lvl * 1.7
    lvl = rng.randint(2, 10)  # asg_size
    out, cur = [], float(lvl)
    for _ in t:
        if rng.random() < 0.004:
            cur = float(max(1, lvl + rng.choice([-1, 1, 2])))
        out.append(cur)
    return out, float(lvl), 0.5


def _inject(kind: str, typ: str, v: list[float], o: int, scale: float, sd: float,
            rng: random.Random, end: int) -> None:
    n = len(v)
    if typ == "spike":
        mag = max(sd * rng.uniform(6, 15), scale * rng.uniform(0.5, 2.0))
        for i in range(o, min(n, o + rng.randint(1, 4))):
            v[i] += mag
    elif typ in ("level_up", "level_down"):
        f = rng.uniform(0.4, 1.5) if typ == "level_up" else -rng.uniform(0.3, 0.7)
        for i in range(o, end):
            v[i] = max(0.0, v[i] + f * scale + (sd * 3 if f > 0 else 0.0))
    elif typ == "variance":
        for i in range(o, min(end, o + rng.randint(DAY // 4, DAY))):
            v[i] = max(0.0, v[i] + rng.gauss(0, max(sd * 5, scale * 0.4)))
    elif typ == "ramp":
        length = rng.randint(DAY // 6, DAY)
        for i in range(o, end):
            v[i] += scale * 1.5 * min(1.0, (i - o) / length)
    elif typ == "flatline":
        for i in range(o, min(end, o + rng.randint(DAY // 8, DAY))):
            v[i] = 0.0
    elif typ == "pattern_break":
        keep = v[o]
        for i in range(o, min(end, o + rng.randint(DAY // 3, DAY))):
            v[i] = keep + rng.gauss(0, sd * 0.2) + scale * 0.5
    else:  # dip: a short drop
        for i in range(o, min(n, o + rng.randint(2, 12))):
            v[i] = max(0.0, v[i] - scale * rng.uniform(0.6, 0.95))
    if kind in ("ec2_cpu",):
        for i in range(o, n):
            v[i] = min(100.0, v[i])
    if kind == "asg_size" or kind == "elb_requests":
        for i in range(o, n):
            v[i] = float(round(v[i]))


def make_series(seed: int, kind: str | None = None, n: int = 4032,
                magnitude: float = 1.0) -> Series:
    """One labelled series; the same ``seed`` always gives the same series.

    ``magnitude`` scales every injected anomaly (held-out sets use smaller ones).
    """
    rng = random.Random(seed)
    kind = kind or rng.choice(KINDS)
    values, scale, sd = _base(kind, n, rng)
    scale, sd = scale * magnitude, sd * magnitude
    count = rng.choice([1, 1, 2, 2, 3])
    lo = int(0.15 * n) + DAY // 2
    slots = sorted(rng.sample(range(lo, n - DAY // 2, DAY), count))
    onsets = [s + rng.randint(0, DAY // 2) for s in slots]
    types: list[str] = []
    for idx, o in enumerate(onsets):
        typ = rng.choice(ANOMALIES)
        if kind == "disk_write" and typ == "flatline":
            typ = "level_up"
        end = onsets[idx + 1] if idx + 1 < len(onsets) else n
        if typ in ("variance", "flatline", "pattern_break", "dip", "spike"):
            end = n
        _inject(kind, typ, values, o, scale, sd, rng, end)
        types.append(typ)
    t0 = datetime(2026, 10, 5, tzinfo=UTC) + timedelta(minutes=5 * rng.randint(0, 2000))
    ts = [t0 + timedelta(seconds=STEP * i) for i in range(n)]
    return Series(f"synthetic_{kind}_{seed}", kind, ts, values, onsets, types,
                  nab_windows(n, onsets))


def corpus(seeds: range, n: int = 4032) -> list[Series]:
    """A reproducible labelled corpus, kinds rotating so each is represented."""
    return [make_series(s, KINDS[s % len(KINDS)], n) for s in seeds]


def heldout_corpus(seeds: range) -> list[Series]:
    """Held-out validation series: other shapes (:data:`HELDOUT_KINDS`), lengths from one to
    four weeks and anomalies at 0.8× the magnitude — nothing here was used to pick parameters."""
    out = []
    for s in seeds:
        rng = random.Random(s * 7919)
        n = rng.choice([2016, 4032, 6048, 8064])
        out.append(make_series(s, HELDOUT_KINDS[s % len(HELDOUT_KINDS)], n, magnitude=0.8))
    return out
