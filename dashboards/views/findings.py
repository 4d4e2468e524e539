"""Findings: audit detections to triage — by severity, rule (titles, not ids) and MITRE technique,
on a timeline, with repeats grouped, a triage state per finding (who and when), suppression of
known-benign patterns, and from a finding to its events, their raw JSON and everything the same
principal or IP did around it. Filters live in the URL, so a link reproduces the view."""

from __future__ import annotations

import json
from datetime import timedelta

import plotly.express as px
import streamlit as st

from dashboards import actions, data
from dashboards import components as ui
from pipeline.errors import PipelineError

URL_KEYS = {"fi_levels": list, "fi_rules_pick": list, "fi_states": list, "fi_pick": str}

st.title("Findings")
start, end = ui.time_range()
ui.from_url(URL_KEYS)

counts = data.finding_counts(start, end)
if counts.height == 0:
    ui.empty_in_range("findings", "findings", key="fi_all_data", hint="Run the detections with `watchlake detect`.")
    st.stop()
titles = dict(zip(counts["rule_id"], counts["title"]))

c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
levels = c1.multiselect("Severity", data.FINDING_LEVELS, key="fi_levels", placeholder="any")
rules = c2.multiselect("Rule", sorted(titles, key=lambda r: titles[r].lower()), key="fi_rules_pick",
                       placeholder="any", format_func=lambda r: titles.get(r, r))
states = c3.multiselect("Triage state", data.FINDING_STATES, key="fi_states", placeholder="any",
                        format_func=lambda s: s.replace("_", " "))
show_suppressed = c4.toggle("Show suppressed", value=False, key="fi_suppressed")

all_found = data.triaged_findings(start, end, tuple(levels), tuple(rules))
suppressed = all_found.filter(all_found["suppressed"].is_not_null())
found = all_found if show_suppressed else all_found.filter(all_found["suppressed"].is_null())
if states:
    found = found.filter(found["state"].is_in(states))

cols = st.columns(len(data.FINDING_LEVELS) + 1)
for col, level in zip(cols, data.FINDING_LEVELS):
    col.metric(level.capitalize(), ui.count((found["level"] == level).sum()))
cols[-1].metric("Suppressed", ui.count(suppressed.height), help="hidden unless “Show suppressed” is on")

if found.height:
    by_rule = found.group_by("title", "level").len("findings").sort("findings", descending=True)
    fig = px.bar(by_rule.with_columns(by_rule["title"].map_elements(ui.esc, return_dtype=str)),
                 x="findings", y="title", color="level", orientation="h",
                 color_discrete_map=ui.LEVEL_HEX, title="Findings by rule and severity")
    fig.update_yaxes(autorange="reversed", title=None)
    ui.chart(fig, key="fi_rules")
    tl = found.with_columns(found["title"].map_elements(ui.esc, return_dtype=str))
    fig = px.scatter(tl, x="time", y="title", color="level", color_discrete_map=ui.LEVEL_HEX,
                     size="event_count", size_max=14, hover_data=["principal", "source_ip", "state"],
                     title="Timeline (first event of each finding)")
    fig.update_traces(marker_sizemin=6)
    fig.update_yaxes(title=None)
    ui.chart(ui.utc_axis(fig, start, end), key="fi_timeline")

g1, g2 = st.columns([1, 3])
group = g1.toggle("Group repeats", value=True, key="fi_group",
                  help="one row per rule × principal × time window, with counts")
window = g2.selectbox("Window", list(data.GROUP_WINDOWS), index=1, key="fi_window", disabled=not group)
if group:
    st.caption("Repeats of a rule by one principal in one window, most findings first")
    ui.table(data.group_findings(found, data.GROUP_WINDOWS[window]))
st.caption(f"{ui.count(found.height)} findings, most severe first — click a row to open it")
picked = ui.table(found.select("time", "level", "title", "mitre", "principal", "source_ip", "event_count", "state",
                               "triaged_by", "triaged_at", "note", "suppressed", "rule_id", "finding_id"),
                  column_config={"principal": st.column_config.TextColumn(width="medium"),
                                 "time": st.column_config.DatetimeColumn("time (UTC)")},
                  key="fi_rows", on_select="rerun", selection_mode="single-row")
rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
ids = found["finding_id"].to_list()
if rows and rows[0] < len(ids) and st.session_state.get("_fi_row") != ids[rows[0]]:
    st.session_state["_fi_row"] = st.session_state["fi_pick"] = ids[rows[0]]

