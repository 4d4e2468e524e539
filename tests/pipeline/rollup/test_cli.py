"""``watchlake rollup`` and ``watchlake retention apply`` end to end through the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.cli import main
from tests.pipeline.rollup.gen import T0, point, write_metrics


def test_rollup_then_retention(lake, capsys):
    write_metrics(lake, [point(T0 + timedelta(days=d, minutes=m), float(m)) for d in range(20)
                         for m in range(0, 60, 10)])
    assert main(["--lake", lake.root, "rollup"]) == 0
    err = capsys.readouterr().err
    assert "== rollup" in err and "metrics→1m" in err and "20 partitions built" in err
    assert main(["--lake", lake.root, "rollup"]) == 0
    assert "0 partitions built, 20 unchanged" in capsys.readouterr().err
    assert main(["--lake", lake.root, "retention", "apply", "--dry-run", "-v"]) == 0
    out, err = capsys.readouterr()
    assert "would drop 4 partitions" in err and "raw/metrics/dt=2026-11-05/hour=00" in out
    assert main(["--lake", lake.root, "retention", "apply"]) == 0
    assert "dropped 4 partitions" in capsys.readouterr().err
    assert not lake.exists("rollups/metrics_1m/dt=2026-11-05")
    assert lake.exists("rollups/metrics_5m/dt=2026-11-05")


def test_unknown_engine_is_a_usage_error(lake, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--lake", lake.root, "rollup", "--engine", "spark"])
    assert exc.value.code == 2 and "invalid choice: 'spark'" in capsys.readouterr().err
