from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def stratus_events(shared_data: Path) -> list[dict[str, Any]]:
    """The 310 real Stratus Red Team CloudTrail events, in file order."""
    files = sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json"))
    return [e for f in files for e in json.loads(f.read_text())]
