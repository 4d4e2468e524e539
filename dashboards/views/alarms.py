"""Alarms: a state board, each alarm's history as a timeline with reasons, composites as trees,
and from one transition to its metric (at the alarm's own statistic and period, ±1 h, ALARM
intervals shaded), what changed before it and the CloudTrail events around it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import components as ui
from dashboards import data

URL_KEYS = {"al_pick": str, "al_transition": str}
AROUND = timedelta(hours=1)

st.title("Alarms")
start, end = ui.time_range()
ui.from_url(URL_KEYS)

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
            st.badge(row["state_value"], color=cast(Any, ui.STATE_COLORS.get(row["state_value"], "gray")))
            st.text(row["alarm_name"])
            held = f" · actions held by {row['actions_suppressed_by']}" if row["actions_suppressed_by"] else ""
            st.caption(ui.md_escape(f"{row['alarm_type']} · since {row['state_transitioned_timestamp'] or '—'}{held}"))

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
    ui.chart(ui.utc_axis(fig, start, end), key="al_timeline")

names = states["alarm_name"].to_list()
if st.session_state.get("al_pick") not in ["(all alarms)", *names]:
    st.session_state.pop("al_pick", None)
pick = st.selectbox("History of", ["(all alarms)", *names], key="al_pick")
hist = data.alarm_history(start, end, None if pick == "(all alarms)" else pick)
st.caption(f"{ui.count(hist.height)} state changes in the range, newest first — click a row to look around it")
clicked_rows = [(name, f"{ts:%Y-%m-%dT%H:%M:%SZ}") for name, ts in zip(hist["alarm_name"], hist["timestamp"])]


def open_clicked() -> None:
    """A clicked history row opens that alarm's drill-down on that transition."""
    rows = list(st.session_state["al_rows"].selection.rows)
    if rows and rows[0] < len(clicked_rows):
        st.session_state["al_pick"], st.session_state["al_transition"] = clicked_rows[rows[0]]


if hist.height:
    ui.table(hist, key="al_rows", on_select=open_clicked, selection_mode="single-row",
             column_config={"timestamp": st.column_config.DatetimeColumn("timestamp (UTC)")})


def drill_down(name: str, moments: list[str]) -> None:
    """One transition of ``name``: its metric ±1 h, what changed before it, events around it."""
    if st.session_state.get("al_transition") not in moments:
        st.session_state.pop("al_transition", None)
    pick_t = st.selectbox("Transition", moments, key="al_transition")
    ui.to_url(list(URL_KEYS))
    row = hist.filter(hist["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") == pick_t).row(0, named=True)
    t = row["timestamp"]
    t0, t1 = t - AROUND, t + AROUND
    st.caption(ui.md_escape(f"{row['old_state']} → {row['new_state']} at {pick_t}: {row['reason'] or ''}"))
    d = data.alarm_definition(name)
    if d is None:
        ui.notice("info", f"{name} is a composite alarm: it watches other alarms, not a metric.")
    else:
        math = d["expression"]
        view = f"{d['stat']} per {ui.period_label(d['period'])}" if math is None else \
            f"every minute, {ui.period_label(d['period'])} windows"
        res = data.metric_data(d["namespace"], d["metric_name"], d["dimensions"], d["stat"], t0, t1,
                               d["period"], d["unit"]) if math is None else data.alarm_math_data(name, t0, t1)
        fig = go.Figure()
        for seg in data.alarm_intervals(t0, t1).iter_rows(named=True):
            if seg["alarm_name"] == name and seg["state"] == "ALARM":
                fig.add_vrect(x0=seg["start"], x1=seg["end"], fillcolor=ui.STATE_HEX["ALARM"], opacity=0.15,
                              line_width=0, annotation_text="ALARM", annotation_position="top left")
        fig.add_trace(go.Scatter(x=res["timestamps"], y=res["values"], mode="lines+markers",
                                 name=ui.esc(f"{d['metric_name'] if math is None else math} · {view}")))
        if d["threshold"] is not None:
            fig.add_hline(y=d["threshold"], line_dash="dash", line_color=ui.STATE_HEX["ALARM"],
                          annotation_text=ui.esc(f"{d['operator']} {d['threshold']:g}"))
        fig.add_vline(x=t, line_dash="dot", line_color="#555")
        what = f"{d['namespace']} · {d['metric_name']} · {ui.dims_label(d['dimensions'])}" if math is None \
            else f"metric math {math}"
        fig.update_layout(title=ui.esc(f"{what} · {view} (the alarm's own view)"))
        ui.chart(ui.utc_axis(fig, t0, t1), key="al_metric")
        if math is None:
            st.page_link("views/metrics.py", label="Open this series in Metrics (±1 h)", query_params={
                "mx_ns": d["namespace"], "mx_metric": d["metric_name"],
                "mx_dims": [f"{d['dimensions']}\t{d['unit'] or res.get('unit') or ''}"], "mx_stats": [d["stat"]],
                "mx_period": str(d["period"]), **ui.range_link(t0, t1)})
        st.markdown("**What changed before it** (CloudTrail writes on the alarm's resources, 2 h)")
        changes = data.changed_before(name, t, 2)
        if changes["error"]:
            ui.notice("info", changes["error"])
        elif changes["table"].num_rows == 0:
            ui.notice("info", "No CloudTrail write touched the alarm's resources in the 2 h before it.")
        else:
            ui.table(changes["table"])
    st.markdown("**CloudTrail events ±1 h**")
    around = data.ct_events(data.CtFilter(t0, t1))
    st.caption(f"{ui.count(around.height)} events (newest first)")
    ui.table(around.drop("dt"))
    st.page_link("views/cloudtrail.py", label="Open these events in CloudTrail", query_params=ui.range_link(t0, t1))


if pick != "(all alarms)" and hist.height:
    st.subheader(f"Around a transition of {pick}")
    drill_down(pick, [f"{ts:%Y-%m-%dT%H:%M:%SZ}" for ts in hist["timestamp"]])
else:
    ui.to_url(list(URL_KEYS))

trees = data.alarm_trees()
st.subheader("Composite alarms")
if not trees:
    ui.no_data("composite alarms")
for tree in trees:
    st.code(data.render_alarm_tree(tree), language=None)
