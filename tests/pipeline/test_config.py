from __future__ import annotations

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError


def test_defaults_follow_cloudwatch_and_firehose():
    s = load_settings(env={})
    assert (s.tiers.m1_days, s.tiers.m5_days, s.tiers.h1_days) == (15, 63, 455)
    assert s.lake.root == "./lake" and s.source is None


def test_file_then_env_then_overrides(tmp_path):
    cfg = tmp_path / "w.toml"
    cfg.write_text('[lake]\nroot = "/data/lake"\n[loader]\nbuffer_mib = 16\nbuffer_seconds = 60\n')
    s = load_settings(cfg, env={"WATCHLAKE__LOADER__BUFFER_SECONDS": "30"},
                      overrides={"lake.root": "s3://b/p"})
    assert s.loader.buffer_mib == 16 and s.loader.buffer_seconds == 30
    assert s.lake.root == "s3://b/p" and s.source == str(cfg)


def test_default_file_is_read_from_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "watchlake.toml").write_text("[query]\nmax_rows = 5\n")
    assert load_settings(env={}).query.max_rows == 5


@pytest.mark.parametrize("env,key", [
    ({"WATCHLAKE__LOADER__BUFFER_MIB": "500"}, "loader.buffer_mib"),
    ({"WATCHLAKE__LOADER__BUFFER_MIB": "lots"}, "loader.buffer_mib"),
    ({"WATCHLAKE__LOADER__NOPE": "1"}, "loader.nope"),
    ({"WATCHLAKE__NOPE__X": "1"}, "nope.x"),
    ({"WATCHLAKE__TIERS__CLOCK": "sundial"}, "tiers.clock"),
    ({"WATCHLAKE__LAKE": "x"}, "WATCHLAKE__LAKE"),
])
def test_bad_values_name_the_key(env, key):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert err.value.key == key
    assert key in str(err.value)


def test_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[loader\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[loader]\nbuffer_mib = true\n")
    with pytest.raises(ConfigError) as err:
        load_settings(wrong, env={})
    assert err.value.key == "loader.buffer_mib" and err.value.source == str(wrong)
