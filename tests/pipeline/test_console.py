"""Progress lines: throttled, and the final count written once."""

from __future__ import annotations

import io

from pipeline.console import Progress


def test_a_run_done_in_one_step_prints_its_count_once_off_a_tty() -> None:
    out = io.StringIO()
    with Progress("points", 10, stream=out) as p:
        p.advance(10)
    assert out.getvalue().count("points: 10/10") == 1


def test_the_final_count_follows_a_stale_line() -> None:
    out = io.StringIO()
    with Progress("points", 10, stream=out) as p:
        p.advance(4)  # written (the first line), then throttled
        p.advance(6)
    lines = out.getvalue().splitlines()
    assert [ln.split(" (")[0] for ln in lines] == ["points: 4/10", "points: 10/10"]


def test_disabled_writes_nothing() -> None:
    out = io.StringIO()
    with Progress("points", 3, stream=out, enabled=False) as p:
        p.advance(3)
    assert out.getvalue() == ""
