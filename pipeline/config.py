"""Typed, layered configuration: defaults < ``watchlake.toml`` < ``WATCHLAKE__SECTION__KEY`` env.

``load_settings`` validates everything at start-up and raises :class:`ConfigError` naming the
bad key (``loader.buffer_mib``), its value and where it came from. There is no global mutable
configuration: callers pass the :class:`Settings` they loaded.

Each pipeline area owns one section dataclass below; add fields there with a default and a
check in its ``validate``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

ENV_PREFIX = "WATCHLAKE__"
DEFAULT_CONFIG_FILE = "watchlake.toml"


def _range(key: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}", value)


@dataclass
class LakeSettings:
    """Where the lake lives: a local path or ``s3://bucket/prefix``."""

    root: str = "./lake"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    def validate(self) -> None:
        if not self.root.strip():
            raise ConfigError("lake.root", "must not be empty", self.root)


@dataclass
class StreamSettings:
    """The local Kinesis-like stream store."""

    root: str = "./streams"
    retention_hours: int = 24

    def validate(self) -> None:
        _range("stream.retention_hours", self.retention_hours, 24, 8760)


@dataclass
class LoaderSettings:
    """Firehose-style buffering hints; a buffer flushes when either is reached."""

    buffer_mib: int = 64
    buffer_seconds: int = 300
    max_batch_records: int = 1_000_000
    max_buffered_mib: int = 512  # all partitions' buffers together; the fullest flush first beyond it

    def validate(self) -> None:
        _range("loader.buffer_mib", self.buffer_mib, 1, 128)
        _range("loader.max_buffered_mib", self.max_buffered_mib, 1, 65536)
        _range("loader.buffer_seconds", self.buffer_seconds, 0, 900)
        _range("loader.max_batch_records", self.max_batch_records, 1, 10_000_000)


@dataclass
class TierSettings:
    """Metric tiers and retention (CloudWatch's defaults)."""

    raw_highres_hours: int = 3
    raw_days: int = 15
    m1_days: int = 15
    m5_days: int = 63
    h1_days: int = 455
    recompute_window_minutes: int = 120
    clock: str = "data"  # "data": retention is measured from the newest datapoint; "wall": from now
    percentiles: str = "*"  # namespace patterns whose rollups keep pNN sketches ("" = none)

    def validate(self) -> None:
        for name in ("raw_highres_hours", "raw_days", "m1_days", "m5_days", "h1_days"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"tiers.{name}", "must be positive", getattr(self, name))
        if self.recompute_window_minutes < 0:
            raise ConfigError("tiers.recompute_window_minutes", "must not be negative",
                              self.recompute_window_minutes)
        if self.clock not in ("data", "wall"):
            raise ConfigError("tiers.clock", "must be 'data' or 'wall'", self.clock)
        from pipeline.rollup.percentiles import parse

        parse(self.percentiles)
        from pipeline.rollup.tiers import check_tier_settings  # periods and retention as a chain

        check_tier_settings(self)


@dataclass
class QuerySettings:
    """SQL console and investigation defaults."""

    default_bound_hours: int = 24
    max_rows: int = 10_000
    investigations_dir: str = ""  # folder of the user's own saved investigations ("" = built-in only)

    def validate(self) -> None:
        _range("query.default_bound_hours", self.default_bound_hours, 1, 24 * 3650)
        _range("query.max_rows", self.max_rows, 1, 10_000_000)


@dataclass
class DashboardSettings:
    port: int = 8501
    refresh_seconds: int = 30

    def validate(self) -> None:
        _range("dashboard.port", self.port, 1, 65535)
        _range("dashboard.refresh_seconds", self.refresh_seconds, 0, 86400)


@dataclass
class Settings:
    """All settings. ``source`` records which config file (if any) was read."""

    lake: LakeSettings = field(default_factory=LakeSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    loader: LoaderSettings = field(default_factory=LoaderSettings)
    tiers: TierSettings = field(default_factory=TierSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    source: str | None = None

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if dataclasses.is_dataclass(section):
                section.validate()  # type: ignore[union-attr]


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings) if f.name != "source"}


def _coerce(key: str, raw: Any, typ: Any, source: str) -> Any:
    """Convert ``raw`` (TOML value or env string) to the annotated type, or raise ConfigError."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
            return None
        typ = args[0]
    try:
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
        if typ is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if typ is str:
            if not isinstance(raw, str | int | float) or isinstance(raw, bool):
                raise ValueError
            return str(raw)
    except ValueError:
        raise ConfigError(key, f"expected {getattr(typ, '__name__', typ)}", raw, source) from None
    return raw


def _apply(settings: Settings, section: str, key: str, raw: Any, source: str) -> None:
    sections = _sections()
    if section not in sections:
        raise ConfigError(f"{section}.{key}" if key else section,
                          f"unknown section (known: {', '.join(sections)})", None, source)
    target = getattr(settings, section)
    hints = typing.get_type_hints(type(target))
    if key not in hints:
        raise ConfigError(f"{section}.{key}",
                          f"unknown key (known: {', '.join(hints)})", None, source)
    setattr(target, key, _coerce(f"{section}.{key}", raw, hints[key], source))


def load_settings(
    path: str | Path | None = None,
    *,
    env: typing.Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Load, merge and validate settings.

    Args:
        path: a TOML file; when None, ``./watchlake.toml`` is read if it exists. A path that was
            named explicitly but does not exist is an error.
        env: environment mapping (default ``os.environ``); keys ``WATCHLAKE__SECTION__KEY``.
        overrides: ``{"lake.root": "..."}`` applied last (from command-line flags).

    Raises:
        ConfigError: unreadable file, unknown section or key, wrong type, or a value out of range.
    """
    settings = Settings()
    env = os.environ if env is None else env
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG_FILE)
    if path is not None and not file.exists():
        raise ConfigError("config", "file not found", str(file))
    if file.exists():
        try:
            data = tomllib.loads(file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("config", f"not valid TOML: {exc}", None, str(file)) from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(section, "expected a [section] table", values, str(file))
            for key, raw in values.items():
                _apply(settings, section, key, raw, str(file))
        settings.source = str(file)
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(name, "expected WATCHLAKE__SECTION__KEY", raw, "env")
        _apply(settings, parts[0], parts[1], raw, f"env {name}")
    for dotted, raw in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        _apply(settings, section, key, raw, "command line")
    settings.validate()
    return settings
