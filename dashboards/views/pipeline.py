"""Pipeline: is `watchlake run` running, how far behind is each stage, what flows through it."""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.express as px
import streamlit as st

from dashboards import components as ui
from dashboards import data

st.title("Pipeline")
doc = data.pipeline_status()
if doc is None:
    ui.no_data("pipeline status", "Start the always-on pipeline with `watchlake run` "
               "(it follows the streams and runs every stage; see `watchlake status`).")
else:
    beat = datetime.fromisoformat(doc["heartbeat"].replace("Z", "+00:00"))
    age = (datetime.now(UTC) - beat).total_seconds()
    running = doc.get("state") == "running" and age <= 60
    failing = [n for n, s in doc["stages"].items() if s["failures_in_a_row"]]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Pipeline", "running" if running else "stopped",
              help=f"pid {doc['pid']}, started {doc['started']}, last heartbeat {ui.age(beat)} ago")
    c2.metric("Stages failing", len(failing), help=", ".join(failing) or "none")
    c3.metric("Largest lag (s)", f"{max((s['lag_seconds'] for s in doc['stages'].values()), default=0):.1f}")
    c4.metric("Pending notifications", ui.count(doc.get("pending_notifications", 0)))
    rows = [{"stage": name, "steps": s["steps"], "failed steps": s["errors"], "failing now": s["failures_in_a_row"],
             "lag (s)": s["lag_seconds"], "records in": s["records_in"], "records out": s["records_out"],
             "rejected": s["rejected"], "notifications": s["notifications"],
             "last step (s)": (s.get("last_step") or {}).get("seconds"),
             "last": (s.get("last_step") or {}).get("error") or (s.get("last_step") or {}).get("detail") or ""}
            for name, s in doc["stages"].items()]
    ui.table(rows)

start, end = ui.time_range()
st.subheader("Throughput and lag per stage (Watchlake/Pipeline metrics)")
series = data.pipeline_series(start, end)
if series.height == 0:
    ui.empty_in_range("pipeline metrics", "metrics", key="pl_all",
                      hint="`watchlake run` publishes them every 10 s while it runs.")
else:
    fig = px.line(series, x="minute", y="records_in", color="stage", title="Records in per minute")
    ui.chart(ui.utc_axis(fig, start, end), key="pl_in")
    fig = px.line(series, x="minute", y="lag_seconds", color="stage", title="Lag (s), largest per minute")
    ui.chart(ui.utc_axis(fig, start, end), key="pl_lag")
