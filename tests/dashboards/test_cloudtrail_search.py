"""AppTest: CloudTrail eventID / free-text search and the explorer's filters in the URL. Expected
counts come from the fixture inputs with polars (case-insensitive substring over the same
fields), not from the dashboard's SQL."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.dashboards import expect, lakegen


def events_shown(at) -> str:
    return {m.label: m.value for m in at.metric}["Events"]


def _text_hits(fx, needle: str) -> int:
    start, end = expect.window(fx, None)
    f = expect.ct(fx, start, end)
    n = needle.lower()
    hay = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in
                         ("principal", "eventSource", "eventName", "sourceIPAddress", "userAgent", "errorCode",
                          "errorMessage", "awsRegion", "requestParameters", "responseElements", "requestID")],
                        separator=" ").str.to_lowercase()
    return f.filter(hay.str.contains(n, literal=True) | (pl.col("eventID") == needle)).height


@pytest.mark.parametrize("needle", ["chg-1", "modifyinstanceattribute", "i-0bbb", "THROTTLING", "user/bob",
                                    lakegen.XSS_USER, "100%", "no such thing"])
def test_search_finds_what_polars_finds(ct, app_env, needle):
    ct.text_input(key="ct_q").input(needle).run()
    assert not ct.exception
    want = _text_hits(app_env, needle)
    if want == 0:
        assert any("match these filters" in i.value.replace("\\", "") for i in ct.info)
    else:
        assert events_shown(ct) == expect.fmt(want)


def test_an_event_id_opens_that_event(ct):
    ct.text_input(key="ct_q").input("chg-0").run()
    assert events_shown(ct) == "1"
    record = json.loads(ct.code[0].value)
    assert record["eventID"] == "chg-0" and record["eventName"] == "ModifyInstanceAttribute"


def test_filters_are_in_the_url_and_a_fresh_session_reproduces_them(ct, app_env):
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.conftest import APP

    ct.multiselect(key="ct_errorCode").select("AccessDenied").run()
    ct.text_input(key="ct_q").input("bob").run()
    shown = events_shown(ct)
    url = {k: v if isinstance(v, list) else [v] for k, v in ct.query_params.items()}
    assert url["ct_errorCode"] == ["AccessDenied"] and url["ct_q"] == ["bob"] and url["range"] == ["All data"]
    fresh = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in url.items():
        fresh.query_params[k] = v
    fresh.switch_page("views/cloudtrail.py").run()
    assert not fresh.exception
    assert fresh.multiselect(key="ct_errorCode").value == ["AccessDenied"]
    assert fresh.text_input(key="ct_q").value == "bob"
    assert events_shown(fresh) == shown != "0"
