"""watchlake dashboards: the Streamlit entry point (``watchlake dashboard``).

Runs on every script run, whatever the page: pins the lake version for this run, draws the shared
sidebar (navigation, UTC time-range picker, auto-refresh) and then runs the selected page.
"""

from __future__ import annotations

import streamlit as st

from dashboards import components, data

st.set_page_config(page_title="watchlake", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/monitor_heart:", default=True),
    st.Page("pages/cloudtrail.py", title="CloudTrail", icon=":material/manage_search:",
            url_path="cloudtrail"),
]

page = st.navigation(PAGES)
data.pin_version()
components.sidebar_time_picker()
components.auto_refresh()
page.run()
