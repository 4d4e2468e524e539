"""Static checks of rules: names that do not exist in CloudTrail, fields CloudTrail records never
have, and selections that contradict each other. Each finding is a reason a rule may never fire.
"""

from __future__ import annotations

from pipeline.detections import catalog as cat
from pipeline.detections.fields import resolve
from pipeline.detections.ir import And, Node, Not, Or, Pred, leaves, required_values
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


def never_fire_reasons(rule: Rule, use_catalog: bool = True) -> list[str]:
    """Why ``rule`` can never match a CloudTrail event (empty when nothing is wrong)."""
    reasons: list[str] = []
    required, contradictions = required_values(rule.predicate)
    reasons += [f"contradiction: {c}" for c in contradictions]
    for p in _positive_leaves(rule.predicate):
        if p.op == "absent" or p.path.startswith("@"):
            continue
        top = p.path.split(".")[0]
        access = resolve(p.path)
        if access.kind == "none":
            reasons.append(f"field `{p.path}` cannot exist: {access.reason}")
        elif top not in RECORD_FIELDS:
            reasons.append(f"field `{p.path}`: CloudTrail records have no top-level field `{top}`")
    for p in leaves(rule.predicate):
        if p.op == "fieldref" and resolve(p.arg[0]).kind == "none":
            reasons.append(f"fieldref `{p.arg[0]}` cannot exist")
    if not use_catalog:
        return list(dict.fromkeys(reasons))
    catalog = cat.catalog()
    sources = {s for s in required.get("eventSource", set())}
    known_sources = {s.lower(): s for s in catalog}
    for s in sorted(sources):
        if s not in known_sources:
            reasons.append(f"eventSource `{s}` is not a CloudTrail event source (not in botocore's models)")
    names = required.get("eventName", set())
    for n in sorted(names):
        pool = [catalog[known_sources[s]] for s in sources if s in known_sources] or list(catalog.values())
        if not any(cat.known_name(frozenset(x.lower() for x in names_), n) for names_ in pool):
            where = cat.sources_with(n)
            hint = f" (it is an operation of {', '.join(where)})" if where else ""
            src = f" of {', '.join(sorted(sources))}" if sources else ""
            reasons.append(f"eventName `{n}` is not an operation{src}{hint}")
    return list(dict.fromkeys(reasons))
