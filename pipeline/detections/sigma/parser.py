"""Parse SigmaHQ YAML rules (``logsource: product aws, service cloudtrail``) into rules.

Supported: selections as maps (fields ANDed) or lists of maps (ORed); a list of values ORs them
(``|all`` ANDs them); ``null`` means the field is absent; ``*``/``?`` wildcards with ``\\``
escapes; modifiers ``contains``, ``startswith``, ``endswith``, ``all``, ``re`` (with ``i``,
``m``, ``s``), ``cidr``, ``fieldref`` (alone or with contains/startswith/endswith), ``exists``,
``cased``, ``gt``/``gte``/``lt``/``lte``; conditions (string or list) per
:mod:`pipeline.detections.sigma.condition`, including ``| count([f]) [by g] <op> N`` with a
``timeframe``. Optional watchlake keys (``watchlake: {dedup_by, dedup_window, threshold}``)
tune findings. Anything else raises :class:`RuleError` naming the file, rule and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.detections.ir import (
    And,
    Glob,
    Node,
    Not,
    Or,
    Pred,
    glob_text,
    has_wildcard,
    sigma_glob,
)
from pipeline.detections.model import DEFAULT_DEDUP_WINDOW, LEVELS, PRINCIPAL, Aggregation, Rule
from pipeline.detections.sigma.condition import ConditionError, parse_condition, split_aggregation
from pipeline.errors import InputError, RuleError
from pipeline.timeutil import parse_duration

_UNSUPPORTED_MODS = {"windash", "base64", "base64offset", "wide", "utf16", "utf16le", "utf16be", "expand"}
_KNOWN_MODS = {"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr", "fieldref",
               "exists", "cased", "gt", "gte", "lt", "lte"}
_NUM = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value_pred(field: str, mods: list[str], value: Any, rule: str, path: str) -> Node:
    def err(reason: str) -> RuleError:
        return RuleError(rule, reason, path=path, field="|".join([field, *mods]), value=value)

    cased = "cased" in mods
    if value is None:
        if [m for m in mods if m not in ("all", "cased")]:
            raise err("null can only be used without modifiers")
        return Pred(field, "absent")
    if isinstance(value, (dict, list)):
        raise err("a value must be a scalar")
    if "exists" in mods:
        if not isinstance(value, bool):
            raise err("exists takes true or false")
        p = Pred(field, "absent")
        return Not(p) if value else p
    if "fieldref" in mods:
        mode = next((m for m in ("contains", "startswith", "endswith") if m in mods), "eq")
        return Pred(field, "fieldref", (_text(value), mode), cased=cased)
    if "re" in mods:
        flags = "".join(f for f in "ims" if f in mods)
        return Pred(field, "re", (f"(?{flags})" if flags else "") + _text(value))
    if "cidr" in mods:
        import ipaddress

        try:
            ipaddress.ip_network(_text(value), strict=False)
        except ValueError:
            raise err("not a CIDR network") from None
        return Pred(field, "cidr", _text(value))
    num = [m for m in mods if m in _NUM]
    if num:
        try:
            return Pred(field, "num", (_NUM[num[0]], float(value)))
        except (TypeError, ValueError):
            raise err(f"{num[0]} needs a number") from None
    glob: Glob = sigma_glob(_text(value))
    if "contains" in mods:
        glob = (("any", ""), *glob, ("any", ""))
    elif "startswith" in mods:
        glob = (*glob, ("any", ""))
    elif "endswith" in mods:
        glob = (("any", ""), *glob)
    if has_wildcard(glob):
        return Pred(field, "like", glob, cased=cased)
    return Pred(field, "eq", glob_text(glob), cased=cased)


def _field_node(key: str, values: Any, rule: str, path: str) -> Node:
    field, *mods = str(key).split("|")
    mods = [m.lower() for m in mods]
    bad = [m for m in mods if m in _UNSUPPORTED_MODS]
    if bad:
        raise RuleError(rule, f"modifier `{bad[0]}` is not supported for CloudTrail", path=path, field=key)
    unknown = [m for m in mods if m not in _KNOWN_MODS]
    if unknown:
        raise RuleError(rule, f"unknown modifier `{unknown[0]}`", path=path, field=key)
    if not field:
        raise RuleError(rule, "keyword (full-text) search is not supported", path=path, field=key)
    items = values if isinstance(values, list) else [values]
    if not items:
        raise RuleError(rule, "empty list of values", path=path, field=key)
    nodes = tuple(_value_pred(field, mods, v, rule, path) for v in items)
    if len(nodes) == 1:
        return nodes[0]
    return And(nodes) if "all" in mods else Or(nodes)


def _selection(name: str, body: Any, rule: str, path: str) -> Node:
    if isinstance(body, dict):
        if not body:
            raise RuleError(rule, f"selection `{name}` is empty", path=path)
        nodes = tuple(_field_node(k, v, rule, path) for k, v in body.items())
        return nodes[0] if len(nodes) == 1 else And(nodes)
    if isinstance(body, list) and body and all(isinstance(b, dict) for b in body):
        alts = tuple(_selection(name, b, rule, path) for b in body)
        return alts[0] if len(alts) == 1 else Or(alts)
    raise RuleError(rule, f"selection `{name}` is a keyword list; full-text search is not supported",
                    path=path)


def _duration(value: Any, rule: str, path: str, field: str) -> int:
    try:
        seconds = parse_duration(value)
    except InputError:
        raise RuleError(rule, "not a duration (e.g. 30s, 10m, 1h)", path=path, field=field, value=value) from None
    if seconds <= 0:
        raise RuleError(rule, "must be positive", path=path, field=field, value=value)
    return seconds


def parse_rule(doc: Any, path: str = "") -> Rule:
    """One Sigma rule document → :class:`Rule`; raises :class:`RuleError` with the reason."""
    name = Path(path).name if path else "<rule>"
    if not isinstance(doc, dict):
        raise RuleError(name, "a Sigma rule is a YAML mapping", path=path)
    rid = str(doc.get("id") or "")
    label = rid or name
    if "correlation" in doc:
        raise RuleError(label, "Sigma v2 correlation documents are not supported; use the legacy "
                        "`| count() by … > N` condition with `timeframe`", path=path)
    if not rid:
        raise RuleError(name, "missing `id`", path=path, field="id")
    logsource = doc.get("logsource") or {}
    if str(logsource.get("product", "")).lower() != "aws" or str(logsource.get("service", "")).lower() != "cloudtrail":
        raise RuleError(label, "logsource is not product aws / service cloudtrail", path=path,
                        field="logsource", value=logsource)
    level = str(doc.get("level") or "medium").lower()
    if level not in LEVELS:
        raise RuleError(label, f"level must be one of {', '.join(LEVELS)}", path=path, field="level", value=level)
    detection = doc.get("detection")
    if not isinstance(detection, dict):
        raise RuleError(label, "missing `detection`", path=path, field="detection")
    condition = detection.get("condition")
    timeframe = detection.get("timeframe")
    selections = {k: _selection(k, v, label, path) for k, v in detection.items()
                  if k not in ("condition", "timeframe")}
    if not condition:
        raise RuleError(label, "missing `condition`", path=path, field="detection.condition")
    conds = condition if isinstance(condition, list) else [condition]
    trees: list[Node] = []
    agg = None
    used: set[str] = set()
    warnings: list[str] = []
    try:
        for c in conds:
            expr, spec = split_aggregation(str(c))
            node, names = parse_condition(expr, selections)
            used |= names
            trees.append(node)
            if spec is not None:
                if len(conds) > 1:
                    raise ConditionError("an aggregation cannot be combined with other conditions")
                if timeframe is None:
                    raise ConditionError("an aggregation needs `timeframe`")
                agg = Aggregation(spec.group_by, spec.op, spec.value,
                                  _duration(timeframe, label, path, "detection.timeframe"), spec.field)
    except ConditionError as exc:
        raise RuleError(label, str(exc), path=path, field="detection.condition", value=condition) from None
    if timeframe is not None and agg is None:
        warnings.append("`timeframe` is set but the condition has no aggregation; it is evaluated per event")
    unused = sorted(set(selections) - used)
    if unused:
        warnings.append(f"selection(s) not used by the condition: {', '.join(unused)}")
    ext = doc.get("watchlake") or {}
    if not isinstance(ext, dict):
        raise RuleError(label, "must be a mapping", path=path, field="watchlake")
    dedup_by = ext.get("dedup_by", list(agg.group_by) if agg else [PRINCIPAL])
    dedup_window = (_duration(ext["dedup_window"], label, path, "watchlake.dedup_window")
                    if "dedup_window" in ext else (agg.timeframe if agg else DEFAULT_DEDUP_WINDOW))
    threshold = ext.get("threshold", 1)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise RuleError(label, "threshold must be an integer ≥ 1", path=path, field="watchlake.threshold",
                        value=threshold)
    tags = tuple(str(t) for t in (doc.get("tags") or []))
    return Rule(
        id=rid, title=str(doc.get("title") or rid), kind="sigma",
        predicate=trees[0] if len(trees) == 1 else Or(tuple(trees)),
        level=level, tags=tags, aggregation=agg,
        dedup_by=tuple(str(d) for d in (dedup_by if isinstance(dedup_by, list) else [dedup_by])),
        dedup_window=dedup_window, threshold=threshold, path=path,
        description=str(doc.get("description") or "").strip(), warnings=warnings,
    )


def parse_sigma_text(text: str, path: str = "") -> list[Rule]:
    """Every rule document in a YAML file's text (``---``-separated documents allowed)."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RuleError(Path(path).name or "<rule>", f"not valid YAML{where}: "
                        f"{getattr(exc, 'problem', None) or exc}", path=path) from None
    if not docs:
        raise RuleError(Path(path).name or "<rule>", "empty file", path=path)
    return [parse_rule(d, path) for d in docs]
