"""The live detect follower's engine: its new rows matched by DuckDB with the rules' query
planned once, the same matches as the Python engine, whatever the files' schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from jobs.detect_job import Follower, run_retro
from pipeline.detections.engine import LakeMatcher, match_events
from pipeline.detections.ir import Or, Pred
from pipeline.detections.model import Rule
from pipeline.sources.cloudtrail import events_to_table
from tests.pipeline.detections.ctlake import write_events

T0 = datetime(2026, 11, 3, 10, tzinfo=UTC)
RULES = [Rule(id="stop", title="trail stopped", kind="sigma", predicate=Pred("eventName", "eq", "StopLogging")),
         Rule(id="u2-or-denied", title="u2 or denied", kind="sigma",
              predicate=Or((Pred("userIdentity.userName", "eq", "u2"), Pred("errorCode", "eq", "AccessDenied"))))]


def _events(first: int, n: int) -> list[dict]:
    return [{"eventVersion": "1.09", "eventID": f"ev-{i:05d}", "eventSource": "cloudtrail.amazonaws.com",
             "eventTime": (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "eventName": "StopLogging" if i % 5 == 0 else "DescribeTrails", "awsRegion": "us-east-1",
             "userIdentity": {"type": "IAMUser", "userName": f"u{i % 4}"},
             **({"errorCode": "AccessDenied"} if i % 7 == 0 else {})}
            for i in range(first, first + n)]


def _pairs(matches) -> list[tuple[str, str]]:
    return sorted((m.rule_id, m.event_id) for m in matches)


def test_run_table_equals_the_python_engine_and_replans_for_another_schema():
    matcher = LakeMatcher(RULES, "new_rows")
    full, _ = events_to_table(_events(0, 40), "t")
    expected = _pairs(match_events(RULES, full.to_pylist()))
    assert len(expected) == 8 + 10 + 5  # i % 5 == 0; i % 4 == 2; i % 7 == 0 and i % 4 != 2 (0, 7, 21, 28, 35)
    assert _pairs(matcher.run_table(full)) == expected
    assert _pairs(matcher.run_table(full.slice(10, 10))) == _pairs(match_events(RULES, full.slice(10, 10).to_pylist()))
    # the same rows in another schema (columns dropped and reordered): planned again, same answer
    narrow = full.select(["errorCode", "eventName", "eventTime", "eventID", "userIdentity",
                          "sourceIPAddress"])
    assert _pairs(matcher.run_table(narrow)) == expected
    assert matcher.run_table(full.slice(0, 0)) == []


def test_a_file_outside_the_loaders_schema_is_matched_by_the_python_engine(lake):
    """A cloudtrail file written by something other than the loader (here: fewer columns) is
    still read and matched, by the Python engine: the same findings as the retroactive run over
    both files."""
    write_events(lake, _events(0, 20))
    fol = Follower(lake, RULES, from_start=True, duckdb_from=0)  # DuckDB for the loader's rows
    first = fol.poll()
    assert first.events == 20
    table, _ = events_to_table(_events(20, 20), "other")
    odd = table.select(["eventID", "eventTime", "eventName", "userIdentity", "errorCode", "sourceIPAddress"])
    odd = odd.set_column(0, "eventID", pa.array([f"odd-{i}" for i in range(20)]))
    lake.write_partition("cloudtrail", {"dt": "2026-11-03", "hour": "10"}, odd)
    second = fol.poll()
    assert second.events == 20
    retro = {f.rule.id: f.event_count for f in run_retro(lake, RULES, write=False).findings}
    live = {f.rule.id: f.event_count for f in second.changed}
    assert live == retro == {"stop": 8, "u2-or-denied": 15}


def test_small_polls_go_to_the_python_engine_and_find_the_same(lake, monkeypatch):
    """Below ``duckdb_from`` new rows a poll matches them in Python (cheaper than a DuckDB query);
    the findings of each poll are the same either way."""
    import jobs.detect_job as job

    python_rows: list[int] = []
    real = job.match_events
    monkeypatch.setattr(job, "match_events", lambda rules, rows: python_rows.append(len(rows)) or real(rules, rows))
    followers = {t: Follower(lake, RULES, from_start=True, duckdb_from=t) for t in (0, 30, 10**9)}
    found: dict[int, list] = {t: [] for t in followers}
    for first, n in ((0, 20), (20, 40), (60, 5)):
        write_events(lake, _events(first, n))
        for t, fol in followers.items():
            python_rows.clear()
            rep = fol.poll()
            assert rep.events == n
            assert (python_rows == [n]) == (n < t) and (python_rows == []) == (n >= t), (t, n, python_rows)
            found[t].append(sorted((f.rule.id, f.event_count, f.first.event_id) for f in rep.changed))
    assert found[0] == found[30] == found[10**9]
    # events 0–59 by hand: i % 5 == 0 → 12; i % 4 == 2 → 15, or i % 7 == 0 besides → 0 7 21 28 35 49 56
    assert found[0][1] == [("stop", 12, "ev-00000"), ("u2-or-denied", 22, "ev-00000")]
