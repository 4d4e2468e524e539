"""Triage of findings: who looked at a finding, what they decided, and known-benign patterns.

Two small append-only tables in the lake, next to (never inside) ``findings``:

``triage/actions/*.parquet``
    one row per decision: ``finding_id``, ``state`` (new | acknowledged | resolved |
    false_positive), ``who``, ``at`` (UTC), ``note``. A finding's state is its newest decision;
    a finding nobody triaged is ``new``. ``finding_id`` is stable across re-detection (a hash of
    rule, dedup key and first event), so re-running ``watchlake detect`` keeps every decision.
``triage/suppressions/*.parquet``
    one row per change to a suppression: ``suppression_id``, ``rule_id``, ``principal`` and
    ``source_ip`` (None = any), ``reason``, ``who``, ``at``, ``active``. A suppression is active
    while its newest row is. A finding is suppressed when an active suppression's rule matches
    and each of its non-empty principal / source IP equals the finding's.

Every write is one new file written atomically, so concurrent analysts never lose a decision;
bad input raises :class:`~pipeline.errors.InputError` naming the field and value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.errors import InputError
from pipeline.lake import layout
from pipeline.timeutil import to_utc, utcnow

if TYPE_CHECKING:
    from pipeline.lake import Lake

STATES = ("new", "acknowledged", "resolved", "false_positive")
ACTIONS = "triage/actions"
SUPPRESSIONS = "triage/suppressions"
_TS = pa.timestamp("us", tz="UTC")
ACTION_SCHEMA = pa.schema([("finding_id", pa.string()), ("state", pa.string()), ("who", pa.string()),
                           ("at", _TS), ("note", pa.string())])
SUPPRESSION_SCHEMA = pa.schema([("suppression_id", pa.string()), ("rule_id", pa.string()),
                                ("principal", pa.string()), ("source_ip", pa.string()), ("reason", pa.string()),
                                ("who", pa.string()), ("at", _TS), ("active", pa.bool_())])


@dataclass(frozen=True)
class Decision:
    """A finding's current triage state."""

    finding_id: str
    state: str
    who: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Suppression:
    """An active known-benign pattern."""

    suppression_id: str
    rule_id: str
    principal: str | None
    source_ip: str | None
    reason: str
    who: str
    at: datetime

    def matches(self, rule_id: str, principal: str | None, source_ip: str | None) -> bool:
        """True when a finding of ``rule_id`` by ``principal`` from ``source_ip`` is covered."""
        return (rule_id == self.rule_id and (self.principal is None or principal == self.principal)
                and (self.source_ip is None or source_ip == self.source_ip))


def _who(who: str) -> str:
    who = (who or "").strip()
    if not who:
        raise InputError("say who made the decision", field="who", value=who)
    return who


def set_state(lake: Lake, finding_ids: list[str], state: str, who: str, note: str = "",
              at: datetime | None = None) -> int:
    """Record ``state`` for each finding (one new file); returns how many were recorded."""
    if state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}", field="state", value=state)
    ids = [f for f in dict.fromkeys(finding_ids) if f]
    if not ids:
        raise InputError("no finding chosen", field="finding_id", value=finding_ids)
    when = to_utc(at or utcnow())
    rows = [{"finding_id": f, "state": state, "who": _who(who), "at": when, "note": note.strip()} for f in ids]
    lake.write_parquet(f"{ACTIONS}/{layout.file_name()}", pa.Table.from_pylist(rows, schema=ACTION_SCHEMA))
    return len(rows)


def decisions(lake: Lake) -> dict[str, Decision]:
    """Each triaged finding's newest decision (ties broken by file order), by finding_id."""
    out: dict[str, Decision] = {}
    for row in _rows(lake, ACTIONS, ACTION_SCHEMA):
        cur = out.get(row["finding_id"])
        if cur is None or row["at"] >= cur.at:
            out[row["finding_id"]] = Decision(row["finding_id"], row["state"], row["who"], row["at"],
                                              row["note"] or "")
    return out


def suppress(lake: Lake, rule_id: str, reason: str, who: str, *, principal: str | None = None,
             source_ip: str | None = None, at: datetime | None = None) -> Suppression:
    """Add (or re-activate) the suppression of ``rule_id`` [by ``principal``] [from ``source_ip``]."""
    rule_id = (rule_id or "").strip()
    if not rule_id:
        raise InputError("a suppression names the rule it silences", field="rule_id", value=rule_id)
    reason = (reason or "").strip()
    if not reason:
        raise InputError("a suppression needs a reason (why the pattern is benign)", field="reason", value=reason)
    principal = (principal or "").strip() or None
    source_ip = (source_ip or "").strip() or None
    sid = hashlib.sha1(f"{rule_id}\x1f{principal}\x1f{source_ip}".encode()).hexdigest()[:16]
    s = Suppression(sid, rule_id, principal, source_ip, reason, _who(who), to_utc(at or utcnow()))
    _write_suppression(lake, s, active=True)
    return s


def unsuppress(lake: Lake, suppression_id: str, who: str, at: datetime | None = None) -> None:
    """Deactivate a suppression (its history stays)."""
    current = {s.suppression_id: s for s in suppressions(lake)}
    if suppression_id not in current:
        raise InputError("no active suppression with this id", field="suppression_id", value=suppression_id)
    s = current[suppression_id]
    _write_suppression(lake, Suppression(s.suppression_id, s.rule_id, s.principal, s.source_ip, s.reason,
                                         _who(who), to_utc(at or utcnow())), active=False)


def suppressions(lake: Lake) -> list[Suppression]:
    """The active suppressions, oldest first."""
    latest: dict[str, dict[str, Any]] = {}
    for row in _rows(lake, SUPPRESSIONS, SUPPRESSION_SCHEMA):
        cur = latest.get(row["suppression_id"])
        if cur is None or row["at"] >= cur["at"]:
            latest[row["suppression_id"]] = row
    active = [Suppression(r["suppression_id"], r["rule_id"], r["principal"], r["source_ip"], r["reason"],
                          r["who"], r["at"]) for r in latest.values() if r["active"]]
    return sorted(active, key=lambda s: (s.at, s.suppression_id))


def suppressed_by(sups: list[Suppression], rule_id: str, principal: str | None,
                  source_ip: str | None) -> Suppression | None:
    """The first active suppression covering a finding, or None."""
    return next((s for s in sups if s.matches(rule_id, principal, source_ip)), None)


def _write_suppression(lake: Lake, s: Suppression, *, active: bool) -> None:
    row = {"suppression_id": s.suppression_id, "rule_id": s.rule_id, "principal": s.principal,
           "source_ip": s.source_ip, "reason": s.reason, "who": s.who, "at": s.at, "active": active}
    lake.write_parquet(f"{SUPPRESSIONS}/{layout.file_name()}",
                       pa.Table.from_pylist([row], schema=SUPPRESSION_SCHEMA))


def _rows(lake: Lake, folder: str, schema: pa.Schema) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for rel in lake.list_files(folder, ".parquet"):
        with lake.fs.open_input_file(lake.path(rel)) as f:
            rows.extend(pq.read_table(f, schema=schema).to_pylist())
    return rows
