"""EventBridge (CloudWatch Events) event patterns over CloudTrail events.

A CloudTrail record reaches EventBridge wrapped in an envelope: ``source`` (``aws.`` + the
service prefix of ``eventSource``), ``detail-type`` (``AWS API Call via CloudTrail`` …),
``account``, ``region``, ``time`` and ``detail`` (the record). Patterns address the envelope;
``detail.X`` is CloudTrail field ``X``.

Matching follows the EventBridge documentation: every field named in the pattern must match;
a field's list of matchers is an OR; an array in the event matches when any element does.
Matchers: exact strings/numbers/booleans (case-sensitive), ``null`` (field present as null — with
our storage null and missing are the same, so ``null`` matches a missing field),
``{"prefix": s}`` (also ``{"prefix": {"equals-ignore-case": s}}``), ``{"suffix": s}`` (same),
``{"equals-ignore-case": s}``, ``{"wildcard": "a*b"}``, ``{"anything-but": v | [v…] |
{"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}}`` (field must exist), ``{"numeric":
[">", 0, "<=", 5]}``, ``{"exists": true|false}``, ``{"cidr": "10.0.0.0/8"}``; ``{"$or": [p1,
p2]}`` at any object level.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pipeline.detections.ir import And, Glob, Node, Not, Or, Pred, literal_glob, sigma_glob
from pipeline.detections.model import PRINCIPAL, Rule
from pipeline.errors import RuleError

_ENVELOPE = {"source": "@source", "detail-type": "@detail-type", "account": "recipientAccountId",
             "region": "awsRegion", "time": "eventTime", "id": "eventID"}
_NUM_OPS = {"<", "<=", ">", ">=", "="}


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class _Ctx:
    def __init__(self, rule: str, path: str):
        self.rule, self.path = rule, path

    def err(self, field: str, reason: str, value: Any = None) -> RuleError:
        return RuleError(self.rule, reason, path=self.path, field=field, value=value)


def _affix(ctx: _Ctx, field: str, kind: str, arg: Any) -> tuple[Glob, bool]:
    cased = True
    if isinstance(arg, dict) and list(arg) == ["equals-ignore-case"]:
        arg, cased = arg["equals-ignore-case"], False
    if not isinstance(arg, str):
        raise ctx.err(field, f"`{kind}` takes a string", arg)
    lit = literal_glob(arg)
    return ((*lit, ("any", "")) if kind == "prefix" else (("any", ""), *lit)), cased


def _wildcard(ctx: _Ctx, field: str, arg: Any) -> Glob:
    if not isinstance(arg, str):
        raise ctx.err(field, "`wildcard` takes a string", arg)
    return tuple(t for t in sigma_glob(arg.replace("?", "\\?")))


def _matcher(ctx: _Ctx, field: str, m: Any) -> Node:
    if m is None:
        return Pred(field, "absent")
    if not isinstance(m, dict):
        if isinstance(m, (list,)):
            raise ctx.err(field, "nested lists are not allowed in a pattern", m)
        if isinstance(m, (int, float)) and not isinstance(m, bool):
            return Pred(field, "num", ("=", float(m)))
        return Pred(field, "eq", _scalar(m), cased=True)
    if len(m) != 1:
        raise ctx.err(field, "a matcher object has exactly one key", m)
    (kind, arg), = m.items()
    if kind in ("prefix", "suffix"):
        glob, cased = _affix(ctx, field, kind, arg)
        return Pred(field, "like", glob, cased=cased)
    if kind == "equals-ignore-case":
        if not isinstance(arg, str):
            raise ctx.err(field, "`equals-ignore-case` takes a string", arg)
        return Pred(field, "eq", arg)
    if kind == "wildcard":
        return Pred(field, "like", _wildcard(ctx, field, arg), cased=True)
    if kind == "exists":
        if not isinstance(arg, bool):
            raise ctx.err(field, "`exists` takes true or false", arg)
        return Not(Pred(field, "absent")) if arg else Pred(field, "absent")
    if kind == "cidr":
        try:
            ipaddress.ip_network(str(arg), strict=False)
        except ValueError:
            raise ctx.err(field, "not a CIDR network", arg) from None
        return Pred(field, "cidr", str(arg))
    if kind == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4) or len(arg) % 2:
            raise ctx.err(field, "`numeric` takes [op, n] or [op, n, op, n]", arg)
        preds = []
        for op, n in zip(arg[::2], arg[1::2]):
            if op not in _NUM_OPS or isinstance(n, bool) or not isinstance(n, (int, float)):
                raise ctx.err(field, "numeric operators are <, <=, >, >=, = with numbers", arg)
            preds.append(Pred(field, "num", (op, float(n))))
        if len(preds) == 1:
            return preds[0]
        # both bounds on the same value: anything-but style per candidate is not needed; AND over
        # "some candidate" is equivalent for single values, which is what numeric fields hold
        return And(tuple(preds))
    if kind == "anything-but":
        return _anything_but(ctx, field, arg)
    raise ctx.err(field, f"unknown matcher `{kind}`", m)


def _anything_but(ctx: _Ctx, field: str, arg: Any) -> Node:
    values = arg if isinstance(arg, list) else [arg]
    if isinstance(arg, dict):
        (kind, inner), = arg.items() if len(arg) == 1 else (("?", None),)
        if kind in ("prefix", "suffix"):
            glob, cased = _affix(ctx, field, kind, inner)
            return Pred(field, "like", glob, cased=cased, negate_each=True)
        if kind == "equals-ignore-case":
            items = inner if isinstance(inner, list) else [inner]
            return And(tuple(Pred(field, "eq", str(i), negate_each=True) for i in items))
        if kind == "wildcard":
            items = inner if isinstance(inner, list) else [inner]
            return And(tuple(Pred(field, "like", _wildcard(ctx, field, i), cased=True, negate_each=True)
                             for i in items))
        raise ctx.err(field, "anything-but takes values, prefix, suffix, equals-ignore-case or wildcard", arg)
    # "some value of the field is none of these": a single value must differ from each
    preds = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            preds.append(Pred(field, "num", ("=", float(v)), negate_each=True))
        else:
            preds.append(Pred(field, "eq", _scalar(v), cased=True, negate_each=True))
    return preds[0] if len(preds) == 1 else And(tuple(preds))


def _object(ctx: _Ctx, pattern: dict[str, Any], prefix: tuple[str, ...]) -> Node:
    items: list[Node] = []
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
                raise ctx.err(".".join(prefix) or "$or", "`$or` takes a list of patterns", value)
            items.append(Or(tuple(_object(ctx, v, prefix) for v in value)))
            continue
        path = (*prefix, key)
        if isinstance(value, dict):
            items.append(_object(ctx, value, path))
            continue
        field = _field(path)
        if field is None:
            raise ctx.err(".".join(path), f"EventBridge events have no field `{'.'.join(path)}` "
                          f"(envelope: {', '.join(_ENVELOPE)}, detail.*)")
        if not isinstance(value, list) or not value:
            raise ctx.err(".".join(path), "a pattern field takes a non-empty list of matchers", value)
        alts = tuple(_matcher(ctx, field, m) for m in value)
        items.append(alts[0] if len(alts) == 1 else Or(alts))
    if not items:
        raise ctx.err(".".join(prefix) or "pattern", "empty pattern")
    return items[0] if len(items) == 1 else And(tuple(items))


def _field(path: tuple[str, ...]) -> str | None:
    if path[0] == "detail" and len(path) > 1:
        return ".".join(path[1:])
    if len(path) == 1 and path[0] in _ENVELOPE:
        return _ENVELOPE[path[0]]
    return None


def compile_pattern(pattern: dict[str, Any], rule: str = "<pattern>", path: str = "") -> Node:
    """An EventBridge event pattern → predicate tree; raises RuleError on a bad pattern."""
    if not isinstance(pattern, dict):
        raise RuleError(rule, "an event pattern is a JSON object", path=path)
    return _object(_Ctx(rule, path), pattern, ())


def parse_eventbridge(doc: dict[str, Any], path: str = "") -> Rule:
    """A rule file ``{"id", "title", "level", "tags", "pattern": {...}}`` (or a bare pattern,
    named after the file) → :class:`Rule`."""
    from pathlib import Path

    name = Path(path).stem or "<pattern>"
    if "pattern" in doc:
        rid = str(doc.get("id") or name)
        pattern = doc["pattern"]
        meta = doc
    else:
        rid, pattern, meta = name, doc, {}
    node = compile_pattern(pattern, rid, path)
    level = str(meta.get("level", "medium")).lower()
    return Rule(id=rid, title=str(meta.get("title") or rid), kind="eventbridge", predicate=node,
                level=level, tags=tuple(meta.get("tags") or ()),
                dedup_by=tuple(meta.get("dedup_by") or (PRINCIPAL,)), path=path,
                description=str(meta.get("description") or ""))


def load_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RuleError(path.rsplit("/", 1)[-1], f"not valid JSON: {exc}", path=path) from None
