"""CloudWatch metric data → the ``metrics`` raw table (:data:`pipeline.schemas.METRICS`).

Recognised by content:

* Metric Streams JSON (NDJSON or concatenated objects; statistic sets ``{"max","min","sum",
  "count"}``; optional percentile / TM statistics in ``value`` are not stored — the table has no
  column for them);
* ``aws cloudwatch get-metric-data`` output (``MetricDataResults`` with parallel ``Timestamps`` /
  ``Values``; each value is one sample) — needs the ``namespace`` option; ``metric_name``
  defaults to each result's ``Label``;
* ``aws cloudwatch get-metric-statistics`` output (``Label`` + ``Datapoints`` with any of
  SampleCount/Sum/Minimum/Maximum/Average) — needs ``namespace``;
* PutMetricData JSON (``{"Namespace", "MetricData": [MetricDatum…]}`` or a bare list of
  MetricDatum with the ``namespace`` option): ``Value``, ``StatisticValues`` or ``Values`` +
  ``Counts``;
* CSV ``timestamp,value`` (the NAB format; header optional, naive times are UTC) with the series
  named by ``namespace`` + ``metric_name`` (+ ``dimensions``, ``unit``).

A single value ``v`` is stored as the statistic set ``count 1, sum = min = max = v``. Identical
raw samples (PutMetricData values, CSV lines) of one series at one time are each kept (numbered
``#1``, ``#2``… in ``_wl_origin``); an identical copy of an aggregate (a Metric Streams record, a
get-metric-* datapoint) is the same datapoint again. Rejected:
NaN/±Infinity and values outside ±2^360 (CloudWatch refuses them), an unknown unit, a missing timestamp or metric name,
dimensions that are not strings, and count/sum/min/max that are not numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.errors import InputError, SchemaMismatchError
from pipeline.sources.base import Batch
from pipeline.sources.cloudwatch import DEFAULT_UNIT, canonical_dimensions, series_id_from_canonical
from pipeline.sources.conform import Bad, no_gc, parse_ts
from pipeline.sources.jsondocs import documents, head
from pipeline.sources.limits import DEFAULT_LIMITS, Limits
from pipeline.sources.locations import Decoded
from pipeline.sources.rows import RowBuffer
from pipeline.values import METRIC_LIMIT

SOURCE = "metrics"
UNITS = frozenset((
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits "
    "Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second "
    "Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second "
    "Count/Second None").split())
OPTIONS = ("namespace", "metric_name", "dimensions", "unit")


def check_options(options: dict[str, Any]) -> None:
    """Raise :class:`InputError` for a bad option value (unknown names are refused by ``read``)."""
    if options.get("dimensions") is not None:
        canonical_dimensions(options["dimensions"])
    unit = options.get("unit")
    if unit is not None and unit not in UNITS:
        raise InputError("unknown CloudWatch unit", field="unit", value=unit)


def _num(v: Any, field: str) -> float:
    if v.__class__ is float and -METRIC_LIMIT <= v <= METRIC_LIMIT:  # the common case (not NaN)
        return v  # type: ignore[no-any-return]
    if v.__class__ is int and -_INT_LIMIT <= v <= _INT_LIMIT:
        return float(v)
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise Bad(field, f"expected a number, got {type(v).__name__}")
    try:
        x = float(v)
    except ValueError:
        raise Bad(field, f"not a number: {v!r}") from None
    except OverflowError:  # an int past float's range
        raise Bad(field, f"{str(v)[:24]}… is outside CloudWatch's range ±2^360") from None
    if math.isnan(x) or math.isinf(x):
        raise Bad(field, "NaN and ±Infinity are not valid metric values")
    if not -METRIC_LIMIT <= x <= METRIC_LIMIT:
        raise Bad(field, f"{x:g} is outside CloudWatch's range ±2^360")
    return x


_INT_LIMIT = 2 ** 360


class _Series:
    """Builds rows; caches the canonical dimensions and series id of each series."""

    def __init__(self, buf: RowBuffer, opts: dict[str, Any]):
        self.buf, self.opts = buf, opts
        self._ids: dict[tuple[str, str, str, str], str] = {}
        self._dims: dict[tuple[Any, ...], str] = {}
        self._last: dict[str, tuple[Any, dict[tuple[float, ...], int]]] = {}

    def repeat(self, sid: str, when: Any, stats: tuple[float, ...]) -> int:
        """How many identical samples (series, time, statistic set) came before this one in the
        unit — so two equal values sent for one second stay two samples. Tracked per series for
        its latest time only (memory by series, not by rows): an identical sample that comes
        back after a later time of its series counts as a duplicate."""
        last = self._last.get(sid)
        if last is None or last[0] != when:
            self._last[sid] = (when, {stats: 1})
            return 0
        seen = last[1].get(stats, 0)
        last[1][stats] = seen + 1
        return seen

    def _canonical(self, dims: Any) -> str:
        if isinstance(dims, dict):
            key = tuple(dims.items())
            try:
                text = self._dims.get(key)
            except TypeError:  # an unhashable value: let the checker name it
                return canonical_dimensions(dims)
            if text is None:
                text = self._dims[key] = canonical_dimensions(dims)
            return text
        return canonical_dimensions(dims)

    def row(self, pos: int | None, raw: Any, *, namespace: Any, metric: Any, dims: Any, ts: Any, unit: Any,
            count: Any, total: Any, lo: Any, hi: Any, values: Any = None, counts: Any = None,
            resolution: Any = 60, extra: dict[str, Any] | None = None, aggregate: bool = False) -> None:
        """One row; ``aggregate`` marks a statistic set that stands for a whole period (Metric
        Streams, get-metric-statistics/-data), where an identical copy is a redelivery rather than
        a second sample."""
        try:
            if not isinstance(namespace, str) or not namespace.strip():
                raise Bad("namespace", "missing namespace (pass the namespace option for this format)")
            if not isinstance(metric, str) or not metric:
                raise Bad("metric_name", "missing metric name")
            unit = DEFAULT_UNIT if unit is None else unit
            if unit not in UNITS:
                raise Bad("unit", f"unknown CloudWatch unit {unit!r}")
            try:
                dims_json = self._canonical(dims)
            except SchemaMismatchError as exc:
                raise Bad(exc.field, exc.reason) from None
            if ts is None:
                raise Bad("timestamp", "missing timestamp")
            # epoch milliseconds (Metric Streams) go to Arrow as they are
            when = ts if ts.__class__ is int and ts >= 10**11 else parse_ts(ts, "timestamp")
            row = {"namespace": namespace, "metric_name": metric, "dimensions": dims_json, "timestamp": when,
                   "unit": unit, "storage_resolution": int(_num(resolution, "StorageResolution")),
                   "sample_count": _num(count, "count"), "sum": _num(total, "sum"), "min": _num(lo, "min"),
                   "max": _num(hi, "max"),
                   "values": None if values is None else [_num(v, "Values") for v in values],
                   "counts": None if counts is None else [_num(c, "Counts") for c in counts]}
        except Bad as bad:
            self.buf.reject(pos, bad.reason, raw, bad.field)
            return
        key = (namespace, metric, dims_json, unit)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = series_id_from_canonical(*key)
        row["_wl_series_id"] = sid
        if extra:
            row.update(extra)
        stats = (row["sample_count"], row["sum"], row["min"], row["max"])
        self.buf.add(row, pos, raw, 0 if aggregate else self.repeat(sid, when, stats))

    def single(self, pos: int | None, raw: Any, value: Any, **kw: Any) -> None:
        self.row(pos, raw, count=1, total=value, lo=value, hi=value, **kw)


def _stream(s: _Series, pos: int | None, rec: dict[str, Any]) -> None:
    v = rec.get("value")
    if not isinstance(v, dict):
        s.buf.reject(pos, "Metric Streams record without a statistic set `value`", rec, "value")
        return
    s.row(pos, rec, namespace=rec.get("namespace"), metric=rec.get("metric_name"), dims=rec.get("dimensions"),
          ts=rec.get("timestamp"), unit=rec.get("unit"), count=v.get("count"), total=v.get("sum"),
          lo=v.get("min"), hi=v.get("max"), aggregate=True,
          extra={"account_id": rec.get("account_id"), "region": rec.get("region"),
                 "metric_stream_name": rec.get("metric_stream_name")})


def _datum(s: _Series, pos: int | None, d: Any, namespace: Any) -> None:
    if not isinstance(d, dict):
        s.buf.reject(pos, "MetricDatum is not an object", d)
        return
    kw = {"namespace": namespace, "metric": d.get("MetricName"), "dims": d.get("Dimensions"),
          "ts": d.get("Timestamp"), "unit": d.get("Unit"), "resolution": d.get("StorageResolution", 60)}
    if isinstance(d.get("StatisticValues"), dict):
        sv = d["StatisticValues"]
        s.row(pos, d, count=sv.get("SampleCount"), total=sv.get("Sum"), lo=sv.get("Minimum"),
              hi=sv.get("Maximum"), **kw)
    elif isinstance(d.get("Values"), list) and d["Values"]:
        vals = d["Values"]
        counts = d.get("Counts") or [1.0] * len(vals)
        if len(counts) != len(vals):
            s.buf.reject(pos, "Values and Counts differ in length", d, "Counts")
            return
        try:
            nums, cnts = [_num(v, "Values") for v in vals], [_num(c, "Counts") for c in counts]
        except Bad as bad:
            s.buf.reject(pos, bad.reason, d, bad.field)
            return
        s.row(pos, d, count=sum(cnts), total=sum(v * c for v, c in zip(nums, cnts)), lo=min(nums),
              hi=max(nums), values=nums, counts=cnts, **kw)
    elif "Value" in d:
        s.single(pos, d, d["Value"], **kw)
    else:
        s.buf.reject(pos, "MetricDatum without Value, Values or StatisticValues", d, "Value")


def _statistics(s: _Series, pos: int | None, i: int, p: Any, metric: Any) -> None:
    if not isinstance(p, dict):
        s.buf.reject(i, "datapoint is not an object", p)
        return
    kw = {"namespace": s.opts.get("namespace"), "metric": s.opts.get("metric_name") or metric,
          "dims": s.opts.get("dimensions"), "ts": p.get("Timestamp"), "unit": p.get("Unit", s.opts.get("unit"))}
    n, total, avg = p.get("SampleCount"), p.get("Sum"), p.get("Average")
    if n is None:
        n = 1 if total is None else None
    if total is None and avg is not None and n is not None:
        try:
            total = _num(avg, "Average") * _num(n, "SampleCount")
        except Bad as bad:
            s.buf.reject(i, bad.reason, p, bad.field)
            return
    if n is None or total is None:
        s.buf.reject(i, "datapoint needs SampleCount with Sum or Average", p, "SampleCount")
        return
    base = avg if avg is not None else total
    s.row(i, p, count=n, total=total, lo=p.get("Minimum", base), hi=p.get("Maximum", base), aggregate=True, **kw)


def _value(s: _Series, pos: int | None, v: Any, first: int = 0) -> None:
    ns = s.opts.get("namespace")
    if isinstance(v, dict) and "metric_name" in v and "namespace" in v:
        _stream(s, pos, v)
    elif isinstance(v, dict) and isinstance(v.get("MetricDataResults"), list):
        for r in v["MetricDataResults"]:
            ts, vals = (r.get("Timestamps"), r.get("Values")) if isinstance(r, dict) else (None, None)
            if not isinstance(ts, list) or not isinstance(vals, list) or len(ts) != len(vals):
                s.buf.reject(pos, "MetricDataResult needs Timestamps and Values of equal length", r)
                continue
            metric = s.opts.get("metric_name") or r.get("Label") or r.get("Id")
            for i, (t, x) in enumerate(zip(ts, vals)):
                s.single(i, {"Id": r.get("Id"), "Timestamp": t, "Value": x}, x, namespace=ns, metric=metric,
                         dims=s.opts.get("dimensions"), ts=t, unit=s.opts.get("unit"), aggregate=True)
    elif isinstance(v, dict) and isinstance(v.get("Datapoints"), list):
        for i, p in enumerate(v["Datapoints"], start=first):
            _statistics(s, pos, i, p, v.get("Label"))
    elif isinstance(v, dict) and isinstance(v.get("MetricData"), list):
        for i, d in enumerate(v["MetricData"], start=first):
            _datum(s, i if pos is None else pos, d, v.get("Namespace", ns))
    elif isinstance(v, list):
        for i, d in enumerate(v, start=first):
            if isinstance(d, dict) and "metric_name" in d:
                _stream(s, i if pos is None else pos, d)
            else:
                _datum(s, i if pos is None else pos, d, ns)
    else:
        s.buf.reject(pos, "not CloudWatch metric data (Metric Streams, get-metric-data/-statistics, "
                     "PutMetricData or CSV)", v)


def _csv(s: _Series, data: bytes) -> None:
    if not s.opts.get("namespace") or not s.opts.get("metric_name"):
        s.buf.reject(None, "CSV metrics need the series named: pass the namespace and metric_name options",
                     data[:200])
        return
    kw = {"namespace": s.opts["namespace"], "metric": s.opts["metric_name"], "dims": s.opts.get("dimensions"),
          "unit": s.opts.get("unit")}
    for i, raw in enumerate(data.splitlines(), start=1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            s.buf.reject(i, f"invalid UTF-8: {exc}", raw)
            continue
        if not text:
            continue
        parts = [p.strip().strip('"') for p in text.split(",")]
        if i == 1 and parts and parts[0].lower() in ("timestamp", "time", "date"):
            continue
        if len(parts) != 2:
            s.buf.reject(i, "expected two columns: timestamp,value", text.encode())
            continue
        s.single(i, text.encode(), parts[1], ts=parts[0], **kw)


def read_unit(dec: Decoded, options: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of one decoded file or payload."""
    buf = RowBuffer(SOURCE, dec.unit.origin, dec.raw_bytes)
    s = _Series(buf, options)
    first = head(dec.data)
    if dec.problem and not dec.data:
        buf.reject(None, dec.problem)
    elif first and first not in (b"{", b"["):
        _csv(s, dec.data)
        if dec.problem:
            buf.reject(None, dec.problem, dec.data[-200:])
    else:
        reported = dec.problem is None
        with no_gc():
            for doc in documents(dec.data, limits):
                if doc.error is not None:
                    buf.reject(doc.line, doc.error if reported else f"{dec.problem}; {doc.error}", doc.raw)
                    reported = True
                if doc.value is not None:
                    _value(s, doc.line, doc.value, doc.first)
                yield from buf.batches()
        if not reported:  # damaged storage that happened to end between two records
            buf.reject(None, str(dec.problem), dec.data[-200:])
    yield from buf.batches(final=True)


def read(decoded: Iterable[Decoded], *, limits: Limits = DEFAULT_LIMITS, **options: Any) -> Iterator[Batch]:
    """Metric batches for every decoded unit (see the module docstring for options)."""
    for dec in decoded:
        yield from read_unit(dec, options, limits)
