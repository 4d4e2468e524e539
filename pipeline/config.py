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
from pipeline.tierchain import check_tier_settings, parse_percentiles

if typing.TYPE_CHECKING:
    from pipeline.sources.limits import Limits

ENV_PREFIX = "WATCHLAKE__"
DEFAULT_CONFIG_FILE = "watchlake.toml"

ACCOUNT_ID = "123456789012"
"""Account id used in ARNs and notifications (a local imitation has one account)."""
REGION = "us-east-1"
"""Region of the ARNs the pipeline mints (alarms, topics) and of its notifications."""


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
    """Firehose-style buffering hints (a buffer flushes when either is reached) and the limits
    that turn hostile or oversized input into rejections (README "Limits")."""

    buffer_mib: int = 64
    buffer_seconds: int = 300
    max_batch_records: int = 1_000_000
    max_buffered_mib: int = 512  # all partitions' buffers together; the fullest flush first beyond it
    max_object_mib: int = 256  # decompressed bytes of one file/object; over it the object is one rejection
    max_record_kib: int = 65536  # one NDJSON line / value of a concatenated or damaged document
    max_nesting_depth: int = 1024  # nesting of one record on the scanning path (the parser refuses > 1024)
    max_open_files: int = 4  # decoded files held at once (read-ahead)
    max_future_minutes: int = 15  # CloudTrail events and Kinesis arrivals: clock skew allowed ahead of now
    metrics_future_minutes: int = 120  # metric datapoints and log events ahead of now (PutMetricData: 2 h)
    backfill: bool = True  # false: datapoints/log events older than `max_age_days` are rejected
    max_age_days: int = 14  # PutMetricData / PutLogEvents accept 14 days back (when backfill is false)

    def validate(self) -> None:
        _range("loader.buffer_mib", self.buffer_mib, 1, 128)
        _range("loader.max_buffered_mib", self.max_buffered_mib, 1, 65536)
        _range("loader.buffer_seconds", self.buffer_seconds, 0, 900)
        _range("loader.max_batch_records", self.max_batch_records, 1, 10_000_000)
        _range("loader.max_object_mib", self.max_object_mib, 1, 65536)
        _range("loader.max_record_kib", self.max_record_kib, 1, 4 * 1024 * 1024)
        _range("loader.max_nesting_depth", self.max_nesting_depth, 8, 1024)
        _range("loader.max_open_files", self.max_open_files, 1, 256)
        _range("loader.max_future_minutes", self.max_future_minutes, 0, 7 * 24 * 60)
        _range("loader.metrics_future_minutes", self.metrics_future_minutes, 0, 7 * 24 * 60)
        _range("loader.max_age_days", self.max_age_days, 1, 36500)
        if self.max_record_kib > self.max_object_mib * 1024:
            raise ConfigError("loader.max_record_kib", "must not exceed loader.max_object_mib", self.max_record_kib)

    def limits(self) -> Limits:
        """The reader limits these settings name (:mod:`pipeline.sources.limits`)."""
        from pipeline.sources.limits import MIB, Limits

        return Limits(max_object_bytes=self.max_object_mib * MIB, max_record_bytes=self.max_record_kib * 1024,
                      max_depth=self.max_nesting_depth, max_open_files=self.max_open_files)


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
        parse_percentiles(self.percentiles)
        check_tier_settings(self)  # periods and retention as a chain


@dataclass
class QuerySettings:
    """SQL console and investigation defaults."""

    default_bound_hours: int = 24
    max_rows: int = 10_000
    timeout_seconds: int = 60  # a console statement is interrupted after this long
    memory_limit_mib: int = 2048  # DuckDB memory limit of a console statement (nothing spills to disk)
    investigations_dir: str = ""  # folder of the user's own saved investigations ("" = built-in only)

    def validate(self) -> None:
        _range("query.default_bound_hours", self.default_bound_hours, 1, 24 * 3650)
        _range("query.max_rows", self.max_rows, 1, 10_000_000)
        _range("query.timeout_seconds", self.timeout_seconds, 1, 86400)
        _range("query.memory_limit_mib", self.memory_limit_mib, 64, 1 << 20)


@dataclass
class NotifySettings:
    """Topics and subscribers."""

    allow_absolute_paths: bool = False  # file subscribers outside the lake (absolute paths)

    def validate(self) -> None:
        pass


