"""CloudTrail Insights: unusual API call rates and error rates, as CloudTrail reports them.

For every (region, account, eventSource, eventName) the per-minute count of **write** management
calls (``readOnly = false``; ``ApiCallRateInsight``) and of **failed** calls, read or write
(``errorCode`` set; ``ApiErrorRateInsight``) is compared with its baseline: the average
per-minute count over the **7 days preceding** the minute (whole days; at least one day of
history is required, so the first day is never judged).

Test (AWS's own is undocumented): over the 5 minutes ending at a minute, the count ``c`` is
unusual when ``c ≥ 5``, ``c ≥ 3 λ`` and ``c ≥ λ + 5 √λ`` with ``λ = 5 × baseline`` (a
Poisson-style 5-sigma excess that also needs a real multiple of the usual rate and a minimum
volume, so a quiet API does not fire on two or three calls). The insight starts at the first
minute of that window that is clearly above the baseline rate (``> b + 3 √b + 1`` calls) and
ends after the last such minute once the 5-minute count has fallen back under ``λ + 2 √λ``
(baseline frozen at the start).

Each insight is a pair of events in CloudTrail's Insights format (see
:func:`pipeline.anomaly.insight_events.insight_pair`), sharing one ``sharedEventID``; IDs are
derived from the insight's identity, so re-running gives the same events. Results are written
into the lake table ``insights`` with the ``cloudtrail`` schema, so they query like CloudTrail
events (``insightDetails`` is JSON text).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.lake import Lake
from pipeline.timeutil import from_epoch, to_utc

CALL_RATE, ERROR_RATE = "ApiCallRateInsight", "ApiErrorRateInsight"
WINDOW = 5          # minutes summed by the test
MIN_COUNT = 5       # calls (or errors) in the window before anything is unusual
FACTOR = 3.0        # ... at least this multiple of the baseline
SIGMAS = 5.0        # ... and this many Poisson standard deviations above it
END_SIGMAS = 2.0
DAY_MIN = 1440
BASELINE_DAYS = 7


@dataclass
class Insight:
    """One unusual episode of one API (minutes are epoch minutes; ``end`` exclusive)."""

    region: str
    account: str
    event_source: str
    event_name: str
    insight_type: str
    start: int
    end: int
    baseline_avg: float
    baseline_minutes: int
    onset_avg: float
    insight_avg: float
    attributions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start_time(self) -> datetime:
        return from_epoch(self.start * 60, "s")

    @property
    def end_time(self) -> datetime:
        return from_epoch(self.end * 60, "s")


def find_episodes(counts: list[float], first_judged: int = 0,
                  ) -> Iterator[tuple[int, int, float, int]]:
    """``(start, end, baseline_avg, baseline_minutes)`` of unusual episodes in a dense series of
    per-minute counts (indexes into ``counts``; ``end`` exclusive); see the module docstring.

    >>> quiet = [1.0] * (2 * 1440) + [30.0] * 10 + [1.0] * 30
    >>> [(s - 2880, e - 2880, round(b, 2)) for s, e, b, _ in find_episodes(quiet)]
    [(0, 10, 1.0)]
    """
    n = len(counts)
    cs = [0.0] * (n + 1)
    for i, c in enumerate(counts):
        cs[i + 1] = cs[i] + c
    i = max(first_judged, DAY_MIN + WINDOW - 1)
    while i < n:
        days = min(BASELINE_DAYS, (i - WINDOW + 1) // DAY_MIN)
        b_len = days * DAY_MIN
        w0 = i - WINDOW + 1
        base = (cs[w0] - cs[w0 - b_len]) / b_len
        lam = WINDOW * base
        c = cs[i + 1] - cs[w0]
        if c >= MIN_COUNT and c >= FACTOR * lam and c >= lam + SIGMAS * math.sqrt(lam):
            hot = base + 3.0 * math.sqrt(base) + 1.0  # a minute clearly above the usual rate
            start = next((j for j in range(w0, i + 1) if counts[j] > hot), w0)
            end_limit = lam + END_SIGMAS * math.sqrt(lam)
            j = i + 1
            while j < n and cs[j + 1] - cs[max(0, j - WINDOW + 1)] > end_limit:
                j += 1
            last = max((k for k in range(start, j) if counts[k] > hot), default=i)
            # baseline: the whole days before the insight start
            bdays = min(BASELINE_DAYS, start // DAY_MIN)
            blen = bdays * DAY_MIN
            bavg = (cs[start] - cs[start - blen]) / blen if blen else base
            yield start, last + 1, bavg, blen
            i = max(j, last + 1) + WINDOW
            continue
        i += 1


@dataclass
class InsightsResult:
    """What one insights run analysed and found."""

    apis: int = 0
    minutes: int = 0
    insights: list[Insight] = field(default_factory=list)
    events: int = 0
    files: int = 0

    def summary(self) -> dict[str, Any]:
        rows: dict[str, Any] = {
            "analysed": f"{self.apis} API series over {self.minutes} minutes",
            "insights": f"{len(self.insights)} ({self.events} Start/End events into insights)",
        }
        for k, ins in enumerate(self.insights[:6], 1):
            rows[f"#{k}"] = (f"{ins.insight_type} {ins.event_source} {ins.event_name} "
                             f"{ins.region} {ins.start_time:%Y-%m-%d %H:%M} "
                             f"{ins.end - ins.start} min, {ins.insight_avg:.2f}/min vs "
                             f"baseline {ins.baseline_avg:.3f}/min")
        return rows


_BASE_FILTER = ("coalesce(eventType, '') <> 'AwsCloudTrailInsight' "
                "AND coalesce(managementEvent, true) AND coalesce(eventCategory, '') <> 'Data'")
_TYPE_FILTER = {CALL_RATE: "readOnly = false", ERROR_RATE: "errorCode IS NOT NULL"}


def detect_insights(con: Any, start: datetime | None = None, end: datetime | None = None,
                    ) -> tuple[list[Insight], int, int]:
    """Insights whose start lies in ``[start, end)`` from a DuckDB view ``cloudtrail``.

    Returns ``(insights sorted by start, API series analysed, minutes spanned)``.
    """
    where: list[str] = [_BASE_FILTER]
    params: list[Any] = []
    if start is not None:
        where.append("eventTime >= ?")
        params.append(to_utc(start) - timedelta(days=BASELINE_DAYS))
    if end is not None:
        where.append("eventTime < ?")
        params.append(to_utc(end))
    # one scan of the lake: the columns needed, into memory (attribution queries reuse it)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ct AS SELECT awsRegion, "
        "coalesce(recipientAccountId, '') AS account, eventSource, eventName, eventTime, "
        "readOnly, errorCode, userAgent, userIdentity.arn AS arn "
        f"FROM cloudtrail WHERE {' AND '.join(where)}", params)
    rows = con.execute(
        "SELECT awsRegion, account, eventSource, eventName, epoch_ms(eventTime) // 60000 AS m, "
        "count(*) FILTER (WHERE readOnly = false), count(*) FILTER (WHERE errorCode IS NOT NULL) "
        "FROM _ct GROUP BY ALL").fetchall()
    if not rows:
        return [], 0, 0
    m0 = min(r[4] for r in rows)
    m1 = max(r[4] for r in rows) + 1
    judged_from = max(0, int(to_utc(start).timestamp() // 60) - m0) if start else 0
    series: dict[tuple[str, str, str, str, str], list[float]] = {}
    for region, acct, src, name, m, writes, errors in rows:
        for typ, c in ((CALL_RATE, writes), (ERROR_RATE, errors)):
            if c:
                arr = series.setdefault((region, acct, src, name, typ), [0.0] * (m1 - m0))
                arr[m - m0] = float(c)
    found: list[Insight] = []
    for (region, acct, src, name, typ), arr in series.items():
        for s, e, bavg, blen in find_episodes(arr, judged_from):
            total = sum(arr[s:e])
            onset = sum(arr[s:s + WINDOW]) / min(WINDOW, e - s)
            ins = Insight(region, acct, src, name, typ, m0 + s, m0 + e, bavg, blen, onset,
                          total / (e - s))
            ins.attributions = _attributions(con, ins)
            found.append(ins)
    found.sort(key=lambda x: (x.start, x.insight_type, x.event_name))
    return found, len(series), m1 - m0


def _attributions(con: Any, ins: Insight) -> list[dict[str, Any]]:
    """Top-5 contributors by userIdentityArn, userAgent and errorCode, insight vs baseline."""
    out = []
    t_start, t_end = ins.start_time, ins.end_time
    b_start = t_start - timedelta(minutes=ins.baseline_minutes)
    for attr, expr in (("userIdentityArn", "arn"), ("userAgent", "userAgent"),
                       ("errorCode", "errorCode")):
        item: dict[str, Any] = {"attribute": attr}
        for part, lo, hi, minutes in (("insight", t_start, t_end, ins.end - ins.start),
                                      ("baseline", b_start, t_start, ins.baseline_minutes)):
            res = con.execute(
                f"SELECT {expr} AS v, count(*) AS c FROM _ct "
                f"WHERE {_TYPE_FILTER[ins.insight_type]} AND awsRegion = ? "
                "AND account = ? AND eventSource = ? AND eventName = ? "
                "AND eventTime >= ? AND eventTime < ? GROUP BY 1 ORDER BY c DESC, v LIMIT 5",
                [ins.region, ins.account, ins.event_source, ins.event_name, lo, hi]).fetchall()
            item[part] = [{"value": v, "average": round(c / max(minutes, 1), 4)} for v, c in res]
        out.append(item)
    return out


def run_insights(lake: Lake, *, start: datetime | None = None, end: datetime | None = None,
                 ) -> InsightsResult:
    """Find insights in the lake's ``cloudtrail`` table and (re)write them into ``insights``.

    Insights previously written whose start lies in the analysed range are replaced, so running
    twice gives the same table.
    """
    from pipeline.anomaly.insight_events import write_insights
    from pipeline.query.duck import connect

    res = InsightsResult()
    if not lake.table_files("cloudtrail"):
        return res
    con = connect(lake, ["cloudtrail"])
    try:
        res.insights, res.apis, res.minutes = detect_insights(con, start, end)
    finally:
        con.close()
    res.events, res.files = write_insights(lake, res.insights, start, end)
    return res
