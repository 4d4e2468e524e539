"""Metrics explorer: CloudWatch-style graphs from the rollup tiers.

Each line has its own colour (its anomaly band is drawn in the same colour, lighter); series of a
second unit (SampleCount is a count whatever the metric's unit) get a right-hand y-axis. An alarm's
threshold is drawn with the series at the alarm's own statistic and period — the values the alarm
compares with it — not over whatever the chart happens to show.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import components as ui
from dashboards import data, timerange

ALARM_POINTS = 10_080  # points allowed for an alarm's own view (a week of 1-minute periods)
URL_KEYS = {"mx_ns": str, "mx_metric": str, "mx_dims": list, "mx_stats": list, "mx_period": ui.period_or_auto,
            "mx_expr": str}

st.title("Metrics explorer")
start, end = ui.time_range()
ui.from_url(URL_KEYS)

catalog = data.metric_series()
if catalog.height == 0:
    if data.has("metrics_raw"):
        ui.no_data("rolled-up metrics", "Raw datapoints are loaded; build the tiers with `watchlake rollup`.")
    else:
        ui.no_data("metrics", "Load some with `watchlake ingest`, then run `watchlake rollup`.")
    st.stop()

c1, c2, c3 = st.columns([1, 1, 2])
namespaces = sorted(set(catalog["namespace"]))
if st.session_state.get("mx_ns") not in namespaces:
    st.session_state.pop("mx_ns", None)
ns = c1.selectbox("Namespace", namespaces, key="mx_ns")
in_ns = catalog.filter(catalog["namespace"] == ns)
metric_names = sorted(set(in_ns["metric_name"]))
if st.session_state.get("mx_metric") not in metric_names:
    st.session_state.pop("mx_metric", None)
metric = c2.selectbox("Metric", metric_names, key="mx_metric")
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
st.session_state.setdefault("mx_stats", ["Average"])
st.session_state["mx_stats"] = [s for s in st.session_state["mx_stats"] if s in data.METRIC_STATISTICS]
if st.session_state.get("mx_period", "auto") not in ["auto", *data.METRIC_PERIODS]:
    st.session_state.pop("mx_period")
stats = c4.multiselect("Statistics", data.METRIC_STATISTICS, key="mx_stats")
period_choice = c5.selectbox("Period", ["auto", *data.METRIC_PERIODS], key="mx_period",
                             format_func=lambda p: "auto" if p == "auto" else ui.period_label(p))
show_band = c6.toggle("Anomaly band", value=True, key="mx_band")
k = c7.number_input("Band width (σ)", min_value=0.5, max_value=10.0, value=2.0, step=0.5, key="mx_k")
show_alarms = c6.toggle("Alarm thresholds", value=True, key="mx_alarms")
expr = st.text_input("Metric math over the lines (m1, m2, … in the legend's order)", key="mx_expr",
                     placeholder="e.g. m2 - m1, 100 * m1 / m2, SUM(METRICS())",
                     help="CloudWatch metric math, evaluated period by period on the lines drawn")

ui.to_url(list(URL_KEYS))
if not chosen or not stats:
    st.info("Pick at least one series and one statistic.")
    st.stop()

period = None if period_choice == "auto" else int(str(period_choice))
fig = go.Figure()
axes: list[str] = []  # axis units in order of first use: the first on the left, the others on the right


def axis_of(unit: str) -> str:
    if unit not in axes:
        axes.append(unit)
    return "y" if axes.index(unit) == 0 else "y2"


plans: set[tuple[int, str]] = set()
drawn: set[tuple[str, str, int]] = set()  # (series, stat, period) already on the chart
points = 0
colour_of: dict[str, str] = {}
lines: list[tuple[str, list, list]] = []  # (name, timestamps, values) of each line, m1, m2, … for metric math
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
        drawn.add((opt, stat, res["period"]))
        points += len(res["values"])
        colour = ui.PALETTE[len(colour_of) % len(ui.PALETTE)]
        colour_of[name] = colour
        yaxis = axis_of("Count" if stat == "SampleCount" else unit)
        if show_band and len(res["values"]) > 1:
            b = data.metric_band(res["timestamps"], res["values"], float(k))
            fig.add_trace(go.Scatter(x=res["timestamps"], y=b["upper"], mode="lines", line={"width": 0},
                                     showlegend=False, hoverinfo="skip", name=ui.esc(f"{name} upper"),
                                     legendgroup=name, yaxis=yaxis))
            fig.add_trace(go.Scatter(x=res["timestamps"], y=b["lower"], mode="lines", line={"width": 0},
                                     fill="tonexty", fillcolor=ui.rgba(colour, 0.15), legendgroup=name,
                                     name=ui.esc(f"band ±{k:g}σ · {name}"), hoverinfo="skip", yaxis=yaxis))
        fig.add_trace(go.Scatter(x=res["timestamps"], y=res["values"], mode="lines", name=ui.esc(name),
                                 line={"color": colour}, legendgroup=name, yaxis=yaxis))
        lines.append((name, res["timestamps"], res["values"]))

if expr.strip() and lines:
    st.caption(ui.md_escape(", ".join(f"m{i + 1} = {name}" for i, (name, _, _) in enumerate(lines))))
    periods = {p for p, _ in plans}
    if len(periods) != 1:
        ui.notice("warning", "metric math needs the lines at one period: choose a period")
    else:
        got = data.metric_expression(expr, [(ts, vs) for _, ts, vs in lines], periods.pop())
        if got["error"]:
            ui.notice("warning", got["error"])
        for j, (ts, vs) in enumerate(got["series"]):
            fig.add_trace(go.Scatter(x=ts, y=vs, mode="lines", line={"dash": "dash"},
                                     name=ui.esc(expr if len(got["series"]) == 1 else f"{expr} [{j + 1}]"),
                                     yaxis=axis_of("expression")))

alarm_rows = []
if show_alarms:
    for opt in chosen:
        dims, unit = opt.split("\t")
        for a in data.metric_thresholds(ns, metric, dims):
            alarm_rows.append(a)
            colour = ui.STATE_HEX.get(a["state"], "#7f7f7f")
            view = f"{a['stat']} per {ui.period_label(a['period'])}"
            yaxis = axis_of("Count" if a["stat"] == "SampleCount" else unit)
            if (opt, a["stat"], a["period"]) not in drawn:
                res = data.metric_data(ns, metric, dims, a["stat"], start, end, a["period"], unit, ALARM_POINTS)
                if res["error"]:
                    ui.notice("warning", f"alarm {a['alarm']} evaluates {view}: {res['error']} "
                                         "(narrow the range to see the values it compares)")
                else:
                    fig.add_trace(go.Scatter(x=res["timestamps"], y=res["values"], mode="lines",
                                             name=ui.esc(f"alarm {a['alarm']} · {view}"),
                                             line={"color": colour, "dash": "dot", "width": 1}, yaxis=yaxis))
            fig.add_hline(y=a["threshold"], line_dash="dash", line_color=colour, yref=yaxis,
                          annotation_text=ui.esc(f"{a['alarm']}: {view} {a['operator']} {a['threshold']:g}"))

m1, m2, m3 = st.columns(3)
m1.metric("Period", ", ".join(sorted({ui.period_label(p) for p, _ in plans})) or "—",
          help="chosen from the range and a 1,440-point budget unless overridden (CloudWatch rules)")
m2.metric("Tier", ", ".join(sorted({t for _, t in plans})) or "—",
          help="the coarsest rollup tier whose buckets fit the period")
m3.metric("Datapoints", ui.count(points))

if points == 0:
    spans = [data.metric_extent(ns, metric, *opt.split("\t")) for opt in chosen]
    los = [lo for lo, _ in spans if lo is not None]
    his = [hi for _, hi in spans if hi is not None]
    where = (f" These series have data from {min(los):%Y-%m-%d %H:%M} to {max(his):%Y-%m-%d %H:%M} UTC."
             if los and his else "")
    ui.offer_all_data(f"No datapoints in {timerange.label(start, end)}.{where}", key="mx_all_data")
    st.stop()

fig.update_layout(title=ui.esc(f"{ns} · {metric}"), yaxis_title=ui.esc(axes[0]) if axes else None)
if len(axes) > 1:
    fig.update_layout(yaxis2={"title": ui.esc(", ".join(axes[1:])), "overlaying": "y", "side": "right",
                              "showgrid": False})
ui.utc_axis(fig, start, end)
ui.chart(fig, key="mx_chart")

if alarm_rows:
    st.subheader("Alarms on these series")
    ui.table(alarm_rows)
