"""Following one raw table: the files committed since the last poll, each row read once.

A live stage that reacts to new rows (the detect stage on ``cloudtrail``, the metric-filter stage
on ``logs``) asks :class:`NewFiles` for the files committed since its checkpoint. Compaction
rewrites a partition's small files into one (:mod:`pipeline.loader.compact`, a ledgered replace):
a compacted file made only of files already processed is skipped, and of one that also holds
files not processed yet only their rows are named — so each row is read once however the files
were merged. The checkpoint (a JSON list of file names) is written by :meth:`NewFiles.done`, after
the caller has acted on the rows: a crash re-reads files, it never skips them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.lake import Lake

Ranges = list[tuple[int, int]]
"""(first row, row count) pairs of a file; None where the whole file is to be read."""


class NewFiles:
    """The committed files of ``table`` not processed yet (module docstring), checkpointed in
    ``state``. Without a checkpoint it starts after the files already there (``from_start``: before
    them); ``resume=False`` ignores and never writes the checkpoint."""

    def __init__(self, lake: Lake, table: str, state: str, *, from_start: bool = False, resume: bool = True):
        self.lake, self.table, self.state, self.resume = lake, table, state, resume
        self.seen: set[str] = set()
        if resume and lake.exists(state):
            self.seen = set(lake.read_json(state).get("files", []))
        elif not from_start:
            self.seen = set(lake.table_files(table))
            if resume:  # the starting point is a checkpoint too: a restart must not skip what came since
                lake.write_json(state, {"files": sorted(self.seen)})

    def poll(self) -> tuple[list[str], list[tuple[str, Ranges | None]]]:
        """The new files, and of them the ones to read with the row ranges to read (None: all).
        A compaction's inputs are dropped from the seen set (the checkpoint names the file that
        holds their rows now); pass the first list to :meth:`done` once the rows are handled."""
        new = [f for f in self.lake.table_files(self.table) if f not in self.seen]
        out: list[tuple[str, Ranges | None]] = []
        for rel in new:
            retired = self._rewrites(rel)
            ranges = None
            if retired is not None:  # a compaction: read only the rows of inputs not processed yet
                ranges = self._unseen_ranges(rel, retired)
                self.seen.difference_update(retired)
                if ranges == []:
                    self.seen.add(rel)
                    continue
            out.append((rel, ranges))
        return new, out

    def done(self, new: list[str], extra: dict[str, Any] | None = None) -> None:
        """Mark ``new`` processed and write the checkpoint (with the caller's ``extra`` keys)."""
        self.seen.update(new)
        if self.resume:
            self.lake.write_json(self.state, {**(extra or {}), "files": sorted(self.seen)})

    def _rewrites(self, rel: str) -> list[str] | None:
        """The files ``rel`` replaced when a commit of :mod:`pipeline.lake.replace` made it (a
        compaction: the same rows in a new file), or None when it holds new rows (a load)."""
        from pipeline.lake import ledger

        commit = ledger.commit_of(rel)
        if commit is None:
            return None
        entry = ledger.entry_path(self.table, rel.rsplit("/", 1)[0], commit)
        for doc_path in (entry, ledger.marker_path(self.table, commit, "committed")):
            try:
                doc = self.lake.read_json(doc_path) if self.lake.exists(doc_path) else None
            except (OSError, ValueError):
                doc = None
            if doc is not None and doc.get("retires"):
                return [str(r["path"] if isinstance(r, dict) else r) for r in doc["retires"]]
        return None

    def _unseen_ranges(self, rel: str, retired: list[str]) -> Ranges | None:
        """The (first row, row count) ranges of compaction output ``rel`` that hold the rows of
        ``retired`` inputs not processed yet ([] when all were). Compaction writes its inputs whole,
        in the order of their sorted paths (:mod:`pipeline.loader.compact`), so each input is one
        range; sizes come from the inputs' ledger entries. None (read the whole file) when a size
        is unknown or the sizes do not add up to the file's rows."""
        import pyarrow.parquet as pq

        from pipeline.lake import ledger

        if all(r in self.seen for r in retired):
            return []

        def listed(doc: dict[str, Any], rel: str) -> list[int]:
            return [int(f["rows"]) for f in doc.get("files", []) if isinstance(f, dict) and f.get("path") == rel]

        sizes: list[int] = []
        every: dict[str, dict[str, Any]] | None = None
        for r in sorted(retired):
            commit, folder = ledger.commit_of(r), r.rsplit("/", 1)[0]
            entry = ledger.entry_path(self.table, folder, commit) if commit else None
            try:
                rows = listed(self.lake.read_json(entry), r) if entry and self.lake.exists(entry) else []
                if len(rows) != 1:  # an adopted file's entry is not named after its commit: look through all
                    every = every if every is not None else ledger.entries(self.lake, self.table, folder)
                    rows = [n for doc in every.values() for n in listed(doc, r)]
            except (OSError, ValueError):
                return None
            if len(rows) != 1:
                return None
            sizes.append(rows[0])
        with self.lake.fs.open_input_file(self.lake.path(rel)) as fh:
            if pq.read_metadata(fh).num_rows != sum(sizes):
                return None
        out, start = [], 0
        for r, n in zip(sorted(retired), sizes, strict=True):
            if r not in self.seen and n:
                out.append((start, n))
            start += n
        return out


def read_rows(lake: Lake, rel: str, ranges: Ranges | None = None,
              columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of one committed file as dicts (``columns`` only, if given); with ``ranges`` only
    those rows, reading only the row groups that hold them."""
    return read_table(lake, rel, ranges, columns).to_pylist()  # type: ignore[no-any-return]


def read_table(lake: Lake, rel: str, ranges: Ranges | None = None,
               columns: list[str] | None = None) -> pa.Table:
    """:func:`read_rows` as one Arrow table (the file's own schema; empty when ``ranges`` select
    no row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with lake.fs.open_input_file(lake.path(rel)) as fh:
        if ranges is None:
            return pq.read_table(fh, columns=columns)
        pf = pq.ParquetFile(fh)
        parts = []
        for first, count in ranges:
            start = 0
            for g in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                lo, hi = max(first, start), min(first + count, start + n)
                if lo < hi:
                    parts.append(pf.read_row_group(g, columns=columns).slice(lo - start, hi - lo))
                start += n
        if not parts:
            return pf.schema_arrow.empty_table() if columns is None else \
                pf.schema_arrow.empty_table().select(columns)
        return pa.concat_tables(parts)
