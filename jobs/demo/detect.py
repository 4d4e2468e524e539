"""Demo stage "detections": run the bundled rules over the demo lake's CloudTrail events.

Prints the findings by rule and severity and, for every labelled attack scenario in
``sample_data/labels/`` (files whose name contains ``cloudtrail``), whether a finding covers one
of its events; findings that cover no labelled attack event are counted as false positives.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.detect_job import DetectResult, run_retro
from pipeline.detections.findings import Finding
from pipeline.detections.rules import BUNDLED, RuleSet, load_rules

if TYPE_CHECKING:
    from jobs.demo import Demo


def _ids(obj: Any) -> set[str]:
    if isinstance(obj, dict):
        for key in ("event_ids", "eventIDs", "eventIds", "events"):
            if key in obj:
                return _ids(obj[key])
        return {str(obj["eventID"])} if "eventID" in obj else set()
    if isinstance(obj, list):
        return {x for x in obj if isinstance(x, str)} | \
            {i for x in obj if isinstance(x, dict) for i in _ids(x)}
    return set()


def load_scenarios(labels_dir: Path) -> dict[str, set[str]]:
    """``{scenario: eventIDs}`` from label files; accepts a list of ``{"scenario"|"name", "event_ids"}``
    objects or a mapping ``scenario → event ids`` (list or object with ``event_ids``)."""
    out: dict[str, set[str]] = {}
    if not labels_dir.is_dir():
        return out
    for f in sorted(labels_dir.glob("*cloudtrail*.json")):
        doc = json.loads(f.read_text())
        if isinstance(doc, dict) and isinstance(doc.get("scenarios"), (list, dict)):
            doc = doc["scenarios"]
        items = doc.items() if isinstance(doc, dict) else (
            (str(x.get("scenario") or x.get("name") or x.get("id")), x) for x in doc if isinstance(x, dict))
        for name, body in items:
            out.setdefault(str(name), set()).update(_ids(body))
    return {k: v for k, v in out.items() if v}


def scenario_coverage(findings: list[Finding], scenarios: dict[str, set[str]]) -> tuple[dict[str, list[str]], int]:
    """Rules that found each scenario, and the number of findings that cover no attack event."""
    attack_ids = set().union(*scenarios.values()) if scenarios else set()
    found: dict[str, list[str]] = {name: [] for name in scenarios}
    false_pos = 0
    for f in findings:
        ids = set(f.event_ids)
        hit = False
        for name, sids in scenarios.items():
            if ids & sids:
                hit = True
                if f.rule.title not in found[name]:
                    found[name].append(f.rule.title)
        if not hit and not ids & attack_ids:
            false_pos += 1
    return found, false_pos


@dataclass
class DetectStage:
    """The ``detections`` stage: the rule set, the retroactive run, and for each labelled scenario
    the titles of the rules that found it (``false_positives``: findings that cover no attack)."""

    ruleset: RuleSet
    result: DetectResult
    found: dict[str, list[str]]
    false_positives: int

    def lines(self) -> dict[str, object]:
        ruleset, res, found = self.ruleset, self.result, self.found
        levels = Counter(f.rule.level for f in res.findings)
        return {
            "rules": f"{len(ruleset.rules)} ({len(ruleset.problems)} unusable, {len(ruleset.disabled)} disabled)",
            "events scanned": f"{res.events:,}",
            "findings": f"{len(res.findings)} (" + ", ".join(
                f"{levels[lv]} {lv}" for lv in ("critical", "high", "medium", "low") if levels[lv]) + ")",
            "scenarios found": f"{sum(1 for r in found.values() if r)}/{len(found)}" if found else "no labels",
            "findings outside labelled attacks": self.false_positives if found else "n/a",
        }


def detect_stage(demo: Demo) -> DetectStage:
    ruleset = load_rules(BUNDLED)
    res = run_retro(demo.lake, ruleset.rules)
    demo.state["findings"] = res.findings
    if not demo.quiet:
        per_rule = Counter((f.rule.level, f.rule.title) for f in res.findings)
        order = {lv: i for i, lv in enumerate(("critical", "high", "medium", "low", "informational"))}
        for (level, title), n in sorted(per_rule.items(), key=lambda kv: (order[kv[0][0]], -kv[1], kv[0][1])):
            print(f"  {level:<8} {n:>5}  {title}")
    scenarios = load_scenarios(demo.sample_dir / "labels")
    found, false_pos = scenario_coverage(res.findings, scenarios)
    if not demo.quiet:
        for name, rules in found.items():
            print(f"  scenario {name}: {'FOUND by ' + '; '.join(rules) if rules else 'MISSED'}")
    return DetectStage(ruleset, res, found, false_pos)
