"""Features behind an extra ([flink], [dashboards], [s3]) fail with one line naming the extra when it
is not installed; the rest of the command works without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import MissingExtraError, require

REPO = Path(__file__).resolve().parents[3]


def _without(modules: list[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a process where ``modules`` cannot be imported (as if never installed)."""
    code = ("import sys\n"
            f"for m in {modules!r}: sys.modules[m] = None\n"
            "from jobs.cli import main\n"
            f"sys.exit(main({argv!r}))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_require_names_the_extra():
    assert require("json", "x", "y").dumps(1) == "1"
    with pytest.raises(MissingExtraError, match=r"pip install 'watchlake\[flink\]'") as e:
        require("surely_not_a_module_here", "flink", "the Flink engine")
    assert e.value.module == "surely_not_a_module_here" and e.value.extra == "flink"


@pytest.mark.parametrize(("blocked", "argv", "extra"), [
    (["pyflink"], ["rollup", "--engine", "flink"], "flink"),
    (["pyflink"], ["anomalies", "detect", "--engine", "flink"], "flink"),
    (["streamlit"], ["dashboard", "--port", "8599"], "dashboards"),
    (["boto3"], ["ingest", "cloudtrail", "s3://bucket/prefix"], "s3"),
])
def test_missing_extra_is_one_clear_line(tmp_path, blocked, argv, extra):
    res = _without(blocked, ["--lake", str(tmp_path / "lake"), *argv], tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("watchlake: error: ") and f"watchlake[{extra}]" in lines[-1]
    assert "Traceback" not in res.stderr


def test_core_commands_work_without_any_extra(tmp_path):
    res = _without(["pyflink", "streamlit", "plotly", "boto3"],
                   ["--lake", str(tmp_path / "lake"), "ingest", "cloudtrail",
                    str(REPO / "sample_data" / "cloudtrail"), "--workers", "1"], tmp_path)
    assert res.returncode == 0, res.stderr
    import duckdb

    n = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)",
                                 [str(tmp_path / "lake" / "raw" / "cloudtrail" / "**" / "*.parquet")]).fetchone()
    assert n is not None and n[0] > 10_000
