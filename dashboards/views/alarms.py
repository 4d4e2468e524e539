"""Alarms: a state board, each alarm's history as a timeline with reasons, composites as trees."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import components as ui
from dashboards import data

st.title("Alarms")
start, end = ui.time_range()

states = data.alarm_states()
if states.height == 0:
    ui.no_data("alarms", "Create some with `watchlake alarms put FILE`, then `watchlake alarms evaluate`.")
    st.stop()

counts = {s: int((states["state_value"] == s).sum()) for s in data.ALARM_STATES}
c1, c2, c3 = st.columns(3)
c1.metric("In ALARM", counts["ALARM"])
c2.metric("INSUFFICIENT_DATA", counts["INSUFFICIENT_DATA"])
c3.metric("OK", counts["OK"])

st.subheader("State board")
per_row = 4
rows = list(states.iter_rows(named=True))
for i in range(0, len(rows), per_row):
    cols = st.columns(per_row)
    for col, row in zip(cols, rows[i:i + per_row]):
        with col.container(border=True):
            st.badge(row["state_value"], color=ui.STATE_COLORS.get(row["state_value"], "gray"))
            st.text(row["alarm_name"])
            st.caption(ui.md_escape(f"{row['alarm_type']} · since {row['state_transitioned_timestamp'] or '—'}"))

st.subheader("Timeline")
segments = data.alarm_intervals(start, end)
if segments.height == 0:
    ui.empty_in_range("alarm state changes", "alarm_history", key="al_all_data")
else:
    shown = segments.with_columns(segments["alarm_name"].map_elements(ui.esc, return_dtype=str),
                                  segments["reason"].map_elements(ui.esc, return_dtype=str))
    fig = px.timeline(shown, x_start="start", x_end="end", y="alarm_name", color="state",
                      color_discrete_map=ui.STATE_HEX, hover_data={"reason": True})
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(range=[start, end])
    ui.chart(fig, key="al_timeline")

names = states["alarm_name"].to_list()
pick = st.selectbox("History of", ["(all alarms)", *names], key="al_pick")
hist = data.alarm_history(start, end, None if pick == "(all alarms)" else pick)
st.caption(f"{ui.count(hist.height)} state changes in the range, newest first")
if hist.height:
    ui.table(hist)

trees = data.alarm_trees()
st.subheader("Composite alarms")
if not trees:
    ui.no_data("composite alarms")
for tree in trees:
    st.code(data.render_alarm_tree(tree), language=None)
