"""Property: `anomalies score`'s reader and detector take any messy export of a series in their
stride — every data row of a readable file gets one score in [0, 1], whatever the timestamps
(repeated, out of order, unparseable, in any of the supported forms) and values (blank, NaN,
±inf, text, beyond CloudWatch's range, local number formats) hold."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.anomaly.series_io import read_series, run_detector
from pipeline.errors import InputError
from tests.strategies import any_json

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC).timestamp()

TIME_FORMS = {
    "iso": lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "nab": lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S"),
    "epoch": lambda t: str(int(t)),
    "epoch_ms": lambda t: str(int(t * 1000)),
    "slashes": lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y/%m/%d %H:%M"),
    "us_ampm": lambda t: datetime.fromtimestamp(t, UTC).strftime("%m/%d/%Y %I:%M %p"),
}
HEADERS = {  # (header or None, delimiter)
    "nab": ("timestamp,value", ","),
    "console": ("Timestamp,Average", ","),
    "semicolon": ("time;value", ";"),
    "tab": ("date\tvalue", "\t"),
    "bar": ("datetime|value", "|"),
    "none": (None, ","),
    "statistics": ("Timestamp,Unit,Average,Maximum", ","),  # a console export: the Average is the value
}
ODD_VALUES = st.sampled_from(["", "NaN", "nan", "inf", "-inf", "abc", "1e400", "-1e400", "  ", "null"])


def _value_text(v: float, delim: str) -> str:
    text = repr(v)
    return text.replace(".", ",") if delim == ";" else text


@st.composite
def messy_csv(draw: st.DrawFn) -> tuple[str, list[float | None], str]:
    """``(file text, the value of each data row — None for no point —, header kind)``: a series with
    every kind of damage mixed in."""
    form = draw(st.sampled_from(sorted(TIME_FORMS)))
    kind = draw(st.sampled_from(sorted(HEADERS)))
    header, delim = HEADERS[kind]
    n = draw(st.integers(1, 400))
    step = draw(st.sampled_from([60, 300, 3600, 86_400]))
    base = draw(st.floats(-1e6, 1e6, allow_nan=False))
    noise = draw(st.floats(0, 1e3, allow_nan=False))
    rows: list[str] = []
    want: list[float | None] = []
    for i in range(n):
        t = T0 + step * i
        damage = draw(st.sampled_from(["ok"] * 12 + ["repeat", "back", "bad_time", "odd_value", "spike",
                                                     "blank", "header_again", "padded"]))
        if damage == "blank" and i:
            rows.append(draw(st.sampled_from(["", delim, " "])))  # not a row of data: skipped
        if damage == "header_again" and header and i:  # two exports concatenated: a row with no point
            rows.append(header)
            want.append(None)
        if damage == "repeat" and i:
            t -= step
        elif damage == "back" and i > 3:
            t -= step * draw(st.integers(2, 3))
        t_text = "not a time" if damage == "bad_time" and i else TIME_FORMS[form](t)
        v: float | None = base + noise * math.sin(i / 7.0) + (1e4 * noise if damage == "spike" else 0.0)
        if damage == "odd_value" and i:
            v_text, v = draw(ODD_VALUES), None
        else:
            v_text = _value_text(v, delim)  # type: ignore[arg-type]
        if delim in v_text:  # a decimal comma in a comma-delimited file needs quotes
            v_text = f'"{v_text}"'
        if damage == "padded":
            t_text, v_text = f" {t_text} ", f"  {v_text}"
        if kind == "statistics":
            v_text = f"Percent,{v_text},{_value_text((v or 0.0) * 2 + 1, delim)}"
        rows.append(f"{t_text}{delim}{v_text}")
        want.append(v)
    lines = ([header] if header else []) + rows
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"])), want, kind


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv())
def test_every_row_of_a_messy_export_gets_one_score(tmp_path_factory, case):
    text, want, kind = case
    n = len(want)
    path = tmp_path_factory.mktemp("fuzz") / "series.csv"
    path.write_text(text)
    sf = read_series(path)
    assert sf.values == want  # each row's number as written (decimal commas, padding, the Average column)
    assert len(sf.times) == len(sf.raw_times) == n
    assert sorted(sf.order) == list(range(n))
    streamed = [sf.times[i] for i in sf.order]
    assert all(a <= b for a, b in zip(streamed, streamed[1:], strict=False))  # the detector's clock never runs back
    if kind == "statistics":
        assert any("`Average` read as the value" in note for note in sf.notes)
    scores = run_detector(sf)
    assert len(scores) == n
    assert all(0.0 <= s.score <= 1.0 for s in scores)
    assert all(s.score == 0.0 for v, s in zip(want, scores, strict=True) if v is None)  # no point: scored 0


JSON_ANY = any_json(6)
STAMP = st.integers(0, 10_000).map(lambda i: TIME_FORMS["iso"](T0 + 300 * i))


def _odd(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good``, or now and then any JSON at all."""
    return st.one_of(good, good, good, good, good, JSON_ANY)


def _result(n: int) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({
        "Id": _odd(st.sampled_from(["m1", "m2"])), "Label": _odd(st.text(max_size=5)),
        "Timestamps": _odd(st.lists(_odd(STAMP), min_size=n, max_size=n)),
        "Values": _odd(st.lists(_odd(st.floats(-1e9, 1e9)), min_size=n, max_size=n)),
        "StatusCode": st.just("Complete")})


def _datapoint(stat: str) -> st.SearchStrategy[Any]:
    value = ({"ExtendedStatistics": _odd(st.fixed_dictionaries({"p99": st.floats(0, 100)}))} if stat == "p99"
             else {stat: _odd(st.floats(0, 100))})
    return _odd(st.fixed_dictionaries({"Timestamp": _odd(STAMP), "Unit": st.just("Percent"), **value}))


@st.composite
def cli_json(draw: st.DrawFn) -> dict[str, Any]:
    """What `aws cloudwatch get-metric-data` / `get-metric-statistics` print, any part of it
    replaced by any JSON now and then."""
    n = draw(st.integers(0, 30))
    if draw(st.booleans()):
        results = st.lists(_result(n), min_size=1, max_size=2)
        return {"MetricDataResults": draw(_odd(results)), "Messages": []}
    stat = draw(st.sampled_from(["Average", "Maximum", "p99"]))
    return {"Label": "CPUUtilization", "Datapoints": draw(_odd(st.lists(_datapoint(stat), min_size=n, max_size=n)))}


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cli_json())
def test_cli_json_of_any_shape_is_scored_or_refused_in_one_line(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("fuzz") / "series.json"
    path.write_text(json.dumps(doc))
    try:
        sf = read_series(path)
    except InputError as e:
        assert str(path) in str(e) and "\n" not in str(e)  # one line, naming the file
        event("refused")
        return
    event("scored, with points" if sf.values else "scored, no points")
    if isinstance(doc.get("Datapoints"), list):  # every datapoint is a point, or named as skipped
        odd = sum(not isinstance(d, dict) for d in doc["Datapoints"])
        assert len(sf.values) + odd == len(doc["Datapoints"])
        assert not odd or any("not a JSON object" in n and f"×{odd}" in n for n in sf.notes)
    scores = run_detector(sf)
    assert len(scores) == len(sf.values) == len(sf.times)
    assert all(0.0 <= s.score <= 1.0 for s in scores)
