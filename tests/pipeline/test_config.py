from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_table_where_a_number_belongs_is_a_config_error(tmp_path):
    # `buffer_mib = [1]` stopped every command with "unexpected error: TypeError"
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[loader]\nbuffer_mib = [1]\n")
    with pytest.raises(ConfigError, match="expected int") as err:
        load_settings(wrong, env={})
    assert err.value.key == "loader.buffer_mib"


def _known_keys() -> list[tuple[str, str]]:
    import dataclasses
    import typing

    from pipeline.config import Settings

    s = Settings()
    return [(f.name, key) for f in dataclasses.fields(Settings) if f.name != "source"
            for key in typing.get_type_hints(type(getattr(s, f.name)))]


TOML_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=2),
    max_leaves=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_known_keys()), TOML_VALUES), max_size=3))
def test_any_value_of_any_known_key_loads_or_names_the_key(tmp_path_factory, entries):
    empty = tmp_path_factory.mktemp("config") / "empty.toml"
    empty.write_text("")
    overrides = {f"{section}.{key}": value for (section, key), value in entries}  # coerced as TOML values are
    try:
        load_settings(empty, env={}, overrides=overrides)
    except ConfigError as e:
        assert "\n" not in str(e) and e.key
