"""Closed tier partitions as one file per job: the merge, and which partitions are still open.

A tier partition (a ``dt`` day; a ``month`` for 1h) is *closed* for a job when it ends at or
before the job's recompute cutoff ``floor(clock − tiers.recompute_window_minutes, period)``: no
incremental step writes into it any more (late data older than the cutoff is reported, and
``--full`` rebuilds). While open, a partition holds chunk and bucket files
(:mod:`pipeline.rollup.chunks`) so a live step rewrites little; once closed it is worth one file
(a 15-day ``metrics get`` opened ~370 files of the 5m tier, each read whole, instead of 15 sorted
ones of which it reads a row group or two).

A write into a closed partition (a first build, ``--full``) already produces that file
(:func:`pipeline.rollup.chunks.replace_runs` with ``cutoff_ms``). The partitions that closed
after their last write are merged by :func:`settle`, which the incremental step calls after each
job: it keeps the job's *open* partitions (those written while open) in the rollup state, so a
step looks at no listing and reads no file until a partition closes — then merges it once (one
commit of :func:`pipeline.lake.replace.replacing`: a reader sees the chunk files or the merged
file, never both; a crash leaves one or the other, and the next step's merge of an already
merged partition is a listing of its folder and nothing else).

One owner per table: the raw-table compaction (:mod:`pipeline.loader.compact`, ``watchlake
compact``) touches only the raw tables; the tier tables' files are laid out here only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pipeline.lake import layout
from pipeline.lake.replace import replacing
from pipeline.rollup import chunks
from pipeline.rollup.schema import ROLLUP
from pipeline.rollup.tiers import JOBS, Job, target_partition

if TYPE_CHECKING:
    from pipeline.lake import Lake


def closed(job: Job, folder: str, cutoff_ms: int) -> bool:
    """True when target partition ``folder`` of ``job`` ends at or before ``cutoff_ms``."""
    return chunks.partition_ms(layout.parse_partition_path(job.target, folder))[1] <= cutoff_ms


def merge(lake: Lake, job: Job, folder: str, clock_ms: int, cutoff_ms: int) -> int:
    """Rewrite ``job``'s files of the closed partition ``folder`` as one partition file, rows
    sorted by series and time, in one atomic commit; returns the rows written (0 when they
    were one file already, or there were none)."""
    values = layout.parse_partition_path(job.target, folder)
    with replacing(lake, job.target) as tx:
        return chunks.replace_runs(tx, job, folder, values, [], ROLLUP.empty_table(), clock_ms, cutoff_ms=cutoff_ms)


def settle(lake: Lake, job: Job, open_folders: Iterable[str], written: Iterable[str], clock_ms: int,
           cutoff_ms: int) -> tuple[list[str], list[str]]:
    """Merge the partitions of ``open_folders`` (and of ``written``, the partitions ``job`` just
    wrote) that are closed at ``cutoff_ms``; returns ``(still open, merged)``. A written
    partition that was closed when written is one file already and is not looked at."""
    todo = set(open_folders) | {f for f in written if not closed(job, f, cutoff_ms)}
    still, merged = [], []
    for folder in sorted(todo):
        if closed(job, folder, cutoff_ms):
            merge(lake, job, folder, clock_ms, cutoff_ms)
            merged.append(folder)
        else:
            still.append(folder)
    return still, merged


def open_targets(days: Iterable[str], cutoffs: dict[str, int]) -> dict[str, list[str]]:
    """Per job (by name), the target partitions of the source ``dt`` ``days`` that are not closed
    at the job's cutoff (``cutoffs``, by job name): what a new incremental state starts with."""
    out: dict[str, list[str]] = {}
    for job in JOBS:
        folders = {layout.partition_path(job.target, target_partition(job, {"dt": d})) for d in days}
        out[job.name] = sorted(f for f in folders if not closed(job, f, cutoffs[job.name]))
    return out


def all_targets(lake: Lake) -> dict[str, list[str]]:
    """Per job, every partition folder of its target table (a state written before partitions
    were merged starts with these, so an existing lake's closed days are merged once)."""
    return {job.name: sorted(folder for _, folder in lake.iter_partitions(job.target)) for job in JOBS}
