"""The Flink rollup's output (:data:`jobs.flink.sql.OUT_SCHEMA` CSV part files) → rollup rows.

Vectorised (Arrow/numpy), never per row in Python: the ``bins`` entry lists are split with
Arrow string kernels and added up per row with :func:`pipeline.rollup.merge.build_sketches`, the
series identity is attached and the rows ordered with :mod:`pipeline.rollup.assemble`, so the result
is in :data:`~pipeline.rollup.schema.ROLLUP` schema and order, bit-equal to the DuckDB engine's
(bins, counts, min, max; sums to the last bit of the summation order).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.errors import InputError
from pipeline.rollup import assemble
from pipeline.rollup.merge import build_sketches, to_numpy
from pipeline.rollup.schema import ROLLUP, SERIES_ID

OUT_TYPES = {"sid": pa.string(), "b": pa.int64(), "n": pa.float64(), "s": pa.float64(), "lo": pa.float64(),
             "hi": pa.float64(), "skn": pa.float64(), "bins": pa.string()}
LATE_TYPES = {"sid": pa.string(), "ms": pa.int64(), "behind": pa.int64(), "seg": pa.string()}


def read_csv(sources: Iterable[bytes | str], types: dict[str, pa.DataType]) -> pa.Table:
    """Concatenate headerless CSV part files (bytes, or local paths) with the given columns."""
    names = list(types)
    tables = []
    for src in sources:
        data = io.BytesIO(src) if isinstance(src, bytes) else src
        tables.append(pacsv.read_csv(
            data, read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                 strings_can_be_null=True)))
    if not tables:
        return pa.schema(list(types.items())).empty_table()
    return pa.concat_tables(tables)


def sketches(out: pa.Table) -> tuple[pa.Array, pa.Array]:
    """``(sketch_bins, sketch_bin_counts)`` per row of Flink output ``out`` (its ``bins`` entries
    ``bin`` or ``bin:weight``, comma-separated)."""
    lists = pc.split_pattern(out["bins"].combine_chunks(), ",")
    rows = to_numpy(pc.list_parent_indices(lists), np.int64)
    pair = pc.split_pattern(pc.list_flatten(lists), ":")
    bins = to_numpy(pc.list_element(pair, 0).cast(pa.int64()), np.int64)
    weighted = pc.equal(pc.list_value_length(pair), 2)
    if pc.any(weighted).as_py():
        second = pc.list_element(pc.if_else(weighted, pair, pa.array([["0", "1"]] * len(pair))), 1)
        counts = to_numpy(second.cast(pa.float64()), np.float64)
    else:
        counts = np.ones(len(bins))
    return build_sketches(out.num_rows, rows, bins, counts)


def sid_u64(sid: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Series ids (16 hex digits) as uint64, as :data:`pipeline.rollup.sql._SID` reads them."""
    values = sid.to_pylist()
    try:
        return np.fromiter((int(s, 16) for s in values), dtype=np.uint64, count=len(values))
    except (TypeError, ValueError):
        bad = next(s for s in values if not isinstance(s, str) or len(s) != 16)
        raise InputError("a series id is not 16 hex digits", field=SERIES_ID, value=bad) from None


def rollup_rows(out: pa.Table, ids: pa.Table, period: int = 60) -> pa.Table:
    """Rows in :data:`ROLLUP` schema and order from Flink output ``out`` (one row per series and
    bucket) and ``ids`` (one row per series: ``_wl_series_id`` and the identity columns; the
    series of ``out`` must all be there)."""
    if out.num_rows == 0:
        return ROLLUP.empty_table()
    ids = ids.append_column("sid", pa.array(sid_u64(ids[SERIES_ID]), pa.uint64()))
    ids = ids.sort_by([("namespace", "ascending"), ("metric_name", "ascending"), ("dimensions", "ascending"),
                       ("unit", "ascending"), ("sid", "ascending")])
    sid = pa.array(sid_u64(out["sid"]), pa.uint64())
    known = pc.is_in(sid, value_set=ids["sid"].combine_chunks())
    if not pc.all(known).as_py():
        missing = out["sid"].filter(pc.invert(known))[0].as_py()
        raise InputError("no identity for a series in the Flink output", field=SERIES_ID, value=missing)
    rank = assemble.ranks(ids, sid)
    key = assemble.keys(rank, pa.array(to_numpy(out["b"], np.int64) // (period * 1000)))
    order = np.argsort(key, kind="stable")
    key = key[order]
    out = out.take(pa.array(order))
    bins, counts = sketches(out)
    columns = {"sample_count": out["n"], "sum": out["s"], "min": out["lo"], "max": out["hi"],
               "sketch_bins": bins, "sketch_bin_counts": counts,
               "sketch_count": pc.fill_null(out["skn"], 0.0)}
    cols = {k: (v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v) for k, v in columns.items()}
    return assemble.table(ids, key >> 32, key & 0xFFFFFFFF, period, cols)
