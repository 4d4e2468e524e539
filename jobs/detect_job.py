"""The detection job: run rules retroactively over the lake or follow new files (both DuckDB).

* :func:`run_retro` — one DuckDB scan of ``cloudtrail`` in ``[start, end)`` evaluates every rule,
  findings are built in bulk (:mod:`pipeline.detections.grouping`) and merged into the
  ``findings`` table (a re-run of the same range replaces the rules' earlier findings there).
* :class:`Follower` — one :meth:`Follower.poll` takes the ``cloudtrail`` files committed since
  the last one (checkpoint in ``_state/detect/follow.json``), evaluates their rows with the DuckDB
  engine (the rules' query planned once) and updates findings;
  ``detect --follow`` runs it on :mod:`jobs.follow`'s schedule.
  Only the open findings and the counting windows not yet reached are kept
  (:class:`pipeline.detections.live.OpenWindows`: a finding with its first ``MAX_EVENT_IDS``
  ids and its count, never the matches of the history), so memory and work per poll stay bounded
  however long it runs and however busy an open finding is; a finding that a later file extends
  is updated, not duplicated, and each poll writes and notifies only the findings that opened or
  grew. Given the same files, the findings equal
  :func:`run_retro`'s (tests/pipeline/detections/test_findings_and_job.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import pyarrow as pa

from pipeline.detections.engine import LakeMatcher, Match, match_events, time_filter
from pipeline.detections.findings import Finding, findings_table, write_findings
from pipeline.detections.grouping import LakeFindings, lake_findings
from pipeline.detections.live import OpenWindows
from pipeline.detections.model import Rule
from pipeline.errors import SchemaMismatchError
from pipeline.lake import Lake
from pipeline.lake.follow import NewFiles, Ranges, read_table
from pipeline.loader.partition import conform
from pipeline.query.duck import connect

STATE = "_state/detect/follow.json"
NEW_ROWS = "cloudtrail_new"
"""The name the follower's new rows go by in the rules' query."""
DUCKDB_FROM = 800
"""New rows from which a poll matches them with DuckDB: below, the Python engine is cheaper — a
DuckDB query of the 57 SigmaHQ rules costs ~40 ms whatever its size, the Python engine ~50 µs a
row (50 rows: 5 ms against 45; 2,000: 100 against 38; measured with ``benchmarks/bench_detect.py``'s
data)."""


@dataclass
class PollReport:
    """One follow step: the files and events it read and the findings that are new or grew."""

    files: int = 0
    events: int = 0
    changed: list[Finding] = field(default_factory=list)
    notified: int = 0
    notify_errors: list[str] = field(default_factory=list)
    """Findings that could not be published (one line each); detection went on."""


@dataclass
class DetectResult:
    """A retroactive run: events scanned, (event, rule) matches, findings and rows written.
    ``found`` holds the findings in bulk (:class:`LakeFindings`: its ``table`` is what was
    written); :attr:`findings` makes them objects on first use."""

    events: int = 0
    match_count: int = 0
    written: int = 0
    files: int = 0
    found: LakeFindings | None = None

    @cached_property
    def findings(self) -> list[Finding]:
        return self.found.findings() if self.found is not None else []


MAX_NOTIFIED_EVENT_IDS = 100
"""A finding's message lists at most this many event ids (``event_count`` has them all; the
``findings`` table lists the first ``MAX_EVENT_IDS``): a finding over a million events must still
fit SNS's 256 KiB."""


def finding_message(f: Finding) -> dict[str, Any]:
    """The JSON message of one finding (its ``findings`` row, event ids capped)."""
    row = f.row("", datetime.now().astimezone())
    msg = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    if len(msg["event_ids"]) > MAX_NOTIFIED_EVENT_IDS:
        msg["event_ids"] = msg["event_ids"][:MAX_NOTIFIED_EVENT_IDS]
        msg["event_ids_truncated"] = True
    return msg


