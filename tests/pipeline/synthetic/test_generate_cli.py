"""``watchlake generate``: every kind writes readable data and labels; bad arguments are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.cli import main
from pipeline.sources import read


def test_generate_cloudtrail_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ct"
    rc = main(["generate", "cloudtrail", "--out", str(out), "--seed", "4", "--start", "2026-11-02T00:00:00Z",
               "--duration", "2h", "--rate", "1", "--scenarios", "cloudtrail_stop_logging"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "== generated cloudtrail" in err and "events" in err
    labels = json.loads((out / "_labels.json").read_text())
    assert [lb["scenario"] for lb in labels] == ["cloudtrail_stop_logging"]
    batches = list(read("cloudtrail", out))  # the labels file is not taken for data
    assert not any(b.rejections for b in batches)
    rows = sum(b.table.num_rows for b in batches)
    # 2 h at a weekly mean of 1 event/s, Monday 00–02 UTC: machines (57/79 of the weight) run at
    # ~0.72× their mean at night, humans (22/79) at 0.03/0.33 → 7200·(0.72·0.72 + 0.28·0.09) ≈ 3,900
    assert 3000 < rows < 5000


def test_generate_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "cloudtrail", "--out", str(tmp_path), "--scenarios", "nope"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert main(["generate", "metrics", "--out", str(tmp_path), "--duration", "soon"]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert main(["generate", "cloudtrail", "--out", str(tmp_path), "--window", "7m"]) == 2
    assert "window must divide one hour" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["metrics", "logs", "records"])
def test_generate_other_kinds_cli(tmp_path: Path, kind: str) -> None:
    out = tmp_path / kind
    assert main(["-q", "generate", kind, "--out", str(out), "--seed", "2", "--duration", "1h"]) == 0
    assert any(p.is_file() for p in out.rglob("*"))
    assert (out / "_labels.json").exists()
