"""Overview: pipeline health at a glance."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import components as ui
from dashboards import data, timerange

st.title("Overview")
start, end = ui.time_range()

# -- sources -----------------------------------------------------------------------------------
st.subheader("Sources")
src = data.sources(start, end)
if int(src["rows_total"].sum()) == 0:
    ui.no_data("data in the lake", "Load some with `watchlake ingest` (or run `make demo`).")
else:
    labels = {"cloudtrail": "CloudTrail events", "metrics": "Metric points", "logs": "Log events",
              "records": "Kinesis records"}
    cols = st.columns(len(src))
    for col, row in zip(cols, src.iter_rows(named=True)):
        col.metric(labels.get(row["source"], row["source"]), ui.count(row["rows_in_range"]),
                   help=f"in the selected range; {ui.count(row['rows_total'])} in the lake")
    shown = src.with_columns(
        src["newest_event"].map_elements(ui.age, return_dtype=str).alias("newest_event_age"))
    ui.table(shown, column_config={
        "rows_in_range": st.column_config.NumberColumn("rows in range", format="localized"),
        "rows_total": st.column_config.NumberColumn("rows total", format="localized"),
    })

    bucket = timerange.bucket_seconds(start, end, 150)
    vol = data.volume(start, end, bucket)
    if vol.height:
        fig = px.bar(vol, x="bucket", y="events", color="source", title="Volume per source")
        ui.chart(ui.time_bars(fig, start, end, bucket), key="ov_volume")
    else:
        ui.empty_in_range("events", "cloudtrail", key="ov_all_events")

# -- rejected ----------------------------------------------------------------------------------
st.subheader("Rejected records")
rej = data.rejected_summary()
if rej.height == 0:
    ui.no_data("rejected records", "Everything loaded so far was valid.")
else:
    st.metric("Rejected records (all time)", ui.count(rej["records"].sum()))
    ui.table(rej)
    with st.expander("Newest rejections"):
        ui.table(data.rejected_recent())

# -- storage -----------------------------------------------------------------------------------
st.subheader("Lake storage")
sto = data.storage()
if sto.height == 0:
    ui.no_data("files in the lake")
else:
    c1, c2 = st.columns(2)
    c1.metric("Files", ui.count(sto["files"].sum()))
    c2.metric("Size", ui.human_bytes(int(sto["bytes"].sum())))
    ui.table(sto.with_columns(sto["bytes"].map_elements(ui.human_bytes, return_dtype=str).alias("size")))

# -- alarms, findings, anomalies -----------------------------------------------------------------
st.subheader("Alarms")
alarms = data.alarm_states()
if alarms.height == 0:
    ui.no_data("alarms", "Create some with `watchlake alarms put FILE`.")
else:
    state_cols = st.columns(3)
    for col, state in zip(state_cols, data.ALARM_STATES):
        col.metric(f"Alarms {state}", ui.count((alarms["state_value"] == state).sum()))
    ui.table(alarms.select("alarm_name", "state_value", "state_transitioned_timestamp", "state_reason"))

st.subheader("Recent findings")
recent = data.findings(start, end)
if recent.height == 0:
    ui.empty_in_range("findings", "findings", key="ov_all_findings", hint="Run `watchlake detect`.")
else:
    st.metric("Findings in range", ui.count(recent.height))
    ui.table(recent.sort("time", descending=True).head(10))

st.subheader("Recent anomalies")
anoms = data.anomalies(start, end)
if anoms.height == 0:
    ui.empty_in_range("anomaly scores", "anomalies", key="ov_all_anomalies",
                      hint="Score metrics with `watchlake anomalies detect`.")
else:
    st.metric("Anomalies in range", ui.count(anoms.height))
    ui.table(anoms.sort("timestamp", descending=True).head(10))
