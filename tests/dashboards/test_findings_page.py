"""AppTest: the Findings page on real findings — the Stratus Red Team detonations (vendored in
tests/data) through the real SigmaHQ rules (UUID ids) with ``run_retro``. Titles, MITRE, grouping,
triage and suppression are checked against the findings table read with polars and the rules'
YAML read directly."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml

from jobs.detect_job import run_retro
from pipeline.detections.rules import load_rules
from pipeline.lake import Lake
from tests.dashboards.conftest import APP, LAKE_ENV
from tests.dashboards.test_pages import chart, frame_with
from tests.pipeline.detections.ctlake import write_events

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def table(at, column: str) -> pl.DataFrame:
    return pl.from_pandas(frame_with(at, column))


@pytest.fixture(scope="module")
def sigma_lake(tmp_path_factory, shared_data: Path) -> tuple[Lake, pl.DataFrame, dict[str, str]]:
    import json

    lake = Lake(str(tmp_path_factory.mktemp("sigma") / "lake"))
    rules_dir = shared_data / "sigma-cloudtrail" / "rules"
    events = [e for f in sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json"))
              for e in json.loads(f.read_text())]
    write_events(lake, events)
    run_retro(lake, load_rules(rules_dir).rules)
    titles = {}
    for p in rules_dir.rglob("*.yml"):
        doc = yaml.safe_load(p.read_text())
        titles[doc["id"]] = doc["title"]
    found = pl.read_parquet(f"{lake.root}/findings/**/*.parquet")
    return lake, found, titles


@pytest.fixture
def fat(sigma_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    sigma_lake[0].delete("triage")  # every test starts untriaged, whatever ran before
    monkeypatch.setenv(LAKE_ENV, sigma_lake[0].root)
    monkeypatch.setenv("WATCHLAKE_DASHBOARD_REFRESH", "0")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.sidebar.selectbox(key="wl_range").select("All data").run()
    at.switch_page("views/findings.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_titles_not_uuids_on_chart_filter_and_picker(fat, sigma_lake):
    _, found, titles = sigma_lake
    assert found.height > 10 and all(UUID.match(r) for r in found["rule_id"])
    bars = chart(fat, 0)
    shown = {y for t in bars["data"] for y in t["y"]}
    assert shown == {titles[r] for r in found["rule_id"].unique()}
    rule_box = fat.multiselect(key="fi_rules_pick")
    assert sorted(rule_box.options) == sorted(titles[r] for r in found["rule_id"].unique())
    picks = fat.selectbox(key="fi_pick").options
    assert len(picks) == found.height
    assert all(any(f" · {t} · " in o for t in titles.values()) for o in picks)
    assert not any(rule in o for o in picks for rule in found["rule_id"].unique())


def test_mitre_column_and_grouped_repeats(fat, sigma_lake):
    _, found, _ = sigma_lake
    shown_table = table(fat, "finding_id")
    want_mitre = dict(zip(found["finding_id"], found["mitre"].list.join(", ")))
    assert dict(zip(shown_table["finding_id"], shown_table["mitre"])) == want_mitre
    assert any(m for m in want_mitre.values())
    groups = table(fat, "new")
    # by hand: findings per rule × principal × UTC day
    want = (found.with_columns(pl.col("time").dt.truncate("1d").alias("day"))
            .group_by("day", "rule_id", "principal").agg(pl.len().alias("n"), pl.col("event_count").sum().alias("e")))
    got = {(r["rule_id"], r["principal"], r["findings"], r["events"]) for r in groups.to_dicts()}
    assert got == {(r["rule_id"], r["principal"], r["n"], r["e"]) for r in want.to_dicts()}
    assert groups["findings"].sum() == found.height


def test_triage_is_recorded_with_who_and_when_and_filters(fat, sigma_lake):
    _, found, _ = sigma_lake
    fid = table(fat, "finding_id")["finding_id"][0]
    fat.selectbox(key="fi_pick").set_value(fid).run()
    fat.selectbox(key="fi_triage_state").set_value("false_positive")
    fat.text_input(key="fi_who").input("alice")
    fat.text_input(key="fi_note").input("red team")
    fat.button(key="FormSubmitter:fi_triage-Record decision").click().run()
    assert not fat.exception and not fat.error
    shown_table = table(fat, "finding_id")
    row = shown_table.filter(pl.col("finding_id") == fid).to_dicts()[0]
    assert (row["state"], row["triaged_by"], row["note"]) == ("false_positive", "alice", "red team")
    assert row["triaged_at"] is not None
    fat.multiselect(key="fi_states").set_value(["new"]).run()
    assert fid not in table(fat, "finding_id")["finding_id"].to_list()
    assert table(fat, "finding_id").height == found.height - 1


def test_a_decision_without_who_is_refused_in_one_line(fat):
    fat.button(key="FormSubmitter:fi_triage-Record decision").click().run()
    assert not fat.exception
    assert len(fat.error) == 1 and "who" in fat.error[0].value


def test_suppression_hides_the_pattern_and_counts_it(fat, sigma_lake):
    _, found, _ = sigma_lake
    first = table(fat, "finding_id").row(0, named=True)
    fat.selectbox(key="fi_pick").set_value(first["finding_id"]).run()
    fat.text_input(key="fi_s_who").input("bob")
    fat.text_input(key="fi_s_reason").input("approved scanner")
    fat.button(key="FormSubmitter:fi_suppress-Suppress").click().run()
    assert not fat.exception and not fat.error
    covered = found.filter((pl.col("rule_id") == first["rule_id"]) & (pl.col("principal") == first["principal"]))
    assert {m.label: m.value for m in fat.metric}["Suppressed"] == f"{covered.height:,}"
    visible = table(fat, "finding_id")
    assert set(visible["finding_id"]).isdisjoint(covered["finding_id"])
    fat.toggle(key="fi_suppressed").set_value(True).run()
    shown = table(fat, "finding_id")
    assert set(shown.filter(pl.col("suppressed") == "approved scanner")["finding_id"]) == set(covered["finding_id"])


def test_events_raw_json_and_pivot_around_a_finding(fat, sigma_lake, shared_data):
    import json
    from datetime import timedelta

    _, found, _ = sigma_lake
    row = found.sort("event_count", "finding_id", descending=True).row(0, named=True)
    fat.selectbox(key="fi_pick").set_value(row["finding_id"]).run()
    events = table(fat, "eventID")
    assert sorted(events["eventID"]) == sorted(row["event_ids"])
    raw = {e["eventID"]: e for f in (shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json")
           for e in json.loads(f.read_text())}
    shown = json.loads(fat.code[0].value)
    original = raw[shown["eventID"]]
    for key in ("eventName", "eventSource", "sourceIPAddress", "awsRegion", "requestParameters", "userAgent"):
        assert shown.get(key) == original.get(key), key
    lo, hi = row["time"] - timedelta(hours=1), row["last_time"] + timedelta(hours=1)

    def who(e):
        u = e.get("userIdentity") or {}
        return u.get("arn") or u.get("userName") or u.get("principalId") or u.get("invokedBy") or u.get("type")

    def t(e):
        from datetime import datetime

        return datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00"))

    by_principal = sorted(i for i, e in raw.items() if who(e) == row["principal"] and lo <= t(e) < hi)
    by_ip = sorted(i for i, e in raw.items() if e.get("sourceIPAddress") == row["source_ip"] and lo <= t(e) < hi)
    tab_principal, tab_ip = fat.tabs[0], fat.tabs[1]
    assert sorted(tab_principal.dataframe[0].value["eventID"]) == by_principal and by_principal
    assert sorted(tab_ip.dataframe[0].value["eventID"]) == by_ip and by_ip


def test_the_pivot_link_opens_cloudtrail_on_that_principal(fat, sigma_lake):
    from urllib.parse import parse_qs

    from streamlit.testing.v1 import AppTest

    _, found, _ = sigma_lake
    row = found.sort("event_count", "finding_id", descending=True).row(0, named=True)
    fat.selectbox(key="fi_pick").set_value(row["finding_id"]).run()
    link = next(e.proto for e in fat.get("page_link") if e.proto.label == "Open in CloudTrail")
    query = parse_qs(link.query_string)
    assert query["ct_principal"] == [row["principal"]] and query["range"] == ["Custom (UTC)"]
    fresh = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        fresh.query_params[k] = v
    fresh.switch_page("views/cloudtrail.py").run()
    assert not fresh.exception
    assert fresh.multiselect(key="ct_principal").value == [row["principal"]]
    pivot = fat.tabs[0].dataframe[0].value             # the same-principal tab, ±1 h
    assert {m.label: m.value for m in fresh.metric}["Events"] == f"{len(pivot):,}"
