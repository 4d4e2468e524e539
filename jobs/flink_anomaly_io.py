"""The Flink anomaly job's edges: its inbox of closed point files and its scored output.

* :func:`write_inbox` writes 1-minute (or 5-minute) points as one CSV file ``points-<seq>.csv`` of
  ``sid,t,v`` rows (epoch ms; RFC 4180 quoting, as series ids hold JSON; ``repr`` floats, which
  parse back to the same double) sorted by time — under a hidden name first, then renamed, so
  Flink's filesystem source (which skips hidden files) only ever sees closed files. Values that are
  not finite are counted (``skipped``), never fed.
* :func:`read_out` reads the part files the job's ``FileSink`` has committed (one JSON line per
  series-window; in-progress files are hidden until their checkpoint completes).
* :func:`collect` turns them into ``anomalies`` rows — the same rows :func:`jobs.anomaly_job.detect`
  writes — and commits them through the ledgered replace (:mod:`pipeline.lake.replace`), keyed by
  ``(series_id, timestamp)``: a window the job emits again after a restore replaces its rows, never
  doubles them. The part files are deleted only after the commit.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from jobs.anomaly_job import DetectResult, Episode, SeriesData
from pipeline.anomaly.table import ANOMALIES, SORT_KEYS
from pipeline.timeutil import from_epoch, to_utc

INBOX_PREFIX = "points-"
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
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows((sid, t, repr(v)) for t, sid, v in rows)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fed.points, fed.path = len(rows), final
    return fed


_FLOAT_COLS = ("t", "v", "score", "expected", "lower", "upper")  # float64; None ↔ NaN
_FLAG_COLS = ("warm", "flag", "first")  # one digit per point: warm | flag << 1 | first << 2


def encode_window(w: Mapping[str, Any]) -> str:
    """One scored window as a compact JSON line: the float columns as one base64 block of
    little-endian float64 (exact bits; epoch ms fit a double exactly), the flags as digits."""
    n = len(w["t"])
    floats = array("d", [_NAN if x is None else x for c in _FLOAT_COLS for x in w[c]])
    if sys.byteorder != "little":
        floats.byteswap()
    flags = "".join(str(a | b << 1 | c << 2) for a, b, c in zip(*(w[c] for c in _FLAG_COLS), strict=True))
    return json.dumps({"sid": w["sid"], "n": n, "f": base64.b64encode(floats.tobytes()).decode("ascii"),
                       "b": flags, "late": w["late"]}, separators=(",", ":"))


def decode_window(line: str) -> dict[str, Any]:
    """Inverse of :func:`encode_window` (``t`` and ``late`` as int epoch ms)."""
    d = json.loads(line)
    n = d["n"]
    floats = array("d")
    floats.frombytes(base64.b64decode(d["f"]))
    if sys.byteorder != "little":
        floats.byteswap()
    out: dict[str, Any] = {"sid": d["sid"], "late": d["late"]}
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
    """The detect-style result of one :func:`collect`, plus the points not scored (``late``: at or
    before their series' last scored point) and the newest scored time (epoch ms)."""

    result: DetectResult
    late: int = 0
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
    (recomputed in time order for a replay, else as the job's keyed state saw them).

    Raises:
        KeyError: a scored series missing from ``meta`` (the caller fed it, so it must know it).
    """
    from jobs.anomaly_job import _write
    from pipeline.lake.replace import replace_rows

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
        res.files = _write(lake, key, rows, replace, series=set(meta))
    elif rows.num_rows:
        import pyarrow.compute as pc

        done = replace_rows(
            lake, "anomalies", rows, schema=ANOMALIES, key=["series_id", "timestamp"], tag=key,
            sort_by=SORT_KEYS, only=lambda f: f"-{key}." in f,
            partition_of=lambda t: pc.binary_join_element_wise(
                "anomalies/dt=", pc.strftime(t["timestamp"], format="%Y-%m-%d"), ""))
        res.files = len(done.added)
    for f, _ in files:  # only after the commit: a crash before this re-collects (same rows)
        f.unlink()
    return out
