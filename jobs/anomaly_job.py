"""``watchlake anomalies detect``: run the streaming detectors over the lake's metric rollups.

Reads one statistic of every series (or those matching ``--namespace`` / ``--metric``) from a
rollup table (``metrics_5m`` by default, or ``metrics_1m``) in time order, feeds each series to
its own detector and writes every scored point into the lake table ``anomalies`` (see
:mod:`pipeline.anomaly.table`).

* **Replay** (``start``/``end`` given): fresh detectors are trained on up to 14 days before
  ``start`` (CloudWatch trains on two weeks) and rows are written for ``[start, end)``. Rows the
  same job key wrote before in that range are replaced, so a replay is idempotent.
* **Follow** (no ``start``): per-series detector state is kept in ``_state/anomalies/<key>.json``
  with the last time processed and the tier files already read (:mod:`jobs.anomaly_checkpoint`);
  each run reads only the files rollups wrote since, scores only newer points and appends them.
  ``--follow`` repeats this every ``interval`` seconds.

The job key is ``<detector>-<table>-<stat>``; results of different keys never overwrite each
other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from jobs import anomaly_checkpoint as ckpt
from jobs.anomaly_lake import SeriesData, newest_bucket, read_series, reject_points, write_rows
from pipeline.anomaly import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, make_detector, restore_detector
from pipeline.anomaly.table import ANOMALIES
from pipeline.lake import Lake
from pipeline.timeutil import from_epoch, to_utc

RESTORABLE = ("context", "multiview")  # detectors whose state the follow mode saves

TRAINING = timedelta(days=14)


@dataclass(frozen=True)
class Episode:
    """The first flagged point of a run of flagged points of one series (an anomaly alert)."""

    series: SeriesData
    at: datetime
    value: float
    score: float
    lower: float | None
    upper: float | None


@dataclass
class DetectResult:
    """What one detect run did; ``episodes``: series that went anomalous in it (first points)."""

    series: int = 0
    points: int = 0
    rows: int = 0
    anomalies: int = 0
    files: int = 0
    top: list[tuple[float, str, datetime]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    read_files: int = 0
    """Tier files a follow step read (all of them in a replay: not counted)."""
    rows_read: int = 0
    """Tier rows a follow step read (points already scored included)."""
    scored_to: datetime | None = None
    """A follow step's end: every point before it read (None: all there were)."""
    checkpoint: ckpt.Checkpoint | None = None
    """A follow step's checkpoint after it (pass it as ``state`` to the next step)."""
    reset: list[str] = field(default_factory=list)
    """Series whose saved state could not be restored, or whose detector raised on a point, with
    the reason: each starts a fresh detector after its last scored point (its next points score as
    a warm-up would) instead of stopping the run."""
    rejected: list[tuple[str, int, float, str]] = field(default_factory=list)
    """Points the detector raised on — ``(series, t in epoch ms, value, reason)`` — kept in
    ``errors/anomalies/`` (:func:`reject_points`), not scored; ``points`` does not count them."""


def job_key(detector: str, table: str, stat: str) -> str:
    return f"{detector}-{table.replace('_', '')}-{stat}"


def load_state(lake: Lake, key: str) -> dict[str, Any]:
    """Saved per-series state of a follow job (empty when none)."""
    return ckpt.load(lake, key).series


