"""The Flink job's scoring function against keyed state held in dicts (no JVM): cached detectors,
snapshots and logs give the library's scores bit for bit, through evictions, a restore from an
earlier checkpoint and a cache that is ahead of the restored state. (The same function on Flink's
real state: tests/jobs/test_flink_anomaly.py and the cluster kill test.)"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from jobs.anomaly_lake import SeriesData
from jobs.flink_anomaly_score import ScoreBatches, StateVersionError
from tests.jobs.test_flink_anomaly import library_scores, sample_minutes


class Keyed:
    """Flink's keyed state for the function: one value per state name and current key."""

    def __init__(self) -> None:
        self.key = ""
        self.data: dict[tuple[str, str], Any] = {}

    def state(self, name: str) -> Value:
        return Value(self, name)

    def list_state(self, name: str) -> ListOf:
        return ListOf(self, name)


class Value:
    def __init__(self, keyed: Keyed, name: str) -> None:
        self.keyed, self.name = keyed, name

    def value(self) -> Any:
        return self.keyed.data.get((self.name, self.keyed.key))

    def update(self, v: Any) -> None:
        self.keyed.data[(self.name, self.keyed.key)] = copy.deepcopy(v)  # Flink serialises on write

    def clear(self) -> None:
        self.keyed.data.pop((self.name, self.keyed.key), None)


class ListOf(Value):
    def get(self) -> Any:
        return iter(copy.deepcopy(self.keyed.data.get((self.name, self.keyed.key), [])))

    def add(self, v: Any) -> None:
        self.keyed.data.setdefault((self.name, self.keyed.key), []).append(copy.deepcopy(v))


def scorer(keyed: Keyed, **kw: Any) -> ScoreBatches:
    fn = ScoreBatches(**kw)
    fn.last_state, fn.snap_state, fn.log_state = keyed.state("last"), keyed.state("snapshot"), keyed.list_state("log")
    return fn


def windows(series: list[SeriesData], seed: int) -> list[tuple[str, list[int], list[float]]]:
    """Every series cut into windows of 1–12 points, interleaved across series, each window's
    points shuffled (the job sorts them)."""
    rng = random.Random(seed)
    per: list[list[tuple[str, list[int], list[float]]]] = []
    for sd in series:
        pts = [(int(round(t * 1000)), v) for t, v in zip(sd.times, sd.values, strict=True)]
        cut: list[tuple[str, list[int], list[float]]] = []
        i = 0
        while i < len(pts):
            n = rng.randint(1, 12)
            chunk = pts[i:i + n]
            rng.shuffle(chunk)
            cut.append((sd.series_id, [t for t, _ in chunk], [v for _, v in chunk]))
            i += n
        per.append(cut)
    out = []
    while per:
        k = rng.randrange(len(per))
        out.append(per[k].pop(0))
        if not per[k]:
            per.pop(k)
    return out


def run(fn: ScoreBatches, keyed: Keyed, ws: list[tuple[str, list[int], list[float]]]) -> list[dict[str, Any]]:
    out = []
    for sid, ts, vs in ws:
        keyed.key = sid
        out.append(fn.score(sid, ts, vs))
    return out


