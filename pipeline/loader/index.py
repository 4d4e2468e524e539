"""Per-partition key index and start-up reconciliation, used under the partition lock.

The lake's content is exactly the set of visible ``*.parquet`` files, and every visible file is
complete (atomic rename). Exactly-once therefore rests on one rule: *under the partition lock, a
writer writes only keys that no visible file of the partition holds*. :meth:`KeyIndex.refresh`
brings the in-process view up to date with the folder before each write: it registers files it
has not seen (written by another loader, or left by a crashed one) by their footers, adopts files
that have no ledger entry, deletes stale temporary files, and rolls interrupted compactions
forward. :meth:`KeyIndex.duplicates` then tells which rows of a batch some visible file holds.

Memory is bounded independently of partition size (:mod:`pipeline.loader.keyhash`): per row group
of a visible file the index keeps its event-time range and row count (~200 bytes), and — within a
byte budget (:data:`HASH_BUDGET_BYTES`, least recently used evicted) and while its newest event
is at most :data:`HOT_MS` behind the newest committed — the sorted 64-bit hashes of its keys. A
batch row is checked only against row groups whose time range holds its event time (duplicates —
Kinesis/Firehose redelivery — arrive close in time, so the newest row groups, kept in memory,
answer nearly every check); an evicted row group that a row falls into has its key columns
re-read, so late or replayed data is de-duplicated exactly however old. A hash hit counts as a
duplicate only when the real key, with the same event time, is found in that row group (re-read
for the purpose), so a 64-bit collision never drops a distinct record.
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
from pipeline.loader import keyhash
from pipeline.loader.keyhash import Unit

if TYPE_CHECKING:
    from pipeline.lake import Lake

HASH_BUDGET_BYTES = 128 << 20
"""Cached key hashes per index at most (8 bytes a key: 16 M keys, ~14 minutes of 20,000 datapoints/s)."""
HOT_MS = 5 * 60_000
"""Row groups whose newest event is more than this behind the newest event committed through the
index lose their cached hashes (read back if a late or replayed row falls into them): the cache
holds about ``rate × 5 minutes`` keys, flat over a long run, below :data:`HASH_BUDGET_BYTES`."""
MAX_PARTITIONS = 64
"""Partitions whose row-group lists are kept (least recently used beyond are rebuilt from footers)."""
UNIT_BYTES = 200
"""What the index books per registered row group (its :class:`~pipeline.loader.keyhash.Unit`)."""


@dataclass
class IndexStats:
    """What the index did: row groups whose hashes were read from disk, hash hits confirmed
    against the real keys, hits that were collisions (distinct keys with the same hash)."""

    loads: int = 0
    loaded_rows: int = 0
    confirms: int = 0
    collisions: int = 0


@dataclass
class PartitionKeys:
    """The visible files of one partition as this process last saw them: per file, its row groups."""

    units: dict[str, list[Unit]] = field(default_factory=dict)

    @property
    def files(self) -> set[str]:
        return set(self.units)

    def unit_count(self) -> int:
        return sum(len(u) for u in self.units.values())


class KeyIndex:
    """The de-duplication view of the partitions one loader touches (module docstring)."""

    def __init__(self, lake: Lake, table_name: str, *, budget_bytes: int = HASH_BUDGET_BYTES,
                 hot_ms: int = HOT_MS):
        self.lake, self.table_name, self.budget, self.hot_ms = lake, table_name, budget_bytes, hot_ms
        self.newest = -(2**62)  # newest event time (ms) committed through this index
        self.parts: OrderedDict[str, PartitionKeys] = OrderedDict()
        self.stats = IndexStats()
        self.adopted = 0
        self.recovered = 0
        self.cached_bytes = 0
        self._cache: OrderedDict[tuple[str, int], tuple[np.ndarray, int]] = OrderedDict()  # hashes, unit's hi
        self._mu = threading.Lock()  # guards ``parts``, the cache and counters; callers serialise per folder

    def nbytes(self) -> int:
        """What the index holds: cached hashes plus :data:`UNIT_BYTES` per registered row group."""
        with self._mu:
            return self.cached_bytes + UNIT_BYTES * sum(p.unit_count() for p in self.parts.values())

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
        """Bring the view of ``folder`` up to date with the folder (call under its lock): files
        gone (compacted away) are forgotten, new ones registered from their footers (and adopted
        when they have no ledger entry); no key is read here."""
        lake = self.lake
        visible, ids = self.tidy(folder)
        with self._mu:
            state = self.parts.pop(folder, None)
        state = state or PartitionKeys()
        for rel in [r for r in state.units if r not in visible]:
            self._forget(state.units.pop(rel))
        for rel in sorted(visible - state.units.keys()):
            state.units[rel] = keyhash.file_units(lake, self.table_name, rel)
            commit = ledger.commit_of(rel)
            if commit is None or commit not in ids:
                self._adopt(folder, rel, commit)
        with self._mu:
            self.parts[folder] = state
            while len(self.parts) > MAX_PARTITIONS:
                _, old = self.parts.popitem(last=False)
                for units in old.units.values():
                    self._forget_locked(units)
        return state

    def duplicates(self, state: PartitionKeys, keys: pa.Array, hashes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Boolean mask: which rows (``keys``, their :func:`~pipeline.loader.keyhash.key_hashes`
        and event times in ms) some visible file of the partition already holds. Exact: a row is
        a duplicate only if its key is found in a row group whose time range holds its time."""
        n = len(keys)
        dup = np.zeros(n, dtype=bool)
        if not n or not state.units:
            return dup
        order = np.argsort(times, kind="stable")
        ts = times[order]
        for units in reversed(list(state.units.values())):  # newest files first: most likely cached
            for unit in units:
                if unit.rows == 0 or unit.hi < ts[0] or unit.lo > ts[-1]:
                    continue
                a, b = np.searchsorted(ts, unit.lo, "left"), np.searchsorted(ts, unit.hi, "right")
                rows = order[a:b]
                rows = rows[~dup[rows]]
                if not len(rows):
                    continue
                hashed, real = self._lookup(unit)
                hit = keyhash.hits(hashed, hashes[rows])
                if hit.any():
                    cand = rows[hit]
                    dup[cand[self._confirm(unit, keys.take(pa.array(cand)), times[cand], real)]] = True
        return dup

    def add_file(self, state: PartitionKeys, rel: str, hashes: np.ndarray) -> None:
        """Register the file just committed (``hashes``: its rows' key hashes, in file order);
        its row groups' hashes are cached without reading the file back."""
        units = keyhash.file_units(self.lake, self.table_name, rel)
        state.units[rel] = units
        if sum(u.rows for u in units) != len(hashes):
            return  # not the rows we think: they are read back when needed
        start = 0
        for u in units:
            self._put(u, keyhash.sorted_hashes(hashes[start:start + u.rows]))
            start += u.rows
        with self._mu:
            self.newest = max([self.newest] + [u.hi for u in units if u.rows])
            cold = self.newest - self.hot_ms
            for key in [k for k, (_, hi) in self._cache.items() if hi < cold]:
                self.cached_bytes -= self._cache.pop(key)[0].nbytes

    def _lookup(self, unit: Unit) -> tuple[np.ndarray, tuple[pa.Array, np.ndarray] | None]:
        """The sorted hashes of ``unit`` (cached, or read: then with the keys and times read)."""
        key = (unit.path, unit.row_group)
        with self._mu:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit[0], None
        real = keyhash.read_unit_keys(self.lake, self.table_name, unit)
        arr = keyhash.sorted_hashes(keyhash.key_hashes(real[0]))
        with self._mu:
            self.stats.loads += 1
            self.stats.loaded_rows += len(arr)
        if unit.hi >= self.newest - self.hot_ms:
            self._put(unit, arr)
        return arr, real

    def _confirm(self, unit: Unit, probe: pa.Array, probe_ms: np.ndarray,
                 real: tuple[pa.Array, np.ndarray] | None) -> np.ndarray:
        """Which rows of ``probe`` (keys that hit a hash of ``unit``, their event times) really are
        in ``unit``: same key and same event time."""
        if real is None:
            real = keyhash.read_unit_keys(self.lake, self.table_name, unit)
        ids = keyhash.identities(*real)
        found = np.asarray(pc.is_in(keyhash.identities(probe, probe_ms), value_set=ids)
                           .to_numpy(zero_copy_only=False), dtype=bool)
        with self._mu:
            self.stats.confirms += 1
            self.stats.collisions += int((~found).sum())
        return found

    def _put(self, unit: Unit, arr: np.ndarray) -> None:
        key = (unit.path, unit.row_group)
        with self._mu:
            old = self._cache.pop(key, None)
            if old is not None:
                self.cached_bytes -= old[0].nbytes
            if arr.nbytes > self.budget:
                return  # larger than the whole budget: used once, never kept
            while self._cache and self.cached_bytes + arr.nbytes > self.budget:
                _, gone = self._cache.popitem(last=False)
                self.cached_bytes -= gone[0].nbytes
            self._cache[key] = (arr, unit.hi)
            self.cached_bytes += arr.nbytes

    def _forget(self, units: list[Unit]) -> None:
        with self._mu:
            self._forget_locked(units)

    def _forget_locked(self, units: list[Unit]) -> None:
        for u in units:
            gone = self._cache.pop((u.path, u.row_group), None)
            if gone is not None:
                self.cached_bytes -= gone[0].nbytes

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
