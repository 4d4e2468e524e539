"""Where alarm datapoints come from: an interface, an in-memory source and the lake source.

A source returns, for one metric and statistic, the value of every *sliding* window
``[t, t + period)`` whose start ``t`` lies on the evaluation grid (every 60 s, or every 10 s for
periods under a minute) and whose end is ≤ ``end`` — exactly the datapoints an alarm evaluated
each minute looks at. Missing windows are NaN. ``as_of`` hides samples that had not arrived yet
(late data), where the source knows arrival times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pipeline.alarms.model import MetricRef
from pipeline.alarms.validate import percentile_of
from pipeline.errors import RuleError
from pipeline.timeutil import EPOCH, to_utc

if TYPE_CHECKING:
    from pipeline.lake import Lake


def grid_step(period: int) -> int:
    """Seconds between evaluations: 60, or 10 for high-resolution periods (10/20/30 s)."""
    return 60 if period >= 60 else 10


def epoch(t: datetime) -> int:
    return int((to_utc(t) - EPOCH).total_seconds())


@dataclass(frozen=True)
class Datapoints:
    """Sliding-window datapoints: window ``i`` is ``[start + i·step, start + i·step + period)``."""

    start: int
    step: int
    period: int
    values: np.ndarray
    counts: np.ndarray | None = None

    def index(self, window_start: int) -> int:
        return (window_start - self.start) // self.step


class MetricSource(Protocol):
    def datapoints(self, metric: MetricRef, period: int, start: datetime, end: datetime, *,
                   as_of: datetime | None = None) -> Datapoints:
        """Windows with starts ``start, start+step, …`` and ends ≤ ``end``."""
        ...


def _window_count(start: int, end: int, step: int, period: int) -> int:
    return max(0, (end - period - start) // step + 1)


def _window_sum(per: np.ndarray, w: int, n: int) -> np.ndarray:
    """Sum of each run of ``w`` buckets: exact adds for short windows, prefix sums for long ones."""
    if w == 1:
        return per[:n].copy()
    if w <= 64:
        return np.lib.stride_tricks.sliding_window_view(per, w)[:n].sum(axis=1)
    c = np.concatenate([[0.0], np.cumsum(per)])
    return c[w:w + n] - c[:n]


def combine(stat: str, start: int, step: int, period: int, n: int, ts: np.ndarray, vals: np.ndarray,
            counts: np.ndarray | None = None, sums: np.ndarray | None = None) -> Datapoints:
    """Aggregate samples (``ts`` epoch seconds, values, optional sample counts) into sliding windows.

    Percentiles use the nearest-rank definition on the raw samples (CloudWatch's estimator is
    undocumented); other extended statistics are not computed in memory.
    """
    w = period // step
    nb = n + w - 1  # buckets covering every window
    if counts is None:
        counts = np.ones(len(vals))
    keep = (ts >= start) & (ts < start + nb * step)
    ts, vals, counts = ts[keep], vals[keep], counts[keep]
    if sums is not None:
        sums = np.asarray(sums, dtype=np.float64)
    b = ((ts - start) // step).astype(np.int64)
    cnt = np.bincount(b, weights=counts, minlength=nb).astype(np.float64)
    wcnt = _window_sum(cnt, w, n)
    out = np.full(n, np.nan)
    has = wcnt > 0
    p = percentile_of(stat)
    if stat in ("Sum", "Average", "SampleCount"):
        weights = sums[keep] if sums is not None else vals * counts
        wsum = _window_sum(np.bincount(b, weights=weights, minlength=nb).astype(np.float64), w, n)
        out[has] = {"Sum": wsum, "Average": wsum / np.where(has, wcnt, 1), "SampleCount": wcnt}[stat][has]
    elif stat in ("Minimum", "Maximum"):
        fill = np.inf if stat == "Minimum" else -np.inf
        per = np.full(nb, fill)
        (np.minimum if stat == "Minimum" else np.maximum).at(per, b, vals)
        if w == 1:
            agg = per[:n]
        else:
            view = np.lib.stride_tricks.sliding_window_view(per, w)[:n]
            agg = view.min(axis=1) if stat == "Minimum" else view.max(axis=1)
        out[has] = agg[has]
    elif p is not None:
        order = np.argsort(b, kind="stable")
        b_sorted, v_sorted = b[order], vals[order]
        edges = np.searchsorted(b_sorted, np.arange(nb + 1))
        for i in np.nonzero(has)[0]:
            window = np.sort(v_sorted[edges[i]:edges[i + w]])
            rank = max(1, int(np.ceil(p * len(window))))
            out[i] = window[rank - 1]
    else:
        raise RuleError(stat, "statistic not computable by the in-memory source", field="Statistic")
    return Datapoints(start, step, period, out, wcnt)


class MemorySource:
    """Samples held in memory, keyed by (namespace, metric name, dimensions); for tests and benchmarks.

    ``add(metric, times, values, arrivals=None)``: ``arrivals`` (epoch seconds) say when each
    sample became visible; ``as_of`` then hides later arrivals (late data).
    """

    def __init__(self) -> None:
        self.series: dict[tuple[str, str, tuple[tuple[str, str], ...]],
                          tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}

    def add(self, metric: MetricRef, times: list[datetime] | np.ndarray, values: list[float] | np.ndarray,
            arrivals: list[datetime] | np.ndarray | None = None) -> None:
        ts = np.array([epoch(t) for t in times], dtype=np.int64) if isinstance(times, list) else times
        arr = None
        if arrivals is not None:
            arr = (np.array([epoch(t) for t in arrivals], dtype=np.int64)
                   if isinstance(arrivals, list) else arrivals)
        self.series[(metric.namespace, metric.metric_name, metric.dimensions)] = (
            np.asarray(ts, dtype=np.int64), np.asarray(values, dtype=np.float64), arr)

    def datapoints(self, metric: MetricRef, period: int, start: datetime, end: datetime, *,
                   as_of: datetime | None = None) -> Datapoints:
        step = grid_step(period)
        s, e = epoch(start), epoch(end)
        n = _window_count(s, e, step, period)
        found = self.series.get((metric.namespace, metric.metric_name, metric.dimensions))
        if found is None:
            return Datapoints(s, step, period, np.full(n, np.nan), np.zeros(n))
        ts, vals, arr = found
        if as_of is not None and arr is not None:
            seen = arr <= epoch(as_of)
            ts, vals = ts[seen], vals[seen]
        return combine(metric.stat, s, step, period, n, ts, vals)


_PARTIALS = {"Sum": ("Sum",), "SampleCount": ("SampleCount",), "Average": ("Sum", "SampleCount"),
             "Minimum": ("Minimum",), "Maximum": ("Maximum",)}


class LakeSource:
    """Datapoints from the lake's metric tiers through ``pipeline.query.metrics.get_metric_data``.

    Period 60 s (and high-resolution periods) read the statistic at that period directly. Longer
    periods slide every minute: SampleCount/Sum/Average/Minimum/Maximum are combined from 1-minute
    partials; other statistics are read at the full period once per minute offset.
    """

    def __init__(self, lake: Lake):
        self.lake = lake
        self._cache: dict[tuple[str, str, tuple[tuple[str, str], ...], str | None], dict[str, np.ndarray]] = {}
        self._cached_range: tuple[int, int] | None = None

    def preload(self, metrics: list[MetricRef], start: datetime, end: datetime) -> int:
        """Read the 1-minute tier once for many series over ``[start, end)`` (one DuckDB scan).

        Replays call this so each alarm does not query the lake on its own. Only series with one
        unit (or the alarm's Unit) are cached; anything else still goes through get_metric_data,
        which reports ambiguous units. Returns the number of series cached.
        """
        from pipeline.query.metrics import canonical
        from pipeline.rollup.tiers import partition_range

        s, e = epoch(start), epoch(end)
        files = [self.lake.uri(f) for values, folder in self.lake.iter_partitions("metrics_1m")
                 if (r := partition_range(values))[0] < to_utc(end) and r[1] > to_utc(start)
                 for f in self.lake.table_files("metrics_1m", folder)]
        keys = {(m.namespace, m.metric_name, canonical(m.dimension_dict)): m for m in metrics}
        self._cache, self._cached_range = {}, (s, e)
        if not files or not keys:
            return 0
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("CREATE TEMP TABLE want(ns VARCHAR, mn VARCHAR, dims VARCHAR)")
            con.executemany("INSERT INTO want VALUES (?, ?, ?)", list(keys))
            cols: dict[str, Any] = con.execute(
                "SELECT namespace, metric_name, dimensions, unit, epoch(\"timestamp\")::BIGINT AS ts, "
                "sample_count, \"sum\", \"min\", \"max\" FROM read_parquet(?, union_by_name = true) r "
                "JOIN want w ON r.namespace = w.ns AND r.metric_name = w.mn AND r.dimensions = w.dims "
                "WHERE \"timestamp\" >= to_timestamp(?) AND \"timestamp\" < to_timestamp(?) "
                "ORDER BY namespace, metric_name, dimensions, unit, ts", [files, s, e]).fetchnumpy()
        finally:
            con.close()
        n = len(cols["ts"])
        if n == 0:
            return 0
        ident = [f"{a}\x1f{b}\x1f{c}\x1f{d}" for a, b, c, d in zip(
            cols["namespace"], cols["metric_name"], cols["dimensions"], cols["unit"], strict=True)]
        bounds = [0] + [i for i in range(1, n) if ident[i] != ident[i - 1]] + [n]
        units: dict[str, list[str]] = {}
        for lo in bounds[:-1]:
            key, _, unit = ident[lo].rpartition("\x1f")
            units.setdefault(key, []).append(unit)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            ns, mn, dims, unit = ident[lo].split("\x1f")
            m = keys[(ns, mn, dims)]
            several = len(units[f"{ns}\x1f{mn}\x1f{dims}"]) > 1
            if (m.unit is None and several) or (m.unit is not None and unit != m.unit):
                continue
            self._cache[(ns, mn, m.dimensions, m.unit)] = {
                k: np.asarray(cols[c][lo:hi], dtype=np.float64 if k != "ts" else np.int64)
                for k, c in (("ts", "ts"), ("n", "sample_count"), ("sum", "sum"), ("min", "min"), ("max", "max"))}
        return len(self._cache)

    def _from_cache(self, metric: MetricRef, period: int, s: int, e: int, n: int) -> Datapoints | None:
        rng = self._cached_range
        if rng is None or metric.stat not in _PARTIALS or period < 60 or s < rng[0] or e > rng[1]:
            return None
        got = self._cache.get((metric.namespace, metric.metric_name, metric.dimensions, metric.unit))
        if got is None:
            return None
        ts, cnt = got["ts"], got["n"]
        if metric.stat in ("Minimum", "Maximum"):
            return combine(metric.stat, s, 60, period, n, ts, got["min" if metric.stat == "Minimum" else "max"],
                           counts=cnt)
        return combine(metric.stat, s, 60, period, n, ts, got["sum"] / np.where(cnt > 0, cnt, 1), counts=cnt,
                       sums=got["sum"])

    CHUNK = 14 * 86400
    """Ranges are read in chunks of at most 14 days, each *as of its own end*, so a replay sees the
    1-minute tier an alarm evaluating at that time would have seen (CloudWatch's age rules)."""

    def _fetch(self, metric: MetricRef, stat: str, start: int, end: int, period: int) -> tuple[np.ndarray, np.ndarray]:
        from datetime import timedelta

        from pipeline.query.metrics import get_metric_data

        ts_all: list[int] = []
        vals_all: list[float] = []
        chunk = self.CHUNK - self.CHUNK % period
        lo = start
        while lo < end:
            hi = min(end, lo + chunk)
            if hi - lo < period:
                break
            s, e = EPOCH + timedelta(seconds=lo), EPOCH + timedelta(seconds=hi)
            md = get_metric_data(self.lake, metric.namespace, metric.metric_name, metric.dimension_dict, stat,
                                 s, e, period, max_points=(hi - lo) // period + 2, unit=metric.unit, now=e)
            ts_all += [epoch(t) for t in md.timestamps]
            vals_all += [np.nan if v is None else float(v) for v in md.values]
            lo = hi
        return np.array(ts_all, dtype=np.int64), np.array(vals_all, dtype=np.float64)

    def datapoints(self, metric: MetricRef, period: int, start: datetime, end: datetime, *,
                   as_of: datetime | None = None) -> Datapoints:
        step = grid_step(period)
        s, e = epoch(start), epoch(end)
        n = _window_count(s, e, step, period)
        cached = self._from_cache(metric, period, s, e, n)
        if cached is not None:
            return cached
        need_counts = percentile_of(metric.stat) is not None
        if period == step or metric.stat not in _PARTIALS:
            values = np.full(n, np.nan)
            counts = np.full(n, np.nan) if need_counts else None
            for offset in range(0, period, step) if period > step else [0]:
                for stat, target in [(metric.stat, values)] + ([("SampleCount", counts)] if counts is not None else []):
                    ts, vals = self._fetch(metric, stat, s + offset, e, period)
                    idx = (ts - s) // step
                    ok = (idx >= 0) & (idx < n) & ((ts - s) % step == 0)
                    target[idx[ok]] = vals[ok]
            return Datapoints(s, step, period, values, counts)
        parts = {p: self._fetch(metric, p, s, e, step) for p in _PARTIALS[metric.stat]}
        if metric.stat == "Average":
            (ts, sums), (ts2, cnts) = parts["Sum"], parts["SampleCount"]
            ok2 = ~np.isnan(cnts) & (cnts > 0)
            ts2, cnts = ts2[ok2], cnts[ok2]
            aligned = sums_per(ts, sums, ts2)
            return combine("Average", s, step, period, n, ts2, aligned / cnts, counts=cnts, sums=aligned)
        ts, vals = parts[metric.stat]
        ok = ~np.isnan(vals)
        if metric.stat in ("Sum", "SampleCount"):
            return combine("Sum", s, step, period, n, ts[ok], vals[ok])
        return combine(metric.stat, s, step, period, n, ts[ok], vals[ok])


def sums_per(ts: np.ndarray, sums: np.ndarray, target_ts: np.ndarray) -> np.ndarray:
    """Align ``sums`` (at ``ts``) to ``target_ts`` (0 where absent)."""
    lookup = dict(zip(ts.tolist(), sums.tolist(), strict=True))
    return np.array([lookup.get(t, 0.0) for t in target_ts.tolist()], dtype=np.float64)
