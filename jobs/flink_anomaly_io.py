"""The Flink anomaly job's edges: its inbox of closed point files and its scored output.

* :func:`write_inbox` writes 1-minute (or 5-minute) points as one file ``points-<seq>.csv`` of
  ``t,v,sid`` lines (epoch ms; ``repr`` floats, which parse back to the same double; the series id
  last and as it is — commas and quotes of its JSON included —, only ``%``, CR and LF written as
  ``%25``, ``%0D``, ``%0A``: :func:`inbox_line`) sorted by time — under a hidden name first, then renamed, so
  Flink's file source (which skips hidden files) only ever sees closed files. Each file gets a
  modification time (whole milliseconds, what Flink sees) later than every file already in the
  inbox: the job reads files in modification-time order (:func:`jobs.flink_anomaly.inbox_table`),
  so files written in order are read in order, however many one directory scan finds. Values that
  are not finite are counted (``skipped``), never fed.
* :func:`read_out` reads the part files the job's ``FileSink`` has committed (one JSON line per
  series-window; in-progress files are hidden until their checkpoint completes).
* :func:`collect` turns them into ``anomalies`` rows — the same rows :func:`jobs.anomaly_job.detect`
  writes — and commits them through the ledgered replace (:mod:`pipeline.lake.replace`), keyed by
  ``(series_id, timestamp)``: a window the job emits again after a restore replaces its rows, never
  doubles them. Points the job did not score because they came behind its watermark (their
  window had closed) are kept with that reason in ``errors/anomalies/`` (:func:`reject_points`,
  the lake's rejected-input table), as are the points the run stage could not feed. The part files
  are deleted only after the commit.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sys
import time
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from jobs.anomaly_job import DetectResult, Episode
from jobs.anomaly_lake import SeriesData, reject_points
from pipeline.anomaly.table import ANOMALIES, SORT_KEYS
from pipeline.timeutil import from_epoch, iso, to_utc

INBOX_PREFIX = "points-"
"""The ``errors/<source>/`` folder of points the anomaly job received but did not score."""
_NAN = float("nan")


@dataclass
class Fed:
    """What one :func:`write_inbox` call wrote: points, non-finite values skipped, the file (None
    when there was nothing to write) and each series' newest time fed (epoch ms)."""

    points: int = 0
    skipped: int = 0
    path: Path | None = None
    last: dict[str, int] = field(default_factory=dict)


def write_inbox(inbox: Path, series: Iterable[SeriesData], *, seq: int,
                after: Mapping[str, int] | None = None, not_before: int | None = None) -> Fed:
    """Write the points of ``series`` newer than ``after[series_id]`` (epoch ms) into the closed
    file ``inbox/points-<seq>.csv``, sorted by (time, series). Points older than ``not_before``
    are not written (the caller counts them as late); returns what was written."""
    fed = Fed()
    rows: list[tuple[int, str, float]] = []
    for sd in series:
        floor = after.get(sd.series_id, -1) if after is not None else -1
        for t, v in zip(sd.times, sd.values, strict=True):
            t_ms = int(round(t * 1000))
            if t_ms <= floor or (not_before is not None and t_ms < not_before):
                continue
            if not math.isfinite(v):
                fed.skipped += 1
                continue
            rows.append((t_ms, sd.series_id, v))
            if t_ms > fed.last.get(sd.series_id, -1):
                fed.last[sd.series_id] = t_ms
    if not rows:
        return fed
    rows.sort()
    inbox.mkdir(parents=True, exist_ok=True)
    final = inbox / f"{INBOX_PREFIX}{seq:012d}.csv"
    tmp = inbox / f".{final.name}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        fh.writelines(inbox_line(sid, t, v) for t, sid, v in rows)
        fh.flush()
        os.fsync(fh.fileno())
    stamp = _next_mtime_ms(inbox) * 1_000_000
    os.utime(tmp, ns=(stamp, stamp))  # renaming keeps it
    os.replace(tmp, final)
    fed.points, fed.path = len(rows), final
    return fed


def inbox_line(sid: str, t_ms: int, v: float) -> str:
    """One inbox line ``t,v,sid\n``: the series id last, as it is except ``%`` → ``%25``, CR → ``%0D``,
    LF → ``%0A`` (the job splits the line at its first two commas and undoes exactly these:
    :data:`jobs.flink_anomaly_source.SID`)."""
    if "%" in sid or "\n" in sid or "\r" in sid:
        sid = sid.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"{t_ms},{v!r},{sid}\n"


