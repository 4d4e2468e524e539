"""Metrics explorer: CloudWatch-style graphs from the rollup tiers."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import components as ui
from dashboards import data

st.title("Metrics explorer")
start, end = ui.time_range()

catalog = data.metric_series()
if catalog.height == 0:
    if data.has("metrics_raw"):
        ui.no_data("rolled-up metrics", "Raw datapoints are loaded; build the tiers with `watchlake rollup`.")
    else:
        ui.no_data("metrics", "Load some with `watchlake ingest`, then run `watchlake rollup`.")
    st.stop()

c1, c2, c3 = st.columns([1, 1, 2])
namespaces = sorted(set(catalog["namespace"]))
ns = c1.selectbox("Namespace", namespaces, key="mx_ns")
in_ns = catalog.filter(catalog["namespace"] == ns)
metric = c2.selectbox("Metric", sorted(set(in_ns["metric_name"])), key="mx_metric")
candidates = in_ns.filter(in_ns["metric_name"] == metric)
options = [f"{d}\t{u}" for d, u in zip(candidates["dimensions"], candidates["unit"])]
many_units = len(set(candidates["unit"])) > 1


def series_label(opt: str) -> str:
    dims, unit = opt.split("\t")
    return ui.dims_label(dims) + (f" ({unit})" if many_units else "")


if "mx_dims" in st.session_state and not set(st.session_state["mx_dims"]) <= set(options):
    st.session_state["mx_dims"] = [o for o in st.session_state["mx_dims"] if o in options] or options[:1]
chosen = c3.multiselect("Dimensions (one line per series)", options, key="mx_dims",
                        default=options[:1] if "mx_dims" not in st.session_state else None,
                        format_func=series_label)

c4, c5, c6, c7 = st.columns([2, 1, 1, 1])
stats = c4.multiselect("Statistics", data.METRIC_STATISTICS, default=["Average"], key="mx_stats")
period_choice = c5.selectbox("Period", ["auto", *data.METRIC_PERIODS], key="mx_period",
                             format_func=lambda p: "auto" if p == "auto" else ui.period_label(p))
show_band = c6.toggle("Anomaly band", value=True, key="mx_band")
k = c7.number_input("Band width (σ)", min_value=0.5, max_value=10.0, value=2.0, step=0.5, key="mx_k")
show_alarms = c6.toggle("Alarm thresholds", value=True, key="mx_alarms")

if not chosen or not stats:
    st.info("Pick at least one series and one statistic.")
    st.stop()

period = None if period_choice == "auto" else int(period_choice)
fig = go.Figure()
plans: set[tuple[int, str]] = set()
points = 0
for opt in chosen:
    dims, unit = opt.split("\t")
    for stat in stats:
        res = data.metric_data(ns, metric, dims, stat, start, end, period, unit)
        name = f"{series_label(opt)} · {stat}"
        if res["error"]:
            ui.notice("warning", f"{name}: {res['error']}")
            continue
        for msg in res["messages"]:
            ui.notice("info", f"{name}: {msg}")
        plans.add((res["period"], res["tier"]))
        points += len(res["values"])
        if show_band and len(res["values"]) > 1:
            b = data.metric_band(res["timestamps"], res["values"], float(k))
            fig.add_trace(go.Scatter(x=res["timestamps"], y=b["upper"], mode="lines", line={"width": 0},
                                     showlegend=False, hoverinfo="skip", name=ui.esc(f"{name} upper")))
            fig.add_trace(go.Scatter(x=res["timestamps"], y=b["lower"], mode="lines", line={"width": 0},
                                     fill="tonexty", fillcolor="rgba(128,128,128,0.2)",
                                     name=ui.esc(f"band ±{k:g}σ · {name}"), hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=res["timestamps"], y=res["values"], mode="lines", name=ui.esc(name)))

if show_alarms:
    for opt in chosen:
        for a in data.metric_thresholds(ns, metric, opt.split("\t")[0]):
            color = {"ALARM": "#d62728", "OK": "#2ca02c"}.get(a["state"], "#7f7f7f")
            fig.add_hline(y=a["threshold"], line_dash="dash", line_color=color,
                          annotation_text=ui.esc(f"{a['alarm']} ({a['operator']} {a['threshold']:g})"))

m1, m2, m3 = st.columns(3)
m1.metric("Period", ", ".join(sorted({ui.period_label(p) for p, _ in plans})) or "—",
          help="chosen from the range and a 1,440-point budget unless overridden (CloudWatch rules)")
m2.metric("Tier", ", ".join(sorted({t for _, t in plans})) or "—",
          help="the coarsest rollup tier whose buckets fit the period")
m3.metric("Datapoints", ui.count(points))
fig.update_layout(title=ui.esc(f"{ns} · {metric}"), yaxis_title=ui.esc(candidates["unit"][0]))
fig.update_xaxes(range=[start, end])
ui.chart(fig, key="mx_chart")

if show_alarms:
    rows = [a for opt in chosen for a in data.metric_thresholds(ns, metric, opt.split("\t")[0])]
    if rows:
        st.subheader("Alarms on these series")
        ui.table(rows)
