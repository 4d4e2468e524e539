"""Anomalies and Insights: scored points over their expected bands; CloudTrail Insights events."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import components as ui
from dashboards import data

st.title("Anomalies & Insights")
start, end = ui.time_range()
ui.from_url({"an_series": str})

st.subheader("Metric anomalies")
summary = data.anomaly_summary(start, end)
if summary.height == 0:
    ui.empty_in_range("anomaly scores", "anomalies", key="an_all_data",
                      hint="Score metrics with `watchlake anomalies detect`.")
else:
    c1, c2, c3 = st.columns(3)
    c1.metric("Scored points", ui.count(summary["points"].sum()))
    c2.metric("Anomalies", ui.count(summary["anomalies"].sum()))
    c3.metric("Series with anomalies", ui.count((summary["anomalies"] > 0).sum()))
    series = summary["series_id"].to_list()
    if st.session_state.get("an_series") not in series:
        st.session_state.pop("an_series", None)
    sid = st.selectbox("Series", series, key="an_series")
    ui.to_url(["an_series"])
    pts = data.anomaly_series(sid, start, end)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=pts["timestamp"], y=pts["upper"], mode="lines", line={"width": 0},
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=pts["timestamp"], y=pts["lower"], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor="rgba(128,128,128,0.25)", name="expected band"))
    fig.add_trace(go.Scatter(x=pts["timestamp"], y=pts["value"], mode="lines", name="value",
                             line={"color": "#1f77b4"}))
    hits = pts.filter(pts["is_anomaly"])
    fig.add_trace(go.Scatter(x=hits["timestamp"], y=hits["value"], mode="markers", name="anomaly",
                             marker={"color": "#d62728", "size": 9},
                             customdata=hits["score"], hovertemplate="score %{customdata:.2f}"))
    fig.update_layout(title=ui.esc(sid))
    ui.utc_axis(fig, start, end)
    ui.chart(fig, key="an_chart")
    meta = data.anomaly_meta(sid)
    if meta:
        st.page_link("views/metrics.py", label="Open this series in Metrics", query_params={
            "mx_ns": meta["namespace"], "mx_metric": meta["metric_name"],
            "mx_dims": [f"{meta['dimensions']}\t{meta['unit']}"], "mx_stats": [meta["stat"]],
            "mx_period": str(meta["period"]), **ui.range_link(start, end)})
    st.markdown("**Most anomalous points**")
    ui.table(data.anomalies(start, end))

st.subheader("CloudTrail Insights")
ins = data.insights(start, end)
if ins.height == 0:
    ui.empty_in_range("CloudTrail Insights events", "insights", key="an_all_insights",
                      hint="Insights are computed from API call and error rates (`watchlake anomalies insights`).")
else:
    st.metric("Insight events", ui.count(ins.height))
    ui.table(ins)
