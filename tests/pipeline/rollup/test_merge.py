"""Building and merging sketches in numpy (pipeline.rollup.merge): hand-worked cases, edge cases,
and agreement with the reference Sketch on random sketches."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from pipeline.rollup.merge import build_sketches, flat_entries, merge_lists, native
from pipeline.rollup.schema import SKETCH_BINS, SKETCH_COUNTS
from pipeline.rollup.sketch import Sketch


def merge(n_targets: int, row_target: list[int], bins: pa.Array, counts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Source row i's sketch into target row_target[i] (as assemble.merge_rows does)."""
    rows, flat_bins, flat_counts = flat_entries(bins, counts)
    return build_sketches(n_targets, np.array(row_target, np.int64)[rows], flat_bins, flat_counts)


def _pairs(bins: pa.Array, counts: pa.Array) -> list[list[tuple[int, float]]]:
    return [list(zip(b, c, strict=True)) for b, c in zip(bins.to_pylist(), counts.to_pylist(), strict=True)]


def test_counts_of_equal_bins_add_and_bins_ascend():
    bins = pa.array([[-3, 0], None, [-4, -3, 70000], []], SKETCH_BINS)
    counts = pa.array([[1.0, 2.0], None, [1.0, 0.5, 1.0], []], SKETCH_COUNTS)
    out = merge(3, [1, 0, 1, 2], bins, counts)
    assert out[0].type == SKETCH_BINS and out[1].type == SKETCH_COUNTS
    # target 0 only has the null sketch, 2 only an empty one; 1 gets rows 0 and 2
    assert _pairs(*out) == [[], [(-4, 1.0), (-3, 1.5), (0, 2.0), (70000, 1.0)], []]


@pytest.mark.parametrize("counts", [None, np.array([1.0, 1.0, 1.0, 1.0, 1.0])])
def test_unit_counts_are_run_lengths_in_any_entry_order(counts):
    # rows 0 and 2; bin 5 twice in row 2, given out of order
    out = build_sketches(3, np.array([2, 0, 2, 2, 0]), np.array([5, -1, -7, 5, -1]), counts)
    assert _pairs(*out) == [[(-1, 2.0)], [], [(-7, 1.0), (5, 2.0)]]


def test_no_entries_at_all_gives_empty_lists():
    out = build_sketches(2, np.array([], np.int64), np.array([], np.int64), np.array([], np.float64))
    assert _pairs(*out) == [[], []]
    assert _pairs(*merge(0, [], pa.array([], SKETCH_BINS), pa.array([], SKETCH_COUNTS))) == []


def test_agrees_with_the_reference_sketch_merge():
    rnd = random.Random(7)
    buckets = [3, 10, 2**40 + 1]
    expected = {b: Sketch() for b in buckets}
    keys, bins, counts = [], [], []
    for _ in range(200):
        b = rnd.choice(buckets)
        values = [rnd.choice([-1, 1, 0]) * rnd.lognormvariate(0, 3) for _ in range(rnd.randint(0, 6))]
        s = Sketch.from_values(values, [rnd.choice([1.0, 0.25, 3.0]) for _ in values])
        expected[b] = expected[b].merge(s)
        keys.append(b)
        bins.append([e[0] for e in s.entries()])
        counts.append([e[1] for e in s.entries()])
    out = merge(len(buckets), [buckets.index(k) for k in keys], pa.array(bins, SKETCH_BINS),
                pa.array(counts, SKETCH_COUNTS))
    for b, got in zip(buckets, _pairs(*out), strict=True):
        assert [g[0] for g in got] == [e[0] for e in expected[b].entries()]
        assert [g[1] for g in got] == pytest.approx([e[1] for e in expected[b].entries()], rel=1e-12)


def _native_and_numpy(monkeypatch, *args):
    """merge_lists through the native module and through the numpy fallback (WATCHLAKE_NATIVE=0)."""
    assert native(), "the native module pipeline.rollup._sketchmerge is not built (make install)"
    with monkeypatch.context() as m:
        m.setenv("WATCHLAKE_NATIVE", "0")
        fallback = merge_lists(*args)
    return merge_lists(*args), fallback


