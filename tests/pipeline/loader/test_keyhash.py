"""Key hashes, row-group time ranges, cores and Bloom filters (:mod:`pipeline.loader.keyhash`)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake import Lake, layout
from pipeline.loader import keyhash
from pipeline.schemas import CLOUDTRAIL
from tests.pipeline.loader.helpers import T0, ct_rows

FOLDER = layout.partition_path("cloudtrail", layout.time_partitions("cloudtrail", T0))


def _rows(b: int, n: int) -> list[dict]:
    return ct_rows(n, start=b * n, step=timedelta(milliseconds=500))


def test_file_units_bound_every_row_also_without_statistics(lake: Lake) -> None:
    rows = _rows(0, 300)
    t = pa.Table.from_pylist(rows, schema=CLOUDTRAIL)
    for stats in (True, False):
        rel = f"{FOLDER}/{layout.file_name(tag=f's{int(stats)}')}"
        lake.fs.create_dir(lake.path(FOLDER), recursive=True)
        pq.write_table(t, lake.path(rel), row_group_size=128, write_statistics=stats)
        units = keyhash.file_units(lake, "cloudtrail", rel)
        assert [u.rows for u in units] == [128, 128, 44]
        for u, start in zip(units, (0, 128, 256)):
            times = [r["eventTime"] for r in rows[start:start + u.rows]]  # by hand: whole seconds / halves
            assert u.lo == int(min(times).timestamp() * 1000) and u.hi == int(max(times).timestamp() * 1000)


def test_event_ms_floors_every_unit() -> None:
    for unit, raw, want in (("s", 2, 2000), ("ms", 1_500, 1_500), ("us", 1_500_999, 1_500), ("ns", -1, -1)):
        t = pa.table({"eventTime": pa.array([raw], pa.timestamp(unit, tz="UTC"))})
        assert keyhash.event_ms("cloudtrail", t).tolist() == [want]


def test_the_bloom_filter_has_no_false_negatives_and_few_false_positives() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**63, 50_000, dtype=np.int64).astype(np.uint64)
    others = rng.integers(0, 2**63, 50_000, dtype=np.int64).astype(np.uint64)
    filt = keyhash.bloom(keys)
    assert filt.nbytes == 50_000 * keyhash.BLOOM_BITS_PER_KEY // 8
    assert keyhash.maybe(filt, keys).all()
    assert keyhash.maybe(filt, others).mean() < 0.015  # ~0.8 % expected at 10 bits and 7 probes


def test_a_core_leaves_out_only_the_stragglers() -> None:
    unit = keyhash.Unit("f", 0, 1000, 0, 10**7)
    times = np.arange(1000, dtype=np.int64) * 10 + 5_000_000  # 10 s of data …
    times[[3, 500]] = [1_000, 2_000_000]  # … with two rows from long before
    hashes = np.arange(1000, dtype=np.uint64) * 7
    r = keyhash.refine(unit, hashes, times)
    assert (r.core_lo, r.core_hi) == (5_000_000, 5_009_990)  # by hand: every other row
    assert r.outliers is not None and sorted(r.outliers.tolist()) == [21, 3500]
    in_order = keyhash.refine(unit, hashes, np.arange(1000, dtype=np.int64) * 10)
    assert (in_order.core_lo, in_order.core_hi, len(in_order.outliers)) == (0, 9_990, 0)
