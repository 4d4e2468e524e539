"""Load a folder (or file) of rules of every kind, keeping every failure with its reason.

``*.yml``/``*.yaml``: a Sigma rule (has ``detection``) or a rate rule (``kind: rate``);
``*.json``: an EventBridge pattern rule. Files that fail to parse are returned as
:class:`Problem` s — never skipped silently. Duplicate rule ids are problems too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.detections.eventbridge import load_json, parse_eventbridge
from pipeline.detections.model import Problem, Rule
from pipeline.detections.rate import parse_rate
from pipeline.detections.sigma.parser import parse_sigma_text
from pipeline.errors import InputNotFoundError, RuleError

SUFFIXES = (".yml", ".yaml", ".json")
BUNDLED = Path(__file__).resolve().parent / "rules"


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


def parse_file(path: Path) -> list[Rule]:
    """Rules in one file; raises RuleError."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        doc = load_json(text, str(path))
        if not isinstance(doc, dict):
            raise RuleError(path.name, "an EventBridge rule file holds one JSON object", path=str(path))
        return [parse_eventbridge(doc, str(path))]
    import yaml

    try:
        first = next((d for d in yaml.safe_load_all(text) if d is not None), None)
    except yaml.YAMLError:
        first = None  # parse_sigma_text reports the YAML error with its line
    if isinstance(first, dict) and str(first.get("kind", "")).lower() == "rate":
        return [parse_rate(first, str(path))]
    return parse_sigma_text(text, str(path))


def load_rules(*locations: str | Path) -> RuleSet:
    """Every rule under the given folders/files (recursively, sorted by path)."""
    out = RuleSet()
    seen: dict[str, str] = {}
    for loc in locations:
        p = Path(loc)
        if not p.exists():
            raise InputNotFoundError(str(p), "no such rule file or folder")
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file())
        for f in files:
            out.files += 1
            try:
                rules = parse_file(f)
            except RuleError as exc:
                fld = f" (field `{exc.field}`)" if exc.field else ""
                out.problems.append(Problem(str(f), exc.rule, exc.reason + fld))
                continue
            for r in rules:
                if r.id in seen:
                    out.problems.append(Problem(str(f), r.id, f"duplicate rule id (also in {seen[r.id]})"))
                    continue
                seen[r.id] = str(f)
                out.rules.append(r)
    return out