def test_merge_lists_by_hand(monkeypatch):
    bins = pa.array([[-3, 0], None, [-4, -3, 70000], [], [2, 2, 5]], SKETCH_BINS)
    counts = pa.array([[1.0, 2.0], None, [1.0, 0.5, 1.0], [], [1.0, 1.0, 1.0]], SKETCH_COUNTS)
    # groups: {row 2, row 0}, {}, {row 1 (null), row 3}, {row 4}; row order inside a group is the order given
    order, starts = np.array([2, 0, 1, 3, 4]), np.array([0, 2, 2, 4, 5])
    for out in _native_and_numpy(monkeypatch, bins, counts, order, starts):
        assert out[0].type == SKETCH_BINS and out[1].type == SKETCH_COUNTS
        assert _pairs(*out) == [[(-4, 1.0), (-3, 1.5), (0, 2.0), (70000, 1.0)], [], [], [(2, 2.0), (5, 1.0)]]
    # counts None: every entry counts 1 and a row's bins may repeat (raw samples' listed bins)
    raw = pa.array([[7, 7, 9], [-2, 7]], SKETCH_BINS)
    for out in _native_and_numpy(monkeypatch, raw, None, np.array([1, 0]), np.array([0, 1, 2])):
        assert _pairs(*out) == [[(-2, 1.0), (7, 1.0)], [(7, 2.0), (9, 1.0)]]


def test_merge_lists_rejects_bad_input(monkeypatch):
    bins = pa.array([[1, 2]], SKETCH_BINS)
    with pytest.raises(ValueError, match="out of range"):
        merge_lists(bins, None, np.array([3]), np.array([0, 1]))
    with pytest.raises(ValueError, match="differ in length"):
        merge_lists(bins, pa.array([[1.0]], SKETCH_COUNTS), np.array([0]), np.array([0, 1]))


@pytest.mark.parametrize("seed", [1, 2])
def test_merge_lists_native_equals_numpy_and_the_reference(monkeypatch, seed):
    """Random sketches (narrow ranges: the dense path; both signs and huge spreads: the sorted
    path; one ordered row: the copy) merged into random groups: the native module, the numpy
    fallback and the reference Sketch.merge agree exactly (whole and fractional counts)."""
    rnd = random.Random(seed)
    sketches, rows_b, rows_c = [], [], []
    for _ in range(3000):
        spread = rnd.choice([0.05, 3, 60])
        values = [rnd.choice([-1, 1, 1, 1, 0]) * rnd.lognormvariate(0, spread) for _ in range(rnd.randint(0, 12))]
        s = Sketch.from_values(values, [rnd.choice([1.0, 2.0, 0.25]) for _ in values])
        sketches.append(s)
        rows_b.append([e[0] for e in s.entries()])
        rows_c.append([e[1] for e in s.entries()])
    order = np.array(rnd.sample(range(3000), 2800))
    cuts = sorted(rnd.sample(range(1, 2800), 400))
    starts = np.array([0, *cuts, 2800])
    bins, counts = pa.array(rows_b, SKETCH_BINS), pa.array(rows_c, SKETCH_COUNTS)
    got, fallback = _native_and_numpy(monkeypatch, bins, counts, order, starts)
    expected = []
    for g in range(len(starts) - 1):
        merged = Sketch()
        for r in order[starts[g]:starts[g + 1]]:
            merged = merged.merge(sketches[r])
        expected.append(merged.entries())
    assert _pairs(*got) == _pairs(*fallback) == expected


