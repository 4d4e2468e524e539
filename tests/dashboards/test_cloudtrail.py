"""AppTest: the CloudTrail explorer, and data shown literally (never as HTML or markdown)."""

from __future__ import annotations

import json

import polars as pl

from tests.dashboards import expect, lakegen


def shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def summary(frame: pl.DataFrame) -> dict[str, str]:
    return {
        "Events": expect.fmt(frame.height),
        "Errors": expect.fmt(frame["errorCode"].is_not_null().sum()),
        "Principals": expect.fmt(frame["principal"].n_unique()),
        "APIs": expect.fmt(frame.select(pl.concat_str("eventSource", "eventName")).n_unique()),
        "Source IPs": expect.fmt(frame["sourceIPAddress"].n_unique()),
    }


def test_summary_all_data(ct, app_env):
    start, end = expect.window(app_env, None)
    assert shown(ct) == summary(expect.ct(app_env, start, end))


def test_filters_narrow_every_number(ct, app_env):
    start, end = expect.window(app_env, None)
    frame = expect.ct(app_env, start, end)
    ct.multiselect(key="ct_errorCode").select("AccessDenied").run()
    want = frame.filter(pl.col("errorCode") == "AccessDenied")
    assert shown(ct) == summary(want)
    ct.multiselect(key="ct_awsRegion").select("eu-west-1").run()
    want = want.filter(pl.col("awsRegion") == "eu-west-1")
    assert shown(ct) == summary(want)
    ct.multiselect(key="ct_errorCode").unselect("AccessDenied").run()
    ct.selectbox(key="ct_outcome").select("successful only").run()
    want = frame.filter(pl.col("awsRegion") == "eu-west-1", pl.col("errorCode").is_null())
    assert shown(ct) == summary(want)
    arn = "arn:aws:iam::111122223333:user/bob"
    ct.multiselect(key="ct_principal").select(arn).run()
    ct.multiselect(key="ct_sourceIPAddress").select("203.0.113.9").run()
    want = want.filter(pl.col("principal") == arn, pl.col("sourceIPAddress") == "203.0.113.9")
    assert shown(ct) == summary(want)
    table = ct.dataframe[-1].value
    assert sorted(table["eventID"]) == sorted(want["eventID"])


def test_top_lists_and_timeline(ct, app_env):
    start, end = expect.window(app_env, None)
    frame = expect.ct(app_env, start, end)
    top_principals = ct.dataframe[0].value
    want = frame.group_by("principal").len().sort(["len", "principal"], descending=[True, False]).head(10)
    assert list(top_principals["value"]) == want["principal"].to_list()
    assert list(top_principals["events"]) == want["len"].to_list()
    top_errors = ct.dataframe[2].value
    want = frame.drop_nulls("errorCode").group_by("errorCode").len().sort("len", descending=True)
    assert dict(zip(top_errors["value"], top_errors["events"])) == dict(want.iter_rows())
    spec = json.loads(ct.get("plotly_chart")[0].proto.spec)
    total = sum(sum(trace["y"]) if isinstance(trace["y"], list) else 0 for trace in spec["data"])
    if total == 0:  # plotly may ship arrays as typed buffers
        import base64

        import numpy as np

        total = sum(int(np.frombuffer(base64.b64decode(t["y"]["bdata"]), dtype=t["y"]["dtype"]).sum())
                    for t in spec["data"])
    assert total == frame.height


def test_events_table_is_newest_first(ct, app_env):
    start, end = expect.window(app_env, None)
    frame = expect.ct(app_env, start, end).sort(["eventTime", "eventID"], descending=[True, False])
    table = ct.dataframe[-1].value
    assert list(table["eventID"]) == frame["eventID"].head(500).to_list()


def test_full_json_of_selected_event(ct, app_env):
    ct.selectbox(key="ct_event").select("evt-0002").run()
    record = json.loads(ct.code[0].value)
    row = next(r for r in lakegen.cloudtrail_rows() if r["eventID"] == "evt-0002")
    assert record["eventID"] == "evt-0002"
    assert record["eventTime"] == row["eventTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == \
        row["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert record["requestParameters"] == json.loads(row["requestParameters"])
    assert "responseElements" not in record  # null fields are left out, as in CloudTrail


def test_hostile_text_is_shown_literally(ct, app_env):
    """<script>, HTML and markdown in events reach the page only as text."""
    ct.multiselect(key="ct_principal").select(lakegen.XSS_USER).run()
    assert shown(ct)["Events"] == "1"
    table = ct.dataframe[-1].value
    assert list(table["userAgent"]) == [lakegen.XSS_AGENT]
    assert list(table["principal"]) == [lakegen.XSS_USER]
    assert lakegen.XSS_USER in ct.multiselect(key="ct_principal").options
    record = json.loads(ct.code[0].value)
    assert record["userAgent"] == lakegen.XSS_AGENT
    assert record["requestParameters"] == json.loads(lakegen.XSS_PARAMS)
    # no element that renders markdown/HTML carries the data
    rendered = [m.value for m in ct.markdown] + [c.value for c in ct.caption] + \
               [i.value for i in ct.info] + [m.label for m in ct.metric]
    for text in rendered:
        assert "mallory" not in text and "<script>" not in text and "not bold" not in text
