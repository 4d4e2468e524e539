"""The committer's set of repaired buckets, kept in the lake so that it survives a restart.

:class:`jobs.flink.committer.FlinkCommitter` recomputes from the raw lake the buckets that late
lines fall into. A window row of such a bucket can reach it in a later step (the two sinks publish
on different checkpoints), and must then be recomputed again rather than overwrite the repair with
the job's incomplete window. The keys (``series|bucket``, bucket start in epoch ms) of the repaired
buckets of the recompute window behind the newest one are therefore kept in ``_flink/repaired.json``
(beside the run stage's ``_flink/seeded.json``, ``savepoint.json``, ``job_version.json``; hidden
from every table), one atomic :meth:`pipeline.lake.Lake.write_json`, grouped by bucket::

    {"version": 1, "buckets": {"1793836800000": ["<series id>", ...], ...}}

The committer writes it *before* the commit that puts the repaired rows in ``metrics_1m``: a crash
between the two leaves keys whose buckets are recomputed once more (the part files are read
again), never a repair the next committer does not know about.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.lake import Lake

PATH = "_flink/repaired.json"
VERSION = 1


def save(lake: Lake, repaired: dict[str, int]) -> None:
    """Replace the saved set with ``repaired`` (``series|bucket ms`` → bucket ms), atomically: a
    reader finds the old document or the new one, whole."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for key, ms in repaired.items():
        buckets[str(ms)].append(key.rsplit("|", 1)[0])
    lake.write_json(PATH, {"version": VERSION, "buckets": {b: sorted(s) for b, s in sorted(buckets.items())}})


def load(lake: Lake) -> tuple[dict[str, int], str]:
    """The saved set (``series|bucket ms`` → bucket ms; empty when none was saved) and ``""``; for a
    document that cannot be read or is not what :func:`save` writes, an empty set and a note that
    says so (never an exception: the worst that follows is a window row that overwrites a repair
    made before the restart, until ``watchlake rollup`` rebuilds the partition)."""
    if not lake.exists(PATH):
        return {}, ""
    try:
        doc = lake.read_json(PATH)
        if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("buckets"), dict):
            raise ValueError("not a version-1 document of buckets")
        out: dict[str, int] = {}
        for bucket, sids in doc["buckets"].items():
            ms = int(bucket)
            if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
                raise ValueError(f"bucket {bucket}: not a list of series ids")
            out.update((f"{s}|{ms}", ms) for s in sids)
    except (OSError, ValueError, TypeError) as exc:  # JSON and UTF-8 decoding errors are ValueErrors
        return {}, f"repaired buckets state {PATH} unreadable ({str(exc)[:120]}): started with none"
    return out, ""
