from __future__ import annotations

import subprocess
import sys

from jobs.cli import main


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "config" in out and "demo" in out


def test_bad_config_value_is_one_line_naming_the_key(capsys, monkeypatch):
    monkeypatch.setenv("WATCHLAKE__LOADER__BUFFER_SECONDS", "901")
    assert main(["config"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["watchlake: error: config `loader.buffer_seconds` = 901: must be between 0 and 900"]


def test_missing_config_file(capsys):
    assert main(["--config", "missing.toml", "config"]) == 2
    assert "missing.toml" in capsys.readouterr().err


def test_lake_flag_overrides_config(capsys, tmp_path):
    assert main(["--lake", str(tmp_path / "l"), "config", "--format", "json"]) == 0
    assert str(tmp_path / "l") in capsys.readouterr().out


def test_console_script_imports_no_heavy_modules():
    code = ("import sys; from jobs.cli import build_parser; build_parser(); "
            "heavy = {'pyflink', 'streamlit', 'duckdb', 'polars', 'boto3'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_named_command_registers_only_its_module():
    """`watchlake metrics get …` imports jobs.cli.cmd_metrics and no other command module; with
    global options before it, with help, or with no command, every command is registered."""
    from jobs.cli import build_parser

    code = ("import sys; from jobs.cli import build_parser; "
            "p = build_parser(['--lake', 'x', '-q', 'metrics', 'get', '--namespace', 'n', '--metric', 'm']); "
            "print(sorted(m for m in sys.modules if m.startswith('jobs.cli.cmd_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['jobs.cli.cmd_metrics']"
    full = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {"metrics", "detect", "sample-data", "rollup"} <= full
    for argv in (["--help"], ["sample-data", "--help"], ["--lake", "metrics"]):
        assert set(build_parser(argv)._subparsers._group_actions[0].choices) == full  # type: ignore[union-attr]
    assert main(["--lake", "metrics", "config", "--format", "json"]) == 0  # "metrics" is the lake here
