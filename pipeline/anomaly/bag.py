"""Multiview's views judged at several calibration half-lives: their median surprise.

A view's surprise depends on how long its calibration remembers (``halflife`` points of decaying
histograms). On NAB, half-lives of 1,000 and 2,000 points tie overall but move single groups of
series by ±5 points either way: which one is right for a series is a coin toss the detector cannot
make from the series. :class:`MultiViewBag` does not choose: it runs one multiview per half-life
(each a whole detector — its forecaster learns only the points it does not flag itself, so the
members drift apart) and answers as one multiview does, with the **median** of their surprises and
the middle member's forecast and σ. With half-lives 600 / 1,000 / 2,000 (:data:`BAG`, the
``context`` default since the twentieth session) the middle member is the previous default's own
multiview, so the band that ``ANOMALY_DETECTION_BAND`` alarms and the dashboards draw is unchanged.

Each member runs compiled when it can (:func:`~pipeline.anomaly.multiview.mv_core`); the bag costs
three members' steps (~1,100 numbers of state each). Adopted under the rule declared with it
(``benchmarks/nab_bagnear.py``; benchmarks/anomaly-experiments.md, twentieth session).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from pipeline.anomaly.multiview import MultiViewDetector, mv_core, restore_mv

try:  # the bag of three compiled cores judged in one call (pipeline/anomaly/_mv.c)
    from pipeline.anomaly._mv import MvCore, judge3  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - the extension is not built
    MvCore = judge3 = None

#: The default bag's calibration half-lives (points), in ascending order; the middle one is the
#: single multiview's half-life inside ``context`` before the bag.
BAG = (600.0, 1000.0, 2000.0)


class MultiViewBag:
    """An odd number of multiview detectors at different calibration half-lives, answering
    ``judge`` / ``peek`` / ``forecast`` / ``k`` / ``nonneg`` / ``state`` as one multiview does
    (see the module docstring). It pickles."""

    __slots__ = ("members", "mid", "judge")

    judge: Callable[[float, float], tuple[float, float, float] | None]
    """Every member's ``judge`` (each learns ``x`` as it would alone): ``(median surprise, middle
    member's forecast, its σ)``, None in the warm-up (the members share its length). Three
    compiled members are judged in one call (``_mv.judge3``, the same numbers)."""

    def __init__(self, members: Sequence[Any]) -> None:
        if len(members) % 2 != 1:
            raise ValueError(f"a median bag needs an odd number of members, got {len(members)}")
        self.members = list(members)
        self.mid = self.members[len(self.members) // 2]
        trio = tuple(self.members)
        self.judge = (partial(judge3, trio) if MvCore is not None and len(trio) == 3
                      and all(type(m) is MvCore for m in trio) else partial(_judge_all, trio))

    def __reduce__(self) -> tuple[Any, ...]:
        return (MultiViewBag, (self.members,))

    @classmethod
    def of(cls, halflives: Sequence[float], **params: Any) -> MultiViewBag:
        """One :class:`MultiViewDetector` (``params``) per calibration half-life, each compiled when
        it can be; the middle member is the ``halflives``' middle one after sorting."""
        hs = sorted(float(h) for h in halflives)
        return cls([mv_core(m) or m for m in (MultiViewDetector(halflife=h, **params) for h in hs)])

    @property
    def k(self) -> float:
        return float(self.mid.k)

    @property
    def nonneg(self) -> bool:
        return bool(self.mid.nonneg)

    def peek(self, t: float, x: float) -> tuple[float, float, float] | None:
        """:meth:`judge` without learning ``x``."""
        return _median([m.peek(t, x) for m in self.members])

    def forecast(self, t: float) -> tuple[float, float] | None:
        """The middle member's ``(expected, sigma)`` at ``t``, None in its warm-up."""
        return self.mid.forecast(t)  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot: every member's multiview state, in half-life order."""
        return {"bag": [m.state() for m in self.members]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiViewBag:
        """Inverse of :meth:`state` (each member compiled when it can be)."""
        return cls([restore_mv(s) for s in state["bag"]])


def _judge_all(members: tuple[Any, ...], t: float, x: float) -> tuple[float, float, float] | None:
    """:meth:`MultiViewBag.judge` member by member."""
    return _median([m.judge(t, x) for m in members])


def _median(js: list[tuple[float, float, float] | None]) -> tuple[float, float, float] | None:
    """The members' answers combined: None if any is in its warm-up, else the median surprise
    with the middle answer's forecast and σ."""
    if len(js) == 3:  # the default bag, without sorting
        a, b, c = js
        if a is None or b is None or c is None:
            return None
        x, y, z = a[0], b[0], c[0]
        if x > y:
            x, y = y, x
        return (y if y < z else x if x > z else z, b[1], b[2])  # x ≤ y: median of three
    if any(j is None for j in js):
        return None
    mid = js[len(js) // 2]
    assert mid is not None
    return (sorted(j[0] for j in js if j is not None)[len(js) // 2], mid[1], mid[2])


def restore_multiview(state: dict[str, Any]) -> Any:
    """A ``context`` detector's multiview from its state: a :class:`MultiViewBag` from
    :meth:`MultiViewBag.state`, else one multiview (:func:`~pipeline.anomaly.multiview.restore_mv`)."""
    return MultiViewBag.from_state(state) if "bag" in state else restore_mv(state)
