"""time_reader: the time forms of spreadsheet and console exports, chosen once per file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.anomaly.series_time import time_reader
from pipeline.errors import InputError


def _epoch(*a: int) -> float:
    return datetime(*a, tzinfo=UTC).timestamp()


def test_iso_and_epoch_need_no_note() -> None:
    parse, note = time_reader(["2026-01-02T10:00:00Z", "1767348000", "2026-01-02 10:00:00+01:00", ""])
    assert note is None
    assert parse("2026-01-02T10:00:00Z") == parse("1767348000") == _epoch(2026, 1, 2, 10)
    assert parse("2026-01-02 10:00:00 UTC") == parse("2026-01-02 10:00:00 gmt") == _epoch(2026, 1, 2, 10)
    with pytest.raises(InputError):
        parse("01/02/2026 10:00")  # no slash form was needed by the file, so none was chosen


def test_days_past_12_choose_day_first_and_ambiguous_files_say_so() -> None:
    parse, note = time_reader(["01/02/2026 10:00", "13/02/2026 10:05"])
    assert note == "times read as %d/%m/%Y %H:%M (UTC)"
    assert parse("01/02/2026 10:00") == _epoch(2026, 2, 1, 10)
    parse, note = time_reader(["01/02/2026 10:00", "02/13/2026 10:05"])
    assert parse("01/02/2026 10:00") == _epoch(2026, 1, 2, 10)
    assert note == "times read as %m/%d/%Y %H:%M (UTC)"  # 13 is a day: no doubt
    parse, note = time_reader(["01/02/2026 10:00", "03/04/2026 10:05"])
    assert note is not None and "%d/%m/%Y %H:%M reads them too" in note
    assert parse("03/04/2026 10:05") == _epoch(2026, 3, 4, 10, 5)


@pytest.mark.parametrize(("text", "want"), [
    ("2026/01/02 10:00:00", (2026, 1, 2, 10)),
    ("2026/01/02", (2026, 1, 2)),
    ("01/02/2026 10:00:30 PM", (2026, 1, 2, 22, 0, 30)),
    ("02.01.2026 10:00", (2026, 1, 2, 10)),
    ("02-Jan-2026 10:00:00", (2026, 1, 2, 10)),
    ("Jan 02, 2026 10:00:00", (2026, 1, 2, 10)),
])
def test_export_forms(text: str, want: tuple[int, ...]) -> None:
    parse, note = time_reader([text])
    assert note is not None and parse(text) == _epoch(*want)


def test_a_file_no_form_reads_is_left_to_the_row_notes() -> None:
    parse, note = time_reader(["yesterday", "soon"])
    assert note is None
    with pytest.raises(InputError):
        parse("yesterday")
