"""The follow mode's checkpoint of ``anomalies detect``: what has been scored, so a step reads only
what is new.

One JSON document per job key (``_state/anomalies/<key>.json``, written atomically):

* ``series`` — per series: the last point scored (``last``, epoch seconds), the detector's state
  (``det``) and whether the last point was flagged (``flag``, so an episode alerts once);
* ``files`` — the tier files (lake-relative paths) every row of which has been scored or was
  older than its series' ``last`` when read. Tier files are immutable (a rollup step that changes
  a bucket writes a new file and retires the old one, :mod:`pipeline.rollup.chunks`), so a step
  reads only the live files not in this set: the files rollups added since — the new minutes, a
  bucket recomputed for late data, a chunk merged from bucket files — and the files that still
  held rows past the last step's end. The set is kept to the live files, so its size is bounded
  by the tier's retention, and a step's cost by what changed, not by the tier's history;
* ``seq`` — the steps committed; a step writes its ``anomalies`` rows in files tagged with its
  number (:func:`step_tag`) *before* the checkpoint is saved, and replaces the files of its own
  number, so a step killed between its rows and its checkpoint is redone by the next process
  without a row written twice.

A version-1 document (the series map alone) reads as ``files=None``: the next step reads every
file once and records the set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.lake import Lake

VERSION = 2


@dataclass
class Checkpoint:
    """A follow job's checkpoint (see the module docstring)."""

    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: set[str] | None = None
    seq: int = 0

    def doc(self) -> dict[str, Any]:
        return {"version": VERSION, "seq": self.seq, "series": self.series,
                "files": sorted(self.files) if self.files is not None else None}


def state_path(key: str) -> str:
    return f"_state/anomalies/{key}.json"


def load(lake: Lake, key: str) -> Checkpoint:
    """The saved checkpoint of job ``key`` (an empty one when none was saved)."""
    rel = state_path(key)
    if not lake.exists(rel):
        return Checkpoint()
    doc = lake.read_json(rel)
    if doc.get("version") != VERSION:  # version 1: the series map alone
        return Checkpoint(series=doc)
    files = doc.get("files")
    return Checkpoint(series=doc["series"], files=set(files) if files is not None else None, seq=int(doc["seq"]))


def save(lake: Lake, key: str, cp: Checkpoint) -> None:
    lake.write_json(state_path(key), cp.doc())


def step_tag(key: str, seq: int) -> str:
    """The file tag of the ``anomalies`` rows written by step ``seq`` of job ``key``."""
    return f"{key}-s{seq}"


def is_job_file(rel: str, key: str) -> bool:
    """True for an ``anomalies`` file written by job ``key`` (a replay's or a follow step's)."""
    return re.search(rf"-{re.escape(key)}(?:-s\d+)?\.parquet$", rel) is not None


def file_end(table: str, rel: str) -> float:
    """The end (epoch seconds, exclusive) of the buckets tier file ``rel`` may hold, from its name
    (:func:`pipeline.rollup.chunks.any_range`); infinity when its name does not tell."""
    from pipeline.errors import LayoutError
    from pipeline.lake import layout
    from pipeline.rollup.chunks import any_range

    try:
        r = any_range(rel, layout.parse_partition_path(table, rel))
    except (LayoutError, ValueError, KeyError):
        return float("inf")
    return r[1] / 1000.0 if r is not None else float("inf")


def unread(cp: Checkpoint, live: list[str]) -> list[str] | None:
    """The live files a step must read (None: all of them, the set is not known yet)."""
    if cp.files is None:
        return None
    return [f for f in live if f not in cp.files]


def consumed(table: str, cp: Checkpoint, live: list[str], read: list[str], end: float | None) -> set[str]:
    """The checkpoint's file set after a step that read ``read`` (every row before ``end``, epoch
    seconds; None: every row): the files of ``read`` that cannot hold a row at or after ``end``,
    plus those consumed before, kept to the ``live`` files."""
    before = cp.files or set()
    done = {f for f in read if end is None or file_end(table, f) <= end}
    return {f for f in live if f in before or f in done}
