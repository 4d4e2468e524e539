"""Rate-based rules, like AWS WAF rate rules: count the events matching a filter per key in a
sliding window and fire when the count goes above a limit.

A rate rule is YAML::

    kind: rate
    id: wl-accessdenied-burst           # the rule's own id
    title: AccessDenied burst from one source IP
    level: high
    tags: [attack.discovery]
    filter: {"detail": {"errorCode": ["AccessDenied", {"suffix": "UnauthorizedOperation"}]}}
    key: source_ip                      # source_ip | principal | access_key | any field path
    window: 5m                          # default 5 minutes
    limit: 20                           # fire when more than 20 events share a key in a window
    dedup_window: 1h                    # later events of the same key within 1 h of the finding's
                                        # first event update it (default 1 h, at least `window`)

``filter`` is an EventBridge event pattern (:mod:`pipeline.detections.eventbridge`); without it
every event counts.
"""

from __future__ import annotations

from typing import Any

from pipeline.detections.eventbridge import compile_pattern
from pipeline.detections.ir import Const
from pipeline.detections.model import DEFAULT_DEDUP_WINDOW, LEVELS, PRINCIPAL, Aggregation, Rule
from pipeline.errors import InputError, RuleError
from pipeline.timeutil import parse_duration

KEYS = {"source_ip": "sourceIPAddress", "principal": PRINCIPAL, "access_key": "userIdentity.accessKeyId"}
DEFAULT_WINDOW = 300


def parse_rate(doc: dict[str, Any], path: str = "") -> Rule:
    """A rate rule document → :class:`Rule` with an :class:`Aggregation` (count > limit)."""
    rid = str(doc.get("id") or "")
    if not rid:
        raise RuleError(path.rsplit("/", 1)[-1] or "<rate>", "missing `id`", path=path, field="id")
    limit = doc.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise RuleError(rid, "limit must be an integer ≥ 1", path=path, field="limit", value=limit)
    try:
        window = parse_duration(doc.get("window", DEFAULT_WINDOW))
    except InputError:
        raise RuleError(rid, "not a duration", path=path, field="window", value=doc.get("window")) from None
    if window <= 0:
        raise RuleError(rid, "must be positive", path=path, field="window", value=doc.get("window"))
    try:
        dedup = parse_duration(doc.get("dedup_window", DEFAULT_DEDUP_WINDOW))
    except InputError:
        raise RuleError(rid, "not a duration", path=path, field="dedup_window",
                        value=doc.get("dedup_window")) from None
    if dedup < window:
        raise RuleError(rid, "must be at least `window`", path=path, field="dedup_window",
                        value=doc.get("dedup_window"))
    key = str(doc.get("key", "source_ip"))
    key_path = KEYS.get(key, key)
    level = str(doc.get("level", "medium")).lower()
    if level not in LEVELS:
        raise RuleError(rid, f"level must be one of {', '.join(LEVELS)}", path=path, field="level", value=level)
    flt = doc.get("filter")
    node = compile_pattern(flt, rid, path) if flt is not None else Const(True)
    agg = Aggregation((key_path,), ">", float(limit), window)
    return Rule(id=rid, title=str(doc.get("title") or rid), kind="rate", predicate=node, level=level,
                tags=tuple(str(t) for t in doc.get("tags") or ()), aggregation=agg,
                dedup_by=(key_path,), dedup_window=dedup, path=path,
                description=str(doc.get("description") or ""))
