"""Validation of PutMetricAlarm / PutCompositeAlarm documents and loading them from YAML or JSON.

A definition file holds one alarm (a mapping) or a list of them (also accepted: a mapping with
``MetricAlarms`` / ``CompositeAlarms`` lists, the shape ``describe --format json`` prints). Field
names are CloudWatch's; a document with ``AlarmRule`` is a composite alarm. Every violation is a
:class:`RuleError` naming the file, the alarm and the field, with the CloudWatch rule it breaks:

* ``Period`` 10, 20, 30 or a multiple of 60; ``Period × EvaluationPeriods`` ≤ 604,800 s, and ≤ 86,400 s
  when Period < 3,600 s; ``1 ≤ DatapointsToAlarm ≤ EvaluationPeriods``;
* exactly one of ``Statistic`` / ``ExtendedStatistic`` (or a ``Metrics`` array); ≤ 30 dimensions;
* ``Threshold`` for static operators, ``ThresholdMetricId`` naming an ``ANOMALY_DETECTION_BAND(m, k)``
  expression for the band operators (Period ≥ 60);
* a ``Metrics`` array: ≤ 10 MetricStat and ≤ 10 Expression queries, one period, exactly one with
  ``ReturnData`` true; every expression parsed and type-checked (:mod:`pipeline.metricmath.parse`),
  the returned one giving one time series;
* ≤ 5 ARNs per action list; AlarmName 1–255 characters without control characters.

``Dimensions`` may be CloudWatch's list of ``{Name, Value}`` or a plain mapping.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.alarms import rule as rules
from pipeline.alarms.model import (
    BAND_OPERATORS,
    SIMPLE_STATISTICS,
    STATIC_OPERATORS,
    TREAT_MISSING,
    Alarm,
    BandSpec,
    CompositeAlarm,
    MathSpec,
    MetricAlarm,
    MetricRef,
)
from pipeline.documents import read_document
from pipeline.errors import InputError, RuleError
from pipeline.metricmath import evaluate as matheval
from pipeline.metricmath import parse as metricmath

_COMMON = {"AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
           "InsufficientDataActions", "Tags"}
METRIC_FIELDS = _COMMON | {
    "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic", "Period", "Unit",
    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
    "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId"}
COMPOSITE_FIELDS = _COMMON | {"AlarmRule", "ActionsSuppressor", "ActionsSuppressorWaitPeriod",
                              "ActionsSuppressorExtensionPeriod"}

_PCT = r"(?:100(?:\.0{1,10})?|\d{1,2}(?:\.\d{1,10})?)"
_B = r"(?:[1-8]\d|90)(?:\.\d{1,10})?"  # 10..90 for TM/TC/TS/WM(X%:X%) bounds
_EXTENDED_RE = re.compile(
    rf"^(?:p{_PCT}|(?:tm|tc|ts|wm){_PCT}|IQM|PR\(\d*(?:\.\d+)?:\d*(?:\.\d+)?\)"
    rf"|(?:TM|TC|TS|WM)\({_B}%:{_B}%\))$")
_ID_RE = re.compile(r"^[a-z][A-Za-z0-9_]{0,254}$")
_BAND_RE = re.compile(r"^\s*ANOMALY_DETECTION_BAND\s*\(\s*([a-z][A-Za-z0-9_]*)\s*(?:,\s*([0-9.eE+-]+)\s*)?\)\s*$")


def percentile_of(stat: str) -> float | None:
    """``p99`` → 0.99; None for anything that is not a plain percentile."""
    m = re.fullmatch(rf"p({_PCT})", stat)
    return float(m.group(1)) / 100.0 if m else None


class _Ctx:
    def __init__(self, doc: dict[str, Any], path: str | None):
        self.doc, self.path = doc, path
        self.name = str(doc.get("AlarmName") or "?")

    def err(self, field: str | None, reason: str, value: Any = None) -> RuleError:
        return RuleError(self.name, reason, path=self.path, field=field, value=value)

    def int_(self, key: str, *, required: bool = True, minimum: int = 1) -> int | None:
        v = self.doc.get(key)
        if v is None:
            if required:
                raise self.err(key, "is required")
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
            raise self.err(key, "must be an integer", v)
        if v < minimum:
            raise self.err(key, f"must be at least {minimum}", v)
        return int(v)

    def str_(self, key: str, *, required: bool = False, choices: tuple[str, ...] | None = None) -> str | None:
        v = self.doc.get(key)
        if v is None:
            if required:
                raise self.err(key, "is required")
            return None
        if not isinstance(v, str):
            raise self.err(key, "must be a string", v)
        if choices is not None and v not in choices:
            raise self.err(key, f"must be one of {', '.join(choices)}", v)
        return v

    def actions(self, key: str) -> tuple[str, ...]:
        v = self.doc.get(key) or []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(a, str) and a for a in v):
            raise self.err(key, "must be a list of ARNs or topic names", v)
        if len(v) > 5:
            raise self.err(key, "at most 5 actions per state (CloudWatch hard limit)", len(v))
        return tuple(v)


def _common(c: _Ctx) -> dict[str, Any]:
    name = c.doc.get("AlarmName")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise c.err("AlarmName", "must be a string of 1 to 255 characters", name)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise c.err("AlarmName", "must not contain control characters", name)
    desc = c.str_("AlarmDescription")
    if desc is not None and len(desc) > 1024:
        raise c.err("AlarmDescription", "at most 1,024 characters", len(desc))
    enabled = c.doc.get("ActionsEnabled", True)
    if not isinstance(enabled, bool):
        raise c.err("ActionsEnabled", "must be true or false", enabled)
    tags = c.doc.get("Tags", [])
    if not isinstance(tags, list | dict) or len(tags) > 50:
        raise c.err("Tags", "must be a list of at most 50 tags", tags)
    return dict(name=name, description=desc, actions_enabled=enabled,
                ok_actions=c.actions("OKActions"), alarm_actions=c.actions("AlarmActions"),
                insufficient_data_actions=c.actions("InsufficientDataActions"))


def _dimensions(c: _Ctx, raw: Any, field: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        pairs = [(k, v) for k, v in raw.items()]
    elif isinstance(raw, list):
        pairs = []
        for d in raw:
            if not isinstance(d, dict) or set(d) != {"Name", "Value"}:
                raise c.err(field, "each dimension is {Name, Value}", d)
            pairs.append((d["Name"], d["Value"]))
    else:
        raise c.err(field, "must be a list of {Name, Value} or a mapping", raw)
    if len(pairs) > 30:
        raise c.err(field, "at most 30 dimensions", len(pairs))
    for k, v in pairs:
        if not isinstance(k, str) or not isinstance(v, str) or not k or not v:
            raise c.err(field, "dimension names and values are non-empty strings", {k: v})
    if len({k for k, _ in pairs}) != len(pairs):
        raise c.err(field, "duplicate dimension name", raw)
    return tuple(sorted(pairs))


def _stat(c: _Ctx, stat: Any, field: str) -> tuple[str, bool]:
    if not isinstance(stat, str):
        raise c.err(field, "must be a string", stat)
    if stat in SIMPLE_STATISTICS:
        return stat, False
    if _EXTENDED_RE.match(stat):
        return stat, True
    raise c.err(field, f"not a statistic an alarm accepts ({', '.join(SIMPLE_STATISTICS)}, p90, tm90, "
                       "tc90, ts90, wm90, IQM, PR(n:m), TM(X%:X%) with X in 10..90)", stat)


def _period(c: _Ctx, period: int, field: str = "Period") -> None:
    if period not in (10, 20, 30) and period % 60 != 0:
        raise c.err(field, "must be 10, 20, 30 or a multiple of 60 seconds", period)


def _metrics(c: _Ctx, band_operator: bool) -> tuple[MetricRef, int, BandSpec | None, bool, MathSpec | None]:
    items = c.doc["Metrics"]
    if not isinstance(items, list) or not 1 <= len(items) <= 20:
        raise c.err("Metrics", "must be a list of 1 to 20 metric data queries", items)
    stats: dict[str, tuple[MetricRef, int, bool]] = {}
    exprs: dict[str, str] = {}
    returned: list[str] = []
    for i, q in enumerate(items):
        f = f"Metrics[{i}]"
        if not isinstance(q, dict):
            raise c.err(f, "must be a mapping", q)
        qid = q.get("Id")
        if not isinstance(qid, str) or not _ID_RE.match(qid):
            raise c.err(f"{f}.Id", "must start with a lower-case letter, then letters, digits or _", qid)
        if qid in stats or qid in exprs:
            raise c.err(f"{f}.Id", "duplicate Id", qid)
        if ("MetricStat" in q) == ("Expression" in q):
            raise c.err(f, "exactly one of MetricStat or Expression")
        if q.get("ReturnData", True):
            returned.append(qid)
        if "MetricStat" in q:
            ms = q["MetricStat"]
            metric = ms.get("Metric") if isinstance(ms, dict) else None
            if not isinstance(metric, dict) or "MetricName" not in metric or "Namespace" not in metric:
                raise c.err(f"{f}.MetricStat", "needs Metric{Namespace, MetricName, Dimensions}, Period, Stat", ms)
            period = ms.get("Period")
            if not isinstance(period, int) or isinstance(period, bool) or period < 1:
                raise c.err(f"{f}.MetricStat.Period", "is required and must be a positive integer", period)
            _period(c, period, f"{f}.MetricStat.Period")
            stat, ext = _stat(c, ms.get("Stat"), f"{f}.MetricStat.Stat")
            ref = MetricRef(str(metric["Namespace"]), str(metric["MetricName"]),
                            _dimensions(c, metric.get("Dimensions"), f"{f}.MetricStat.Metric.Dimensions"),
                            stat, ms.get("Unit"))
            stats[qid] = (ref, period, ext)
        else:
            exprs[qid] = str(q["Expression"])
    if len({p for _, p, _ in stats.values()}) > 1:
        raise c.err("Metrics", "all metrics of an alarm must use the same period")
    if len(stats) > 10 or len(exprs) > 10:
        raise c.err("Metrics", "at most 10 MetricStat and 10 Expression queries")
    band: BandSpec | None = None
    threshold_id = c.str_("ThresholdMetricId")
    if band_operator:
        if threshold_id is None or threshold_id not in exprs:
            raise c.err("ThresholdMetricId", "band operators need ThresholdMetricId naming an "
                        "ANOMALY_DETECTION_BAND expression in Metrics", threshold_id)
        m = _BAND_RE.match(exprs[threshold_id])
        if not m:
            raise c.err("ThresholdMetricId", "must name an ANOMALY_DETECTION_BAND(m, k) expression",
                        exprs[threshold_id])
        if m.group(1) not in stats:
            raise c.err("Metrics", "ANOMALY_DETECTION_BAND must reference a MetricStat query Id", m.group(1))
        try:
            k = float(m.group(2)) if m.group(2) else 2.0
        except ValueError:
            raise c.err("Metrics", "the band width k must be a number", m.group(2)) from None
        if k <= 0:
            raise c.err("Metrics", "the band width k must be positive", k)
        band = BandSpec(threshold_id, m.group(1), k)
        ref, period, ext = stats[m.group(1)]
        if period < 60:
            raise c.err("Period", "anomaly detection alarms need a period of at least 60 seconds", period)
        others = set(exprs) - {threshold_id}
        if others:
            raise c.err("Metrics", "only ANOMALY_DETECTION_BAND expressions are supported", sorted(others))
        return ref, period, band, ext, None
    if threshold_id is not None:
        raise c.err("ThresholdMetricId", "only valid with the anomaly band comparison operators", threshold_id)
    if len(returned) != 1:
        raise c.err("Metrics", "exactly one query must have ReturnData true", returned)
    math = _math(c, exprs, stats, returned[0]) if exprs else None
    if math is not None:
        ref, period, _ = next(iter(stats.values()))
        return ref, period, None, False, math
    ref, period, ext = stats[returned[0]]
    return ref, period, None, ext, None


def _math(c: _Ctx, exprs: dict[str, str], stats: dict[str, tuple[MetricRef, int, bool]],
          returned: str) -> MathSpec | None:
    """Every expression parsed and type-checked (an error names its query); the spec when the
    returned query is one of them, None when it is a metric query."""
    trees: dict[str, Any] = {}
    try:
        for qid, text in exprs.items():
            trees[qid] = metricmath.parse(qid, text)
        kinds = {qid: matheval.check(qid, trees, exprs, list(stats)) for qid in exprs}
    except metricmath.MathError as e:
        raise c.err(e.field or "Metrics", e.reason, e.expression) from None
    if returned not in exprs:
        return None
    if kinds[returned] != matheval.TS:
        what = "a number" if kinds[returned] == matheval.S else "an array of series"
        raise c.err("Metrics", f"the returned expression gives {what}; an alarm watches one time series "
                    "(reduce an array with SUM, AVG, MIN, MAX or FIRST)", exprs[returned])
    if not stats:
        raise c.err("Metrics", "a metric-math alarm needs at least one MetricStat query (it sets the period)")
    return MathSpec(returned, trees, dict(exprs), {q: ref for q, (ref, _, _) in stats.items()})


def parse_metric_alarm(doc: dict[str, Any], path: str | None = None) -> MetricAlarm:
    """Validate one PutMetricAlarm document; raises :class:`RuleError` with the reason."""
    c = _Ctx(doc, path)
    unknown = sorted(set(doc) - METRIC_FIELDS)
    if unknown:
        raise c.err(unknown[0], "unknown PutMetricAlarm field")
    common = _common(c)
    op = c.str_("ComparisonOperator", required=True,
                choices=tuple(STATIC_OPERATORS) + BAND_OPERATORS)
    assert op is not None
    band_op = op in BAND_OPERATORS
    if "Metrics" in doc:
        for k in ("Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic", "Period", "Unit"):
            if k in doc:
                raise c.err(k, "not allowed together with Metrics")
        metric, period, band, extended, math = _metrics(c, band_op)
    else:
        if band_op:
            raise c.err("ComparisonOperator", "band operators need Metrics with ANOMALY_DETECTION_BAND "
                        "and ThresholdMetricId", op)
        if "ThresholdMetricId" in doc:
            raise c.err("ThresholdMetricId", "only valid with Metrics and a band operator")
        ns, mn = c.str_("Namespace", required=True), c.str_("MetricName", required=True)
        assert ns is not None and mn is not None
        if ("Statistic" in doc) == ("ExtendedStatistic" in doc):
            raise c.err("Statistic", "exactly one of Statistic or ExtendedStatistic is required")
        if "Statistic" in doc:
            stat = c.str_("Statistic", required=True, choices=SIMPLE_STATISTICS)
            extended = False
        else:
            stat, extended = _stat(c, doc["ExtendedStatistic"], "ExtendedStatistic")
            if not extended:
                raise c.err("ExtendedStatistic", "use Statistic for SampleCount/Average/Sum/Minimum/Maximum", stat)
        assert stat is not None
        metric = MetricRef(ns, mn, _dimensions(c, doc.get("Dimensions"), "Dimensions"), stat,
                           c.str_("Unit"))
        p = c.int_("Period")
        assert p is not None
        period, band, math = p, None, None
    _period(c, period)
    n = c.int_("EvaluationPeriods")
    assert n is not None
    m = c.int_("DatapointsToAlarm", required=False) or n
    if m > n:
        raise c.err("DatapointsToAlarm", f"must not exceed EvaluationPeriods ({n})", m)
    limit = 86_400 if period < 3600 else 604_800
    if period * n > limit:
        raise c.err("EvaluationPeriods", f"Period × EvaluationPeriods = {period * n} s exceeds {limit} s"
                    + (" (the limit for periods under one hour)" if period < 3600 else ""), n)
    threshold = doc.get("Threshold")
    if band_op:
        if threshold is not None:
            raise c.err("Threshold", "anomaly detection alarms use ThresholdMetricId, not Threshold", threshold)
    elif isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise c.err("Threshold", "is required and must be a number", threshold)
    tmd = c.str_("TreatMissingData", choices=TREAT_MISSING) or "missing"
    lsc = c.str_("EvaluateLowSampleCountPercentile", choices=("evaluate", "ignore")) or ""
    return MetricAlarm(
        metric=metric, period=period, evaluation_periods=n, datapoints_to_alarm=m,
        comparison_operator=op, threshold=None if band_op else float(threshold),  # type: ignore[arg-type]
        band=band, treat_missing_data=tmd, evaluate_low_sample_count_percentile=lsc,
        extended=extended, definition=dict(doc), math=math, **common)


def parse_composite_alarm(doc: dict[str, Any], path: str | None = None) -> CompositeAlarm:
    """Validate one PutCompositeAlarm document (the rule is parsed; children are checked by the store)."""
    c = _Ctx(doc, path)
    unknown = sorted(set(doc) - COMPOSITE_FIELDS)
    if unknown:
        raise c.err(unknown[0], "unknown PutCompositeAlarm field")
    common = _common(c)
    suppressor = c.str_("ActionsSuppressor")
    periods = {k: c.int_(f"ActionsSuppressor{k}", required=suppressor is not None, minimum=0)
               for k in ("WaitPeriod", "ExtensionPeriod")}
    if suppressor is None:
        given = [f"ActionsSuppressor{k}" for k, v in periods.items() if v is not None]
        if given:
            raise c.err(given[0], "is only allowed with ActionsSuppressor", doc[given[0]])
    else:
        if not 1 <= len(suppressor) <= 1600:
            raise c.err("ActionsSuppressor", "must be 1 to 1,600 characters", suppressor)
        if suppressor.startswith("arn:"):  # arn:aws:cloudwatch:region:account:alarm:NAME
            parts = suppressor.split(":", 6)
            if len(parts) != 7 or parts[2] != "cloudwatch" or parts[5] != "alarm" or not parts[6]:
                raise c.err("ActionsSuppressor", "must be an alarm name or a CloudWatch alarm ARN", suppressor)
            suppressor = parts[6]
        if suppressor == common["name"]:
            raise c.err("ActionsSuppressor", "a composite alarm cannot suppress its own actions", suppressor)
    text = c.str_("AlarmRule", required=True)
    assert text is not None
    try:
        node = rules.parse(text, common["name"])
    except RuleError as e:
        raise RuleError(common["name"], e.reason, path=path, field="AlarmRule", value=e.value) from None
    return CompositeAlarm(rule_text=text, rule=node, suppressor=suppressor, wait=periods["WaitPeriod"] or 0,
                          extension=periods["ExtensionPeriod"] or 0, definition=dict(doc), **common)


def parse_alarm(doc: Any, path: str | None = None) -> Alarm:
    """A metric or composite alarm from one document (composite when it has ``AlarmRule``)."""
    if not isinstance(doc, dict):
        raise RuleError("?", "an alarm definition must be a mapping", path=path, value=doc)
    return parse_composite_alarm(doc, path) if "AlarmRule" in doc else parse_metric_alarm(doc, path)


def load_documents(path: str | Path) -> list[dict[str, Any]]:
    """Read a YAML or JSON file holding one alarm, a list, or {MetricAlarms, CompositeAlarms}."""
    p = Path(path)
    data = read_document(p, "alarm definition file")
    if isinstance(data, dict) and ("MetricAlarms" in data or "CompositeAlarms" in data):
        data = list(data.get("MetricAlarms") or []) + list(data.get("CompositeAlarms") or [])
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InputError("expected one alarm (a mapping) or a non-empty list of alarms", path=str(p))
    return data


def load_alarms(path: str | Path) -> list[Alarm]:
    """Parse and validate every alarm in a file; the first invalid one raises :class:`RuleError`."""
    docs = load_documents(path)
    out = [parse_alarm(d, f"{path}[{i}]" if len(docs) > 1 else str(path)) for i, d in enumerate(docs)]
    names = [a.name for a in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RuleError(dup[0], "defined more than once in the file", path=str(path), field="AlarmName")
    return out
