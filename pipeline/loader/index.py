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
is at most :data:`HOT_MS` behind the newest committed — the sorted 64-bit hashes of its keys;
past that, within :data:`BLOOM_BUDGET_BYTES`, a Bloom filter of them (1.25 bytes a key). A batch
row is checked only against row groups whose time range holds its event time (duplicates —
Kinesis/Firehose redelivery — arrive close in time, so the newest row groups, kept in memory,
answer nearly every check; a row group's few late rows are kept apart, so they do not widen its
range); a row group without cached hashes that a row falls into — and, when it has a filter, the
filter may hold — has its key columns re-read, so late or replayed data is de-duplicated exactly
however old. A hash hit counts as a
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
BLOOM_BUDGET_BYTES = 64 << 20
"""Cached Bloom filters per index at most (1.25 bytes a key: 54 M keys, 45 minutes of 20,000
datapoints/s): a row group past the hot window keeps one, so a late row that is *not* a duplicate
— the usual late row — is told so without reading the row group (about 1 % of them are read)."""
MAX_PARTITIONS = 64
"""Partitions whose row-group lists are kept (least recently used beyond are rebuilt from footers)."""
UNIT_BYTES = 200
"""What the index books per registered row group (its :class:`~pipeline.loader.keyhash.Unit`)."""


class _Lru:
    """Arrays per row group within a byte budget, least recently used evicted (caller locks)."""

    def __init__(self, budget: int):
        self.budget, self.bytes = budget, 0
        self.items: OrderedDict[tuple[str, int], tuple[np.ndarray, int]] = OrderedDict()  # array, unit's hi

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        hit = self.items.get(key)
        if hit is None:
            return None
        self.items.move_to_end(key)
        return hit[0]

    def put(self, unit: Unit, arr: np.ndarray) -> None:
        key = (unit.path, unit.row_group)
        self.drop(key)
        if arr.nbytes > self.budget:
            return  # larger than the whole budget: used once, never kept
        while self.items and self.bytes + arr.nbytes > self.budget:
            self.bytes -= self.items.popitem(last=False)[1][0].nbytes
        self.items[key] = (arr, unit.hi)
        self.bytes += arr.nbytes

    def drop(self, key: tuple[str, int]) -> None:
        gone = self.items.pop(key, None)
        if gone is not None:
            self.bytes -= gone[0].nbytes

    def drop_older(self, cold: int) -> None:
        for key in [k for k, (_, hi) in self.items.items() if hi < cold]:
            self.drop(key)


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

    def nbytes(self) -> int:
        """:data:`UNIT_BYTES` per row group plus the hashes of their outliers (late rows)."""
        return sum(UNIT_BYTES + u.outlier_bytes for units in self.units.values() for u in units)


