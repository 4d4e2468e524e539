"""End to end in headless Chromium: the on-call and analyst paths, by clicking.

alarm → its transition → its metric at the alarm's own view (ALARM shaded) → the Metrics page via
the link (the URL alone reproduces the view in a fresh browser) → the CloudTrail events around it;
finding → its events → raw JSON → everything by the same principal ±1 h. Screenshots of each step
go to the test artifacts folder."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.dashboards import expect as want
from tests.dashboards.test_e2e import metric, open_page, wait_for_app

pytestmark = pytest.mark.e2e


def pick(page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.scroll_into_view_if_needed()
    box.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def all_data(page) -> None:
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="All data", exact=True).click()
    wait_for_app(page)


def click_grid_row(page, grid, row: int, *url_parts: str) -> None:
    """Click the selection cell of data row `row` (0 = first) of a dataframe grid, as a user does.

    The grid is a canvas, so the click is by position: it waits until the grid has stopped moving
    (a rerun can still be laying the page out when the app reports idle), clicks, and clicks again
    at the re-measured position if no `url_parts` reached the URL (at most three times).
    """
    row_h = 35                                                         # header and rows (default density)
    for _ in range(3):
        grid.scroll_into_view_if_needed()
        box, still = grid.bounding_box(), 0
        while still < 3:
            page.wait_for_timeout(150)
            now = grid.bounding_box()
            still, box = (still + 1, box) if now == box else (0, now)
        assert box is not None
        page.mouse.click(box["x"] + 15, box["y"] + row_h + row_h * (row + 0.5))
        wait_for_app(page)
        try:
            page.wait_for_url(lambda url: any(part in url for part in url_parts), timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"three clicks on row {row} of the grid never put any of {url_parts} in {page.url}")


def test_alarm_to_metric_to_events(page, browser, console_errors, fixture_lake, artifacts, base_url):
    hist = pl.read_parquet(f"{fixture_lake.lake.root}/alarms/history/**/*.parquet")
    t = hist.filter(pl.col("alarm_name") == "cpu-high-bbb", pl.col("new_state") == "ALARM")["timestamp"].max()
    page.goto("/")
    wait_for_app(page)
    open_page(page, "Alarms")
    all_data(page)
    pick(page, "History of", "cpu-high-bbb")
    pick(page, "Transition", f"{t:%Y-%m-%dT%H:%M:%SZ}")
    chart = page.get_by_test_id("stPlotlyChart").last
    expect(chart).to_contain_text("Average per 1 min")
    expect(chart.locator(".shapelayer path").first).to_be_attached()          # ALARM interval shaded
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "workflow-1-alarm-transition.png"), full_page=True)

    page.get_by_role("link", name="Open this series in Metrics (±1 h)").click()
    expect(page.get_by_role("heading", name="Metrics explorer", exact=True)).to_be_visible()
    wait_for_app(page)
    lo, hi = (t - timedelta(hours=1)).replace(second=0), (t + timedelta(hours=1)).replace(second=0)
    n = want.frame(fixture_lake, "metrics").filter(pl.col("dimensions") == '{"InstanceId":"i-0bbb"}',
                                                   pl.col("timestamp") >= lo, pl.col("timestamp") < hi).height
    expect(metric(page, "Period")).to_have_text("1 min")
    expect(metric(page, "Datapoints")).to_have_text(f"{n:,}")
    assert "mx_period=60" in page.url and "range=Custom" in page.url
    page.screenshot(path=str(artifacts / "workflow-2-metric-at-alarm-view.png"), full_page=True)

    # the URL alone reproduces the view in a fresh browser session
    other = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1600}).new_page()
    other.goto(page.url)
    wait_for_app(other)
    expect(metric(other, "Period")).to_have_text("1 min")
    expect(metric(other, "Datapoints")).to_have_text(f"{n:,}")
    other.context.close()

    open_page(page, "Alarms")                       # back to the alarm (the range is now t ± 1 h)
    pick(page, "History of", "cpu-high-bbb")
    pick(page, "Transition", f"{t:%Y-%m-%dT%H:%M:%SZ}")
    page.get_by_role("link", name="Open these events in CloudTrail").click()
    expect(page.get_by_role("heading", name="CloudTrail explorer", exact=True)).to_be_visible()
    wait_for_app(page)
    events = want.in_window(fixture_lake, "cloudtrail", lo, hi).height
    expect(metric(page, "Events")).to_have_text(f"{events:,}")
    page.screenshot(path=str(artifacts / "workflow-3-events-around-alarm.png"), full_page=True)
    assert console_errors == []


def test_finding_to_events_to_json_to_pivot(page, console_errors, fixture_lake, artifacts):
    f = pl.from_arrow(fixture_lake.findings).sort("finding_id")
    page.goto("/")
    wait_for_app(page)
    open_page(page, "Findings")
    all_data(page)
    row = f.filter(pl.col("finding_id") == "f0").row(0, named=True)
    box = page.get_by_test_id("stSelectbox").filter(has_text="Finding").first
    box.scroll_into_view_if_needed()
    box.get_by_role("combobox").click()
    page.get_by_role("option").filter(has_text=" · f0").click()
    wait_for_app(page)
    assert "fi_pick=f0" in page.url
    code = page.get_by_test_id("stCode").first
    expect(code).to_contain_text(f'"eventID": "{row["event_ids"][0]}"')
    code.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "workflow-4-finding-raw-json.png"), full_page=True)
    page.get_by_role("tab", name=f"Same principal ({row['principal']})").click()
    lo, hi = row["time"] - timedelta(hours=1), row["last_time"] + timedelta(hours=1)
    same = want.ct(fixture_lake, lo, hi).filter(pl.col("principal") == row["principal"]).height
    assert same > 0
    expect(page.get_by_role("tabpanel").get_by_test_id("stDataFrame")).to_be_visible()
    page.screenshot(path=str(artifacts / "workflow-5-finding-pivot.png"), full_page=True)
    assert console_errors == []


def test_clicking_an_event_row_opens_its_json(page, console_errors, fixture_lake, artifacts):
    page.goto("/")
    wait_for_app(page)
    open_page(page, "CloudTrail")
    all_data(page)
    page.get_by_test_id("stTextInput").filter(has_text="Search").locator("input").fill("ModifyInstanceAttribute")
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(metric(page, "Events")).to_have_text("2")
    newest_first = ["chg-1", "chg-0"]
    code = page.get_by_test_id("stCode").first
    expect(code).to_contain_text('"eventID": "chg-1"')                    # the newest, before any click
    click_grid_row(page, page.get_by_test_id("stDataFrame").last, 1, "ct_event=chg-0")
    expect(code).to_contain_text(f'"eventID": "{newest_first[1]}"')
    assert "ct_event=chg-0" in page.url and "ct_q=ModifyInstanceAttribute" in page.url
    page.screenshot(path=str(artifacts / "workflow-6-cloudtrail-row-click.png"), full_page=True)
    assert console_errors == []


def test_clicking_a_state_change_opens_its_drill_down(page, console_errors, fixture_lake, artifacts):
    hist = pl.read_parquet(f"{fixture_lake.lake.root}/alarms/history/**/*.parquet")
    changes = hist.filter(pl.col("history_item_type") == "StateUpdate").sort(["timestamp", "alarm_name"],
                                                                            descending=[True, False])
    second = changes.row(1, named=True)                    # the table is newest first, by alarm name
    page.goto("/")
    wait_for_app(page)
    open_page(page, "Alarms")
    all_data(page)
    stamp = f"{second['timestamp']:%Y-%m-%dT%H:%M:%SZ}"
    click_grid_row(page, page.get_by_test_id("stDataFrame").first, 1,
                   f"al_transition={stamp.replace(':', '%3A')}", f"al_transition={stamp}")
    expect(page.get_by_role("heading", name=f"Around a transition of {second['alarm_name']}")).to_be_visible()
    expect(page.get_by_test_id("stSelectbox").filter(has_text="Transition").get_by_role("combobox")) \
        .to_have_value(stamp)
    assert f"al_transition={stamp.replace(':', '%3A')}" in page.url or f"al_transition={stamp}" in page.url
    page.screenshot(path=str(artifacts / "workflow-7-alarm-row-click.png"), full_page=True)
    assert console_errors == []
