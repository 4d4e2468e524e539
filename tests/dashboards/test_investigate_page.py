"""AppTest: the user's own saved investigations on the Investigate page (a Logs Insights file in
the folder ``query.investigations_dir`` names), and a malformed file shown as one error line."""

from __future__ import annotations

import polars as pl
import pytest

from tests.dashboards import expect
from tests.dashboards.test_pages import go

LI = """# name: denied_by_user
# description: AccessDenied calls per principal type
# source: cloudtrail
# param: code string = AccessDenied — the error code
filter errorCode = $code
| stats count(*) as calls by userIdentity.type
| sort calls desc
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "mine"
    path.mkdir()
    monkeypatch.setenv("WATCHLAKE__QUERY__INVESTIGATIONS_DIR", str(path))
    return path


def test_a_users_logs_insights_investigation_runs_on_the_page(at, app_env, folder):
    (folder / "denied_by_user.insights").write_text(LI)
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at = go(at, "investigate")
    box = at.selectbox(key="inv_name")
    assert "denied_by_user (yours, Logs Insights)" in box.options  # AppTest shows formatted options
    assert "principal_activity (SQL)" in box.options
    box.select("denied_by_user").run()
    at.button(key="FormSubmitter:inv_form-Run investigation").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    start, end = expect.window(app_env, None)
    ct = expect.ct(app_env, start, end).filter(pl.col("errorCode") == "AccessDenied")
    want = ct.group_by(pl.col("userIdentity").struct.field("type")).len()
    assert dict(zip(table["userIdentity.type"], table["calls"])) == dict(zip(want["type"], want["len"]))


def test_a_malformed_file_is_one_error_line_and_the_page_still_works(at, folder):
    bad = folder / "broken.insights"
    bad.write_text("# name: broken\n# description: d\nfilter eventName = = 1\n")
    at = go(at, "investigate")
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and str(bad) in errors[0] and "query" in errors[0]
    assert at.text_area(key="sql_text")  # the SQL console is still there


def test_a_run_investigation_is_in_the_url_and_a_link_reruns_it(at, app_env):
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.conftest import APP

    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at = go(at, "investigate")
    at.selectbox(key="inv_name").set_value("principal_activity").run()
    at.text_input(key="inv_principal_activity_principal").input("bob")
    at.button(key="FormSubmitter:inv_form-Run investigation").click().run()
    assert not at.exception and not at.error
    ran = at.dataframe[0].value
    start, end = expect.window(app_env, None)
    bob = expect.ct(app_env, start, end).filter(pl.col("userIdentity").struct.field("userName") == "bob")
    assert sorted(ran["eventID"]) == sorted(bob["eventID"]) and bob.height > 0
    url = {k: v if isinstance(v, list) else [v] for k, v in at.query_params.items()}
    assert url["inv_run"] == ["principal_activity"] and url["inv_arg"] == ["principal=bob"]
    fresh = AppTest.from_file(str(APP), default_timeout=60)      # someone opening the shared link
    for k, v in url.items():
        fresh.query_params[k] = v
    fresh.switch_page("views/investigate.py").run()
    assert not fresh.exception and not fresh.error
    assert sorted(fresh.dataframe[0].value["eventID"]) == sorted(ran["eventID"])
