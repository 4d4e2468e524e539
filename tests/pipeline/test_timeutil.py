from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.timeutil import (
    Window,
    ceil,
    epoch_ms,
    floor,
    iso,
    parse_duration,
    parse_time,
    window_of,
    windows,
)


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize("value,period,expected", [
    ("2025-02-11T12:32:34", 60, "2025-02-11T12:32:00"),     # CloudWatch's own examples (§1.4)
    ("2025-02-11T12:32:34", 300, "2025-02-11T12:30:00"),
    ("2025-02-11T12:32:34", 3600, "2025-02-11T12:00:00"),
    ("2025-02-11T12:30:00", 300, "2025-02-11T12:30:00"),    # a boundary floors to itself
    ("2025-02-11T01:05:23", 10, "2025-02-11T01:05:20"),
    ("2025-02-11T23:59:59.999", 86400, "2025-02-11T00:00:00"),
])
def test_floor_matches_cloudwatch_alignment(value, period, expected):
    assert floor(t(value), period) == t(expected)


def test_floor_converts_offsets_to_utc_and_ignores_dst():
    # 2025-03-30 01:30 in a +02:00 offset is 2025-03-29T23:30Z; the hour bucket is 23:00Z.
    local = datetime(2025, 3, 30, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert floor(local, 3600) == t("2025-03-29T23:00:00")
    # UTC days around a European DST change are all 24 h long
    buckets = list(windows(t("2025-03-29T00:00:00"), t("2025-04-01T00:00:00"), 86400))
    assert [w.seconds for w in buckets] == [86400.0] * 3


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
       st.sampled_from([1, 10, 60, 300, 3600, 86400]))
def test_floor_is_aligned_and_contains(value, period):
    v = value.replace(tzinfo=UTC)
    f = floor(v, period)
    assert f <= v < f + timedelta(seconds=period)
    assert epoch_ms(f) % (period * 1000) == 0
    assert floor(f, period) == f
    assert ceil(v, period) >= v


def test_half_open_windows():
    w = window_of(t("2025-02-11T12:04:59"), 300)
    assert w == Window(t("2025-02-11T12:00:00"), t("2025-02-11T12:05:00"))
    assert t("2025-02-11T12:00:00") in w
    assert t("2025-02-11T12:05:00") not in w          # end is exclusive
    ws = list(windows(t("2025-02-11T12:03:00"), t("2025-02-11T12:10:00"), 300))
    assert [x.start for x in ws] == [t("2025-02-11T12:00:00"), t("2025-02-11T12:05:00")]
    assert list(windows(t("2025-02-11T12:10:00"), t("2025-02-11T12:10:00"), 300)) == []
    with pytest.raises(InputError):
        Window(t("2025-02-11T12:10:00"), t("2025-02-11T12:00:00"))


@pytest.mark.parametrize("text,seconds", [
    ("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("15d", 1296000), ("2w", 1209600), (60, 60),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "m5", "-5m", "5m garbage"])
def test_parse_duration_rejects(bad):
    with pytest.raises(InputError) as err:
        parse_duration(bad)
    assert err.value.field == "duration"


def test_parse_time_forms():
    now = t("2025-02-11T12:00:00")
    assert parse_time("2025-02-11T08:14:09Z") == t("2025-02-11T08:14:09")
    assert parse_time("2025-02-11T10:14:09+02:00") == t("2025-02-11T08:14:09")
    assert parse_time("2025-02-11") == t("2025-02-11T00:00:00")
    assert parse_time(1739261649) == t("2025-02-11T08:14:09")
    assert parse_time("1739261649000") == t("2025-02-11T08:14:09")
    assert parse_time("-15m", now=now) == t("2025-02-11T11:45:00")
    assert parse_time("now-2h", now=now) == t("2025-02-11T10:00:00")
    assert parse_time("now", now=now) == now
    assert parse_time(datetime(2025, 2, 11, 8)).tzinfo is not None
    with pytest.raises(InputError) as err:
        parse_time("yesterday-ish")
    assert err.value.value == "yesterday-ish"


@pytest.mark.parametrize("bad", [253402300800000.0, "99999999999999999999", -1e300, float("nan"), float("inf")])
def test_an_epoch_no_datetime_holds_is_an_input_error(bad):
    # a get-metric-statistics Timestamp of 253402300800000 (year 10000 in ms) stopped `anomalies score`
    with pytest.raises(InputError, match="epoch time out of range"):
        parse_time(bad)


def test_iso_format():
    assert iso(t("2025-02-11T08:14:09")) == "2025-02-11T08:14:09Z"
    assert iso(t("2025-02-11T08:14:09.250")) == "2025-02-11T08:14:09.250Z"
