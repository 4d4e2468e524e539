"""The URL and the widgets: a rerun that carries the query string the session just replaced (sent
by the browser before it saw the new URL — an auto-refresh tick, a fragment) does not undo the
choice; the same value arriving later is a link, and is followed."""

from __future__ import annotations

from dashboards import components


def _stale_rerun(at, **query: str) -> None:
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]


def test_a_stale_range_in_the_url_does_not_undo_the_range_just_chosen(at) -> None:
    picker = at.sidebar.selectbox(key="wl_range")
    first = picker.value
    assert first != "All data"
    picker.select("All data").run()
    assert at.query_params["range"] == "All data"
    _stale_rerun(at, range=first)                       # the old URL, echoed back at once
    assert at.sidebar.selectbox(key="wl_range").value == "All data"
    assert at.query_params["range"] == "All data"     # and the URL is put right again
    at.session_state["_wl_url"]["_replaced"]["range"] = ("x", 0.0)  # long ago: no echo to ignore
    _stale_rerun(at, range=first)                       # now it is a link to follow
    assert at.sidebar.selectbox(key="wl_range").value == first


def test_the_echo_window_is_short_and_only_for_the_value_just_replaced() -> None:
    last: dict = {}
    components._wrote(last, "k", "a")
    assert not components._echo(last, "k", "a")         # nothing replaced yet
    components._wrote(last, "k", "b")
    assert components._echo(last, "k", "a") and not components._echo(last, "k", "c")
    last["_replaced"]["k"] = ("a", last["_replaced"]["k"][1] - components.ECHO_SECONDS - 1)
    assert not components._echo(last, "k", "a")
