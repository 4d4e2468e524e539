"""Metric math: parsing, kinds and values, each expectation worked out by hand from the rules in
reference/aws-semantics.md §1.7 (missing counts as 0 beside a real point, division by zero
dropped, comparisons give 1/0, IF's branches), and a metric-math alarm's timeline, which must be
the one a plain alarm on the same (hand-computed) values has."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.alarms.model import MetricRef
from pipeline.alarms.validate import parse_alarm
from pipeline.errors import RuleError
from pipeline.metricmath.evaluate import check, evaluate
from pipeline.metricmath.parse import Grid, MathError, parse
from tests.pipeline.alarms.helpers import (
    T0,
    alarm_doc,
    engine_with,
    live_timeline,
    minute,
    replay_timeline,
    source_with,
)

N = float("nan")
G4 = Grid(int(T0.timestamp()), 60, 60, 4)


def ev(expr: str, grid: Grid = G4, **metrics: list[float]):
    trees = {"e": parse("e", expr)}
    arrays = {k: np.array(v, dtype=np.float64) for k, v in metrics.items()}
    check("e", trees, {"e": expr}, list(arrays))
    out = evaluate("e", trees, {"e": expr}, arrays, grid)
    return out if isinstance(out, float) else [list(a) for a in out] if isinstance(out, list) else list(out)


def same(got, want) -> bool:
    return len(got) == len(want) and all((math.isnan(g) and math.isnan(w)) or g == pytest.approx(w)
                                         for g, w in zip(got, want, strict=True))


def test_precedence_and_unary_minus():
    assert parse("e", "m1 + m2 * 2 ^ 2") == ("bin", "+", ("ref", "m1"),
                                             ("bin", "*", ("ref", "m2"), ("bin", "^", ("num", 2.0), ("num", 2.0))))
    assert ev("-2 ^ 2") == -4.0
    assert ev("2 ^ 3 ^ 2") == 512.0                       # right-associative
    assert ev("1 + 2 > 2 AND 0 || 1") == 1.0              # (3 > 2 && 0) || 1


@pytest.mark.parametrize("expr,where", [("m1 +", 5), ("m1 $ 2", 4), ("SEARCH('x')", 1),
                                        ("FOO(m1)", 1), ("Errors * 2", 1), ("ABS(m1, m2)", 11)])
def test_parse_errors_name_the_position(expr, where):
    with pytest.raises(MathError, match=f"at character {where}"):
        parse("e", expr)


def test_the_documented_comparison_example():
    # aws-semantics §1.7: m1 = [30,20,0,0], m2 = [20,–,20,–] → m1 < m2 = [0,0,1,0]
    assert ev("m1 < m2", m1=[30, 20, 0, 0], m2=[20, N, 20, N]) == [0, 0, 1, 0]


def test_missing_counts_as_zero_beside_a_point_and_division_by_zero_is_dropped():
    assert same(ev("m1 + m2", m1=[1, N, N, 4], m2=[N, 2, N, 1]), [1, 2, N, 5])
    assert same(ev("m1 / m2", m1=[10, 10, 5, N], m2=[2, 0, N, 4]), [5, N, N, 0])  # 5/0 dropped; 0/4
    assert same(ev("100 * m1 / m2", m1=[1, 5, N, 2], m2=[100, 100, 100, N]), [1, 5, 0, N])
    assert same(ev("m1 * 2", m1=[1, N, 3, 4]), [2, N, 6, 8])                      # a scalar keeps missing
    assert same(ev("m1 > 2", m1=[1, N, 3, 4]), [0, N, 1, 1])
    assert same(ev("LOG10(m1)", m1=[100, 0, -1, N]), [2, N, N, N])


def test_if_branches():
    assert same(ev("IF(m1 > 5, m1)", m1=[3, 7, N, 9]), [N, 7, N, 9])             # no false branch: dropped
    assert same(ev("IF(m1, m2, m3)", m1=[1, 0, 1, N], m2=[N, 5, 6, 7], m3=[8, N, 9, 9]), [0, N, 6, N])
    assert same(ev("IF(m1 > 5, 1, 0)", m1=[3, 7, N, 9]), [0, 1, N, 1])


def test_fill_and_rate_follow_each_phase_of_sliding_windows():
    g = Grid(0, 60, 120, 6)        # 2-minute period evaluated every minute: phases (0, 2, 4) and (1, 3, 5)
    x = [0, 100, N, N, 120, 400]
    assert same(ev("FILL(m1, REPEAT)", g, m1=x), [0, 100, 0, 100, 120, 400])
    assert same(ev("FILL(m1, LINEAR)", g, m1=x), [0, 100, 60, 250, 120, 400])
    assert same(ev("FILL(m1, -1)", g, m1=x), [0, 100, -1, -1, 120, 400])
    assert same(ev("RATE(m1)", g, m1=x), [N, N, N, N, 0.5, 1.25])    # 120/240 s; 300/240 s
    assert same(ev("DIFF(m1)", g, m1=x), [N, N, N, N, 120, 300])
    assert same(ev("DIFF_TIME(m1)", g, m1=x), [N, N, N, N, 240, 240])


def test_arrays_reduce_per_window_over_the_series_that_have_a_point():
    m = {"errors_a": [1, N, 3, N], "errors_b": [3, 2, N, N], "latency": [100, 100, 100, 100]}
    assert same(ev('SUM(METRICS("errors"))', **m), [4, 2, 3, N])
    assert same(ev('AVG(METRICS("errors"))', **m), [2, 2, 3, N])
    assert same(ev('STDDEV(METRICS("errors"))', **m), [1, 0, 0, N])             # population
    assert same(ev('MAX(METRICS()) - MIN(METRICS())', **m), [99, 98, 97, 0])
    assert ev('METRIC_COUNT(METRICS("errors"))', **m) == 2.0
    assert same(ev('FIRST(REMOVE_EMPTY(METRICS("x") + 0))', **m), [N, N, N, N])  # an empty array


def test_clock_functions_read_each_window_start_in_utc():
    assert ev("DAY(m1)", m1=[N] * 4) == [4.0] * 4                    # 2026-11-05 is a Thursday
    assert ev("HOUR(m1) * 100 + MINUTE(m1)", m1=[1] * 4) == [1200.0, 1201.0, 1202.0, 1203.0]
    assert ev("PERIOD(m1) + TIME_SERIES(1)", m1=[1] * 4) == [61.0] * 4


@pytest.mark.parametrize("exprs,reason", [
    ({"e": "SUM(m1)"}, "single number over however many points"),
    ({"e": "e2 + 1", "e2": "e * 2"}, "cycle: e → e2 → e"),
    ({"e": "m9 * 2"}, "unknown query Id 'm9'"),
    ({"e": "METRICS() + METRICS()"}, "cannot combine two arrays"),
    ({"e": "FILL(3, REPEAT)"}, "FILL needs a series"),
])
def test_kind_errors_are_found_when_the_alarm_is_defined(exprs, reason):
    trees = {q: parse(q, t) for q, t in exprs.items()}
    with pytest.raises(MathError, match=reason):
        check("e", trees, exprs, ["m1"])


def _math_alarm(expression: str, **kw):
    def stat(qid, name):
        return {"Id": qid, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": name, "Dimensions": [{"Name": "Service", "Value": "api"}]},
            "Period": 60, "Stat": "Sum"}}
    doc = {k: v for k, v in alarm_doc(**kw).items()
           if k not in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period")}
    doc["Metrics"] = [stat("m1", "Errors"), stat("m2", "Requests"),
                      {"Id": "e1", "Expression": expression, "Label": "error rate"}]
    return doc


def test_a_math_alarm_refuses_what_cannot_give_one_series():
    with pytest.raises(RuleError, match="gives an array of series"):
        parse_alarm(_math_alarm("METRICS()"))
    with pytest.raises(RuleError, match=r"Metrics\[e1\]\.Expression.*unknown function NOPE"):
        parse_alarm(_math_alarm("NOPE(m1)"))
    a = parse_alarm(_math_alarm("100 * m1 / m2"))
    assert a.math is not None and [m.metric_name for m in a.metrics] == ["Errors", "Requests"]


ERRORS = MetricRef("App", "Errors", (("Service", "api"),), "Sum")
REQUESTS = MetricRef("App", "Requests", (("Service", "api"),), "Sum")


def test_an_error_rate_alarm_has_the_timeline_of_a_plain_alarm_on_the_same_values(lake):
    # 100 requests a minute for minutes 0-19; 1 error a minute (1 %) for 0-9, then 10 (10 %); then
    # both stop. The rate crosses 5 % exactly as test_scenarios' STOPS values cross 5 — so the
    # timeline is the one derived there by hand: OK at 1, ALARM at 13, INSUFFICIENT_DATA at 25.
    errors = {m: (1.0 if m < 10 else 10.0) for m in range(20)}
    src = source_with(errors, ref=ERRORS)
    src.add(REQUESTS, [minute(m) for m in range(20)], [100.0] * 20)
    want = [(1, "OK"), (13, "ALARM"), (25, "INSUFFICIENT_DATA")]
    eng = engine_with(lake, [_math_alarm("100 * m1 / m2")], src)
    assert [(m, s) for _, m, s in live_timeline(eng, 1, 40)] == want
    again = engine_with(lake, [_math_alarm("100 * m1 / m2")], src)
    assert [(m, s) for _, m, s in replay_timeline(again, 1, 40)] == want