@dataclass
class DashboardSettings:
    port: int = 8501
    refresh_seconds: int = 30

    def validate(self) -> None:
        _range("dashboard.port", self.port, 1, 65535)
        _range("dashboard.refresh_seconds", self.refresh_seconds, 0, 86400)


RUN_STAGES = ("load", "rollup", "alarms", "anomalies", "insights", "detect", "metricfilters", "retention",
              "compact")
SOURCE_KINDS = ("cloudtrail", "metrics", "logs", "records")


@dataclass
class RunSettings:
    """``watchlake run``: what the always-on pipeline follows, how often each stage runs, where it
    notifies. Lists are TOML arrays, or comma-separated in ``WATCHLAKE__RUN__KEY``."""

    streams: list[str] = field(default_factory=lambda: ["*"])  # local stream name patterns
    sources: list[str] = field(default_factory=list)   # KIND=folder or s3://bucket/prefix, polled
    kinesis_endpoint: str | None = None                # a real Kinesis endpoint (with kinesis_streams)
    kinesis_streams: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)   # stages not to run (see RUN_STAGES)
    buffer_seconds: int = 5          # the loader's flush interval while running live
    poll_seconds: float = 1.0        # streams and folders
    rollup_seconds: float = 5.0
    alarm_seconds: float = 10.0      # evaluations in between minute boundaries are idempotent
    anomaly_seconds: float = 2.0     # a step with no newly closed minute costs a file listing
    detect_seconds: float = 1.0      # runs right after the loader: a finding waits for its commit, then ≤ 1 s
    insights_seconds: float = 60.0
    metricfilter_seconds: float = 1.0  # right after the loader: a matching log line is a datapoint before the rollup
    compact_seconds: float = 600.0
    retention_seconds: float = 86_400.0
    anomaly_topic: str = ""          # anomaly alerts (like CloudWatch anomaly-detection alarms); "" = none
    findings_topic: str = ""         # detection findings; "" = none
    anomaly_threshold: float = 0.5
    rules: list[str] = field(default_factory=list)     # rule folders (default: the bundled rules)
    engine: str = "duckdb"           # rollups: "duckdb" (embedded) or "flink" (a streaming Flink job)
    flink_address: str = ""          # with engine "flink": HOST:PORT of a JobManager's REST API ("" = mini-cluster)

    def validate(self) -> None:
        if self.engine not in ("duckdb", "flink"):
            raise ConfigError("run.engine", "must be 'duckdb' or 'flink'", self.engine)
        for name in self.disable:
            if name not in RUN_STAGES:
                raise ConfigError("run.disable", f"unknown stage (known: {', '.join(RUN_STAGES)})", name)
        for src in self.sources:
            kind, sep, where = src.partition("=")
            if not sep or kind not in SOURCE_KINDS or not where.strip():
                raise ConfigError("run.sources", f"expected KIND=LOCATION with KIND one of {', '.join(SOURCE_KINDS)}",
                                  src)
        if self.kinesis_streams and not self.kinesis_endpoint:
            raise ConfigError("run.kinesis_streams", "needs run.kinesis_endpoint", self.kinesis_streams)
        _range("run.buffer_seconds", self.buffer_seconds, 0, 900)
        for name in ("poll_seconds", "rollup_seconds", "alarm_seconds", "anomaly_seconds", "detect_seconds",
                     "insights_seconds", "metricfilter_seconds", "compact_seconds", "retention_seconds"):
            _range(f"run.{name}", getattr(self, name), 0.1, 7 * 86_400)
        _range("run.anomaly_threshold", self.anomaly_threshold, 0.0, 1.0)

    def enabled(self, stage: str) -> bool:
        return stage not in self.disable


@dataclass
class Settings:
    """All settings. ``source`` records which config file (if any) was read."""

    lake: LakeSettings = field(default_factory=LakeSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    loader: LoaderSettings = field(default_factory=LoaderSettings)
    tiers: TierSettings = field(default_factory=TierSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    run: RunSettings = field(default_factory=RunSettings)
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
        if origin is list:
            items = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ValueError
            return [x for x in items if x]
    except (ValueError, TypeError, OverflowError):  # a TOML list or table where a number belongs, too
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
