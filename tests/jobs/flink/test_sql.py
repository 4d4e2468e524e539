"""The sketch bin key as a Flink SQL expression gives the bins of the reference implementation
(:func:`pipeline.rollup.sketch.bin_of`) at the edges: zero, negative zero, negatives, the smallest
subnormal, the largest double, tiny and huge values."""

from __future__ import annotations

import pytest

from pipeline.rollup.sketch import GAMMA, bin_of, sql_bin

pytestmark = [pytest.mark.flink, pytest.mark.slow]

EDGES = [0.0, -0.0, 1.0, -1.0, 0.1, -2.5, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
         -1.7976931348623157e308, 1e-300, 123456.789, 1.0000001, 0.9999999]
BOUNDARIES = [GAMMA ** k for k in (1, 10, -10, 300)]   # exactly on a bin edge: ln() may round either way


def test_flink_bins_equal_the_reference(flink_t_env):
    values = EDGES + BOUNDARIES
    rows = ", ".join(f"(CAST('{v!r}' AS DOUBLE), {i})" for i, v in enumerate(values))
    result = flink_t_env.execute_sql(f"SELECT i, {sql_bin('v')} FROM (VALUES {rows}) AS t(v, i)")
    with result.collect() as it:
        got = {r[0]: r[1] for r in it}
    for i, v in enumerate(EDGES):
        assert got[i] == bin_of(v), v
    for i, v in enumerate(BOUNDARIES, start=len(EDGES)):
        assert abs(got[i] - bin_of(v)) <= 1, v
    assert got[0] == got[1] == 0 and got[2] == 1 << 16 and got[3] == -(1 << 16)


def test_the_late_output_holds_the_lines_behind_the_newest_read_and_only_those(tmp_path):
    """``late_insert``'s test on a stream read in order — one segment file through the job's own
    source, read line by line as the job reads it (not a ``VALUES`` list: the planner rewrites one
    into a ``Union`` of one constant ``Calc`` per row, which reaches the ``OVER`` in no defined
    order — ``explain_sql`` shows it): late is older than the newest event time read so far (that
    line included) by more than the out-of-orderness; a line at the newest time is never its own
    late line, even with no out-of-orderness (every line was before)."""
    from jobs.flink.sql import late_insert, source_ddl
    from jobs.flink_rollup import create_table_env

    t_env = create_table_env(checkpoint_dir=f"file://{tmp_path}/ckpt")
    lines = [("a", 60_000), ("b", 60_000), ("a", 120_000), ("a", 61_000), ("a", 200_000), ("b", 130_000),
             ("b", 200_000), ("a", 139_000)]
    (tmp_path / "seg").mkdir()
    (tmp_path / "seg" / "segment-0.csv").write_text("".join(f"{s},{ms},1,1,1,1,1,,\n" for s, ms in lines))
    t_env.execute_sql(source_ddl("seg_src", f"file://{tmp_path}/seg", out_of_orderness=0))
    t_env.create_temporary_view("pts", t_env.sql_query("SELECT sid, ms, seg FROM seg_src"))
    got = {}
    for ooo in (0, 60):
        select = late_insert("sink", "pts", out_of_orderness=ooo).removeprefix("INSERT INTO sink ")
        with t_env.execute_sql(select).collect() as it:
            got[ooo] = sorted((r[0], r[1], r[2]) for r in it)
    assert got[0] == [("a", 61_000, 59), ("a", 139_000, 61), ("b", 130_000, 70)]
    assert got[60] == [("a", 139_000, 1), ("b", 130_000, 10)]
