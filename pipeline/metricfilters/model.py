"""PutMetricFilter definitions: validated, and kept in the lake (``metricfilters/filters.json``).

A definition is CloudWatch Logs' PutMetricFilter document (``aws logs put-metric-filter
--cli-input-json`` takes the same keys): ``filterName``, ``logGroupName``, ``filterPattern`` and
one ``metricTransformations`` entry — ``metricName``, ``metricNamespace``, ``metricValue`` (a
number, ``$.field`` of a JSON event or ``$name`` of a space-delimited one), optional
``defaultValue`` (emitted for each event that does not match), ``dimensions`` (≤ 3, name →
``$.field`` / ``$name``; not together with ``defaultValue``) and ``unit``. Every violation is a
:class:`~pipeline.errors.RuleError` naming the file, the filter and the field. A filter is
identified by (log group, filter name), as in CloudWatch; putting it again replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.errors import RuleError
from pipeline.metricfilters.pattern import Pattern, PatternError, parse_pattern

if TYPE_CHECKING:
    from pipeline.lake import Lake

DEFINITIONS_PATH = "metricfilters/filters.json"
FIELDS = {"filterName", "logGroupName", "filterPattern", "metricTransformations"}
TRANSFORM_FIELDS = {"metricName", "metricNamespace", "metricValue", "defaultValue", "dimensions", "unit"}
UNITS = frozenset((
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits "
    "Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second "
    "Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second "
    "Count/Second None").split())
_GROUP_RE = re.compile(r"^[\w.\-/#]{1,512}$")
_METRIC_RE = re.compile(r"^[^:*$]{1,255}$")
_REF_RE = re.compile(r"^\$(\.[\w\-]+(\[\d+\])*)+$|^\$[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Transformation:
    """One ``metricTransformations`` entry, validated."""

    metric_name: str
    namespace: str
    value: str                                   # a number's text, or a field reference
    default: float | None = None
    dimensions: tuple[tuple[str, str], ...] = ()  # (dimension name, field reference)
    unit: str = "None"
    number: float | None = field(init=False, default=None)
    """The value when it is a number rather than a field reference (parsed once)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", None if self.value.startswith("$") else float(self.value))


@dataclass(frozen=True)
class MetricFilter:
    """A validated PutMetricFilter definition (``definition`` is the document as given)."""

    name: str
    log_group: str
    pattern: Pattern
    transformation: Transformation
    created: str = ""                            # ISO time it was put (creationTime)
    definition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _err(doc: dict[str, Any], path: str | None, fld: str, reason: str, value: Any = None) -> RuleError:
    return RuleError(str(doc.get("filterName") or "?"), reason, path=path, field=fld, value=value)


def parse_filter(doc: Any, path: str | None = None, created: str = "") -> MetricFilter:
    """Validate one PutMetricFilter document; :class:`RuleError` with the rule it breaks."""
    if not isinstance(doc, dict):
        raise RuleError("?", "a metric filter definition must be a mapping", path=path, value=doc)
    unknown = sorted(set(doc) - FIELDS)
    if unknown:
        raise _err(doc, path, unknown[0], "unknown PutMetricFilter field")
    name, group = doc.get("filterName"), doc.get("logGroupName")
    if not isinstance(name, str) or not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise _err(doc, path, "filterName", "is required: 1-512 characters, no ':' or '*'", name)
    if not isinstance(group, str) or not _GROUP_RE.match(group):
        raise _err(doc, path, "logGroupName", "is required: 1-512 of letters, digits and . - _ / #", group)
    text = doc.get("filterPattern", "")
    if not isinstance(text, str):
        raise _err(doc, path, "filterPattern", "must be a string (\"\" matches every event)", text)
    try:
        pattern = parse_pattern(text)
    except PatternError as e:
        raise _err(doc, path, "filterPattern", e.reason, text) from None
    ts = doc.get("metricTransformations")
    if not isinstance(ts, list) or len(ts) != 1 or not isinstance(ts[0], dict):
        raise _err(doc, path, "metricTransformations", "must be a list of exactly one transformation", ts)
    return MetricFilter(name, group, pattern, _transformation(doc, path, ts[0]), created, dict(doc))


