"""``context`` whose forecaster learns robustly: each value it learns is first cleaned to within
``c`` σ of the forecast (Huber's ψ), as in robust Holt-Winters smoothing.

    .venv/bin/python -m benchmarks.nab_robust [--workers N] [--checks]

Why (declared in the thirteenth session, before any of these was scored): at NAB's threshold a
large share of multiview's false positives are ordinary values — a count of 7 where the median is
14, a CPU of 34.9 where it is 33 — judged against a forecast that the points just before had
pulled away: a burst that is large but not flagged is learnt in full (the fast level moves by
10 % of it, the profiles and the slow level too), so the return to the usual level reads as a
drop, and on a skewed non-negative series the downward residuals' history has a short tail, so
it reads as a rare one. Gelper, Fried and Croux (*Robust forecasting with exponential and
Holt-Winters smoothing*, J. Forecasting 2010) clean every observation before the smoothing
equations learn it, ``x* = x̂ + ψ_k((x − x̂)/σ̂)·σ̂`` with Huber's ``ψ_k`` (``k = 2``), so one
outlier moves the level by at most ``α·k·σ̂``; the scale is learnt from the raw residual through
a bounded function (``SeasonalModel``'s error trackers already cap each residual at 4× their
error). Here ``x̂, σ̂`` are the forecaster's own :meth:`~pipeline.anomaly.model.SeasonalModel.best`
forecast and σ; the fast and slow levels and the hour-of-day / hour-of-week profiles learn
``x*``; the error trackers, the resolution and the previous value still see ``x``. Points multiview
flags are still not learnt at all, and a persistent shift still relevels after 12 flags.

Declared variants (the default's settings otherwise): ``huber k=2`` (the paper's constant) and
``huber k=3``.

Rule, fixed with them: the variant the nested leave-one-group-out selection among the default and
these two picks replaces the default only if its nested held-out score is at least the default's
own held-out score (74.58 / 60.88 / 81.28) on all three profiles, it is no worse on the synthetic
held-out shapes and it raises under 1 false alert a week on normal traffic. Measured on the
Python path (multiview's compiled core has no such option; the other judges stay compiled); the
default's own scores are the same there bit for bit. Results:
benchmarks/anomaly-experiments.md (thirteenth session).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.nab_eval import BAGLESS, bagless_scores
from pipeline.anomaly.model import SeasonalModel

#: name → Huber's k
VARIANTS: dict[str, float] = {"huber k=2": 2.0, "huber k=3": 3.0}



class _Robust(SeasonalModel):
    """:class:`SeasonalModel` learning Huber-cleaned values (``K`` σ around its best forecast);
    the error trackers, resolution, previous value and sign still learn the raw value (from a
    twin that learns it whole: slow, but exact and without a second copy of ``learn``)."""

    __slots__ = ()
    K = 2.0

    def learn(self, t: float, x: float) -> None:
        b = self.best(t)
        if b is None:
            return super().learn(t, x)
        p, sigma = b
        lim = self.K * sigma
        xc = p - lim if x < p - lim else (p + lim if x > p + lim else x)
        if xc == x:
            return super().learn(t, x)
        twin = SeasonalModel.__new__(SeasonalModel)
        for key in SeasonalModel.__slots__:
            v = getattr(self, key)
            setattr(twin, key, list(v) if isinstance(v, list) else v)
        twin.learn(t, x)
        super().learn(t, xc)
        self.err, self.err_n = twin.err, twin.err_n
        self.resolution, self.prev, self.nonneg = twin.resolution, twin.prev, twin.nonneg
        return None


_KINDS: dict[float, type] = {}


def robust_scores(times: Sequence[float], values: Sequence[float | None], k: float) -> list[float]:
    """The default detector's scores, its forecaster learning Huber-cleaned values (Python path)."""
    from pipeline.anomaly.context import ContextDetector
    from pipeline.anomaly.multiview import MultiViewDetector

    d = ContextDetector(**BAGLESS)
    d.mv = MultiViewDetector(halflife=1000.0, slow_views=False)  # the default's, on the Python path
    if k > 0:
        d.mv.model.__class__ = _KINDS.setdefault(k, type(f"Robust{k}", (_Robust,), {"__slots__": (), "K": k}))
    return [d.step(t, v).score for t, v in zip(times, values, strict=True)]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.nab_ensemble import family_main

    return family_main(argv, "context with a robust forecaster on NAB (declared variants)", robust_scores,
                       {n: (k,) for n, k in VARIANTS.items()},
                       default=bagless_scores)


if __name__ == "__main__":
    raise SystemExit(main())
