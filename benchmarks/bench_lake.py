"""Cost of the lake's consistent listing and of an atomic replace commit, against the bare tools.

    .venv/bin/python -m benchmarks.bench_lake [--small] [--repeat R]

Data (made fresh in a temp folder each run): a ``cloudtrail``-shaped raw table of ``days × 24``
hour partitions with 2 small Parquet files each (a month of a loader's output before
compaction), and a ``findings`` table of ``days`` day partitions of 2,000 rows.

Measured in the same run, alternating, best and median of ``--repeat`` runs:

- listing: ``Lake.table_files`` (data-file rules + a snapshot bracketed by the replace markers)
  vs a bare ``pyarrow.fs.FileSelector(recursive=True)`` listing of the same folder;
- replace: ``pipeline.lake.replace.replace_rows`` rewriting one day partition with 100 updated
  rows (read, merge, write, markers, ledger entry, delete) vs the bare steps the five writers did
  before (read the files with pyarrow, filter, ``pq.write_table`` one file, delete the old ones).

Prints milliseconds and the ratio watchlake / bare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _findings(day: datetime, n: int, version: int) -> pa.Table:
    from pipeline.schemas import FINDINGS

    cols = {name: pa.nulls(n, f.type) for name, f in zip(FINDINGS.names, FINDINGS, strict=True)}
    cols["finding_id"] = pa.array([f"f{day:%j}-{i:05d}" for i in range(n)])
    cols["rule_id"] = pa.array([f"r{i % 40}" for i in range(n)])
    cols["time"] = pa.array([day + timedelta(seconds=40 * i) for i in range(n)], FINDINGS.field("time").type)
    cols["event_count"] = pa.array([version] * n, pa.int64())
    return pa.table(cols, schema=FINDINGS)


def main() -> None:
    from pipeline.lake import Lake, layout
    from pipeline.lake.replace import replace_rows
    from pipeline.schemas import FINDINGS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="7 days instead of 30")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    days = 7 if args.small else 30
    with tempfile.TemporaryDirectory(prefix="wl-bench-lake-") as tmp:
        lake = Lake(Path(tmp) / "lake")
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        small = pa.table({"eventID": pa.array(["x"] * 200), "n": pa.array(range(200))})
        for d in range(days):
            for h in range(24):
                ts = t0 + timedelta(days=d, hours=h)
                for _ in range(2):
                    lake.write_partition("cloudtrail", layout.time_partitions("cloudtrail", ts), small)
        for d in range(days):
            day = t0 + timedelta(days=d)
            replace_rows(lake, "findings", _findings(day, 2000, 0), schema=FINDINGS, key=["finding_id"],
                         partition_of=_by_day)
        n_files = len(lake.table_files("cloudtrail"))

        def bare_list() -> list[str]:
            infos = lake.fs.get_file_info(pafs.FileSelector(lake.path("raw/cloudtrail"), recursive=True))
            return [i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")]

        ours_l, bare_l = [], []
        for _ in range(args.repeat):
            ours_l += _time(lambda: lake.table_files("cloudtrail"), 1)
            bare_l += _time(bare_list, 1)
        assert len(bare_list()) == n_files

        day = t0 + timedelta(days=days // 2)
        folder = layout.partition_path("findings", {"dt": f"{day:%Y-%m-%d}"})
        version = [0]

        def ours_replace() -> None:
            version[0] += 1
            upd = _findings(day, 2000, version[0]).slice(0, 100)
            replace_rows(lake, "findings", upd, schema=FINDINGS, key=["finding_id"], partition_of=_by_day)

        def bare_replace() -> None:
            version[0] += 1
            upd = _findings(day, 2000, version[0]).slice(0, 100)
            old_files = [i.path for i in lake.fs.get_file_info(pafs.FileSelector(lake.path(folder)))
                         if i.path.endswith(".parquet") and not i.base_name.startswith(".")]
            parts = []
            for f in old_files:
                old = pq.read_table(f)
                parts.append(old.filter(pc.invert(pc.is_in(old["finding_id"], value_set=upd["finding_id"]))))
            pq.write_table(pa.concat_tables([*parts, upd]), lake.path(f"{folder}/{layout.file_name()}"),
                           compression="zstd")
            for f in old_files:
                lake.fs.delete_file(f)

        ours_r, bare_r = [], []
        for _ in range(args.repeat):
            ours_r += _time(ours_replace, 1)
            bare_r += _time(bare_replace, 1)

    for label, ours, bare in (("listing", ours_l, bare_l), ("replace", ours_r, bare_r)):
        print(f"{label:8s} watchlake best {min(ours) * 1e3:7.1f} ms  median {statistics.median(ours) * 1e3:7.1f} ms"
              f" | bare best {min(bare) * 1e3:7.1f} ms  median {statistics.median(bare) * 1e3:7.1f} ms"
              f" | ratio (median) {statistics.median(ours) / statistics.median(bare):.2f}x")
    print(f"listing: {n_files:,} files in {days * 24:,} partitions; replace: 100 of 2,000 rows of one day")


def _by_day(t: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise("findings/dt=", pc.strftime(t["time"], format="%Y-%m-%d"), "")


if __name__ == "__main__":
    main()
