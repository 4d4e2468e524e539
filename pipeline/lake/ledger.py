"""The commit ledger under ``_ledger/``: one JSON entry per commit, per partition.

Layout: ``_ledger/<table>/<partition path below the table>/<commit id>.json``. A commit's data
files are named ``part-<stamp>-<uuid>-<commit id>.parquet``, so every data file maps back to the
entry that made it. Entry kinds:

- ``load``: rows the loader wrote (``files``, ``rows``, ``bytes``, ``origins``);
- ``adopted``: a complete data file found without its entry (a loader died between the atomic
  rename and the ledger write). Readers already see such a file and its keys take part in
  de-duplication, so adopting it is the only consistent choice; adoption just records it;
- ``replace``: a commit of :mod:`pipeline.lake.replace` (a derived-table write or a compaction)
  that added ``files`` and retired ``retires`` in this partition;
- ``compact``: a compaction of the earlier protocol, ``state: intent`` (inputs + output) before
  the output became visible, ``state: done`` after the inputs were gone; an intent left by a
  crash is still rolled forward (:func:`pipeline.loader.index.finish_compaction`).

A replace is atomic across all the partitions it touches through its *markers* in
``_ledger/<table>/_replace/``: ``<commit>.prepared.json`` (written before its files), then
``<commit>.committed.json`` (the commit point, one atomic write), then ``<commit>.done.json``
once the retired files are gone and the per-partition entries are written. Readers honour the
markers (:mod:`pipeline.lake.files`): the files a prepared commit adds are hidden until it
commits, the files a committed commit retires are hidden from then on.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.lake import layout
from pipeline.timeutil import iso, utcnow

if TYPE_CHECKING:
    from pipeline.lake import Lake

_TAG_RE = re.compile(r"-([0-9a-f]{18,40})\.(?:parquet|jsonl\.gz)$")


def new_run_id() -> str:
    """A fresh 12-hex-digit id for one loader run; commit ids extend it."""
    return uuid.uuid4().hex[:12]


@dataclass
class CommitIds:
    """Deterministic commit ids of one run: ``<run id><6 hex counter>``."""

    run: str
    n: int = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.run}{self.n:06x}"


def commit_of(file_path: str) -> str | None:
    """The commit id a data file was written under, from its name; None for foreign files."""
    m = _TAG_RE.search(file_path)
    return m.group(1) if m else None


def ledger_folder(table_name: str, folder: str) -> str:
    """Ledger folder of one partition folder (``raw/cloudtrail/dt=…/hour=…``)."""
    prefix = layout.table(table_name).prefix
    below = folder[len(prefix):].strip("/")
    return f"{layout.LEDGER_PREFIX}/{table_name}/{below}".rstrip("/")


def entry_path(table_name: str, folder: str, commit: str) -> str:
    return f"{ledger_folder(table_name, folder)}/{commit}.json"


def write_entry(lake: Lake, table_name: str, folder: str, commit: str, kind: str,
                **fields: Any) -> str:
    """Atomically write (or replace) the ledger entry of ``commit``; returns its path.

    Entries are renamed into place but not fsync-ed: an entry lost to a power failure is
    re-created by adoption (:mod:`pipeline.loader.index`), whereas data files are always
    fsync-ed before their entry is written.
    """
    rel = entry_path(table_name, folder, commit)
    doc = {"commit": commit, "table": table_name, "partition": folder, "kind": kind,
           "written_at": iso(utcnow()), **fields}
    write_doc(lake, rel, doc)
    return rel


def write_doc(lake: Lake, rel: str, doc: Any) -> None:
    """Atomically write (or replace) a JSON document that need not survive a power failure
    (renamed into place, not fsync-ed; a single PUT on S3)."""
    if lake.is_s3:
        lake.write_json(rel, doc)
        return
    target = lake.path(rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{os.path.dirname(target)}/.{os.path.basename(target)}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True, default=str)
    os.replace(tmp, target)


def _entry_names(lake: Lake, table_name: str, folder: str) -> list[str]:
    names = (e.path.rsplit("/", 1)[-1] for e in lake.entries(ledger_folder(table_name, folder), recursive=False))
    return [n for n in names if n.endswith(".json") and not n.startswith(".")]


def remove_temp(lake: Lake, table_name: str, folder: str) -> int:
    """Delete temporary entry files a killed writer left in one partition's ledger folder (call
    under the partition lock); returns how many."""
    stale = [e.path for e in lake.entries(ledger_folder(table_name, folder), recursive=False)
             if e.path.endswith(".tmp")]
    for rel in stale:
        lake.delete(rel)
    return len(stale)


def entries(lake: Lake, table_name: str, folder: str) -> dict[str, dict[str, Any]]:
    """Every ledger entry of one partition, by commit id."""
    led = ledger_folder(table_name, folder)
    return {name[: -len(".json")]: lake.read_json(f"{led}/{name}")
            for name in sorted(_entry_names(lake, table_name, folder))}


def commit_ids(lake: Lake, table_name: str, folder: str) -> set[str]:
    """Commit ids that have an entry in one partition (names only, no reads)."""
    return {name[: -len(".json")] for name in _entry_names(lake, table_name, folder)}


# -- replace markers ---------------------------------------------------------------------------

MARKER_STATES = ("prepared", "committed", "done")


def replace_folder(table_name: str) -> str:
    """Folder of a table's replace markers."""
    return f"{layout.LEDGER_PREFIX}/{layout.table(table_name).name}/_replace"


def marker_path(table_name: str, commit: str, state: str) -> str:
    if state not in MARKER_STATES:
        raise ValueError(f"unknown marker state {state!r}")
    return f"{replace_folder(table_name)}/{commit}.{state}.json"


def marker_names(lake: Lake, table_name: str) -> frozenset[str]:
    """Names of the table's replace markers (one listing, no reads); any commit that starts or
    finishes changes this set, and a finished commit's ``done`` marker stays until the next
    commit of the table, so two equal sets bracket a moment with no commit activity."""
    return frozenset(n for e in lake.entries(replace_folder(table_name), recursive=False)
                     if (n := e.path.rsplit("/", 1)[-1]).endswith(".json") and not n.startswith("."))


def parse_marker(name: str) -> tuple[str, str]:
    """``(commit, state)`` of a marker file name."""
    commit, state, _ = name.rsplit(".", 2)
    return commit, state


def hidden_by_markers(lake: Lake, table_name: str, names: frozenset[str]) -> set[str]:
    """Files readers must not see: the adds of prepared (uncommitted) commits and the retires of
    committed but unfinished ones. Only markers of unfinished commits are read."""
    states: dict[str, set[str]] = {}
    for name in names:
        commit, state = parse_marker(name)
        states.setdefault(commit, set()).add(state)
    hidden: set[str] = set()
    for commit, have in states.items():
        if "done" in have:
            continue
        try:
            if "committed" in have:
                hidden.update(lake.read_json(marker_path(table_name, commit, "committed"))["retires"])
            elif "prepared" in have:
                hidden.update(lake.read_json(marker_path(table_name, commit, "prepared"))["adds"])
        except FileNotFoundError:
            # the writer moved on between our listing and this read; the caller's second listing
            # of the markers differs and it takes a new snapshot
            continue
    return hidden
