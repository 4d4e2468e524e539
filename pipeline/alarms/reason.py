"""StateReason text and StateReasonData JSON, worded as CloudWatch words them.

Forms reproduced from real CloudWatch notifications (reference/aws-semantics.md §2.8, §9.4):

* ``Threshold Crossed: 2 out of the last 3 datapoints [14.0 (05/12/25 21:51:00), 9.0 (05/12/25
  21:50:00)] were greater than or equal to the threshold (5.0) (minimum 2 datapoints for OK ->
  ALARM transition).`` — datapoints newest first, time ``dd/MM/yy HH:mm:ss`` (UTC, period start);
* the OK form says ``was not greater than …`` with ``minimum N−M+1 datapoints for ALARM -> OK``;
* ``Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was
  treated as [Breaching].`` (or ``[NonBreaching]``);
* ``Insufficient Data: 1 datapoint was unknown.``;
* anomaly alarms: ``Thresholds Crossed: 1 out of the last 1 datapoints [0.0 (03/10/19 15:58:00)] was
  less than the lower thresholds [0.02] or greater than the upper thresholds [0.3] (minimum 1
  datapoint for OK -> ALARM transition).``;
* composite alarms: ``arn:…:alarm:child transitioned to ALARM at Sunday 30 October, 2022 20:47:35
  UTC`` with ``{"triggeringAlarms": [{"arn", "state": {"value", "timestamp"}}]}``.

When some but not all of N points were filled, the filled count is appended as in the all-missing
form (inferred wording).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.alarms.missing import BAD, Decision
from pipeline.alarms.model import ALARM, OK, OPERATOR_WORDS, MetricAlarm
from pipeline.timeutil import EPOCH, to_utc


def java_double(v: float) -> str:
    """Format a float as Java's ``Double.toString`` does (``5.0``, ``0.4652``, ``1.0E7``)."""
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if v == 0 or 1e-3 <= abs(v) < 1e7:
        text = repr(v)
        return text if ("." in text or "e" in text) else text + ".0"
    mant, exp = f"{v:.16e}".split("e")
    mant = mant.rstrip("0")
    mant = mant + "0" if mant.endswith(".") else mant
    short = repr(float(mant))
    return f"{short}E{int(exp)}"


def cw_time(t: datetime) -> str:
    """``2019-10-02T17:04:40.985+0000`` (CloudWatch's JSON time format)."""
    u = to_utc(t)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}+0000"


def _dp_time(epoch_s: int) -> str:
    return (EPOCH + timedelta(seconds=int(epoch_s))).strftime("%d/%m/%y %H:%M:%S")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _list(points: Sequence[tuple[int, float]]) -> str:
    return "[" + ", ".join(f"{java_double(v)} ({_dp_time(t)})" for t, v in points) + "]"


def _band_words(op: str, negate: bool, lows: list[float], ups: list[float]) -> str:
    lo = "[" + ", ".join(java_double(x) for x in lows) + "]"
    up = "[" + ", ".join(java_double(x) for x in ups) + "]"
    n = "not " if negate else ""
    if op == "LessThanLowerThreshold":
        return f"{n}less than the lower thresholds {lo}"
    if op == "GreaterThanUpperThreshold":
        return f"{n}greater than the upper thresholds {up}"
    return f"{n}less than the lower thresholds {lo} or {n}greater than the upper thresholds {up}"


def metric_reason(alarm: MetricAlarm, decision: Decision, old_state: str, query_time: datetime,
                  slot_times: Sequence[int], slot_values: Sequence[float], slot_codes: Sequence[int],
                  lower: Any = None, upper: Any = None, counts: Any = None) -> tuple[str, str]:
    """(StateReason, StateReasonData JSON) for a metric-alarm decision."""
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    new = decision.state
    used = list(decision.used)
    data: dict[str, Any] = {"version": "1.0", "queryDate": cw_time(query_time)}
    if used:
        data["startDate"] = cw_time(EPOCH + timedelta(seconds=int(slot_times[used[0]])))
    if alarm.math is None:  # a math alarm's value is its expression's, not one statistic's
        data["statistic"] = alarm.metric.stat
    data.update(period=alarm.period, recentDatapoints=[float(slot_values[i]) for i in used])
    if alarm.band is None:
        data["threshold"] = alarm.threshold
    else:
        data["recentLowerThresholds"] = [float(lower[i]) for i in used] if lower is not None else []
        data["recentUpperThresholds"] = [float(upper[i]) for i in used] if upper is not None else []
    data["evaluatedDatapoints"] = [
        {"timestamp": cw_time(EPOCH + timedelta(seconds=int(slot_times[i]))),
         **({"sampleCount": float(counts[i])} if counts is not None and not math.isnan(counts[i]) else {}),
         "value": float(slot_values[i])} for i in reversed(used)]
    reason_data = json.dumps(data, separators=(",", ":"))
    if new not in (OK, ALARM):
        return f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown.", reason_data
    fill_word = "[Breaching]" if decision.fill == BAD else "[NonBreaching]"
    if not used:
        f = decision.fills
        return (f"Threshold Crossed: no datapoints were received for {_plural(f, 'period')} and "
                f"{_plural(f, 'missing datapoint')} {'was' if f == 1 else 'were'} treated as {fill_word}."), reason_data
    want_bad = new == ALARM
    chosen = [i for i in reversed(used) if (slot_codes[i] == BAD) == want_bad]
    k = len(chosen)
    total = len(used) + decision.fills
    verb = "was" if k == 1 else "were"
    minimum = m if want_bad else n - m + 1
    pts = [(int(slot_times[i]), float(slot_values[i])) for i in chosen]
    if alarm.band is None:
        words = ("" if want_bad else "not ") + OPERATOR_WORDS[alarm.comparison_operator]
        what = f"{words} the threshold ({java_double(alarm.threshold or 0.0)})"
        head = "Threshold Crossed"
    else:
        what = _band_words(alarm.comparison_operator, not want_bad,
                           [float(lower[i]) for i in chosen] if lower is not None else [],
                           [float(upper[i]) for i in chosen] if upper is not None else [])
        head = "Thresholds Crossed"
    filled = ""
    if decision.fills:
        f = decision.fills
        filled = (f" and {_plural(f, 'missing datapoint')} {'was' if f == 1 else 'were'} treated as "
                  f"{fill_word}")
    text = (f"{head}: {k} out of the last {total} datapoints {_list(pts)} {verb} {what}{filled} "
            f"(minimum {_plural(minimum, 'datapoint')} for {old_state} -> {new} transition).")
    return text[:1023], reason_data


def composite_reason(trigger_arn: str | None, new_state: str, at: datetime,
                     children: list[tuple[str, str, datetime | None]]) -> tuple[str, str]:
    """(StateReason, StateReasonData) of a composite transition; ``children`` = (arn, state, since)."""
    data = {"triggeringAlarms": [
        {"arn": arn, "state": {"value": st, **({"timestamp": cw_time(ts)} if ts else {})}}
        for arn, st, ts in children]}
    when = to_utc(at).strftime("%A %d %B, %Y %H:%M:%S UTC")
    if trigger_arn is None:
        text = f"AlarmRule evaluated to {'TRUE' if new_state == ALARM else 'FALSE'} at {when}"
    else:
        state = next((st for arn, st, _ in children if arn == trigger_arn), new_state)
        text = f"{trigger_arn} transitioned to {state} at {when}"
    return text, json.dumps(data, separators=(",", ":"))
