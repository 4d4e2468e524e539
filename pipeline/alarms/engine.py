"""Evaluate alarms (once, as of a time, or replayed over a range), record transitions, run actions.

Guarantees:

* a transition (state change) is recorded in history with its StateReason/StateReasonData, and only
  a transition runs actions: the new state's action list, when ``ActionsEnabled``;
* an action that names an SNS topic (``arn:aws:sns:…:name`` or a plain name) publishes CloudWatch's
  notification through :mod:`pipeline.notify`; every action leaves an ``Action`` history item
  (``Successfully executed action …`` / ``Failed to execute action …``); other ARN kinds (Lambda,
  EC2, Auto Scaling, SSM) are recorded as not supported locally;
* composite alarms are evaluated after every metric alarm, children (and actions suppressors)
  before parents; a composite with an ``ActionsSuppressor`` runs its actions as
  :mod:`pipeline.alarms.suppression` decides, live and in a replay alike;
* :meth:`Engine.replay` fetches every metric once for the whole range and evaluates each minute in
  memory (vectorised); it starts from INSUFFICIENT_DATA and, unless ``record``, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.alarms import notification, rule, suppression
from pipeline.alarms.evaluate import (
    BandFn,
    boundaries_between,
    decide_codes_at,
    evaluate_one,
    fetch_start,
    prepare,
    reason_for,
)
from pipeline.alarms.evaluate import evaluate_many as _evaluate_many
from pipeline.alarms.missing import CODE_STATES, decide
from pipeline.alarms.model import ALARM, INSUFFICIENT_DATA, OK, STATES, Alarm, CompositeAlarm, MetricAlarm, alarm_arn
from pipeline.alarms.reason import composite_reason
from pipeline.alarms.source import MetricSource, grid_step
from pipeline.alarms.store import AlarmStore, history_row, parse_stamp
from pipeline.errors import InputError, PipelineError, RuleError
from pipeline.timeutil import EPOCH, floor, iso, to_utc

if TYPE_CHECKING:
    from pipeline.lake import Lake
    from pipeline.notify import Notifier


@dataclass(frozen=True)
class Transition:
    alarm_name: str
    alarm_type: str
    at: datetime
    old_state: str
    new_state: str
    reason: str
    reason_data: str | None


@dataclass
class ReplayResult:
    transitions: list[Transition] = field(default_factory=list)
    evaluations: int = 0
    minutes_in_alarm: dict[str, int] = field(default_factory=dict)
    final_states: dict[str, str] = field(default_factory=dict)
    notifications: int = 0
    # composites with an ActionsSuppressor: transitions whose actions do not run (→ what held them,
    # None: their state was already announced), held actions run later, and the end state
    muted: dict[tuple[str, datetime], str | None] = field(default_factory=dict)
    releases: list[tuple[datetime, str]] = field(default_factory=list)
    suppression: dict[str, suppression.Replayed] = field(default_factory=dict)


def _at(epoch_s: int) -> datetime:
    return EPOCH + timedelta(seconds=int(epoch_s))


def _try_preload(preload: Callable[..., Any], metrics: list[Any], start: datetime, end: datetime) -> None:
    """Bulk-read the metrics; on any failure each alarm reads (and reports errors) on its own."""
    try:
        preload(metrics, start, end)
    except Exception:  # noqa: BLE001 - an optimisation only; per-alarm reads surface the real error
        pass


class Engine:
    """Alarms of one lake with a metric source; call :meth:`save` (or use ``with``) to persist."""

    def __init__(self, lake: Lake, source: MetricSource | None = None, *, notifier: Notifier | None = None,
                 band_fn: BandFn | None = None):
        from pipeline.alarms.source import LakeSource

        self.lake = lake
        self.store = AlarmStore(lake)
        self.source = source or LakeSource(lake)
        self.band_fn = band_fn
        self._notifier = notifier
        self._own_notifier = False
        self.notifications = 0
        self.errors: list[tuple[str, str]] = []
        """(alarm, message) of evaluations that failed (bad data, ambiguous units); their state is kept."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.save()

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            from pipeline.notify import Notifier

            self._notifier = Notifier(self.lake)
            self._own_notifier = True
        return self._notifier

    def save(self) -> None:
        self.store.save()
        if self._notifier is not None and self._own_notifier:
            self._notifier.close()

    # -- transitions and actions -------------------------------------------------------------------

    def _transition(self, alarm: Alarm, t: Transition, *, origin: str, actions: bool = True,
                    suppressed_by: str | None = None) -> None:
        st = self.store.state(alarm.name)
        # stable across re-evaluations and restarts: the state it leaves (and since when) and the new one
        transition_id = f"{alarm.name}:{st.state_value}@{st.state_transitioned_timestamp}->{t.new_state}"
        st.state_value, st.state_reason, st.state_reason_data = t.new_state, t.reason, t.reason_data
        st.state_updated_timestamp = st.state_transitioned_timestamp = iso(t.at)
        held = ({"actionsSuppressedBy": suppressed_by,
                 "actionsSuppressedReason": f"Actions suppressed by {suppressed_by}"} if suppressed_by else {})
        data = {"version": "1.0",
                "oldState": {"stateValue": t.old_state},
                "newState": {"stateValue": t.new_state, "stateReason": t.reason,
                             **({"stateReasonData": t.reason_data} if t.reason_data else {}), **held}}
        self.store.pending_history.append(history_row(
            alarm.name, alarm.kind, t.at, "StateUpdate", f"Alarm updated from {t.old_state} to {t.new_state}",
            data, old=t.old_state, new=t.new_state, reason=t.reason, reason_data=t.reason_data, origin=origin))
        if actions and alarm.actions_enabled:
            self._run_actions(alarm, t, origin, transition_id)

    def _run_actions(self, alarm: Alarm, t: Transition, origin: str, transition_id: str) -> None:
        acts = alarm.actions_for(t.new_state)
        if not acts:
            return
        msg = notification.message(alarm, old_state=t.old_state, new_state=t.new_state, reason=t.reason,
                                   reason_data=t.reason_data, at=t.at,
                                   configuration_updated=self.store.updated.get(alarm.name, ""))
        for arn in acts:
            if arn.startswith("arn:") and not arn.startswith("arn:aws:sns:"):
                ok, summary = False, f"Failed to execute action {arn}. Only SNS topic actions run locally"
            else:
                try:
                    r = self.notifier.publish(arn, notification.subject(alarm.name, t.new_state), msg, at=t.at,
                                              dedup_id=f"alarm:{transition_id}")
                    self.notifications += not r.duplicate
                    ok = not r.errors
                    summary = (f"Successfully executed action {arn}" if ok else
                               f"Failed to execute action {arn}. Received error: {r.errors[0]}"
                               f" ({r.queued} queued for retry)")
                except PipelineError as e:
                    ok, summary = False, f"Failed to execute action {arn}. Received error: {e}"
            self.store.pending_history.append(history_row(
                alarm.name, alarm.kind, t.at, "Action", summary,
                {"actionState": "Succeeded" if ok else "Failed", "notificationResource": arn,
                 "stateUpdateTimestamp": iso(t.at)}, origin=origin))

    # -- one evaluation ------------------------------------------------------------------------------

    def evaluate(self, at: datetime, *, origin: str = "evaluate") -> list[Transition]:
        """Evaluate every alarm as of ``at`` (floored to the evaluation grid) and apply changes."""
        out: list[Transition] = []
        metric_alarms = [a for a in self.store.metric_alarms() if isinstance(a, MetricAlarm)]
        preload = getattr(self.source, "preload", None)
        if preload is not None and metric_alarms:
            first = min(fetch_start(a, floor(at, 60)) for a in metric_alarms)
            _try_preload(preload, [m for a in metric_alarms for m in a.metrics], _at(first), floor(at, 60))
        for alarm in metric_alarms:
            b = floor(at, grid_step(alarm.period))
            st = self.store.state(alarm.name)
            try:
                prep = prepare(alarm, self.source, b, b, as_of=to_utc(at), band_fn=self.band_fn)
            except PipelineError as e:  # CloudWatch's EvaluationState EVALUATION_ERROR: state kept
                self.errors.append((alarm.name, str(e)))
                continue
            ev = evaluate_one(prep, b, st.state_value)
            st.last_evaluated = iso(b)
            if ev.state != st.state_value:
                t = Transition(alarm.name, alarm.kind, b, st.state_value, ev.state, ev.reason, ev.reason_data)
                self._transition(alarm, t, origin=origin)
                out.append(t)
        b = floor(at, 60)
        for comp in self.store.composite_order():
            t2 = self._evaluate_composite(comp, b)
            run = self._suppress(comp, b, t2)
            if t2 is not None:
                st = self.store.state(comp.name)
                self._transition(comp, t2, origin=origin, actions=run, suppressed_by=st.actions_suppressed_by)
                out.append(t2)
            elif run and comp.actions_enabled:
                self._release(comp, b, origin)
        from pipeline.notify import OUTBOX_PATH

        if self._notifier is None and self.lake.exists(OUTBOX_PATH):
            _ = self.notifier  # opening a notifier retries undelivered messages once
        return out

    def _evaluate_composite(self, comp: CompositeAlarm, b: datetime) -> Transition | None:
        states = {n: s.state_value for n, s in self.store.states.items()}
        new = ALARM if rule.evaluate(comp.rule, states) else OK
        st = self.store.state(comp.name)
        st.last_evaluated = iso(b)
        if new == st.state_value:
            return None
        kids = sorted(rule.children(comp.rule))
        info = [(alarm_arn(k), self.store.states[k].state_value,
                 parse_stamp(self.store.states[k].state_transitioned_timestamp)) for k in kids]
        trig = max(info, key=lambda x: x[2] or EPOCH)[0] if info else None
        reason, data = composite_reason(trig, new, b, info)
        return Transition(comp.name, comp.kind, b, st.state_value, new, reason, data)

    def _suppress(self, comp: CompositeAlarm, b: datetime, t: Transition | None) -> bool:
        """Step ``comp``'s action suppression for this evaluation (``t``: its transition, if any);
        True when actions run now — ``t``'s, or (without ``t``) the held ones."""
        st = self.store.state(comp.name)
        if comp.suppressor is None:  # (a suppressor removed by a put leaves nothing held)
            suppression.keep(st, None)
            if t is not None:
                st.announced_state = t.new_state
            return t is not None
        sup = self.store.states.get(comp.suppressor)
        state = t.new_state if t is not None else st.state_value
        held, run = suppression.step(suppression.held_of(st), st.announced_state, now=int(b.timestamp()),
                                     state=state, transitioned=t is not None,
                                     suppressor_in_alarm=sup is not None and sup.state_value == ALARM,
                                     wait=comp.wait, extension=comp.extension)
        suppression.keep(st, held)
        if run:
            st.announced_state = state
        return run

    def _release(self, comp: CompositeAlarm, at: datetime, origin: str) -> None:
        """Run the actions of ``comp``'s current state, held since its last transition."""
        st = self.store.state(comp.name)
        t = Transition(comp.name, comp.kind, at, st.state_value, st.state_value, st.state_reason,
                       st.state_reason_data)
        self._run_actions(comp, t, origin, f"{comp.name}:released@{st.state_transitioned_timestamp}")

    def set_state(self, name: str, value: str, reason: str, reason_data: str | None = None, *,
                  at: datetime) -> Transition | None:
        """SetAlarmState: force a state until the next evaluation (actions run on a change)."""
        if name not in self.store.alarms:
            raise RuleError(name, "no such alarm")
        if value not in STATES:
            raise InputError(f"state must be one of {', '.join(STATES)}", field="StateValue", value=value)
        if len(reason) > 1023:
            raise InputError("StateReason is at most 1,023 characters", field="StateReason", value=len(reason))
        if reason_data is not None:
            import json

            try:
                json.loads(reason_data)
            except ValueError:
                raise InputError("StateReasonData must be JSON", field="StateReasonData", value=reason_data) from None
        alarm = self.store.alarms[name]
        st = self.store.state(name)
        if st.state_value == value:
            st.state_reason, st.state_reason_data, st.state_updated_timestamp = reason, reason_data, iso(at)
            return None
        t = Transition(name, alarm.kind, to_utc(at), st.state_value, value, reason, reason_data)
        self._transition(alarm, t, origin="set-state")
        suppression.keep(st, None)  # its actions ran: nothing is held, the state is announced
        st.announced_state = value
        return t

    # -- replay --------------------------------------------------------------------------------------

    def replay(self, start: datetime, end: datetime, *, record: bool = False, notify: bool = False,
               names: list[str] | None = None, progress: Callable[[int], None] | None = None) -> ReplayResult:
        """Evaluate every minute in ``[start, end]`` from a fresh INSUFFICIENT_DATA state.

        With ``record`` the transitions go to history and the final states replace the stored ones;
        with ``notify`` (implies record) actions run for every transition, in time order.
        """
        record = record or notify
        res = ReplayResult()
        codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        selected = [a for a in self.store.alarms.values() if names is None or a.name in names]
        metric_alarms = [a for a in selected if isinstance(a, MetricAlarm)]
        preload = getattr(self.source, "preload", None)
        if preload is not None and metric_alarms:
            first = min(fetch_start(a, start) for a in metric_alarms)
            _try_preload(preload, [m for a in metric_alarms for m in a.metrics], _at(first), end)
        for alarm in selected:
            if not isinstance(alarm, MetricAlarm):
                continue
            try:
                prep = prepare(alarm, self.source, start, end, band_fn=self.band_fn)
            except PipelineError as e:
                self.errors.append((alarm.name, str(e)))
                continue
            bounds = boundaries_between(start, end, alarm.period)
            states = _evaluate_many(prep, bounds, INSUFFICIENT_DATA)
            codes[alarm.name] = (bounds, states)
            res.evaluations += len(bounds)
            prev = np.concatenate([[2], states[:-1]])
            for i in np.nonzero(states != prev)[0]:
                b = int(bounds[i])
                idx, slot_codes = decide_codes_at(prep, b)
                d = decide(slot_codes.tolist(), alarm.evaluation_periods, alarm.datapoints_to_alarm,
                           alarm.effective_treat_missing)
                old, new = CODE_STATES[int(prev[i])], CODE_STATES[int(states[i])]
                reason, data = reason_for(prep, idx, slot_codes, d, old, _at(b))
                res.transitions.append(Transition(alarm.name, alarm.kind, _at(b), old, new, reason, data))
            if progress:
                progress(1)
        minute = boundaries_between(start, end, 60)
        for comp in self.store.composite_order():
            if names is not None and comp.name not in names:
                continue
            self._replay_composite(comp, minute, codes, res)
            if comp.suppressor is not None:
                rep = res.suppression[comp.name] = suppression.replay_codes(comp, minute, codes)
                res.muted.update({(comp.name, _at(int(minute[i]))): by for i, by in rep.muted.items()})
                res.releases += [(_at(int(minute[i])), comp.name) for i in rep.releases]
        res.transitions.sort(key=lambda t: (t.at, t.alarm_type != "MetricAlarm"))
        for name, (bounds, states) in codes.items():
            step = int(bounds[1] - bounds[0]) if len(bounds) > 1 else 60
            res.minutes_in_alarm[name] = int((states == 1).sum()) * step // 60
            res.final_states[name] = CODE_STATES[int(states[-1])] if len(states) else INSUFFICIENT_DATA
        if record:
            self.store.drop_replayed(set(res.final_states), start, end)
            releases = sorted(res.releases)
            for t in res.transitions:
                while releases and releases[0][0] < t.at:  # held actions that ran before t
                    at, name = releases.pop(0)
                    if notify:
                        self._release(self.store.alarms[name], at, "replay")  # type: ignore[arg-type]
                key = (t.alarm_name, t.at)
                self._transition(self.store.alarms[t.alarm_name], t, origin="replay",
                                 actions=notify and key not in res.muted, suppressed_by=res.muted.get(key))
            for at, name in releases if notify else []:
                self._release(self.store.alarms[name], at, "replay")  # type: ignore[arg-type]
            for name, rep in res.suppression.items():
                suppression.keep(self.store.state(name), rep.held)
                self.store.state(name).announced_state = rep.announced
            for name, final in res.final_states.items():
                st = self.store.state(name)
                st.last_evaluated = iso(end)
                if st.state_value != final:  # no transition in the range: the replay's start state stands
                    st.state_value, st.state_reason = final, "Unchecked: Initial alarm creation"
                    st.state_reason_data = None
                    st.state_updated_timestamp = st.state_transitioned_timestamp = iso(start)
            res.notifications = self.notifications
        return res

    def _replay_composite(self, comp: CompositeAlarm, minute: np.ndarray,
                          codes: dict[str, tuple[np.ndarray, np.ndarray]], res: ReplayResult) -> None:
        names = np.array(list(CODE_STATES[i] for i in range(3)))
        arrays: dict[str, Any] = {}
        since: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kid in rule.children(comp.rule):
            if kid not in codes:
                continue
            bounds, states = codes[kid]
            pos = np.searchsorted(bounds, minute, side="right") - 1
            child = np.where(pos >= 0, states[np.maximum(pos, 0)], 2)
            arrays[kid] = names[child]
            prev = np.concatenate([[2], states[:-1]])
            ch = np.nonzero(states != prev)[0]
            since[kid] = (bounds[ch], states[ch])
        value = rule.evaluate(comp.rule, arrays, combine=(np.logical_and, np.logical_or, np.logical_not))
        truth = np.broadcast_to(np.asarray(value, dtype=bool), minute.shape)
        states = np.where(truth, 1, 0).astype(np.int8)
        codes[comp.name] = (minute, states)
        res.evaluations += len(minute)
        prev = np.concatenate([[2], states[:-1]])
        kids = sorted(rule.children(comp.rule))
        for i in np.nonzero(states != prev)[0]:
            b = int(minute[i])
            info: list[tuple[str, str, datetime | None]] = []
            for k in kids:
                if k in since and len(since[k][0]):
                    j = np.searchsorted(since[k][0], b, side="right") - 1
                    if j >= 0:
                        info.append((alarm_arn(k), CODE_STATES[int(since[k][1][j])], _at(int(since[k][0][j]))))
                        continue
                info.append((alarm_arn(k), INSUFFICIENT_DATA, None))
            trig = max(info, key=lambda x: x[2] or EPOCH)[0] if info else None
            new = CODE_STATES[int(states[i])]
            reason, data = composite_reason(trig, new, _at(b), info)
            res.transitions.append(Transition(comp.name, comp.kind, _at(b), CODE_STATES[int(prev[i])], new,
                                              reason, data))
