"""The streaming-detector contract shared by every metric anomaly detector.

A detector follows one series, one point at a time: :meth:`Detector.score_one` judges a point
*before* it is learnt (so scores and bands are causal: they use only earlier points), then
:meth:`Detector.learn_one` folds the point into the state. ``step`` does both and is what jobs
call. State per series is bounded by a constant (fixed-size arrays and scalars, never a growing
history), and can be snapshotted with :meth:`Detector.state` / restored with ``from_state`` so a
streaming engine (Flink keyed state) can checkpoint it.

Timestamps are epoch seconds (float) for speed; values are floats (``None``, NaN or ±inf = missing,
skipped without learning).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from pipeline.values import METRIC_LIMIT


class Score(NamedTuple):
    """The verdict on one point.

    Attributes:
        score: anomaly score in [0, 1] (0 during warm-up and for missing values).
        expected: the model's forecast of the point made from earlier points (None in warm-up).
        lower, upper: ``expected ∓ k·σ`` with σ the model's residual scale (None in warm-up);
            ``lower`` is clamped at 0 for series that have never been negative.
        warm: False while the detector is still warming up.
    """

    score: float
    expected: float | None
    lower: float | None
    upper: float | None
    warm: bool


WARMUP_SCORE = Score(0.0, None, None, None, False)

#: CloudWatch's range for a metric value (:data:`pipeline.values.METRIC_LIMIT`, ±2^360): to every
#: detector a value outside it (or NaN, ±inf) is a missing point — scored as the warm-up, not
#: learnt — so no residual or forecast can overflow to inf.
VALUE_LIMIT = METRIC_LIMIT


def _slots(cls: type) -> list[str]:
    """Every slot of ``cls`` and its bases, base first."""
    return [k for c in reversed(cls.__mro__) for k in c.__dict__.get("__slots__", ())]


def slots_state(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``obj``'s slots (all but ``skip``) as a dict; a list is copied, so the snapshot never
    shares a list with the live object. What each state's sub-objects hold is the caller's."""
    return {k: (list(v) if isinstance(v, list) else v)
            for k in _slots(type(obj)) if k not in skip for v in (getattr(obj, k),)}


def restore_slots(cls: type, state: dict[str, Any], skip: tuple[str, ...] = (),
                  missing: dict[str, Any] | None = None) -> Any:
    """Inverse of :func:`slots_state`: a new ``cls`` (``__init__`` not run) with every slot but
    ``skip`` set from ``state`` (lists copied); a key absent from ``state`` takes its value from
    ``missing`` (states saved before that slot existed), else raises ``KeyError``."""
    obj: Any = object.__new__(cls)
    for k in _slots(cls):
        if k in skip:
            continue
        v = state[k] if missing is None or k in state else missing[k]
        setattr(obj, k, list(v) if isinstance(v, list) else v)
    return obj


def after_refractory(full: float, since_alert: int, refractory: int, alert: float) -> tuple[float, int]:
    """A point's score and the count of points since the last alert once it is learnt: within
    ``refractory`` points of an alert a score is halved and cannot start a new alert (an episode
    alerts once); past it a score at or above ``alert`` restarts the count."""
    if since_alert < refractory:
        return full * 0.5, since_alert + 1
    return full, (1 if full >= alert else since_alert + 1)


#: A near-alert: a score at or above this (below the alert level) starts a short silence.
NEAR = 0.45
#: How many points after a near-alert a score below the alert level is halved: as long as the
#: silence after an alert (3 when it was first adopted, ``benchmarks/nab_nearspan.py``).
NEAR_SPAN = 36


def after_near(score: float, since_near: int, alert: float, span: int = NEAR_SPAN) -> tuple[float, int]:
    """A point's score after the silence that follows a near-alert, and the count of points since
    the last near-alert once it is learnt: within ``span`` points after a point scoring
    ≥ :data:`NEAR` a score below ``alert`` is halved (one episode that hovers just under the alert
    level is reported once); a score at or above ``alert`` is never changed. The trigger is the
    score before this halving."""
    n = since_near + 1
    out = score * 0.5 if n <= span and score < alert else score
    return out, (0 if score >= NEAR else n)


def make_score(score: float, expected: float, lower: float, upper: float) -> Score:
    """``Score(score, expected, lower, upper, True)`` built without the named tuple's Python-level
    ``__new__`` (a third of the cost of a detector step's bookkeeping; same value)."""
    return _tuple_new(Score, (score, expected, lower, upper, True))


_tuple_new: Any = tuple.__new__



class Detector(Protocol):
    """What every detector implements (river-style ``learn_one`` / ``score_one``)."""

    name: str

    def score_one(self, t: float, x: float | None) -> Score:
        """Judge point ``x`` at epoch second ``t`` using only what was learnt before."""
        ...

    def learn_one(self, t: float, x: float | None) -> None:
        """Fold the point into the state (detectors skip or clip points they flag)."""
        ...

    def step(self, t: float, x: float | None) -> Score:
        """``score_one`` then ``learn_one``; the streaming entry point."""
        ...

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of the whole state (bounded size)."""
        ...
