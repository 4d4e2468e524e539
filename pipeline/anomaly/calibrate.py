"""Per-series tail calibration: how rare is this much surprise *for this series*?

Each view's raw value (a non-negative z-like number) goes into a decaying log-scale histogram
(64 bins, ``bin = ⌊4·log2(1 + raw)⌋``). The tail probability of a new value is the decayed share
of past values in its bin or above (with half a point of prior, so it is never 0); above the
largest value seen (once 100 points are known) it is extrapolated with a Pareto tail ``∝ (max / raw)⁴``
— past a largest value of 0, as one in a million; with ``bin0`` (multiview's calibrators in
``context``), only a value from bin 1 up is: a value in bin 0 (raw < 0.19) is no deviation at the
histogram's resolution, however new (``benchmarks/nab_bin0bag.py``). The surprise is
``−log10(p)``. A series with recurring big spikes thus learns that its spikes are ordinary, while a
smooth series is surprised by a moderate jump. Memory: ``views × 64`` floats; decay half-life
``halflife`` points (old history fades, so the calibration follows regime changes).
"""

from __future__ import annotations

import math
from typing import Any

BINS = 64
TAIL_EXP = 4.0
REFRESH = 128  # points between refreshes of the shortcut bins and the maximum's decay
_VMAX_DECAY = 0.99995 ** REFRESH  # the largest value seen fades with a ~14,000-point half-life
MIN_EXTRAPOLATE = 100  # points of history before the tail is extrapolated past the maximum
_LOG10 = math.log(10.0)