def detect(lake: Lake, *, table: str = "metrics_5m", stat: str = "Average",
           detector: str = DEFAULT_DETECTOR, threshold: float = DEFAULT_THRESHOLD,
           start: datetime | None = None, end: datetime | None = None,
           namespace: str | None = None, metric: str | None = None,
           units: list[str] | None = None, progress: Any = None, closed_only: bool = False,
           state: ckpt.Checkpoint | None = None,
           before_save: Callable[[DetectResult], None] | None = None) -> DetectResult:
    """One replay (``start`` given) or one follow step (no ``start``); see the module docstring.

    A follow step reads only the tier files its checkpoint has not consumed
    (:mod:`jobs.anomaly_checkpoint`; all files when a filter is given), so its cost is what
    changed since the last step. With ``closed_only`` it scores the points before the newest
    bucket in the tier (which is still filling; data arrives in time order) and consumes nothing
    at or after it. ``state`` is the checkpoint to continue from (default: the saved one; the
    updated one is ``res.checkpoint``). Order: rows committed (tagged with the step's number,
    replacing a killed attempt's), then ``before_save(res)`` (a notifier), then the checkpoint —
    a step killed anywhere is redone whole by the next one, its rows never doubled, its
    notifications (deduplicated by id) never lost."""
    key = job_key(detector, table, stat)
    if start is not None:
        return _replay(lake, key, table, stat, detector, threshold, start, end,
                       namespace, metric, units, progress)
    cp = state if state is not None else ckpt.load(lake, key)
    res = DetectResult(checkpoint=cp)
    filtered = bool(namespace or metric or units) or detector not in RESTORABLE  # no file pruning then
    live = lake.table_files(table)
    files = None if filtered else ckpt.unread(cp, live)
    read = live if files is None else files
    if not read:
        return res
    if closed_only:
        newest = newest_bucket(lake, table, read)
        end = newest if end is None or (newest is not None and newest < end) else end
    res.read_files, res.scored_to = len(read), end
    counter = [0]
    cols, updates = _score(res, read_series(lake, table, stat, end=end, namespace=namespace, metric=metric,
                                            units=units, files=files, counter=counter),
                           cp.series, stat, detector, threshold, -1.0, progress)
    res.rows_read = counter[0]
    table_rows = pa.Table.from_pydict(cols, schema=ANOMALIES)
    res.rows = table_rows.num_rows
    files_after = cp.files if filtered else ckpt.consumed(table, cp, live, read,
                                                          end.timestamp() if end is not None else None)
    if not updates and not res.rows:  # nothing scored: the saved checkpoint is still exact
        res.checkpoint = ckpt.Checkpoint(cp.series, files_after, cp.seq)
        return res
    res.files = write_rows(lake, key, table_rows, None, step=cp.seq + 1)
    reject_points(lake, res.rejected, table)
    if before_save is not None:
        before_save(res)
    res.checkpoint = ckpt.Checkpoint({**cp.series, **updates}, files_after, cp.seq + 1)
    ckpt.save(lake, key, res.checkpoint)
    return res


def _replay(lake: Lake, key: str, table: str, stat: str, detector: str, threshold: float,
            start: datetime, end: datetime | None, namespace: str | None, metric: str | None,
            units: list[str] | None, progress: Any) -> DetectResult:
    res = DetectResult()
    series = read_series(lake, table, stat, start=to_utc(start) - TRAINING, end=end, namespace=namespace,
                         metric=metric, units=units)
    seen: set[str] = set()

    def counted() -> Iterator[SeriesData]:
        for sd in series:
            seen.add(sd.series_id)
            yield sd

    cols, _ = _score(res, counted(), {}, stat, detector, threshold, to_utc(start).timestamp(), progress)
    table_rows = pa.Table.from_pydict(cols, schema=ANOMALIES)
    res.rows = table_rows.num_rows
    res.files = write_rows(lake, key, table_rows, (start, end), series=seen)
    reject_points(lake, res.rejected, table)
    return res


