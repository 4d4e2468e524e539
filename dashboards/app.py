"""watchlake dashboards: the Streamlit entry point (``watchlake dashboard``).

Pages live in ``views/`` rather than ``pages/``: with a ``pages/`` folder next to the entry
script, Streamlit's AppTest falls back to its old pages-directory mode and re-runs only the page,
skipping this script (and the shared sidebar) on every rerun.

Runs on every script run, whatever the page: pins the lake version for this run, draws the shared
sidebar (navigation, UTC time-range picker, auto-refresh) and then runs the selected page.
"""

from __future__ import annotations

import streamlit as st

from dashboards import components, data

# No page_icon and no page icons: material-symbol favicons are fetched from fonts.gstatic.com.
st.set_page_config(page_title="watchlake", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", default=True),
    st.Page("views/metrics.py", title="Metrics", url_path="metrics"),
    st.Page("views/alarms.py", title="Alarms", url_path="alarms"),
    st.Page("views/anomalies.py", title="Anomalies & Insights", url_path="anomalies"),
    st.Page("views/cloudtrail.py", title="CloudTrail", url_path="cloudtrail"),
    st.Page("views/findings.py", title="Findings", url_path="findings"),
    st.Page("views/investigate.py", title="Investigate", url_path="investigate"),
    st.Page("views/pipeline.py", title="Pipeline", url_path="pipeline"),
]

page = st.navigation(PAGES)
data.pin_version()
components.sidebar_time_picker(page.url_path or "overview")
components.auto_refresh()
page.run()
