"""One series from what the AWS CLI prints for CloudWatch metrics, for ``anomalies score``.

* ``aws cloudwatch get-metric-data`` output: ``{"MetricDataResults": [{"Id", "Label",
  "Timestamps": [...], "Values": [...]}, ...]}`` — newest first unless ``ScanBy`` said otherwise;
  the result is chosen by ``series`` (its ``Id`` or ``Label``), or is the only one;
* ``aws cloudwatch get-metric-statistics`` output: ``{"Label", "Datapoints": [{"Timestamp",
  "Average" | "Sum" | "Minimum" | "Maximum" | "SampleCount", "ExtendedStatistics": {"p99": …},
  "Unit"}, ...]}`` — in no particular order; the statistic is ``stat``, or the only one present.

Several outputs one after another in one file (the pages of a loop over ``NextToken``, appended)
are merged in file order; an output with no datapoints is a series of no points.

Rows come back in the file's order with their raw text, as the CSV reader gives them
(:func:`pipeline.anomaly.series_io.read_series` orders the times and writes the scores back in
this order). A file that is neither shape, whose series or statistic is ambiguous, or whose
results are not what the CLI prints (an ``Id`` that is no string, ``Timestamps`` and ``Values`` that
are not lists of one length) raises :class:`~pipeline.errors.InputError` naming what it holds; a
datapoint or result that is not a JSON object is skipped and named (``skipped``); a value that is
no number, or a time that is none, is a missing point or a bad time as in a CSV
(tests/pipeline/anomaly/test_series_fuzz.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import InputError

STATS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")


@dataclass
class JsonRows:
    """Raw ``times`` / ``values`` text per row, and what the reader had to say."""

    times: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    what: str = ""
    skipped: list[str] = field(default_factory=list)  # where each entry that is no JSON object was


def read_json_rows(p: Path, series: str | None = None, stat: str | None = None) -> JsonRows:
    """The rows of one series of a get-metric-data or get-metric-statistics output file — or of
    several such outputs one after another (pages saved by a loop over ``NextToken``), merged in
    file order: get-metric-data results by ``Id``, get-metric-statistics datapoints in turn."""
    docs = _documents(p)
    if all(isinstance(d, dict) and isinstance(d.get("MetricDataResults"), list) for d in docs):
        merged: dict[Any, dict[str, Any]] = {}
        skipped = []
        for page, d in enumerate(docs, start=1):
            for i, r in enumerate(d["MetricDataResults"]):
                if not isinstance(r, dict):
                    skipped.append(f"page {page} MetricDataResults[{i}]")
                    continue
                if not isinstance(r.get("Id"), str | int | None):
                    raise InputError("a result's Id must be a string", path=str(p), field="MetricDataResults[].Id",
                                     value=r.get("Id"))
                m = merged.setdefault(r.get("Id"), {**r, "Timestamps": [], "Values": []})
                ts, vs = r.get("Timestamps") or [], r.get("Values") or []
                if not isinstance(ts, list) or not isinstance(vs, list) or len(ts) != len(vs):
                    raise InputError("Timestamps and Values must be lists of the same length", path=str(p),
                                     field=f"MetricDataResults[{r.get('Id')}]", value=(_size(ts), _size(vs)))
                m["Timestamps"] += ts
                m["Values"] += vs
        rows = _paged(_metric_data(p, list(merged.values()), series), len(docs))
        rows.skipped = skipped
        return rows
    if all(isinstance(d, dict) and isinstance(d.get("Datapoints"), list) for d in docs):
        doc = {**docs[0], "Datapoints": [x for d in docs for x in d["Datapoints"]]}
        return _paged(_statistics(p, doc, stat), len(docs))
    raise InputError("expected `aws cloudwatch get-metric-data` output (MetricDataResults) or "
                     "`get-metric-statistics` output (Datapoints), or a CSV `timestamp,value`", path=str(p))


def _documents(p: Path) -> list[Any]:
    """Every JSON document in the file, one after another (whitespace between them)."""
    text = p.read_text(encoding="utf-8", errors="replace")
    dec, i = json.JSONDecoder(), 0
    docs: list[Any] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n\ufeff":
            i += 1
        if i >= len(text):
            return docs
        try:
            doc, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON: {e.msg}", path=str(p), line=e.lineno) from None
        docs.append(doc)


def _paged(rows: JsonRows, pages: int) -> JsonRows:
    if pages > 1:
        rows.what += f", {pages} pages merged"
    return rows


def _metric_data(p: Path, results: list[Any], series: str | None) -> JsonRows:
    ok = [r for r in results if isinstance(r, dict)]
    names = [f"{r.get('Id')} ({r.get('Label')})" for r in ok]
    if series is not None:
        ok = [r for r in ok if series in (r.get("Id"), r.get("Label"))]
        if not ok:
            raise InputError(f"no result with Id or Label {series!r}; the file holds: {', '.join(names) or 'none'}",
                             path=str(p), field="--series", value=series)
    if len(ok) != 1:
        raise InputError(f"{len(ok)} results ({', '.join(names) or 'none'}): choose one with --series ID",
                         path=str(p), field="MetricDataResults")
    r = ok[0]  # its Timestamps and Values checked and merged by read_json_rows
    return JsonRows([str(t) for t in r["Timestamps"]], list(r["Values"]), f"result {r.get('Id')} ({r.get('Label')})")


def _statistics(p: Path, doc: dict[str, Any], stat: str | None) -> JsonRows:
    points = [d for d in doc["Datapoints"] if isinstance(d, dict)]
    skipped = [f"Datapoints[{i}]" for i, d in enumerate(doc["Datapoints"]) if not isinstance(d, dict)]
    present = sorted({k for d in points for k in d if k in STATS}
                     | {k for d in points for k in _extended(d) if isinstance(k, str)})
    if not points:
        return JsonRows(what=f"{doc.get('Label') or 'datapoints'}: no datapoints", skipped=skipped)
    if stat is None:
        if len(present) != 1:
            raise InputError(f"the datapoints hold {', '.join(present) or 'no statistic'}: choose one with --stat",
                             path=str(p), field="Datapoints")
        stat = present[0]
    elif stat not in present:
        raise InputError(f"no {stat} in the datapoints (they hold {', '.join(present) or 'nothing'})",
                         path=str(p), field="--stat", value=stat)
    rows = JsonRows(what=f"{doc.get('Label') or 'datapoints'} {stat}", skipped=skipped)
    for d in points:
        v = d[stat] if stat in d else _extended(d).get(stat)
        rows.times.append(str(d.get("Timestamp", "")))
        rows.values.append(v)
    return rows


def _extended(point: dict[str, Any]) -> dict[Any, Any]:
    """A datapoint's ``ExtendedStatistics`` (percentiles by name), {} when it holds none or
    something else."""
    ext = point.get("ExtendedStatistics")
    return ext if isinstance(ext, dict) else {}


def _size(got: Any) -> int | str:
    """A list's length, else the JSON type found instead (for the error naming it)."""
    return len(got) if isinstance(got, list) else type(got).__name__