@pytest.mark.parametrize("percentiles", ["*", ""])
def test_a_rollup_never_imports_pandas(lake, percentiles):
    """The rollup builds its Arrow arrays from numpy buffers: ``pa.array`` imports pandas to check
    its argument (0.3 s of CPU per process, a tenth of the raw tier's cost over the bare query).
    With and without sketches; the tiers it writes count every sample."""
    import subprocess
    import sys
    from datetime import timedelta

    from tests.pipeline.rollup.gen import T0, point, write_metrics

    write_metrics(lake, [point(T0 + timedelta(seconds=10 * i), float(i % 37), dims={"Host": f"h{i % 3}"})
                         for i in range(2000)]
                        + [point(T0 + timedelta(minutes=3), stats=(4, 10.0, 1.0, 4.0)),
                           point(T0 + timedelta(minutes=4), values=[1.0, 2.0], counts=[3.0, 1.0])])
    code = ("import sys\n"
            "from pipeline.config import load_settings\nfrom pipeline.lake import Lake\n"
            "from pipeline.rollup.engine import DuckDBEngine\nfrom pipeline.rollup.runner import run_rollups\n"
            f"s = load_settings(env={{}}, overrides={{'lake.root': {lake.root!r}, "
            f"'tiers.percentiles': {percentiles!r}}})\n"
            "r = run_rollups(Lake.from_settings(s), s, DuckDBEngine())\n"
            "print(r.rows_by_table()['metrics_1h'], 'pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"
    import duckdb

    n = duckdb.connect().execute("SELECT sum(sample_count)::BIGINT, sum(sketch_count)::BIGINT FROM read_parquet(?)",
                                 [f"{lake.root}/rollups/metrics_1h/**/*.parquet"]).fetchone()
    # the statistic set of unequal values has no percentiles (CloudWatch's rule): 4 samples unsketched
    assert n == (2000 + 4 + 4, (2000 + 4) if percentiles else 0)


def test_markers_below_floor_are_skipped_and_totals_count_the_rest(monkeypatch):
    """The raw tier lists one entry per source row; rows whose samples are not single values
    list a marker (pipeline.rollup.sql.WEIGHTED / UNLISTED), which the merge leaves out."""
    from pipeline.rollup import sql
    from pipeline.rollup.merge import merge_counted

    w, u = sql.WEIGHTED, sql.UNLISTED
    listed = pa.array([[7, w, 7, 9], [u, u], [-2, u, 7], [5, 3, 4]], SKETCH_BINS)
    order, starts = np.array([2, 0, 1, 3]), np.array([0, 2, 3, 3, 4])
    # groups: rows {2, 0}, {1 (markers only)}, {}, {3}; counted by hand
    expected = [[(-2, 1.0), (7, 3.0), (9, 1.0)], [], [], [(3, 1.0), (4, 1.0), (5, 1.0)]]
    for env in ("1", "0"):
        with monkeypatch.context() as m:
            m.setenv("WATCHLAKE_NATIVE", env)
            bins, counts, totals = merge_counted(listed, None, order, starts, floor=sql.MARKERS_BELOW)
        assert _pairs(bins, counts) == expected
        assert totals.tolist() == [5.0, 0.0, 0.0, 3.0]
    # without a floor the markers are bins like any other (the merge tiers pass none)
    bins, counts = merge_lists(pa.array([[u, 3]], SKETCH_BINS), None, np.array([0]), np.array([0, 1]))
    assert _pairs(bins, counts) == [[(u, 1.0), (3, 1.0)]]


@pytest.mark.parametrize("seed", [3, 4])
def test_a_chunked_column_merges_as_the_combined_one(monkeypatch, seed):
    """DuckDB hands list columns over in many chunks: the native merge reads them where they lie
    (rows numbered across chunks, empty chunks included) and gives what the combined column gives
    through the numpy path."""
    rnd = random.Random(seed)
    rows_b, rows_c = [], []
    for _ in range(500):
        values = [rnd.lognormvariate(0, 2) for _ in range(rnd.randint(0, 9))]
        s = Sketch.from_values(values, [rnd.choice([1.0, 3.0, 0.5]) for _ in values])
        rows_b.append([e[0] for e in s.entries()])
        rows_c.append([e[1] for e in s.entries()])
    cuts = [0, *sorted(rnd.sample(range(1, 500), 6)), 500]
    cuts.insert(3, cuts[3])  # an empty chunk
    bins = pa.chunked_array([pa.array(rows_b[a:b], SKETCH_BINS) for a, b in zip(cuts, cuts[1:])], SKETCH_BINS)
    counts = pa.chunked_array([pa.array(rows_c[a:b], SKETCH_COUNTS) for a, b in zip(cuts, cuts[1:])],
                              SKETCH_COUNTS)
    assert bins.num_chunks == len(cuts) - 1
    order = np.array(rnd.sample(range(500), 480))
    starts = np.array([0, *sorted(rnd.sample(range(1, 480), 60)), 480])
    got, fallback = _native_and_numpy(monkeypatch, bins, counts, order, starts)
    combined = _native_and_numpy(monkeypatch, bins.combine_chunks(), counts.combine_chunks(), order, starts)[1]
    assert _pairs(*got) == _pairs(*fallback) == _pairs(*combined)
    with pytest.raises(ValueError, match="out of range"):
        merge_lists(bins, counts, np.array([500]), np.array([0, 1]))
