"""The Python side of the Flink anomaly job: one series' detector, stepped over one window per call.

:class:`ScoreBatches` is the job's ``KeyedProcessFunction`` (keyed by series). Flink's keyed state
is the source of truth for every series:

* ``last`` — the time (epoch ms) of the newest point the series scored, or absent for a new
  series; it grows with every scored point, so it is also the **version** of the state;
* ``snapshot`` — the pickled ``(detector, last, in_episode)`` as it was some points ago;
* ``log`` — the ``(times, values)`` of every window scored since that snapshot, in order.

The detector is deterministic, so stepping the snapshot's detector over the log gives exactly the
detector after ``last``. A scoring subtask keeps the detectors it used last in memory
(:class:`DetectorCache`, least recently used first out, ``cache_series`` of them): a window whose
series' cached detector has the version the state holds is stepped on the cached object — no
unpickling —, and only its points are appended to the log; a new snapshot is written once
``snapshot_points`` points piled up in the log (then the log is emptied). A cached detector whose
version differs from the state's (Flink restored older state after a failure), or no cached
detector at all (a restart, an evicted series, a rescaled job), is rebuilt from the snapshot and
the log, and a fresh snapshot is written right away, so a series thrown out of a too small cache
costs one unpickle and one pickle per window, as without a cache.

Scores are bit-equal to the library's detector stepped point by point, restore or not: the same
code steps the same points in the same per-series order, and pickling round-trips every float.

A point the detector raises on (a defect, not the data's: none is known) does not fail the job: it
is returned in the window's ``rejected`` with the exception (the collector keeps it in
``errors/anomalies/``), a fresh detector scores the series' later points, and a snapshot is
written at once, so no restore replays the point again — as ``anomalies detect`` does.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from jobs.flink_anomaly_io import encode_window
from pipeline.anomaly import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, make_detector

#: Points stepped since a series' snapshot before a new snapshot is written. A snapshot (a pickle
#: of the ~5,300-number ``context`` detector) costs about as much as stepping 10–20 points; a
#: restore replays at most this many points (~8 ms).
SNAPSHOT_POINTS = 500
#: Series whose detector a scoring subtask keeps in memory (~170 kB each for ``context``); like
#: PyFlink's own ``python.state.cache-size`` (1,000 entries).
CACHE_SERIES = 1000


@dataclass
class Cached:
    """A series' detector as the state of version ``last`` describes it, with ``pending`` points
    in the state's log after its snapshot."""

    det: Any
    last: int
    in_ep: bool
    pending: int


