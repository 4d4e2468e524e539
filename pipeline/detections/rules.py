"""Load a folder (or file) of rules of every kind, keeping every failure with its reason.

``*.yml``/``*.yaml``: a Sigma rule (has ``detection``) or a rate rule (``kind: rate``);
``*.json``: an EventBridge pattern rule. Files that fail to parse are returned as
:class:`Problem` s — never skipped silently. Duplicate rule ids are problems too.

A folder may hold a ``watchlake-tuning.yml`` that tunes rules without editing them (third-party
rules stay byte-identical)::

    disable:                       # listed by `watchlake rules check` with the reason
      - {id: 0a5177f4-…, reason: "compares with a literal string; superseded by …"}
    override:                      # any of: level, dedup_by, dedup_window, threshold
      f305fd62-…: {dedup_window: 24h}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.detections.eventbridge import load_json, parse_eventbridge
from pipeline.detections.model import LEVELS, Problem, Rule
from pipeline.detections.rate import parse_rate
from pipeline.detections.sigma.parser import parse_sigma_text
from pipeline.errors import InputError, InputNotFoundError, RuleError
from pipeline.timeutil import parse_duration

SUFFIXES = (".yml", ".yaml", ".json")
TUNING = "watchlake-tuning.yml"
BUNDLED = Path(__file__).resolve().parent / "rules"


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    disabled: list[Problem] = field(default_factory=list)
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


def _tuning(folder: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    path = folder / TUNING
    if not path.is_file():
        return {}, {}
    import yaml

    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RuleError(TUNING, f"not valid YAML: {exc}", path=str(path)) from None
    if not isinstance(doc, dict):
        raise RuleError(TUNING, "must be a mapping with `disable` and/or `override`", path=str(path))
    disable = {}
    for item in doc.get("disable") or []:
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise RuleError(TUNING, "each `disable` entry needs `id` and `reason`", path=str(path), value=item)
        disable[str(item["id"])] = str(item["reason"])
    override = doc.get("override") or {}
    if not isinstance(override, dict) or not all(isinstance(v, dict) for v in override.values()):
        raise RuleError(TUNING, "`override` maps rule ids to settings", path=str(path), field="override")
    return disable, {str(k): v for k, v in override.items()}


def _apply(rule: Rule, settings: dict[str, Any], path: str) -> None:
    for key, value in settings.items():
        if key == "level" and str(value).lower() in LEVELS:
            rule.level = str(value).lower()
        elif key == "dedup_by":
            rule.dedup_by = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
        elif key == "dedup_window":
            try:
                rule.dedup_window = parse_duration(value)
            except InputError:
                raise RuleError(rule.id, "not a duration", path=path, field="override.dedup_window",
                                value=value) from None
        elif key == "threshold" and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            rule.threshold = value
        else:
            raise RuleError(rule.id, f"cannot override `{key}` with this value", path=path, field=key, value=value)


def load_rules(*locations: str | Path) -> RuleSet:
    """Every rule under the given folders/files (recursively, sorted by path), tuned by each
    folder's ``watchlake-tuning.yml``."""
    out = RuleSet()
    seen: dict[str, str] = {}
    for loc in locations:
        p = Path(loc)
        if not p.exists():
            raise InputNotFoundError(str(p), "no such rule file or folder")
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()
                                               and f.name != TUNING)
        disable, override = _tuning(p) if p.is_dir() else ({}, {})
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
                if r.id in disable:
                    out.disabled.append(Problem(str(f), r.id, disable[r.id]))
                    continue
                if r.id in override:
                    try:
                        _apply(r, override[r.id], str(p / TUNING))
                    except RuleError as exc:
                        out.problems.append(Problem(str(p / TUNING), r.id, exc.reason))
                        continue
                out.rules.append(r)
    return out
