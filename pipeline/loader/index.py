"""Per-partition key index and start-up reconciliation, used under the partition lock.

The lake's content is exactly the set of visible ``*.parquet`` files, and every visible file is
complete (atomic rename). Exactly-once therefore rests on one rule: *under the partition lock, a
writer writes only keys that no visible file of the partition holds*. :meth:`KeyIndex.refresh`
brings the in-process key set up to date with the folder before each write: it reads the key
columns of files it has not seen (written by another loader, or left by a crashed one), adopts
files that have no ledger entry, deletes stale temporary files, and rolls interrupted
compactions forward. Keys of a partition are cached in memory between commits and evicted
least-recently-used beyond :data:`MAX_CACHED_KEYS`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.lake import ledger
from pipeline.lake.files import HIDDEN_SUFFIXES
from pipeline.loader.partition import key_array
from pipeline.schemas import RECORD_KEYS

if TYPE_CHECKING:
    from pipeline.lake import Lake

MAX_CACHED_KEYS = 2_000_000


@dataclass
class PartitionKeys:
    """Keys held by the visible files of one partition, as this process last saw them."""

    files: set[str] = field(default_factory=set)
    chunks: list[pa.Array] = field(default_factory=list)
    count: int = 0
    _merged: pa.Array | None = None

    def add(self, keys: pa.Array) -> None:
        if len(keys):
            self.chunks.append(keys)
            self.count += len(keys)
            self._merged = None

    def value_set(self) -> pa.Array:
        if self._merged is None:
            self._merged = (pa.concat_arrays(self.chunks) if self.chunks
                            else pa.array([], pa.string()))
            self.chunks = [self._merged]
        return self._merged

    def contains(self, keys: pa.Array) -> pa.Array:
        """Boolean mask: which of ``keys`` are already in the partition."""
        if not self.count:
            return pa.array(np.zeros(len(keys), dtype=bool))
        return pc.is_in(keys, value_set=self.value_set())


def read_keys(lake: Lake, table_name: str, rel: str) -> pa.Array:
    """The record keys stored in one committed file (reads only the key columns)."""
    cols = list(RECORD_KEYS[table_name])
    t = pq.read_table(lake.path(rel), columns=cols, filesystem=lake.fs)
    return key_array(table_name, t)


class KeyIndex:
    """The key sets of the partitions one loader touches."""

    def __init__(self, lake: Lake, table_name: str):
        self.lake, self.table_name = lake, table_name
        self.parts: OrderedDict[str, PartitionKeys] = OrderedDict()
        self.adopted = 0
        self.recovered = 0
        self._mu = threading.Lock()  # guards ``parts`` and counters; callers serialise per folder

    def tidy(self, folder: str) -> tuple[set[str], set[str]]:
        """Roll interrupted compactions forward and delete dead writers' temporary files (call
        under the folder's lock); returns the visible data files and the ledger's commit ids."""
        lake = self.lake
        ids = ledger.commit_ids(lake, self.table_name, folder)
        if not lake.is_s3:
            ledger.remove_temp(lake, self.table_name, folder)
        if self._roll_forward(folder, ids):
            ids = ledger.commit_ids(lake, self.table_name, folder)
        for e in lake.entries(folder, recursive=False):
            if e.path.endswith(HIDDEN_SUFFIXES):
                lake.delete(e.path)  # a dead writer's temporary file (we hold the lock)
        return set(lake.table_files(self.table_name, folder)), ids

    def refresh(self, folder: str) -> PartitionKeys:
        """Bring the key set of ``folder`` up to date with the folder (call under its lock)."""
        lake = self.lake
        visible, ids = self.tidy(folder)
        with self._mu:
            state = self.parts.pop(folder, None)
        if state is None or not state.files <= visible:
            state = PartitionKeys()  # first touch, or files went away (compaction): reload
        for rel in sorted(visible - state.files):
            state.add(read_keys(lake, self.table_name, rel))
            state.files.add(rel)
            commit = ledger.commit_of(rel)
            if commit is None or commit not in ids:
                self._adopt(folder, rel, commit)
        with self._mu:
            self.parts[folder] = state
            self._evict()
        return state

    def _adopt(self, folder: str, rel: str, commit: str | None) -> None:
        meta = pq.read_metadata(self.lake.path(rel), filesystem=self.lake.fs)
        ledger.write_entry(self.lake, self.table_name, folder, commit or _safe_id(rel), "adopted",
                           files=[{"path": rel, "rows": meta.num_rows, "bytes": self.lake.size(rel)}],
                           rows=meta.num_rows)
        with self._mu:
            self.adopted += 1

    def _roll_forward(self, folder: str, ids: set[str]) -> bool:
        """Finish compactions whose intent was recorded but whose swap did not complete."""
        done = False
        for commit in sorted(i for i in ids if i.endswith(".intent")):
            rel = ledger.entry_path(self.table_name, folder, commit)
            finish_compaction(self.lake, self.table_name, folder, self.lake.read_json(rel))
            with self._mu:
                self.recovered += 1
            done = True
        return done

    def _evict(self) -> None:
        total = sum(p.count for p in self.parts.values())
        while total > MAX_CACHED_KEYS and len(self.parts) > 1:
            _, old = self.parts.popitem(last=False)
            total -= old.count


def finish_compaction(lake: Lake, table_name: str, folder: str, intent: dict[str, Any]) -> None:
    """Roll a recorded compaction forward: publish its output, delete its inputs, mark it done.

    Idempotent: safe to call any number of times, from any process holding the partition lock.
    """
    commit, pending, output = intent["commit"].removesuffix(".intent"), intent["pending"], intent["output"]
    if lake.exists(pending):
        lake.fs.move(lake.path(pending), lake.path(output))
    if lake.exists(output):
        for rel in intent["inputs"]:
            lake.delete(rel)
        ledger.write_entry(lake, table_name, folder, commit, "compact", state="done",
                           inputs=intent["inputs"], files=intent["files"], rows=intent["rows"])
    lake.delete(ledger.entry_path(table_name, folder, commit + ".intent"))


def _safe_id(rel: str) -> str:
    import hashlib

    return "f" + hashlib.sha1(rel.encode()).hexdigest()[:23]