if found.height == 0:
    ui.notice("info", "No finding matches these filters.")
    ui.to_url(list(URL_KEYS))
    st.stop()

meta = {r["finding_id"]: r for r in found.iter_rows(named=True)}


def label(fid: str) -> str:
    m = meta[fid]
    return f"{m['level']} · {m['title']} · {m['principal'] or '—'} · {m['time']:%Y-%m-%d %H:%M} · {fid[:8]}"


if st.session_state.get("fi_pick") not in meta:
    st.session_state.pop("fi_pick", None)
fid = st.selectbox("Finding", list(meta), key="fi_pick", format_func=label)
ui.to_url(list(URL_KEYS))
f = meta[fid]

st.subheader("Triage")
with st.form("fi_triage"):
    t1, t2, t3 = st.columns([2, 1, 1])
    pick = t1.multiselect("Findings", list(meta), default=[fid], format_func=label, key="fi_triage_ids")
    new_state = t2.selectbox("Set state", data.FINDING_STATES[1:], key="fi_triage_state",
                             format_func=lambda s: s.replace("_", " "))
    who = t3.text_input("Who", key="fi_who")
    note = st.text_input("Note", key="fi_note")
    if st.form_submit_button("Record decision"):
        try:
            actions.set_triage(pick, new_state, who, note)
            st.rerun()
        except PipelineError as exc:
            ui.notice("error", str(exc))

with st.expander("Suppress a known-benign pattern"):
    with st.form("fi_suppress"):
        s1, s2, s3 = st.columns(3)
        s_principal = s1.text_input("Principal (empty = any)", value=f["principal"] or "", key="fi_s_principal")
        s_ip = s2.text_input("Source IP (empty = any)", value="", key="fi_s_ip")
        s_who = s3.text_input("Who", key="fi_s_who")
        reason = st.text_input(f"Why is “{f['title']}” benign here?", key="fi_s_reason")
        if st.form_submit_button("Suppress"):
            try:
                actions.add_suppression(f["rule_id"], reason, s_who, s_principal or None, s_ip or None)
                st.rerun()
            except PipelineError as exc:
                ui.notice("error", str(exc))
    sups = data.finding_suppressions()
    if sups.height:
        ui.table(sups)
        r1, r2, r3 = st.columns([2, 1, 1])
        sup_labels = {s: f"{titles.get(r, r)} · {p or 'any principal'} · {s}"
                      for s, r, p in sups.select("suppression_id", "rule_id", "principal").iter_rows()}
        sid = r1.selectbox("Suppression", list(sup_labels), key="fi_unsuppress", format_func=sup_labels.__getitem__)
        r_who = r2.text_input("Who", key="fi_u_who")
        if r3.button("Lift suppression", key="fi_unsuppress_go"):
            try:
                actions.remove_suppression(sid, r_who)
                st.rerun()
            except PipelineError as exc:
                ui.notice("error", str(exc))

st.subheader("Events of this finding")
events = data.finding_events(fid)
st.caption(f"{ui.count(events.height)} of {ui.count(f['event_count'])} events found in the lake")
ui.table(events)
if events.height:
    eid = st.selectbox("Raw JSON of event", events["eventID"].to_list(), key="fi_event")
    record = data.ct_event(eid)
    st.code(json.dumps(record, indent=2, ensure_ascii=False), language="json")

st.subheader("Around it: ±1 h")
around = (f["time"] - timedelta(hours=1), f["last_time"] + timedelta(hours=1))
st.caption(ui.md_escape(f"{around[0]:%Y-%m-%d %H:%M} → {around[1]:%Y-%m-%d %H:%M} UTC"))
p1, p2 = st.tabs([f"Same principal ({f['principal'] or '—'})", f"Same source IP ({f['source_ip'] or '—'})"])
with p1:
    if f["principal"]:
        ui.table(data.ct_events(data.CtFilter(*around, principal=(f["principal"],))).drop("dt"))
        st.page_link("views/cloudtrail.py", label="Open in CloudTrail",
                     query_params={**ui.range_link(*around), "ct_principal": [f["principal"]]})
with p2:
    if f["source_ip"]:
        ui.table(data.ct_events(data.CtFilter(*around, sourceIPAddress=(f["source_ip"],))).drop("dt"))
        st.page_link("views/cloudtrail.py", label="Open in CloudTrail ",
                     query_params={**ui.range_link(*around), "ct_sourceIPAddress": [f["source_ip"]]})