class TailCalibrator:
    """Decaying histograms of ``n_views`` raw views; see the module docstring."""

    __slots__ = ("n_views", "growth", "w", "hist", "total", "vmax", "n", "low", "bin0")

    def __init__(self, n_views: int, halflife: float = 3000.0, *, bin0: bool = False) -> None:
        self.n_views = n_views
        self.bin0 = bool(bin0)  # :meth:`surprise` (the multi-view reading) does not extrapolate bin 0 past 0
        self.growth = 2.0 ** (1.0 / halflife)  # new points weigh more instead of decaying all
        self.w = 1.0
        self.hist = [[0.0] * BINS for _ in range(n_views)]
        self.total = 0.0
        self.vmax = [0.0] * n_views
        self.n = 0
        self.low = [0] * n_views  # bins below which a view cannot be surprising (a shortcut)

    def surprise(self, views: list[int], raws: list[float], bins: list[int]) -> float:
        """Largest surprise ``−log10(p_tail)`` of ``raws[i]`` against histogram ``views[i]``;
        ``bins`` receives each raw value's bin (reused by :meth:`learn`)."""
        total, half = self.total + self.w, 0.5 * self.w
        best = 0.0
        hist, low, vmax = self.hist, self.low, self.vmax
        extrapolate = self.n >= MIN_EXTRAPOLATE
        log2, log = math.log2, math.log
        append = bins.append
        for v, raw in zip(views, raws):
            if raw <= 0.0:
                append(0)  # the whole history is at least this unusual: no surprise
                continue
            b = int(4.0 * log2(1.0 + raw))
            if b >= BINS:
                b = BINS - 1
            append(b)
            if b < low[v]:
                continue  # at least 25 % of the history is this unusual: surprise < 0.6
            p = (sum(hist[v][b:]) + half) / total
            m = vmax[v]
            if raw > m and extrapolate:
                # beyond everything seen: Pareto tail; a series that never moved at all
                # (m == 0) is as surprised as by a value 30× its largest deviation — from bin 1
                # up only, with ``bin0``
                if m > 0:
                    p *= (m / raw) ** TAIL_EXP
                elif b > 0 or not self.bin0:
                    p *= 1e-6
            s = -log(p) / _LOG10 if p > 0 else 300.0
            if s > best:
                best = s
        return best

    def surprise1(self, raw: float) -> tuple[float, int]:
        """``(surprise, bin)`` of one value against view 0: :meth:`surprise` without the lists
        (the hot path of a one-view calibrator; same result)."""
        if raw <= 0.0:
            return 0.0, 0
        b = int(4.0 * math.log2(1.0 + raw))
        if b >= BINS:
            b = BINS - 1
        if b < self.low[0]:
            return 0.0, b
        p = (sum(self.hist[0][b:]) + 0.5 * self.w) / (self.total + self.w)
        m = self.vmax[0]
        if raw > m and self.n >= MIN_EXTRAPOLATE:
            p *= (m / raw) ** TAIL_EXP if m > 0 else 1e-6
        return (-math.log(p) / _LOG10 if p > 0 else 300.0), b

    def surprise_learn1(self, raw: float) -> float:
        """:meth:`surprise1` then :meth:`learn1` of one value into view 0 (one call: the hot path
        of the sequence judge; same result as the two calls)."""
        if raw <= 0.0:
            b, out = 0, 0.0
        else:
            b = int(4.0 * math.log2(1.0 + raw))
            if b >= BINS:
                b = BINS - 1
            if b < self.low[0]:
                out = 0.0
            else:
                w = self.w
                p = (sum(self.hist[0][b:]) + 0.5 * w) / (self.total + w)
                m = self.vmax[0]
                if raw > m and self.n >= MIN_EXTRAPOLATE:
                    p *= (m / raw) ** TAIL_EXP if m > 0 else 1e-6
                out = -math.log(p) / _LOG10 if p > 0 else 300.0
        w = self.w * self.growth
        if w > 1e100 or (self.n + 1) % REFRESH == 0:
            self.learn([0], [raw], [b])
            return out
        self.w = w
        self.n += 1
        self.total += w
        self.hist[0][b] += w
        if raw > self.vmax[0]:
            self.vmax[0] = raw
        return out

    def learn1(self, raw: float, b: int) -> None:
        """:meth:`learn` of one value (in bin ``b``) into view 0, without the lists."""
        w = self.w * self.growth
        if w > 1e100 or (self.n + 1) % REFRESH == 0:
            self.learn([0], [raw], [b])
            return
        self.w = w
        self.n += 1
        self.total += w
        self.hist[0][b] += w
        if raw > self.vmax[0]:
            self.vmax[0] = raw

    def learn(self, views: list[int], raws: list[float], bins: list[int]) -> None:
        """Add ``raws[i]`` (in bin ``bins[i]``) to histogram ``views[i]`` (weight grows so older
        points fade)."""
        w = self.w * self.growth
        if w > 1e100:
            for h in self.hist:
                for i in range(BINS):
                    h[i] /= w
            self.total /= w
            w = 1.0
        self.w = w
        self.n += 1
        self.total += w
        if self.n % REFRESH == 0:
            self.vmax = [m * _VMAX_DECAY for m in self.vmax]
            self._refresh_low()
        hist, vmax = self.hist, self.vmax
        for v, raw, b in zip(views, raws, bins):
            hist[v][b] += w
            if raw > vmax[v]:
                vmax[v] = raw

    def _refresh_low(self) -> None:
        """Per view, the highest bin whose tail still holds ≥ 25 % of the (decayed) history.

        Below it a value's surprise stays < 0.7 (tail share ≥ 20 %) for the next 128 points (the
        share can shrink by at most ~11 % in 128 points once 1,000 are known), which is under the
        −log10(5) view correction, so skipping it cannot change a score. Disabled before 1,000
        points.
        """
        if self.n < 1000:
            return
        limit = 0.25 * (self.total + self.w)
        for v, h in enumerate(self.hist):
            acc, b = 0.0, BINS
            while b > 0 and acc + h[b - 1] < limit:
                b -= 1
                acc += h[b]
            self.low[v] = b - 1 if b > 0 else 0

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (``bin0`` only when set: states without it read as unset)."""
        s = {"n": self.n, "low": list(self.low), "n_views": self.n_views, "growth": self.growth, "w": self.w,
             "hist": [list(h) for h in self.hist], "total": self.total,
             "vmax": list(self.vmax)}
        if self.bin0:
            s["bin0"] = True
        return s

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> TailCalibrator:
        c = cls.__new__(cls)
        c.n_views, c.growth, c.w, c.total = s["n_views"], s["growth"], s["w"], s["total"]
        c.hist = [list(h) for h in s["hist"]]
        c.n = s["n"]
        c.low = list(s["low"])
        c.vmax = list(s["vmax"])
        c.bin0 = bool(s.get("bin0", False))
        return c
