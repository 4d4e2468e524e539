"""Static checks of rules: names that do not exist in CloudTrail, fields CloudTrail records never
have, and selections that contradict each other. Each finding is a reason a rule may never fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.detections import catalog as cat
from pipeline.detections.fields import resolve
from pipeline.detections.ir import And, Node, Not, Or, Pred, glob_text, leaves, required_values
from pipeline.detections.model import Rule
from pipeline.schemas import CLOUDTRAIL, PREFIX

RECORD_FIELDS = frozenset(f.name for f in CLOUDTRAIL if not f.name.startswith(PREFIX))


def _positive_leaves(node: Node) -> list[Pred]:
    if isinstance(node, Not):
        return []
    if isinstance(node, Pred):
        return [node]
    if isinstance(node, (And, Or)):
        return [p for i in node.items for p in _positive_leaves(i)]
    return []


def _required_leaves(node: Node) -> list[Pred]:
    """Leaves every match must satisfy (reached from the root through ANDs only)."""
    if isinstance(node, Pred):
        return [node]
    if isinstance(node, And):
        return [p for i in node.items for p in _required_leaves(i)]
    return []


def _spelling(rule: Rule, path: str) -> dict[str, str]:
    return {p.arg.lower(): p.arg for p in leaves(rule.predicate) if p.path == path and p.op == "eq"}


@dataclass
class Coverage:
    """``never``: reasons the rule can never fire; ``dead``: alternatives of the rule that can
    never match (the rule may still fire through its other alternatives)."""

    never: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)


def coverage(rule: Rule, use_catalog: bool = True) -> Coverage:
    """Static coverage of one rule (see :class:`Coverage`)."""
    out = Coverage()
    required, contradictions = required_values(rule.predicate)
    out.never += [f"contradiction: {c}" for c in contradictions]
    must = {id(p) for p in _required_leaves(rule.predicate)}
    for p in _positive_leaves(rule.predicate):
        if p.op == "absent" or p.path.startswith("@"):
            continue
        top = p.path.split(".")[0]
        access = resolve(p.path)
        reason = (f"field `{p.path}` cannot exist: {access.reason}" if access.kind == "none" else
                  f"field `{p.path}`: CloudTrail records have no top-level field `{top}`"
                  if top not in RECORD_FIELDS else None)
        if reason:
            (out.never if id(p) in must else out.dead).append(reason)
    for p in leaves(rule.predicate):
        if p.op == "fieldref" and resolve(p.arg[0]).kind == "none":
            out.dead.append(f"fieldref `{p.arg[0]}` cannot exist")
    for p in leaves(rule.predicate):
        text = glob_text(tuple(t for t in p.arg if t[0] == "lit")) if p.op == "like" else \
            p.arg if p.op == "eq" else ""
        head = text.split(".")[0]
        if "." in text and " " not in text and (head in RECORD_FIELDS and head != text) and \
                resolve(text).kind != "none" and head in ("requestParameters", "responseElements",
                                                          "additionalEventData", "userIdentity"):
            out.suspicious.append(f"`{p.path}` is compared with the text `{text}`, which is a field path "
                                  f"(missing |fieldref?)")
    if use_catalog:
        _catalog_checks(rule, required, out)
    out.never, out.dead = list(dict.fromkeys(out.never)), list(dict.fromkeys(out.dead))
    return out


def _catalog_checks(rule: Rule, required: dict[str, set[str]], out: Coverage) -> None:
    catalog = cat.catalog()
    known_sources = {s.lower(): s for s in catalog}
    src_spell, name_spell = _spelling(rule, "eventSource"), _spelling(rule, "eventName")
    sources = required.get("eventSource", set())
    bad_sources = [s for s in sorted(sources) if s not in known_sources]
    for s in bad_sources:
        msg = f"eventSource `{src_spell.get(s, s)}` is not a CloudTrail event source (not in botocore's models)"
        (out.never if len(bad_sources) == len(sources) else out.dead).append(msg)
    names = required.get("eventName", set())
    lower = cat.catalog_lower()
    pool = [lower[known_sources[s]] for s in sources if s in known_sources] or list(lower.values())
    bad_names = [n for n in sorted(names) if not any(cat.known_name(p, n) for p in pool)]
    for n in bad_names:
        where = cat.sources_with(n)
        hint = f" (it is an operation of {', '.join(where)})" if where else ""
        src = f" of {', '.join(src_spell.get(s, s) for s in sorted(sources))}" if sources else ""
        msg = f"eventName `{name_spell.get(n, n)}` is not an operation{src}{hint}"
        (out.never if len(bad_names) == len(names) else out.dead).append(msg)


def never_fire_reasons(rule: Rule, use_catalog: bool = True) -> list[str]:
    """Every static problem of ``rule``: reasons it never fires, then dead alternatives."""
    c = coverage(rule, use_catalog)
    return c.never + c.dead
