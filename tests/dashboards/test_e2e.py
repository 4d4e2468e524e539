"""End to end: the real app in headless Chromium, walked through the sidebar like a user."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.dashboards import lakegen

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

HEADINGS = {"Overview": "Overview", "Metrics": "Metrics explorer", "Alarms": "Alarms",
            "Anomalies & Insights": "Anomalies & Insights", "CloudTrail": "CloudTrail explorer",
            "Findings": "Findings", "Investigate": "Investigate", "Pipeline": "Pipeline"}
CHARTLESS = {"Investigate", "Pipeline"}  # the fixture lake was never run live: the page says so


def wait_for_app(page) -> None:
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(app).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stException")).to_have_count(0)


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True)) \
        .get_by_test_id("stMetricValue")


def open_page(page, name: str) -> float:
    """Click a sidebar link; seconds until the page's script finished and its heading shows."""
    t0 = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=HEADINGS[name], exact=True)).to_be_visible()
    wait_for_app(page)
    return time.perf_counter() - t0


def choose(page, label: str, option: str) -> None:
    page.get_by_test_id("stMultiSelect").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)


def test_walk_every_page(page, console_errors, artifacts):
    page.goto("/")
    wait_for_app(page)
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    names = [n.strip().splitlines()[-1] for n in links.all_inner_texts()]
    assert set(HEADINGS) <= set(names), names
    times: dict[str, dict[str, float]] = {}
    for name in names:
        first = open_page(page, name)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=names[0 if name != names[0] else 1]).click()
        wait_for_app(page)
        again = open_page(page, name)
        if name not in CHARTLESS:
            expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
        page.screenshot(path=str(artifacts / f"{name.lower().replace(' ', '-').replace('&', 'and')}.png"))
        times[name] = {"first_s": round(first, 3), "cached_s": round(again, 3)}
    (artifacts / "render_times.json").write_text(json.dumps(times, indent=1))
    print("\npage render times (s):", json.dumps(times))
    assert console_errors == []


def test_time_range_and_filters_update_numbers_and_charts(page, console_errors, fixture_lake):
    page.goto("/")
    wait_for_app(page)
    open_page(page, "CloudTrail")
    before = metric(page, "Events").inner_text()
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="All data", exact=True).click()
    wait_for_app(page)
    expect(metric(page, "Events")).to_have_text(f"{fixture_lake.cloudtrail.num_rows:,}")
    assert before != f"{fixture_lake.cloudtrail.num_rows:,}"
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".legend .traces")).to_have_count(2)  # ok + error
    choose(page, "Error code", "AccessDenied")
    errors = sum(1 for r in lakegen.cloudtrail_rows() if r["errorCode"] == "AccessDenied")
    expect(metric(page, "Events")).to_have_text(f"{errors:,}")
    expect(metric(page, "Errors")).to_have_text(f"{errors:,}")
    expect(chart.locator(".legend .traces")).to_have_count(1)  # errors only now
    expect(chart.locator(".legend .traces")).to_have_text(re.compile("error"))
    # the choice of range survives a page switch
    open_page(page, "Overview")
    expect(metric(page, "CloudTrail events")).to_have_text(f"{fixture_lake.cloudtrail.num_rows:,}")
    assert console_errors == []


def test_hostile_event_is_shown_as_text(page, console_errors, artifacts):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/")
    wait_for_app(page)
    open_page(page, "CloudTrail")
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="All data", exact=True).click()
    wait_for_app(page)
    choose(page, "Principal", lakegen.XSS_USER)
    expect(metric(page, "Events")).to_have_text("1")
    code = page.get_by_test_id("stCode")
    expect(code).to_contain_text(f'"userAgent": "{lakegen.XSS_AGENT}"')
    expect(code).to_contain_text('"bucketName": "**not bold** <b>x</b>"')
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Principal")).to_contain_text(lakegen.XSS_USER)
    assert page.locator("b", has_text="mallory").count() == 0
    assert page.locator("strong", has_text="not bold").count() == 0
    assert page.locator("h1", has_text="heading").count() == 0
    code.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "cloudtrail-hostile-event.png"))
    assert dialogs == []
    assert console_errors == []


@pytest.fixture
def live_lake(tmp_path):
    """A lake of its own (this test adds data) served with a 2-second refresh check."""
    from tests.dashboards.conftest import APP, server_env, start_streamlit, stop

    fx = lakegen.build(str(tmp_path / "lake"), derived=False)
    log = tmp_path / "streamlit.log"
    proc, url = start_streamlit(APP, server_env(fx.lake.root, 2), log)
    try:
        yield fx, url
    finally:
        stop(proc, log)


def test_page_refreshes_itself_when_data_lands(page, console_errors, live_lake):
    import pyarrow as pa

    from pipeline.schemas import CLOUDTRAIL

    fx, url = live_lake
    page.goto(url)
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="All data", exact=True).click()
    wait_for_app(page)
    total = fx.cloudtrail.num_rows
    expect(metric(page, "CloudTrail events")).to_have_text(f"{total:,}")
    row = lakegen.cloudtrail_rows()[-1]
    extra = [{**row, "eventID": f"live-{i}"} for i in range(5)]
    fx.lake.write_partition("cloudtrail", {"dt": f"{row['eventTime']:%Y-%m-%d}", "hour": f"{row['eventTime']:%H}"},
                            pa.Table.from_pylist(extra, schema=CLOUDTRAIL))
    expect(metric(page, "CloudTrail events")).to_have_text(f"{total + 5:,}", timeout=30_000)  # no reload
    assert console_errors == []
