"""series_columns: decimal-comma numbers and the value column chosen among several."""

from __future__ import annotations

import pytest

from pipeline.anomaly.series_columns import comma_number, delimiter, find_columns, local_number


@pytest.mark.parametrize(("text", "read"), [
    ("12,5", "12.5"), ("-1.234,5", "-1234.5"), ("3,2e-4", "3.2e-4"), ("+0,75", "+0.75"),
    ("1,234,567", None), ("12", None), ("1.5", None), ("1.23,4", None), (",5", None), ("abc", None),
])
def test_comma_number(text, read) -> None:
    assert comma_number(text) == read


def test_local_numbers_by_delimiter() -> None:
    assert local_number("1.234,5", ";") == ("1234.5", "decimal commas read as points (a `;`-delimited file)")
    assert local_number("1,234.5", ",") == ("1234.5", "thousands separators dropped from numbers")
    assert local_number("-12,345,678", "\t") == ("-12345678", "thousands separators dropped from numbers")
    assert [local_number(t, d) for t, d in (("1,234.5", ";"), ("12,5", ","), ("1,23", ","), ("1234,567", ","))] \
        == [None] * 4


def test_delimiter_is_the_one_the_header_holds_most_of() -> None:
    assert [delimiter(h) for h in ("a,b", "a;b", "a\tb", "a|b", "ab", "a;b,c;d")] == [",", ";", "\t", "|", ",", ";"]


def test_the_value_column_among_several() -> None:
    rows = [["2026-01-01", "", "x", "5", "7"], ["2026-01-01", "1", "y", "5", "8"]]
    cols = find_columns(["date", "Sum", "host", "Maximum", "count"], rows)
    assert cols is not None and (cols.time, cols.value) == (0, 1)  # a statistic with numbers, not the first row's
    assert cols.note == ("no `value` column: `Sum` read as the value, of Sum, Maximum, count (--stat chooses "
                         "another)", "")
    cols = find_columns(["date", "host", "count", "p99.9"], [["2026-01-01", "x", "5", "7"]])
    assert cols is not None and cols.value == 3  # a percentile is a statistic too
    assert find_columns(["date", "host", "zone"], [["2026-01-01", "x", "y"]]) is None  # no numbers at all


def test_a_headerless_first_row_with_a_byte_order_mark_and_padding_is_a_point() -> None:
    # found by tests/pipeline/anomaly/test_series_fuzz.py: the mark hid the padding from strip(),
    # the row was taken for a header and its point was lost
    cols = find_columns(["\ufeff 2026/11/02 08:00 ", "  0.0"], [["2026/11/02 08:05", "1.5"]])
    assert cols is not None and cols.headerless and (cols.time, cols.value) == (0, 1)