def _score(res: DetectResult, series: Iterator[SeriesData], saved_state: dict[str, dict[str, Any]], stat: str,
           detector: str, threshold: float, emit_from: float, progress: Any
           ) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
    """Score each series' points newer than its saved ``last``; returns the ``anomalies`` columns
    and the new state of each series scored (``saved_state`` is not changed)."""
    cols: dict[str, list[Any]] = {n: [] for n in ANOMALIES.names}
    updates: dict[str, dict[str, Any]] = {}
    for sd in series:
        res.series += 1
        saved = saved_state.get(sd.series_id)
        det: Any = None
        last = -1.0
        if saved is not None and detector in RESTORABLE:
            try:
                last = float(saved["last"])
                det = restore_detector(detector, saved["det"])
            except (ValueError, KeyError, TypeError) as e:  # damaged or foreign: start afresh
                res.reset.append(f"{sd.series_id}: {type(e).__name__}: {e}")
        if det is None:
            det = make_detector(detector)
        in_episode = bool(saved.get("flag", False)) if saved is not None else False
        step = det.step
        scored = False
        # the rows' varying columns (plain numbers: a list of score tuples would keep the cyclic
        # GC busy); the series' own columns are repeated once at the end
        ts: list[int] = []
        vs: list[float] = []
        scores: list[float] = []
        expected: list[float | None] = []
        lower: list[float | None] = []
        upper: list[float | None] = []
        for t, v in zip(sd.times, sd.values, strict=True):
            if t <= last:
                continue
            try:
                score, exp, lo, up, warm = step(t, v)
            except (ValueError, ArithmeticError) as e:  # a defect, not the data's: keep the point, go on
                why = f"the detector raised {type(e).__name__}: {e}"
                res.rejected.append((sd.series_id, int(t * 1000), v, why + "; a fresh one scores the later points"))
                res.reset.append(f"{sd.series_id} at {from_epoch(t, 's'):%Y-%m-%dT%H:%M:%SZ}: {why}")
                det = make_detector(detector)
                step = det.step
                scored = True
                continue
            scored = True
            res.points += 1
            if not warm or t < emit_from:
                continue
            ts.append(int(t * 1000))
            vs.append(v)
            scores.append(score)
            expected.append(exp)
            lower.append(lo)
            upper.append(up)
            flagged = score >= threshold
            if flagged:
                res.anomalies += 1
                res.top.append((score, f"{sd.metric_name} {sd.dimensions}", from_epoch(t, "s")))
                if not in_episode:
                    res.episodes.append(Episode(sd, from_epoch(t, "s"), v, score, lo, up))
            in_episode = flagged
        _add_rows(cols, sd, stat, detector, {"timestamp": ts, "value": vs, "score": scores,
                                             "expected": expected, "lower": lower, "upper": upper},
                  [s >= threshold for s in scores])
        if scored and detector in RESTORABLE:
            updates[sd.series_id] = {"last": max(last, sd.times[-1]), "det": det.state(), "flag": in_episode}
        if progress is not None:
            progress.advance(1, sd.metric_name)
    res.top = sorted(res.top, reverse=True)[:5]
    return cols, updates


def _add_rows(cols: dict[str, list[Any]], sd: SeriesData, stat: str, detector: str,
              varying: dict[str, list[Any]], flags: list[bool]) -> None:
    """Append one series' scored points to the ``anomalies`` columns, in order: the ``varying``
    columns as given, ``is_anomaly`` from ``flags``, the series' own columns once per row."""
    n = len(flags)
    if not n:
        return
    for name, val in (("series_id", sd.series_id), ("namespace", sd.namespace),
                      ("metric_name", sd.metric_name), ("dimensions", sd.dimensions),
                      ("unit", sd.unit), ("stat", stat), ("period", sd.period), ("detector", detector)):
        cols[name].extend([val] * n)
    for name, col in varying.items():
        cols[name].extend(col)
    cols["is_anomaly"].extend(flags)


def notify_anomalies(lake: Lake, topic: str, res: DetectResult) -> int:
    """Publish one alert per new episode of ``res`` to ``topic`` (the message carries the series,
    the point, its score and the expected band, with CloudWatch's alarm field names where they
    apply); returns the messages sent."""
    from pipeline.notify import Notifier
    from pipeline.timeutil import iso

    sent = 0
    with Notifier(lake) as n:
        for ep in res.episodes:
            sd = ep.series
            r = n.publish(topic, f"ANOMALY: {sd.namespace} {sd.metric_name}"[:99], {
                "AlarmName": f"anomaly:{sd.series_id}", "NewStateValue": "ALARM",
                "NewStateReason": f"value {ep.value:g} outside the expected band "
                                  f"[{ep.lower if ep.lower is not None else '-'}, "
                                  f"{ep.upper if ep.upper is not None else '-'}] (score {ep.score:.2f})",
                "StateChangeTime": iso(ep.at),
                "Trigger": {"Namespace": sd.namespace, "MetricName": sd.metric_name,
                            "Dimensions": json.loads(sd.dimensions) if sd.dimensions else {},
                            "Unit": sd.unit, "Period": sd.period,
                            "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
                "Value": ep.value, "Score": ep.score, "ExpectedLower": ep.lower, "ExpectedUpper": ep.upper},
                at=ep.at, dedup_id=f"anomaly:{sd.series_id}:{iso(ep.at)}")
            sent += not r.duplicate
    return sent


def state_summary(lake: Lake, key: str) -> str:
    """Short description of a follow job's saved state (for the CLI)."""
    st = load_state(lake, key)
    if not st:
        return "none"
    last = max(float(v["last"]) for v in st.values())
    return f"{len(st)} series, up to {from_epoch(last, 's').isoformat()} ({len(json.dumps(st)) // 1024} KiB)"
