"""Splitting a batch into event-time partitions (pipeline.loader.partition.split)."""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow as pa

from pipeline.loader.partition import split
from pipeline.schemas import CLOUDTRAIL
from tests.pipeline.loader.helpers import T0, ct_rows


def _parts(table: pa.Table) -> dict[tuple, list[str]]:
    return {tuple(sorted(v.items())): part.column("eventID").to_pylist() for v, part in split("cloudtrail", table)}


def test_time_ordered_and_shuffled_input_give_the_same_partitions_in_input_order():
    rows = ct_rows(500, step=timedelta(seconds=37))             # ~5 h: six hourly partitions
    ordered = pa.Table.from_pylist(rows, schema=CLOUDTRAIL)
    shuffled_rows = rows[:]
    random.Random(3).shuffle(shuffled_rows)
    shuffled = pa.Table.from_pylist(shuffled_rows, schema=CLOUDTRAIL)
    by_hand: dict[tuple, list[str]] = {}
    for r in rows:
        key = (("dt", r["eventTime"].strftime("%Y-%m-%d")), ("hour", r["eventTime"].strftime("%H")))
        by_hand.setdefault(key, []).append(r["eventID"])
    assert _parts(ordered) == by_hand
    assert len(by_hand) == 6
    # shuffled input: same partitions, each keeping the rows' input order (a stable split)
    order = {e: i for i, e in enumerate(r["eventID"] for r in shuffled_rows)}
    assert {k: sorted(v, key=order.__getitem__) for k, v in by_hand.items()} == _parts(shuffled)


def test_one_partition_is_the_table_itself():
    table = pa.Table.from_pylist(ct_rows(10), schema=CLOUDTRAIL)
    [(values, part)] = list(split("cloudtrail", table))
    assert part is table and values == {"dt": T0.strftime("%Y-%m-%d"), "hour": T0.strftime("%H")}