class KeyIndex:
    """The de-duplication view of the partitions one loader touches (module docstring)."""

    def __init__(self, lake: Lake, table_name: str, *, budget_bytes: int = HASH_BUDGET_BYTES,
                 hot_ms: int = HOT_MS, bloom_budget_bytes: int = BLOOM_BUDGET_BYTES):
        self.lake, self.table_name, self.hot_ms = lake, table_name, hot_ms
        self.newest = -(2**62)  # newest event time (ms) committed through this index
        self.parts: OrderedDict[str, PartitionKeys] = OrderedDict()
        self.stats = IndexStats()
        self.adopted = 0
        self.recovered = 0
        self._hashes, self._blooms = _Lru(budget_bytes), _Lru(bloom_budget_bytes)
        self._mu = threading.Lock()  # guards ``parts``, the caches and counters; callers serialise per folder

    @property
    def cached_bytes(self) -> int:
        """Bytes of cached sorted key hashes (at most ``budget_bytes``)."""
        return self._hashes.bytes

    @property
    def bloom_bytes(self) -> int:
        """Bytes of cached Bloom filters (at most ``bloom_budget_bytes``)."""
        return self._blooms.bytes

    def nbytes(self) -> int:
        """What the index holds: cached hashes and Bloom filters, :data:`UNIT_BYTES` per registered
        row group and the hashes of row groups' outliers (:func:`~pipeline.loader.keyhash.refine`)."""
        with self._mu:
            return self._hashes.bytes + self._blooms.bytes + sum(p.nbytes() for p in self.parts.values())

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
        a duplicate if and only if a visible row has the same key and the same event time."""
        n = len(keys)
        dup = np.zeros(n, dtype=bool)
        if not n or not state.units:
            return dup
        order = np.argsort(times, kind="stable")
        ts = times[order]
        for units in reversed(list(state.units.values())):  # newest files first: most likely cached
            for j, unit in enumerate(units):
                if unit.rows == 0 or unit.hi < ts[0] or unit.lo > ts[-1]:
                    continue
                a, b = np.searchsorted(ts, unit.lo, "left"), np.searchsorted(ts, unit.hi, "right")
                rows = order[a:b]
                rows = rows[~dup[rows]]
                if len(rows) and unit.outliers is not None:  # outside its core: only its outliers can match
                    t = times[rows]
                    core = (t >= unit.core_lo) & (t <= unit.core_hi)
                    self._check(unit, rows[~core], unit.outliers, keys, hashes, times, dup, None)
                    rows = rows[core]
                if not len(rows):
                    continue
                key = (unit.path, unit.row_group)
                with self._mu:
                    hashed, filt = self._hashes.get(key), self._blooms.get(key)
                real = None
                if hashed is None:
                    if filt is not None:  # past the hot window: only rows its filter may hold need a read
                        rows = rows[keyhash.maybe(filt, hashes[rows])]
                        if not len(rows):
                            continue
                    hashed, real = self._load(unit)
                    if unit.outliers is None:
                        units[j] = keyhash.refine(unit, real[2], real[1])
                self._check(unit, rows, hashed, keys, hashes, times, dup, real)
        return dup

    def _check(self, unit: Unit, rows: np.ndarray, hashed: np.ndarray, keys: pa.Array, hashes: np.ndarray,
               times: np.ndarray, dup: np.ndarray, real: tuple[pa.Array, np.ndarray, np.ndarray] | None) -> None:
        """Mark in ``dup`` the ``rows`` whose hash is in ``hashed`` and whose key is in ``unit``."""
        if not len(rows):
            return
        hit = keyhash.hits(hashed, hashes[rows])
        if hit.any():
            cand = rows[hit]
            dup[cand[self._confirm(unit, keys.take(pa.array(cand)), times[cand], real)]] = True

    def add_file(self, state: PartitionKeys, rel: str, hashes: np.ndarray, times: np.ndarray) -> None:
        """Register the file just committed (``hashes`` and event ``times`` of its rows, in file
        order); its row groups are refined and their hashes cached without reading the file back."""
        units = keyhash.file_units(self.lake, self.table_name, rel)
        state.units[rel] = units
        if sum(u.rows for u in units) != len(hashes):
            return  # not the rows we think: they are read back when needed
        start = 0
        for i, u in enumerate(units):
            part = slice(start, start + u.rows)
            units[i] = keyhash.refine(u, hashes[part], times[part])
            self._keep(u, hashes[part])
            start += u.rows
        with self._mu:
            self.newest = max([self.newest] + [u.hi for u in units if u.rows])
            self._hashes.drop_older(self.newest - self.hot_ms)

    def _load(self, unit: Unit) -> tuple[np.ndarray, tuple[pa.Array, np.ndarray, np.ndarray]]:
        """Read ``unit``'s keys: its sorted hashes, and the keys, times and hashes (row order) read."""
        keys, times = keyhash.read_unit_keys(self.lake, self.table_name, unit)
        raw = keyhash.key_hashes(keys)
        with self._mu:
            self.stats.loads += 1
            self.stats.loaded_rows += len(raw)
        return self._keep(unit, raw), (keys, times, raw)

    def _keep(self, unit: Unit, raw: np.ndarray) -> np.ndarray:
        """Cache ``unit``'s sorted hashes (while in the hot window) and its Bloom filter; returns the former."""
        arr = keyhash.sorted_hashes(raw)
        filt = keyhash.bloom(raw)
        with self._mu:
            if unit.hi >= self.newest - self.hot_ms:
                self._hashes.put(unit, arr)
            self._blooms.put(unit, filt)
        return arr

    def _confirm(self, unit: Unit, probe: pa.Array, probe_ms: np.ndarray,
                 real: tuple[pa.Array, np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Which rows of ``probe`` (keys that hit a hash of ``unit``, their event times) really are
        in ``unit``: same key and same event time."""
        keys, times = (real[0], real[1]) if real is not None else keyhash.read_unit_keys(
            self.lake, self.table_name, unit)
        ids = keyhash.identities(keys, times)
        found = np.asarray(pc.is_in(keyhash.identities(probe, probe_ms), value_set=ids)
                           .to_numpy(zero_copy_only=False), dtype=bool)
        with self._mu:
            self.stats.confirms += 1
            self.stats.collisions += int((~found).sum())
        return found

    def _forget(self, units: list[Unit]) -> None:
        with self._mu:
            self._forget_locked(units)

    def _forget_locked(self, units: list[Unit]) -> None:
        for u in units:
            self._hashes.drop((u.path, u.row_group))
            self._blooms.drop((u.path, u.row_group))

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