class DetectorCache:
    """At most ``size`` :class:`Cached` detectors by series, the least recently used evicted first
    (``size`` 0: nothing kept, every window rebuilds its detector from the state)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[str, Cached] = OrderedDict()

    def get(self, sid: str) -> Cached | None:
        got = self._d.get(sid)
        if got is not None:
            self._d.move_to_end(sid)
        return got

    def put(self, sid: str, entry: Cached) -> None:
        if self.size <= 0:
            return
        self._d[sid] = entry
        self._d.move_to_end(sid)
        while len(self._d) > self.size:
            self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


class StateVersionError(RuntimeError):
    """A series' snapshot and log do not lead to the version its state records (a corrupt or
    foreign state): carries the series and both times."""

    def __init__(self, sid: str, want: int, got: int) -> None:
        super().__init__(f"series {sid!r}: snapshot + log end at t={got}, the state's version is t={want}")
        self.sid, self.want, self.got = sid, want, got


class ScoreBatches(KeyedProcessFunction):
    """Per-series detector in keyed state (see the module docstring), stepped over one window of
    points per call.

    Emits one line per window (:func:`jobs.flink_anomaly_io.encode_window`): ``sid``, the scored
    points' ``t``/``v``, their ``score``, ``expected``, ``lower``, ``upper`` (None in warm-up),
    ``warm``, ``flag`` (score ≥ threshold on a warm point), ``first`` (the first flagged point of
    an episode) and ``late`` (times not scored: at or before ``last``). ``restores`` and
    ``replayed`` count the detectors rebuilt from state and the points stepped again to do so.
    """

    def __init__(self, detector: str = DEFAULT_DETECTOR, threshold: float = DEFAULT_THRESHOLD, *,
                 cache_series: int = CACHE_SERIES, snapshot_points: int = SNAPSHOT_POINTS) -> None:
        if snapshot_points < 1:
            raise ValueError(f"snapshot_points must be ≥ 1, got {snapshot_points}")
        self.detector, self.threshold = detector, threshold
        self.cache_series, self.snapshot_points = cache_series, snapshot_points
        self.last_state: Any = None
        self.snap_state: Any = None
        self.log_state: Any = None
        self.cache = DetectorCache(cache_series)
        self.restores = self.replayed = 0

    def open(self, runtime_context: RuntimeContext) -> None:
        self.last_state = runtime_context.get_state(ValueStateDescriptor("last", Types.LONG()))
        self.snap_state = runtime_context.get_state(ValueStateDescriptor("snapshot", Types.PICKLED_BYTE_ARRAY()))
        self.log_state = runtime_context.get_list_state(ListStateDescriptor("log", Types.PICKLED_BYTE_ARRAY()))
        self.cache = DetectorCache(self.cache_series)  # a (re)started subtask trusts only its state
        self.restores = self.replayed = 0

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[str]:
        yield encode_window(self.score(value[0], value[1], value[2]))

    def _restore(self, sid: str, version: int) -> Cached:
        """The detector of state version ``version``: the snapshot stepped over the log."""
        blob = self.snap_state.value()
        det, last, in_ep = pickle.loads(blob) if blob is not None else (make_detector(self.detector), -1, False)
        step, threshold, n = det.step, self.threshold, 0
        for ts, vs in self.log_state.get() or ():
            for t, v in zip(ts, vs, strict=True):
                sc = step(t / 1000.0, v)
                if sc.warm:
                    in_ep = sc.score >= threshold
                last = t
                n += 1
        if last != version:
            raise StateVersionError(sid, version, last)
        self.restores += 1
        self.replayed += n
        return Cached(det, last, in_ep, n)

    def score(self, sid: str, ts: Iterable[int], vs: Iterable[float]) -> dict[str, Any]:
        """Step ``sid``'s detector over one window (points in time order; those at or before the
        last scored point are ``late``) and record the new state; returns the scored window."""
        version = self.last_state.value()
        version = -1 if version is None else int(version)
        got = self.cache.get(sid)
        restored = got is None or got.last != version
        if got is None or restored:
            got = self._restore(sid, version)
        det, last, in_ep = got.det, got.last, got.in_ep
        step, threshold = det.step, self.threshold
        late: list[int] = []
        kept_t: list[int] = []
        kept_v: list[float] = []
        scores = []
        flags: list[bool] = []
        firsts: list[bool] = []
        broke: list[list[Any]] = []  # [t, v, reason]: points the detector raised on
        for t, v in sorted(zip(ts, vs, strict=True)):
            if t <= last:
                late.append(t)
                continue
            last = t
            try:
                sc = step(t / 1000.0, v)
            except (ValueError, ArithmeticError) as e:  # a defect, not the data's: keep the point, go on
                why = f"the detector raised {type(e).__name__}: {e}; a fresh one scores the later points"
                broke.append([t, v, why])
                det = make_detector(self.detector)
                step = det.step
                continue
            kept_t.append(t)
            kept_v.append(v)
            scores.append(sc)
            flag = sc.warm and sc.score >= threshold  # episodes: runs of flagged warm points
            flags.append(flag)
            firsts.append(flag and not in_ep)
            if sc.warm:
                in_ep = flag
        pending = got.pending + len(kept_t)
        if kept_t or broke:
            self.last_state.update(last)
        if pending >= self.snapshot_points or (restored and pending) or broke:
            # (after a fresh detector the log must not replay the point the old one raised on)
            # bytes pickled now: the detector object changes again with the next window
            self.snap_state.update(pickle.dumps((det, last, in_ep), protocol=pickle.HIGHEST_PROTOCOL))
            self.log_state.clear()
            pending = 0
        elif kept_t:
            self.log_state.add((kept_t, kept_v))
        got.det, got.last, got.in_ep, got.pending = det, last, in_ep, pending
        self.cache.put(sid, got)
        cols = list(zip(*scores)) if scores else [()] * 5
        return {"sid": sid, "t": kept_t, "v": kept_v, "score": list(cols[0]), "expected": list(cols[1]),
                "lower": list(cols[2]), "upper": list(cols[3]), "warm": list(cols[4]), "flag": flags,
                "first": firsts, "late": late, "rejected": broke}
