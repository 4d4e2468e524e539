"""The two documented missing-data tables (CloudWatch User Guide, AlarmThatSendsEmail), row by row,
plus the premature-alarm rule; expected states are copied from the documentation, not the code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.alarms.missing import BAD, GOOD, MISSING, RETAIN, decide, decide_many

SYMBOL = {"0": GOOD, "X": BAD, "-": MISSING}
TMDS = ("missing", "ignore", "breaching", "notBreaching")
R = "retain state"

# Table A: M = N = 3. Columns: datapoints, missing, ignore, breaching, notBreaching.
TABLE_A = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("0 - - - -", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", R, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", R, "ALARM", "OK"),
]
# Table B: M = 2, N = 3.
TABLE_B = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - X -", "ALARM", R, "ALARM", "OK"),
]
CODE = {"OK": 0, "ALARM": 1, "INSUFFICIENT_DATA": 2, R: 3}


def _slots(text: str) -> list[int]:
    return [SYMBOL[c] for c in text.split()]


def _rows(table, m):
    for row in table:
        for tmd, expected in zip(TMDS, row[1:]):
            yield pytest.param(row[0], m, tmd, expected, id=f"M{m}-{row[0].replace(' ', '')}-{tmd}")


@pytest.mark.parametrize("points,m,tmd,expected", [*_rows(TABLE_A, 3), *_rows(TABLE_B, 2)])
def test_documented_tables_scalar(points, m, tmd, expected):
    d = decide(_slots(points), 3, m, tmd)
    assert (RETAIN if expected == R else expected) == d.state


@pytest.mark.parametrize("points,m,tmd,expected", [*_rows(TABLE_A, 3), *_rows(TABLE_B, 2)])
def test_documented_tables_vectorised(points, m, tmd, expected):
    codes = decide_many(np.array([_slots(points)]), 3, m, tmd)
    assert codes.tolist() == [CODE[expected]]


def test_documented_fill_counts():
    # "# to fill" column: rows of table A need 0, 2, 3, 0, 2 filled points with breaching
    fills = [decide(_slots(r[0]), 3, 3, "breaching").fills for r in TABLE_A]
    assert fills == [0, 2, 3, 0, 2]


def test_premature_alarm_not_raised_too_early():
    # "- - - - X" with M = 3: the next point may be good, so no ALARM yet (state kept)
    assert decide(_slots("- - - - X"), 3, 3, "missing").state == RETAIN
    assert decide(_slots("- - - X -"), 3, 3, "missing").state == RETAIN
    # ... but once the breaching point is M periods old with only missing after it: ALARM
    assert decide(_slots("- - X - -"), 3, 3, "missing").state == "ALARM"
    # documented note for A-row 2: if data stays missing, the next evaluation goes to ALARM
    # (with breaching: the good point has left the range, 3 fills)
    assert decide(_slots("- - - - -"), 3, 3, "breaching").state == "ALARM"


def test_newest_n_real_points_reach_back():
    # 4 real points in the range: evaluate the newest 3 real ones (0 ignored)
    d = decide(_slots("0 X - X X"), 3, 3, "missing")
    assert d.state == "ALARM" and d.used == (1, 3, 4)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, n), st.sampled_from(TMDS),
    st.lists(st.lists(st.sampled_from([GOOD, BAD, MISSING]), min_size=n + 2, max_size=n + 2),
             min_size=1, max_size=20))))
def test_vectorised_matches_scalar(case):
    n, m, tmd, rows = case
    codes = decide_many(np.array(rows), n, m, tmd).tolist()
    expected = [CODE[R] if (s := decide(r, n, m, tmd).state) == RETAIN else CODE[s] for r in rows]
    assert codes == expected