def _transformation(doc: dict[str, Any], path: str | None, t: dict[str, Any]) -> Transformation:
    where = "metricTransformations[0]"
    unknown = sorted(set(t) - TRANSFORM_FIELDS)
    if unknown:
        raise _err(doc, path, f"{where}.{unknown[0]}", "unknown MetricTransformation field")
    for key in ("metricName", "metricNamespace"):
        if not isinstance(t.get(key), str) or not _METRIC_RE.match(t[key]):
            raise _err(doc, path, f"{where}.{key}", "is required: 1-255 characters, no ':', '*' or '$'", t.get(key))
    if t["metricNamespace"].startswith("AWS/"):
        raise _err(doc, path, f"{where}.metricNamespace", "the AWS/ namespaces are AWS's own", t["metricNamespace"])
    value = t.get("metricValue")
    value = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not value or len(value) > 100 or not (_REF_RE.match(value) or _number(value)):
        raise _err(doc, path, f"{where}.metricValue", "is required: a number, $.field (JSON) or $name "
                   "(space-delimited)", t.get("metricValue"))
    default = t.get("defaultValue")
    if default is not None and (isinstance(default, bool) or not isinstance(default, int | float)):
        raise _err(doc, path, f"{where}.defaultValue", "must be a number", default)
    dims = t.get("dimensions") or {}
    if not isinstance(dims, dict) or len(dims) > 3:
        raise _err(doc, path, f"{where}.dimensions", "must map at most 3 dimension names to fields", dims)
    for k, v in dims.items():
        if not isinstance(v, str) or not _REF_RE.match(v):
            raise _err(doc, path, f"{where}.dimensions.{k}", "must be a field: $.field or $name", v)
    if dims and default is not None:
        raise _err(doc, path, f"{where}.defaultValue", "cannot be used together with dimensions", default)
    unit = t.get("unit") or "None"
    if not isinstance(unit, str) or unit not in UNITS:
        raise _err(doc, path, f"{where}.unit", "not a CloudWatch unit", unit)
    return Transformation(t["metricName"], t["metricNamespace"], value,
                          None if default is None else float(default),
                          tuple(sorted((str(k), str(v)) for k, v in dims.items())), unit)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class FilterStore:
    """One lake's metric filters (``metricfilters/filters.json``)."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.filters: dict[tuple[str, str], MetricFilter] = {}
        if lake.exists(DEFINITIONS_PATH):
            for doc in lake.read_json(DEFINITIONS_PATH):
                doc = dict(doc)
                created = str(doc.pop("creationTime", ""))
                f = parse_filter(doc, DEFINITIONS_PATH, created)
                self.filters[(f.log_group, f.name)] = f

    def put(self, filters: list[MetricFilter], at: datetime) -> tuple[int, int]:
        """Create or replace; returns (created, updated). Call :meth:`save` to keep them."""
        from pipeline.timeutil import iso

        made = replaced = 0
        for f in filters:
            key = (f.log_group, f.name)
            replaced += key in self.filters
            made += key not in self.filters
            self.filters[key] = MetricFilter(f.name, f.log_group, f.pattern, f.transformation, iso(at),
                                             f.definition)
        return made, replaced

    def delete(self, log_group: str, name: str) -> bool:
        """Remove one filter; False when there is none."""
        return self.filters.pop((log_group, name), None) is not None

    def save(self) -> None:
        self.lake.write_json(DEFINITIONS_PATH, [{**f.definition, "creationTime": f.created}
                                                for _, f in sorted(self.filters.items())])

    def for_group(self, log_group: str) -> list[MetricFilter]:
        """The filters of one log group, by name."""
        return [f for (g, _), f in sorted(self.filters.items()) if g == log_group]


def load_filters(path: str) -> list[MetricFilter]:
    """Every definition in a YAML or JSON file (one mapping, or a list, or ``{metricFilters: [...]}``
    as ``aws logs describe-metric-filters`` prints), validated; the first bad one raises."""
    from pipeline.documents import read_document
    from pipeline.errors import InputError

    data = read_document(path, "metric filter definition file")
    if isinstance(data, dict) and "metricFilters" in data:
        data = data["metricFilters"]
        data = [{k: v for k, v in d.items() if k in FIELDS} if isinstance(d, dict) else d for d in data]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InputError("expected one metric filter (a mapping) or a non-empty list", path=path)
    return [parse_filter(d, path) for d in data]