def notify_findings(lake: Lake, topic: str, findings: list[Finding],
                    errors: list[str] | None = None) -> int:
    """Publish each finding to an SNS-like topic (:mod:`pipeline.notify`); returns messages sent.
    A finding that cannot be published (an unknown topic, say) is one line in ``errors`` (raised
    when ``errors`` is None) and never stops the others."""
    from pipeline.errors import PipelineError
    from pipeline.notify import Notifier

    sent = 0
    with Notifier(lake) as n:
        for f in findings:
            try:
                r = n.publish(topic, f"watchlake {f.rule.level.upper()}: {f.rule.title}"[:99], finding_message(f),
                              dedup_id=f"finding:{f.finding_id}", dedup_seq=f.event_count)
            except PipelineError as exc:
                if errors is None:
                    raise
                errors.append(f"finding {f.finding_id} ({f.rule.title}): {exc}")
                continue
            sent += not r.duplicate
    return sent


def run_retro(lake: Lake, rules: list[Rule], start: datetime | None = None, end: datetime | None = None,
              *, write: bool = True, notify_topic: str | None = None) -> DetectResult:
    """Evaluate ``rules`` over the lake's CloudTrail events in ``[start, end)`` with DuckDB."""
    con = connect(lake, ["cloudtrail"])
    res = DetectResult()
    res.files = len(lake.table_files("cloudtrail"))
    row = con.execute(f"SELECT count(*) FROM cloudtrail WHERE {time_filter(start, end)}").fetchall()[0]
    res.events = int(row[0]) if row else 0
    res.found = lake_findings(con, rules, start, end)
    res.match_count = res.found.match_count
    if write:
        res.written = write_findings(lake, res.found.table("duckdb"),
                                     replace_rules={r.id for r in rules}, replace_from=start, replace_to=end)
    if notify_topic and res.findings:
        notify_findings(lake, notify_topic, res.findings)
    return res


class Follower:
    """Evaluates new committed cloudtrail files as they appear (see the module docstring)."""

    def __init__(self, lake: Lake, rules: list[Rule], *, from_start: bool = False, resume: bool = True,
                 notify_topic: str | None = None, duckdb_from: int = DUCKDB_FROM):
        self.lake, self.rules, self.notify_topic = lake, rules, notify_topic
        self.files = NewFiles(lake, "cloudtrail", STATE, from_start=from_start, resume=resume)
        self.open = OpenWindows(rules)  # open findings and counting windows: memory follows them, not history
        self.events = 0
        self._matcher = LakeMatcher(rules, NEW_ROWS)
        self.duckdb_from = duckdb_from

    def _match(self, to_read: list[tuple[str, Ranges | None]], report: PollReport) -> list[Match]:
        """The rules' matches in the rows to read (whole files, or the new rows of a compaction's),
        counted into ``report.events``, read with pyarrow. From ``duckdb_from`` rows on, the rows
        in the lake's cloudtrail schema are matched by the DuckDB engine in one query planned once
        for the follower's life (:meth:`~pipeline.detections.engine.LakeMatcher.run_table`); fewer
        rows, or a file not in that schema (not written by the loader), go to the Python engine —
        the two agree (tests/pipeline/detections/test_parity_property.py)."""
        tables, odd = [], []
        for rel, ranges in to_read:
            table = read_table(self.lake, rel, ranges)
            report.events += table.num_rows
            try:
                tables.append(conform("cloudtrail", table, rel))
            except SchemaMismatchError:
                odd.append(table)
        if sum(t.num_rows for t in tables) < self.duckdb_from:
            odd, tables = odd + tables, []
        out = [m for t in odd for m in match_events(self.rules, t.to_pylist())]
        if tables:
            out += self._matcher.run_table(pa.concat_tables(tables))
        return out

    @property
    def seen(self) -> set[str]:
        """The cloudtrail files processed (the checkpoint's)."""
        return self.files.seen

    def poll(self) -> PollReport:
        """Process files committed since the last poll; the report lists findings that are new or
        grew. The checkpoint is written after the findings, so a crash re-reads (never skips) files.
        A file that compaction made of files already processed is not read again (its events were
        matched), and of one that also holds files not processed yet only their rows are read:
        each event matches a rule at most once."""
        new, to_read = self.files.poll()
        report = PollReport(files=len(new))
        if not new:
            return report
        fresh = self._match(to_read, report)
        self.events += report.events
        changed: list[Finding] = []
        if fresh:
            changed = self.open.add(fresh)  # the findings that opened or grew
            if changed:
                write_findings(self.lake, findings_table(changed, "python"))
            if self.notify_topic and changed:
                report.notified = notify_findings(self.lake, self.notify_topic, changed, report.notify_errors)
        self.files.done(new)
        report.changed = changed
        return report