def rows(out: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    got: dict[str, list[tuple[Any, ...]]] = {}
    for w in out:
        got.setdefault(w["sid"], []).extend(
            zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"], w["warm"], strict=True))
    return got


@pytest.fixture(scope="module")
def series() -> list[SeriesData]:
    return sample_minutes()[:4]


@pytest.mark.parametrize(("cache", "snap"), [(1000, 500), (1000, 7), (1, 7), (0, 50)])
def test_scores_equal_the_library_with_any_cache_and_snapshot_spacing(series, cache, snap) -> None:
    keyed = Keyed()
    fn = scorer(keyed, cache_series=cache, snapshot_points=snap)
    ws = windows(series, seed=cache + snap)
    got = rows(run(fn, keyed, ws))
    for sd in series:
        assert got[sd.series_id] == library_scores(sd), sd.series_id  # bit-equal, point by point
    if cache >= len(series):
        assert fn.restores == len(series) and fn.replayed == 0  # each new series once, nothing replayed
    elif cache == 0:  # every window rebuilt from its snapshot, rewritten at once: no log to replay
        assert fn.restores == len(ws) and fn.replayed == 0
    else:  # evicted while other series ran: rebuilt from the snapshot and the log since
        assert len(series) < fn.restores < len(ws) and fn.replayed > 0


def test_restore_mid_stream_equals_an_uninterrupted_run(series) -> None:
    ws = windows(series, seed=3)
    keyed = Keyed()
    whole = run(scorer(keyed, snapshot_points=97), keyed, ws)
    # the same stream with a "checkpoint" after 40 % of the windows, then a failure at 70 %:
    keyed = Keyed()
    fn = scorer(keyed, snapshot_points=97)
    cut, fail = len(ws) * 2 // 5, len(ws) * 7 // 10
    first = run(fn, keyed, ws[:cut])
    checkpoint = copy.deepcopy(keyed.data)
    run(fn, keyed, ws[cut:fail])  # output lost with the failure (not committed)
    logs = [v for (name, _), v in checkpoint.items() if name == "log"]
    assert any(logs)  # the checkpoint holds logs to replay, not only snapshots

    # 1. a restarted subtask: an empty cache, Flink's state from the checkpoint
    keyed.data = copy.deepcopy(checkpoint)
    fresh = scorer(keyed, snapshot_points=97)
    assert first + run(fresh, keyed, ws[cut:]) == whole
    assert fresh.replayed > 0 and fresh.restores == len(series)

    # 2. a subtask whose cached detectors are ahead of the restored state (versions differ)
    keyed.data = copy.deepcopy(checkpoint)
    fn.restores = fn.replayed = 0
    assert first + run(fn, keyed, ws[cut:]) == whole
    assert fn.restores == len(series)


def test_a_state_that_does_not_reach_its_version_is_refused(series) -> None:
    keyed = Keyed()
    fn = scorer(keyed, snapshot_points=1000)
    sd = series[0]
    ts = [int(round(t * 1000)) for t in sd.times[:20]]
    keyed.key = sd.series_id
    fn.score(sd.series_id, ts[:10], sd.values[:10])
    fn.score(sd.series_id, ts[10:], sd.values[10:20])
    keyed.data[("log", sd.series_id)].pop()  # the last window's points lost from the log
    fresh = scorer(keyed)
    with pytest.raises(StateVersionError) as err:
        fresh.score(sd.series_id, [ts[-1] + 60_000], [1.0])
    assert (err.value.sid, err.value.want, err.value.got) == (sd.series_id, ts[19], ts[9])


def test_late_points_are_named_and_not_rescored(series) -> None:
    keyed = Keyed()
    fn = scorer(keyed)
    sd = series[0]
    ts = [int(round(t * 1000)) for t in sd.times[:6]]
    keyed.key = sd.series_id
    fn.score(sd.series_id, ts[:4], sd.values[:4])
    w = fn.score(sd.series_id, [ts[2], ts[4], ts[3], ts[5]], [9.0, sd.values[4], 9.0, sd.values[5]])
    assert w["late"] == [ts[2], ts[3]] and w["t"] == ts[4:6]
    assert list(zip(w["t"], w["score"], strict=True)) == [(r[0], r[2]) for r in library_scores(sd)[4:6]]


def test_a_point_the_detector_raises_on_is_returned_and_a_restore_does_not_replay_it(series, monkeypatch) -> None:
    """A detector that raises (a defect, injected here at one point) must not fail the job: the
    window returns the point in ``rejected``; a fresh detector scores the later points — exactly
    as a fresh library detector started after that point —, and a subtask that restores from the
    keyed state (no cache) scores on exactly as the one that kept its detector."""
    from pipeline.anomaly.context import ContextDetector

    sd = series[0]
    pts = [(int(round(t * 1000)), v) for t, v in zip(sd.times, sd.values, strict=True)]
    at = pts[100][0]
    real = ContextDetector.step

    def step(self, t, x):
        if int(round(t * 1000)) == at:
            raise ArithmeticError("injected")
        return real(self, t, x)

    monkeypatch.setattr(ContextDetector, "step", step)
    keyed = Keyed()
    keyed.key = sd.series_id
    fn = scorer(keyed, snapshot_points=10_000)  # no snapshot due by count: the guard must write one
    w = fn.score(sd.series_id, [t for t, _ in pts[90:110]], [v for _, v in pts[90:110]])
    assert w["rejected"] == [[at, pts[100][1], "the detector raised ArithmeticError: injected; a fresh one "
                              "scores the later points"]]
    assert at not in w["t"] and len(w["t"]) == 19
    monkeypatch.setattr(ContextDetector, "step", real)
    fresh = ContextDetector()
    want = [fresh.step(t / 1000.0, v).score for t, v in pts[101:200]]
    assert w["score"][10:] == want[:9]  # the fresh detector after the rejected point
    later = ([t for t, _ in pts[110:200]], [v for _, v in pts[110:200]])
    restored = scorer(keyed, snapshot_points=10_000)  # a new subtask: no cache, only the state
    saved = copy.deepcopy(keyed.data)
    a = fn.score(sd.series_id, *later)
    keyed.data = saved
    b = restored.score(sd.series_id, *later)
    assert a["score"] == b["score"] == want[9:] and not a["rejected"] and not b["rejected"]
