"""CloudWatch metric identity: canonical dimensions and the stable series id.

A CloudWatch metric is identified by namespace + metric name + the *exact* dimension set, and
datapoints with different units are aggregated separately, so the series id covers all four.

* :func:`canonical_dimensions` — compact JSON object with keys sorted, values as strings:
  ``{"FunctionName":"ingest","Resource":"ingest"}``; no dimensions → ``{}``.
* :func:`series_id` — the first 16 hex digits of the MD5 of
  ``namespace ␟ metric_name ␟ canonical_dimensions ␟ unit`` (``␟`` = U+001F unit separator,
  UTF-8), so SQL can compute the same id: DuckDB
  ``left(md5(concat_ws(chr(31), namespace, metric_name, dimensions, unit)), 16)``.
  A missing unit counts as ``"None"``, CloudWatch's own default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from pipeline.errors import SchemaMismatchError

DEFAULT_UNIT = "None"
_SEP = "\x1f"


def dimensions_dict(dimensions: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """Dimensions as ``{name: value}`` from a mapping or the API's ``[{"Name", "Value"}]`` list.

    Raises:
        SchemaMismatchError: an entry without a name, or a value that is an object or array.
    """
    if dimensions is None:
        return {}
    if isinstance(dimensions, Mapping):
        items = list(dimensions.items())
    else:
        items = []
        for d in dimensions:
            if not isinstance(d, Mapping):
                raise SchemaMismatchError("dimension entry is not an object", field="Dimensions", value=d)
            name = d.get("Name", d.get("name"))
            if not isinstance(name, str):
                raise SchemaMismatchError("dimension without a Name", field="Dimensions", value=d)
            items.append((name, d.get("Value", d.get("value"))))
    out: dict[str, str] = {}
    for k, v in items:
        if isinstance(v, dict | list) or v is None:
            raise SchemaMismatchError("dimension value must be a string", field=f"dimensions.{k}", value=v)
        out[str(k)] = v if isinstance(v, str) else orjson.dumps(v).decode()
    return out


def canonical_dimensions(dimensions: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None) -> str:
    """Compact JSON object of the dimensions with keys sorted (see module docstring)."""
    d = dimensions_dict(dimensions)
    return orjson.dumps(d, option=orjson.OPT_SORT_KEYS).decode()


def series_id_from_canonical(namespace: str, metric_name: str, dims_json: str, unit: str | None) -> str:
    """:func:`series_id` when the dimensions are already canonical JSON (the hot path)."""
    key = _SEP.join((namespace, metric_name, dims_json, unit or DEFAULT_UNIT))
    return hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()[:16]


def series_id(namespace: str, metric_name: str,
              dimensions: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None,
              unit: str | None = DEFAULT_UNIT) -> str:
    """Stable 16-hex-digit id of a series: namespace + metric + exact dimension set + unit.

    >>> a = series_id("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, "Percent")
    >>> a == series_id("AWS/EC2", "CPUUtilization", [{"Name": "InstanceId", "Value": "i-1"}], "Percent")
    True
    """
    return series_id_from_canonical(namespace, metric_name, canonical_dimensions(dimensions), unit)
