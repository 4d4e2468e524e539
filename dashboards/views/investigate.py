"""Investigate: saved investigations, a read-only SQL console, and "what changed before this alarm"."""

from __future__ import annotations

import streamlit as st

from dashboards import actions
from dashboards import components as ui
from dashboards import investigate_data as inv_data
from pipeline.errors import PipelineError

st.title("Investigate")
start, end = ui.time_range()
ui.from_url({"inv_name": str})
RANGE = {"start": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end": f"{end:%Y-%m-%dT%H:%M:%SZ}"}


def show_result(res: dict, key: str) -> None:
    if res["error"]:
        ui.notice("error", res["error"])
        return
    for note in res["notes"]:
        ui.notice("info", note)
    table = res["table"]
    st.caption(f"{ui.count(table.num_rows)} rows in {res['seconds']:.2f} s"
               + (" (truncated)" if res["truncated"] else ""))
    ui.table(table)
    st.download_button("Download CSV", actions.to_csv(table), file_name=f"{key}.csv", mime="text/csv",
                       key=f"{key}_csv")


saved, console, changed = st.tabs(["Saved investigations", "SQL console", "What changed before this alarm?"])

with saved:
    try:
        invs = inv_data.investigations()
    except PipelineError as exc:  # a malformed file in the user's folder: say which, run nothing
        ui.notice("error", str(exc))
        invs = {}
    if st.session_state.get("inv_name") not in invs:
        st.session_state.pop("inv_name", None)
    name = st.selectbox("Investigation", list(invs), key="inv_name",
                        format_func=lambda n: f"{n} ({'yours, ' if invs[n]['user'] else ''}"
                                              f"{'Logs Insights' if invs[n]['kind'] == 'insights' else 'SQL'})")
    ui.to_url(["inv_name"])
    if name:
        inv = invs[name]
        st.caption(ui.md_escape(inv["description"]))
        url_args = dict(a.split("=", 1) for a in st.query_params.get_all("inv_arg") if "=" in a)
        seed = (st.query_params.get("inv_run") == name
                and st.session_state.get("_inv_seeded") != (name, tuple(sorted(url_args.items()))))
        with st.form("inv_form"):
            values, defaults = {}, {}
            for p in inv["params"]:  # start/end default to the sidebar's time range
                default = RANGE.get(p["name"], p["default"] or "")
                key = f"inv_{name}_{p['name']}" + (f"_{default}" if p["name"] in RANGE else "")
                if seed and p["name"] in url_args and p["name"] not in RANGE:
                    st.session_state[key] = url_args[p["name"]]  # a shared link: its values, run at once
                st.session_state.setdefault(key, default)
                defaults[p["name"]] = default
                values[p["name"]] = st.text_input(f"{p['name']} ({p['type']})", key=key,
                                                  help=ui.md_escape(p["description"]) or None)
            go = st.form_submit_button("Run investigation")
        if seed:
            st.session_state["_inv_seeded"] = (name, tuple(sorted(url_args.items())))
            st.session_state["inv_ran"] = name
        if go or st.session_state.get("inv_ran") == name:
            st.session_state["inv_ran"] = name
            given = {k: v for k, v in values.items() if v != ""}
            st.query_params["inv_run"] = name
            st.query_params["inv_arg"] = [f"{k}={v}" for k, v in sorted(given.items())
                                          if k not in RANGE and v != defaults[k]]
            st.session_state["_inv_seeded"] = (name, tuple(sorted((k, v) for k, v in given.items()
                                                                  if k not in RANGE and v != defaults[k])))
            show_result(inv_data.run_investigation(name, tuple(sorted(given.items()))), key=f"inv_{name}")

with console:
    st.caption("One read-only SELECT over the lake's views (cloudtrail, metrics_raw, metrics_1m/5m/1h, logs, "
               "records, alarm_state, alarm_history, anomalies, insights, findings, rejected). Writes, "
               "files outside the lake and settings are refused.")
    with st.form("sql_form"):
        sql = st.text_area("SQL", key="sql_text", height=140,
                           value="SELECT eventSource, eventName, count(*) AS calls\nFROM cloudtrail\n"
                                 "GROUP BY ALL ORDER BY calls DESC LIMIT 20")
        run = st.form_submit_button("Run query")
    if run or st.session_state.get("sql_ran"):
        st.session_state["sql_ran"] = True
        show_result(inv_data.run_sql(sql), key="query")

with changed:
    alarms = inv_data.metric_alarm_names()
    if not alarms:
        ui.no_data("metric alarms")
    else:
        c1, c2 = st.columns([3, 1])
        alarm = c1.selectbox("Alarm", alarms, key="chg_alarm")
        hours = c2.number_input("Look back (hours)", min_value=1, max_value=24 * 14, value=2, key="chg_hours")
        show_result(inv_data.what_changed(alarm, int(hours)), key=f"changes_{alarm}")
