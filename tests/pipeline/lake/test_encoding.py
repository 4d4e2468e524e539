"""Dictionary encoding chosen from the data (pipeline.lake.encoding)."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake.encoding import dictionary_columns, dictionary_columns_cached


def _table(n: int = 2000) -> pa.Table:
    return pa.table({
        "region": [f"us-east-{i % 3}" for i in range(n)],                   # 3 distinct: repeats
        "event_id": [f"id-{i:08d}" for i in range(n)],                       # unique
        "user": pa.array([{"type": "Role", "arn": f"arn:{i}"} for i in range(n)],
                         pa.struct([("type", pa.string()), ("arn", pa.string())])),
        "tags": pa.array([["a", "b"] if i % 2 else ["a"] for i in range(n)], pa.list_(pa.string())),
        "flag": [bool(i % 2) for i in range(n)],
        "nothing": pa.nulls(n, pa.string()),
        "value": [float(i) for i in range(n)],
    })


def test_repeating_leaves_get_a_dictionary_unique_ones_do_not():
    cols = dictionary_columns(_table())
    assert cols == ["region", "user.type", "tags.list.element"]


def test_the_chosen_paths_are_parquet_column_paths_the_writer_applies():
    table = _table()
    buf = io.BytesIO()
    pq.write_table(table, buf, use_dictionary=dictionary_columns(table))
    meta = pq.ParquetFile(io.BytesIO(buf.getvalue())).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    dict_encoded = {p for p, e in encodings.items() if "RLE_DICTIONARY" in e or "PLAIN_DICTIONARY" in e}
    assert dict_encoded == {"region", "user.type", "tags.list.element"}
    assert pq.read_table(io.BytesIO(buf.getvalue())).equals(table)


def test_the_ratio_is_measured_on_non_null_values_and_empty_tables_have_none():
    half = pa.table({"x": [None, "a"] * 500})          # 1 distinct among 500 present
    assert dictionary_columns(half) == ["x"]
    assert dictionary_columns(_table().slice(0, 0)) == []


def test_cached_decision_is_taken_from_a_large_enough_table_and_reused():
    big = _table(5000)
    cols = dictionary_columns_cached(big)
    # a later, small table of the same schema whose own sample would differ reuses the decision
    small = pa.table({c: big.column(c).slice(0, 1) for c in big.column_names})
    assert dictionary_columns(small) != cols
    assert dictionary_columns_cached(small) == cols


def test_the_distinct_count_of_a_table_is_estimated_from_an_even_sample():
    from pipeline.lake.encoding import estimated_distinct

    assert estimated_distinct(7, 50, 50) == 7  # the sample is the table
    assert estimated_distinct(1024, 1024, 100_000) == 100_000  # no value repeated
    # 2,048 draws from 10,000 equally common values hold 10,000 · (1 − e^(−0.2048)) ≈ 1,852.6
    assert abs(estimated_distinct(1853, 2048, 1_000_000) - 10_000) < 100
    assert estimated_distinct(3, 1024, 1_000_000) < 4


def test_ids_that_take_turns_in_time_order_get_a_dictionary():
    # 2,000 series reporting in turn: the first 1,024 rows hold 1,024 different ids, yet the
    # table holds each id 50 times; a unique request id stays plain
    n = 100_000
    t = pa.table({"series": [f"{i % 2000:016x}" for i in range(n)], "request": [f"r{i}" for i in range(n)]})
    assert dictionary_columns(t) == ["series"]
    assert dictionary_columns(t.slice(0, 1024)) == []  # judged on those rows alone: no repeats


def test_a_much_larger_table_decides_again():
    n = 100_000
    big = pa.table({"series": [f"{i % 2000:016x}" for i in range(n)], "note": ["x"] * n})
    first = big.slice(0, 2000)  # a small live batch: every id once
    assert dictionary_columns_cached(first) == ["note"]
    assert dictionary_columns_cached(big.slice(0, 8 * 2000)) == ["note"]  # not much larger: reused
    assert dictionary_columns_cached(big) == ["series", "note"]


def test_with_row_groups_the_repeats_that_count_are_those_inside_one():
    # 200,000 rows written in groups of 8,192: ``spread`` draws from 20,000 values (each repeats
    # 10 times in the table, but a group holds 8,192 draws of 20,000: ~6,700 distinct);
    # ``clustered`` is sorted, 5 rows a value (its spread sample looks unique; a group holds
    # ~1,640 distinct); ``series`` takes 500 values in turns
    n, g = 200_000, 8192
    rnd = random.Random(3)
    t = pa.table({"spread": [float(rnd.randrange(20_000)) for _ in range(n)],
                  "clustered": [i // 5 for i in range(n)],
                  "series": [f"{i % 500:016x}" for i in range(n)]})
    assert dictionary_columns(t) == ["spread", "series"]  # the table as one group
    assert dictionary_columns(t, group_rows=g) == ["clustered", "series"]
    buf = {}
    for name, cols in (("table", dictionary_columns(t)), ("groups", dictionary_columns(t, group_rows=g))):
        b = io.BytesIO()
        pq.write_table(t, b, row_group_size=g, use_dictionary=cols, compression="zstd")
        buf[name] = len(b.getvalue())
    assert buf["groups"] < buf["table"]  # the per-group choice writes the smaller file
