"""Findings: audit detections by severity and rule, with the events each one matched."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import components as ui
from dashboards import data

st.title("Findings")
start, end = ui.time_range()

counts = data.finding_counts(start, end)
if counts.height == 0:
    ui.empty_in_range("findings", "findings", key="fi_all_data", hint="Run the detections with `watchlake detect`.")
    st.stop()

cols = st.columns(len(data.FINDING_LEVELS))
for col, level in zip(cols, data.FINDING_LEVELS):
    col.metric(level.capitalize(), ui.count(counts.filter(counts["level"] == level)["findings"].sum()))

fig = px.bar(counts.with_columns(counts["rule_id"].map_elements(ui.esc, return_dtype=str)),
             x="findings", y="rule_id", color="level", orientation="h",
             color_discrete_map=ui.LEVEL_HEX, title="Findings by rule and severity")
fig.update_yaxes(autorange="reversed", title=None)
ui.chart(fig, key="fi_rules")

c1, c2 = st.columns(2)
levels = c1.multiselect("Severity", data.FINDING_LEVELS, key="fi_levels", placeholder="any")
rules = c2.multiselect("Rule", sorted(set(counts["rule_id"])), key="fi_rules_pick", placeholder="any")
found = data.findings(start, end, tuple(levels), tuple(rules))
st.caption(f"{ui.count(found.height)} findings, most severe first")
ui.table(found)

if found.height:
    meta = {r["finding_id"]: r for r in found.iter_rows(named=True)}
    fid = st.selectbox("Matching events of finding", list(meta), key="fi_pick",
                       format_func=lambda f: f"{meta[f]['level']} · {meta[f]['rule_id']} · "
                                             f"{meta[f]['time']:%Y-%m-%d %H:%M} · {f}")
    events = data.finding_events(fid)
    st.caption(f"{ui.count(events.height)} of {ui.count(meta[fid]['event_count'])} events found in the lake")
    ui.table(events)
