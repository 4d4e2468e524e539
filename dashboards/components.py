"""Shared UI pieces: the sidebar time-range picker, auto-refresh, tables, charts, empty states.

Safety: values that come from data are only ever shown through ``st.dataframe``, ``st.code``,
``st.text``, widget options or Plotly charts whose labels went through :func:`esc` — never
through markdown or HTML — so a ``<script>`` or ``**markdown**`` in an event is shown as typed.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

import streamlit as st

from dashboards import data, timerange

RANGE_KEY = "wl_range"
ECHO_SECONDS = 5.0
"""How long after this session wrote a new value to the URL the value it replaced is taken for a
stale echo, not a new link: a rerun the browser sent before it saw the new URL (an auto-refresh
tick, a fragment) carries the old query string, and must not undo the choice just made."""
STATE_COLORS = {"ALARM": "red", "OK": "green", "INSUFFICIENT_DATA": "gray"}
STATE_HEX = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#9e9e9e"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#d62728")
"""Line colours in order (D3's category10, red last: red is the ALARM colour)."""
LEVEL_HEX = {"critical": "#7b1fa2", "high": "#d62728", "medium": "#ff7f0e", "low": "#1f77b4",
             "informational": "#9e9e9e"}


def sidebar_time_picker(page: str = "overview") -> tuple[datetime, datetime]:
    """Render the shared time-range picker in the sidebar and store the range in session state.

    Presets end at the newest data of the page's own tables (UTC; ``data.PAGE_TABLES``), so each
    page opens where its data is. Every page reads the result with :func:`time_range`; the
    widgets live in the entry script, so the choice survives page switches.
    """
    st.session_state["wl_page"] = page
    oldest, newest, latest, table = data.page_extent(page)
    _range_from_url()
    st.session_state.setdefault(RANGE_KEY, timerange.DEFAULT)
    with st.sidebar:
        st.subheader("Time range (UTC)")
        choice = st.selectbox("Time range", timerange.CHOICES, key=RANGE_KEY, label_visibility="collapsed")
        custom = None
        if choice == timerange.CUSTOM:
            end_default = timerange.anchor(newest)
            start_default = end_default - timedelta(days=1)
            for key, value in (("wl_d0", start_default.date()), ("wl_t0", start_default.time()),
                               ("wl_d1", end_default.date()), ("wl_t1", end_default.time())):
                st.session_state.setdefault(key, value)
            c1, c2 = st.columns(2)
            d0 = c1.date_input("Start date", key="wl_d0")
            t0 = c2.time_input("Start time", key="wl_t0", step=60)
            d1 = c1.date_input("End date", key="wl_d1")
            t1 = c2.time_input("End time", key="wl_t1", step=60)
            custom = (d0, t0 or time(0), d1, t1 or time(0))
        try:
            start, end = timerange.resolve(choice, oldest=oldest, newest=newest, custom=custom, latest=latest)
        except ValueError as exc:
            st.error(str(exc))
            start, end = timerange.resolve(timerange.DEFAULT, oldest=oldest, newest=newest)
        st.caption(timerange.label(start, end))
        if newest is not None:
            st.caption(f"Presets end at the newest {table} data: {newest:%Y-%m-%d %H:%M:%S} UTC")
        else:
            st.caption("This page's tables have no data yet.")
    st.session_state["wl_start"], st.session_state["wl_end"] = start, end
    _range_to_url(choice, start, end)
    return start, end


def _range_from_url() -> None:
    """``?range=Custom (UTC)&from=…&to=…`` (ISO, UTC) or ``?range=Last 6 hours`` → the picker."""
    last = st.session_state.setdefault("_wl_url", {})
    want = st.query_params.get("range")
    if want not in timerange.CHOICES:
        return
    span = (st.query_params.get("from"), st.query_params.get("to"))
    got = (want, span if want == timerange.CUSTOM else None)
    if got == last.get("range") or _echo(last, "range", got):
        return
    if want == timerange.CUSTOM:
        try:
            t0, t1 = (datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(UTC) for v in span)
        except (TypeError, ValueError):
            return
        st.session_state.update({"wl_d0": t0.date(), "wl_t0": t0.time().replace(second=0, microsecond=0),
                                 "wl_d1": t1.date(), "wl_t1": t1.time().replace(second=0, microsecond=0)})
    st.session_state[RANGE_KEY] = want
    last["range"] = (want, span if want == timerange.CUSTOM else None)


def _range_to_url(choice: str, start: datetime, end: datetime) -> None:
    last = st.session_state.setdefault("_wl_url", {})
    st.query_params["range"] = choice
    if choice == timerange.CUSTOM:
        span = (f"{start:%Y-%m-%dT%H:%MZ}", f"{end:%Y-%m-%dT%H:%MZ}")
        st.query_params["from"], st.query_params["to"] = span
        _wrote(last, "range", (choice, span))
    else:
        for key in ("from", "to"):
            if key in st.query_params:
                del st.query_params[key]
        _wrote(last, "range", (choice, None))


def _wrote(last: dict[str, Any], key: str, value: Any) -> None:
    """Remember ``value`` as what this session last wrote to the URL for ``key``, and the value
    it replaced (with the time) for :func:`_echo`."""
    if key in last and last[key] != value:
        last.setdefault("_replaced", {})[key] = (last[key], monotonic())
    last[key] = value


def _echo(last: dict[str, Any], key: str, value: Any) -> bool:
    """``value`` is the one this session replaced in the URL less than :data:`ECHO_SECONDS` ago:
    a rerun sent before the browser saw the new URL, not a link to follow."""
    old = last.get("_replaced", {}).get(key)
    return old is not None and old[0] == value and monotonic() - old[1] < ECHO_SECONDS


def range_link(start: datetime, end: datetime) -> dict[str, str]:
    """Query parameters that open a page on the custom range ``[start, end)``, widened to whole
    minutes (the picker's resolution) so it still holds every instant of the original."""
    if end.second or end.microsecond:
        end = end.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {"range": timerange.CUSTOM, "from": f"{start:%Y-%m-%dT%H:%MZ}", "to": f"{end:%Y-%m-%dT%H:%MZ}"}


def time_range() -> tuple[datetime, datetime]:
    """The range chosen in the sidebar (the default preset if the picker has not run)."""
    start, end = st.session_state.get("wl_start"), st.session_state.get("wl_end")
    if start is None or end is None:
        _oldest, newest, _latest, _table = data.page_extent(st.session_state.get("wl_page", "overview"))
        return timerange.resolve(timerange.DEFAULT, oldest=None, newest=newest)
    return start, end


def _watch_lake() -> None:
    if data.fresh_version() != st.session_state.get("_wl_version"):
        data.invalidate_listing()
        st.rerun()


def auto_refresh() -> None:
    """Re-run the app when the lake's file listing changes (checked every refresh interval)."""
    secs = data.refresh_seconds()
    if secs <= 0:
        return
    with st.sidebar:
        st.fragment(run_every=timedelta(seconds=secs))(_watch_lake)()
        st.caption(f"Auto-refresh: checks for new data every {secs} s")


def no_data(what: str, hint: str = "") -> None:
    """A clear empty state for a section whose table has no rows yet."""
    st.info(f"No {what} yet." + (f" {hint}" if hint else ""), icon=":material/hourglass_empty:")


def count(n: int | float | None) -> str:
    """``12345`` → ``'12,345'`` (``'0'`` for None)."""
    return f"{int(n or 0):,}"


def human_bytes(n: int) -> str:
    from pipeline.console import human_bytes as hb

    return hb(n)


def age(ts: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``ts`` was, e.g. ``'17d 3h'`` (``'—'`` for None)."""
    if ts is None:
        return "—"
    seconds = int(((now or datetime.now(UTC)) - ts).total_seconds())
    if seconds < 0:
        return "in the future"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {rest % 60}s"


def table(frame: Any, **kwargs: Any) -> Any:
    """A full-width data table (values are rendered as text by the grid); returns what
    ``st.dataframe`` returns (the selection when ``on_select`` is given)."""
    return st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


def esc(values: Any) -> Any:
    """HTML-escape chart labels: Plotly renders a subset of HTML in text, escaping shows the
    original characters instead (``&lt;b&gt;`` is drawn as ``<b>``)."""
    if isinstance(values, str):
        return html.escape(values, quote=False)
    try:
        import polars as pl

        if isinstance(values, pl.Series):
            return values.map_elements(lambda v: html.escape(v, quote=False) if isinstance(v, str) else v,
                                       return_dtype=values.dtype)
    except ImportError:  # pragma: no cover
        pass
    return [html.escape(v, quote=False) if isinstance(v, str) else v for v in values]


def time_bars(fig: Any, start: datetime, end: datetime, bucket: int) -> Any:
    """Give a bar chart over time buckets its real bar width and the whole selected range."""
    fig.update_traces(width=bucket * 1000 * 0.9, offset=0)
    return utc_axis(fig, start, end)


def chart(fig: Any, key: str) -> None:
    """An interactive Plotly chart (zoom, pan, hover), full width, UTC axis."""
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.2})
    st.plotly_chart(fig, width="stretch", key=key)


def rgba(hex_colour: str, alpha: float) -> str:
    """``#1f77b4`` → ``rgba(31,119,180,0.2)`` (a band in its line's colour)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"


def utc_axis(fig: Any, start: datetime, end: datetime) -> Any:
    """A time x-axis over the selected range whose title says the times are UTC."""
    fig.update_xaxes(range=[start, end], title_text="time (UTC)")
    return fig


def offer_all_data(message: str, key: str) -> None:
    """An empty state that says what exists (``message``) and offers a button (``key``) that
    switches the shared time range to "All data"."""
    st.info(md_escape(message), icon=":material/search_off:")
    st.button("Show all data", key=key, on_click=_set_range, args=(timerange.ALL,))


def empty_in_range(what: str, table: str, key: str, hint: str = "") -> None:
    """The empty state of a section with nothing in the selected range: it says where the
    table's data is and offers "All data", or — when the table is empty — how to fill it."""
    oldest, latest = data.table_extent(table)
    start, end = time_range()
    if oldest is None or latest is None:
        no_data(what, hint)
        return
    offer_all_data(f"No {what} in {timerange.label(start, end)}. There are {what} from "
                   f"{oldest:%Y-%m-%d %H:%M} to {latest:%Y-%m-%d %H:%M} UTC.", key=key)


def from_url(keys: dict[str, Any]) -> None:
    """Seed widget state from the page URL (``st.query_params``) whenever the URL carries a value
    this session did not write itself — a pasted link or a cross-page link, not a stale echo of
    the value it just replaced (:func:`_echo`) — or the widget has no state (back on a page after
    visiting another), so a link reproduces the view. ``keys`` maps
    widget key → ``list`` (multi-value) or a converter from the URL text (``str``, ``int`` …); a
    value the converter refuses is ignored."""
    last = st.session_state.setdefault("_wl_url", {})
    for key, kind in keys.items():
        if key not in st.query_params:
            continue
        try:
            value = st.query_params.get_all(key) if kind is list else kind(st.query_params[key])
        except (TypeError, ValueError):
            continue
        if key not in st.session_state or (last.get(key) != value and not _echo(last, key, value)):
            st.session_state[key] = value  # a new URL, or back on this page
            last[key] = value


def to_url(keys: list[str]) -> None:
    """Mirror widget state into the URL (empty values are left out), remembering what was
    written so :func:`from_url` does not re-apply it."""
    last = st.session_state.setdefault("_wl_url", {})
    for key in keys:
        value = st.session_state.get(key)
        if value is None or value == "" or value == [] or value == ():
            if key in st.query_params:
                del st.query_params[key]
            last.pop(key, None)
            continue
        if isinstance(value, list | tuple):
            st.query_params[key] = [str(v) for v in value]
            _wrote(last, key, [str(v) for v in value])
        else:
            st.query_params[key] = str(value)
            _wrote(last, key, value)


def period_or_auto(text: str) -> int | str:
    """A Metrics period from the URL: ``auto`` or whole seconds."""
    return "auto" if text == "auto" else int(text)


def _set_range(choice: str) -> None:
    st.session_state[RANGE_KEY] = choice


def md_escape(text: str) -> str:
    """Backslash-escape every ASCII punctuation character (CommonMark), so data placed in a
    markdown-rendering element (alerts, labels) shows as typed."""
    return "".join("\\" + c if (c.isascii() and not c.isalnum() and not c.isspace()) else c
                   for c in str(text))


def notice(kind: str, text: str) -> None:
    """An info/warning/error box whose text may contain data (escaped, see :func:`md_escape`)."""
    getattr(st, kind)(md_escape(text))


def dims_label(dimensions_json: str) -> str:
    """``{"InstanceId":"i-1"}`` → ``InstanceId=i-1`` (``(no dimensions)`` for ``{}``)."""
    import json

    dims = json.loads(dimensions_json)
    return ", ".join(f"{k}={v}" for k, v in dims.items()) or "(no dimensions)"


def period_label(seconds: int | None) -> str:
    if not seconds:
        return "—"
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
