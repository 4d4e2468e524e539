"""CloudTrail explorer: filter and search (eventID or free text), timeline, top talkers and the
full JSON of any event (click its row). Filters live in the URL, so a link reproduces the view."""

from __future__ import annotations

import json

import plotly.express as px
import streamlit as st

from dashboards import components as ui
from dashboards import data, timerange

URL_KEYS = {**{f"ct_{d}": list for d in ("principal", "eventSource", "eventName", "awsRegion", "errorCode",
                                          "sourceIPAddress")}, "ct_outcome": str, "ct_q": str, "ct_event": str}

st.title("CloudTrail explorer")
start, end = ui.time_range()
ui.from_url(URL_KEYS)

if not data.has("cloudtrail"):
    ui.no_data("CloudTrail events", "Load some with `watchlake ingest`.")
    st.stop()

facets = data.ct_facets(start, end)
LABELS = {"principal": "Principal", "eventSource": "Event source", "eventName": "Event name",
          "awsRegion": "Region", "errorCode": "Error code", "sourceIPAddress": "Source IP"}


def picker(dim: str, col: st.delta_generator.DeltaGenerator) -> tuple[str, ...]:
    key = f"ct_{dim}"
    chosen = list(st.session_state.get(key, []))
    options = facets[dim] + [v for v in chosen if v not in facets[dim]]
    return tuple(col.multiselect(LABELS[dim], options, key=key, placeholder="any"))


row1 = st.columns(3)
row2 = st.columns(4)
selected = {dim: picker(dim, col) for dim, col in
            zip(["principal", "eventSource", "eventName"], row1)}
selected.update({dim: picker(dim, col) for dim, col in
                 zip(["awsRegion", "errorCode", "sourceIPAddress"], row2)})
if st.session_state.get("ct_outcome", data.OUTCOMES[0]) not in data.OUTCOMES:
    st.session_state.pop("ct_outcome")
outcome = row2[3].selectbox("Outcome", data.OUTCOMES, key="ct_outcome")
search = st.text_input("Search", key="ct_q", placeholder="an eventID, or text: ARN, access key, API, IP, "
                       "user agent, error, bucket or role name in the request …")
flt = data.CtFilter(start, end, outcome=outcome, search=search, **selected)

summ = data.ct_summary(flt)
cols = st.columns(5)
for col, (label, key) in zip(cols, [("Events", "events"), ("Errors", "errors"),
                                    ("Principals", "principals"), ("APIs", "apis"),
                                    ("Source IPs", "source_ips")]):
    col.metric(label, ui.count(summ[key]))

if summ["events"] == 0:
    ui.to_url(list(URL_KEYS))
    if any(selected.values()) or outcome != data.OUTCOMES[0] or search.strip():
        ui.no_data("events match these filters in the selected range", "Clear a filter to widen the search.")
    else:
        ui.empty_in_range("CloudTrail events", "cloudtrail", key="ct_all_data")
    st.stop()

bucket = timerange.bucket_seconds(start, end)
tl = data.ct_timeline(flt, bucket)
fig = px.bar(tl, x="bucket", y="events", color="outcome",
             color_discrete_map={"ok": "#4c78a8", "error": "#e45756"},
             title=f"Events per {bucket // 60} min" if bucket < 3600 else f"Events per {bucket // 3600} h")
ui.chart(ui.time_bars(fig, start, end, bucket), key="ct_timeline")

tops = data.ct_top(flt)
t1, t2 = st.columns(2)
t3, t4 = st.columns(2)
for col, (title, key) in zip([t1, t2, t3, t4], [("Top principals", "principals"), ("Top APIs", "apis"),
                                                 ("Top errors", "errors"), ("Top source IPs", "source_ips")]):
    with col:
        st.markdown(f"**{title}**")
        frame = tops[key]
        if frame.height == 0:
            st.caption("none")
        else:
            ui.table(frame, column_config={"events": st.column_config.ProgressColumn(
                "events", format="%d", min_value=0, max_value=int(frame["events"].max()))})

st.subheader("Events")
evs = data.ct_events(flt)
st.caption(f"Newest {ui.count(evs.height)} of {ui.count(summ['events'])} matching events — click a row for its JSON")
ids = evs["eventID"].to_list()
picked = ui.table(evs.drop("dt"), key="ct_rows", on_select="rerun", selection_mode="single-row",
                  column_config={"principal": st.column_config.TextColumn(width="medium"),
                                 "userAgent": st.column_config.TextColumn(width="small"),
                                 "eventTime": st.column_config.DatetimeColumn("eventTime (UTC)")})
rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
if rows and rows[0] < len(ids) and st.session_state.get("_ct_row") != ids[rows[0]]:
    st.session_state["_ct_row"] = st.session_state["ct_event"] = ids[rows[0]]
meta = {r["eventID"]: r for r in evs.select("eventID", "eventTime", "eventName", "dt").iter_rows(named=True)}
if st.session_state.get("ct_event") not in meta:
    st.session_state.pop("ct_event", None)
choice = st.selectbox("Show the full JSON of event", ids, key="ct_event",
                      format_func=lambda i: f"{meta[i]['eventTime']:%Y-%m-%d %H:%M:%S} · "
                                            f"{meta[i]['eventName']} · {i}")
ui.to_url(list(URL_KEYS))
if choice:
    record = data.ct_event(choice, meta[choice]["dt"])
    st.code(json.dumps(record, indent=2, ensure_ascii=False), language="json")
