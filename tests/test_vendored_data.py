"""The real third-party test data is part of the repository: every test reaches it through the
``shared_data`` fixture (which points inside the repo), no test names a folder outside the repo,
and every vendored source keeps its licence beside it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO, TEST_DATA

TESTS = REPO / "tests"

# Ways a test could reach outside the repository for data: the old sibling folder, its environment
# variable, the repository's parent, or an absolute path into the developer's machine.
OUTSIDE = [
    re.compile(r"""["'/]\.\./shared"""),
    re.compile(r"""["']shared["']\s*[/,)]"""),
    re.compile(r"WATCHLAKE_SHARED_DATA"),
    re.compile(r"REPO\.parent\b"),
    re.compile(r"""["']/work/"""),
    re.compile(r"""["']/home/"""),
]

LICENCES = {"nab-dev": "LICENSE.txt", "nab-corpus": "LICENSE.txt", "stratus-cloudtrail": "LICENSE",
            "sigma-cloudtrail": "LICENSE"}


def _test_sources() -> list[Path]:
    me = Path(__file__).resolve()
    return [p for p in sorted(TESTS.rglob("*.py")) if p.resolve() != me and "data" not in p.relative_to(TESTS).parts]


def test_no_test_reads_data_outside_the_repository() -> None:
    offenders = []
    for path in _test_sources():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if any(rx.search(line) for rx in OUTSIDE):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_parents_index_stays_inside_the_repository() -> None:
    """``Path(__file__).parents[k]`` must not climb above the repository root."""
    for path in _test_sources():
        depth = len(path.relative_to(REPO).parts) - 1  # parents[depth] is REPO
        for m in re.finditer(r"parents\[(\d+)\]", path.read_text()):
            assert int(m.group(1)) <= depth, f"{path.relative_to(REPO)} climbs to parents[{m.group(1)}]"


def test_shared_data_fixture_points_inside_the_repository(shared_data: Path) -> None:
    assert shared_data.resolve() == TEST_DATA.resolve()
    assert shared_data.resolve().is_relative_to(REPO.resolve())


def test_every_vendored_source_has_its_licence_and_stays_small() -> None:
    folders = [p for p in TEST_DATA.iterdir() if p.is_dir()]
    assert {"nab-dev", "stratus-cloudtrail", "sigma-cloudtrail"} <= {p.name for p in folders}
    for folder in folders:
        assert folder.name in LICENCES, f"tests/data/{folder.name} has no known licence"
        assert (folder / LICENCES[folder.name]).is_file(), f"tests/data/{folder.name} lacks its licence file"
    total = sum(p.stat().st_size for p in TEST_DATA.rglob("*") if p.is_file())
    # the 41-series NAB corpus with Numenta's published scores (gzipped) is ~9 MB of it: the scorer
    # must reproduce HTM's numbers from it (tests/pipeline/anomaly); keep the rest small
    assert total < 12_000_000, f"vendored test data is {total} bytes"


def test_the_vendored_files_are_the_real_ones(shared_data: Path) -> None:
    """Counts published in tests/data/README.md (and the upstream sources): 35 detonation files with
    310 events, 57 + 8 Sigma rules, NAB rows per series."""
    import json

    logs = sorted((shared_data / "stratus-cloudtrail" / "detonation-logs").glob("*.json"))
    assert len(logs) == 35
    assert sum(len(json.loads(p.read_text())) for p in logs) == 310
    rules = shared_data / "sigma-cloudtrail"
    assert len(list((rules / "rules").rglob("*.yml"))) == 57
    assert len(list((rules / "unsupported").rglob("*.yml"))) == 8
    rows = {p.name: len(p.read_text().splitlines()) - 1 for p in (shared_data / "nab-dev" / "data").glob("*.csv")}
    assert rows == {"ec2_request_latency_system_failure.csv": 4032, "cpu_utilization_asg_misconfiguration.csv": 18050}