def _next_mtime_ms(inbox: Path) -> int:
    """A modification time (epoch ms) for the next inbox file: now, but at least 1 ms after the
    newest file already there. Flink's file monitor orders files by modification time in whole
    milliseconds and skips a file no newer than the newest it has read, so every file must be
    strictly newer than the one before it — also when two are written within one millisecond."""
    newest = max((e.stat().st_mtime_ns for e in os.scandir(inbox)
                  if e.name.startswith(INBOX_PREFIX) and e.name.endswith(".csv")), default=0)
    return max(time.time_ns() // 1_000_000, newest // 1_000_000 + 1)


_FLOAT_COLS = ("t", "v", "score", "expected", "lower", "upper")  # float64; None ↔ NaN
_FLAG_COLS = ("warm", "flag", "first")  # one digit per point: warm | flag << 1 | first << 2


def encode_window(w: Mapping[str, Any]) -> str:
    """One scored window as a compact JSON line: the float columns as one base64 block of
    little-endian float64 (exact bits; epoch ms fit a double exactly), the flags as digits; the
    optional ``behind`` (points not scored because they came behind the watermark, each
    ``[t, v, seconds behind]``) as JSON numbers (``repr`` floats: exact)."""
    n = len(w["t"])
    floats = array("d", [_NAN if x is None else x for c in _FLOAT_COLS for x in w[c]])
    if sys.byteorder != "little":
        floats.byteswap()
    flags = "".join(str(a | b << 1 | c << 2) for a, b, c in zip(*(w[c] for c in _FLAG_COLS), strict=True))
    d = {"sid": w["sid"], "n": n, "f": base64.b64encode(floats.tobytes()).decode("ascii"),
         "b": flags, "late": w["late"]}
    if w.get("behind"):
        d["behind"] = w["behind"]
    if w.get("rejected"):
        d["rejected"] = w["rejected"]
    return json.dumps(d, separators=(",", ":"))


def decode_window(line: str) -> dict[str, Any]:
    """Inverse of :func:`encode_window` (``t`` and ``late`` as int epoch ms; ``behind`` as
    ``[t, v, seconds]`` lists, empty when the line has none)."""
    d = json.loads(line)
    n = d["n"]
    floats = array("d")
    floats.frombytes(base64.b64decode(d["f"]))
    if sys.byteorder != "little":
        floats.byteswap()
    out: dict[str, Any] = {"sid": d["sid"], "late": d["late"], "behind": d.get("behind", []),
                           "rejected": d.get("rejected", [])}
    for i, c in enumerate(_FLOAT_COLS):
        col = floats[i * n:(i + 1) * n].tolist()
        out[c] = ([int(x) for x in col] if c == "t" else
                  col if c in ("v", "score") else [None if x != x else x for x in col])
    bits = [int(ch) for ch in d["b"]]
    for i, c in enumerate(_FLAG_COLS):
        out[c] = [bool(x >> i & 1) for x in bits]
    return out


def read_out(out_dir: Path) -> list[tuple[Path, list[dict[str, Any]]]]:
    """The committed part files under ``out_dir`` (sorted) and their scored windows."""
    found: list[tuple[Path, list[dict[str, Any]]]] = []
    if not out_dir.is_dir():
        return found
    for f in sorted(out_dir.rglob("*")):
        if f.is_file() and not f.name.startswith((".", "_")):
            with open(f) as fh:
                found.append((f, [decode_window(line) for line in fh if line.strip()]))
    return found


@dataclass
class Collected:
    """The detect-style result of one :func:`collect`, plus the points not scored — ``late``: at
    or before their series' last scored point (a duplicate); ``behind``: ``(series, t, v, seconds)``
    of each point that came behind the job's watermark (its window had closed), kept in
    ``errors/anomalies/`` — and the newest scored time (epoch ms)."""

    result: DetectResult
    late: int = 0
    behind: list[tuple[str, int, float, int]] = field(default_factory=list)
    newest: int | None = None


def collect(lake: Any, out_dir: Path, meta: Mapping[str, SeriesData], *, key: str, stat: str,
            detector: str, replace: tuple[datetime | None, datetime | None] | None = None,
            emit_from: datetime | None = None) -> DetectResult:
    """Write the committed scored windows under ``out_dir`` into ``anomalies`` (see
    :func:`collect_windows`); returns the run's :class:`DetectResult`."""
    return collect_windows(lake, out_dir, meta, key=key, stat=stat, detector=detector,
                           replace=replace, emit_from=emit_from).result


def collect_windows(lake: Any, out_dir: Path, meta: Mapping[str, SeriesData], *, key: str,
                    stat: str, detector: str,
                    replace: tuple[datetime | None, datetime | None] | None = None,
                    emit_from: datetime | None = None) -> Collected:
    """Rows for every warm scored point (at or after ``emit_from``) of the committed windows,
    written as one commit under the file tag ``key``: with ``replace`` (a replay) this key's rows of
    the replayed series in that range are replaced; otherwise rows are upserted by
    ``(series_id, timestamp)``. Episodes: the first flagged point of each run of flagged points
    (recomputed in time order for a replay, else as the job's keyed state saw them). Points that
    came behind the watermark are kept in ``errors/anomalies/`` (:func:`reject_points`) before the
    part files are deleted.

    Raises:
        KeyError: a scored series missing from ``meta`` (the caller fed it, so it must know it).
    """
    from jobs.anomaly_lake import write_rows
    from pipeline.lake.replace import day_partitions, replace_rows

    files = read_out(out_dir)
    windows = sorted((w for _, ws in files for w in ws), key=lambda w: (w["sid"], w["t"][:1]))
    out = Collected(DetectResult(series=len(meta)))
    res = out.result
    emit_ms = int(to_utc(emit_from).timestamp() * 1000) if emit_from is not None else -1
    cols: dict[str, list[Any]] = {n: [] for n in ANOMALIES.names}
    in_ep: dict[str, bool] = {}
    for w in windows:
        sid = w["sid"]
        sd = meta[sid]
        out.late += len(w["late"])
        out.behind.extend((sid, int(t), float(v), int(s)) for t, v, s in w["behind"])
        for t, v, why in w["rejected"]:
            res.rejected.append((sid, int(t), float(v), why))
            res.reset.append(f"{sid} at {iso(from_epoch(int(t), 'ms'))}: {why.split(';')[0]}")
        res.points += len(w["t"])
        if w["t"]:
            out.newest = max(out.newest or w["t"][-1], w["t"][-1])
        for i, t in enumerate(w["t"]):
            if not w["warm"][i] or t < emit_ms:
                continue
            score, flagged = w["score"][i], w["flag"][i]
            first = (flagged and not in_ep.get(sid, False)) if emit_from is not None else w["first"][i]
            in_ep[sid] = flagged
            for name, val in (("series_id", sid), ("namespace", sd.namespace),
                              ("metric_name", sd.metric_name), ("dimensions", sd.dimensions),
                              ("unit", sd.unit), ("stat", stat), ("period", sd.period),
                              ("timestamp", t), ("value", w["v"][i]), ("score", score),
                              ("expected", w["expected"][i]), ("lower", w["lower"][i]),
                              ("upper", w["upper"][i]), ("is_anomaly", flagged), ("detector", detector)):
                cols[name].append(val)
            if flagged:
                at = from_epoch(t, "ms")
                res.anomalies += 1
                res.top.append((score, f"{sd.metric_name} {sd.dimensions}", at))
                if first:
                    res.episodes.append(Episode(sd, at, w["v"][i], score, w["lower"][i], w["upper"][i]))
    res.top = sorted(res.top, reverse=True)[:5]
    rows = pa.Table.from_pydict(cols, schema=ANOMALIES)
    res.rows = rows.num_rows
    if replace is not None:
        res.files = write_rows(lake, key, rows, replace, series=set(meta))
    elif rows.num_rows:

        done = replace_rows(
            lake, "anomalies", rows, schema=ANOMALIES, key=["series_id", "timestamp"], tag=key,
            sort_by=SORT_KEYS, only=lambda f: f"-{key}." in f,
            partition_of=lambda t: day_partitions("anomalies/dt=", t["timestamp"]))
        res.files = len(done.added)
    reject_points(lake, [*((sid, t, v, f"came {s} s behind the Flink anomaly job's watermark: its window had "
                           "closed, so it was not scored") for sid, t, v, s in out.behind), *res.rejected])
    for f, _ in files:  # only after the commit: a crash before this re-collects (same rows)
        f.unlink()
    return out
