"""Sketch entries of the Flink output (``bin`` or ``bin:weight``, comma-separated, any order) added
up per row into the stored sketch (ascending bins, counts of equal bins summed)."""

from __future__ import annotations

import pyarrow as pa

from jobs.flink.assemble import OUT_TYPES, sketches


def _out(bins: list[str | None]) -> pa.Table:
    n = len(bins)
    cols = {c: pa.nulls(n, t) for c, t in OUT_TYPES.items()}
    cols["bins"] = pa.array(bins, pa.string())
    return pa.table(cols)


def test_entries_add_up_per_row():
    b, c = sketches(_out(["65540,65537:2.5,65540", None, "-65600:1.0E7,0,0:0.5", "65537"]))
    assert b.to_pylist() == [[65537, 65540], [], [-65600, 0], [65537]]
    assert c.to_pylist() == [[2.5, 2.0], [], [1.0e7, 1.5], [1.0]]


def test_unweighted_only():
    b, c = sketches(_out(["3,1,2,1"]))
    assert (b.to_pylist(), c.to_pylist()) == ([[1, 2, 3]], [[2.0, 1.0, 1.0]])
