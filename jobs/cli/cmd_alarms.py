"""``watchlake alarms``: put, describe, history, evaluate, replay, set-state and delete CloudWatch-style alarms."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def register(sub: Any) -> None:
    p = sub.add_parser("alarms", help="CloudWatch-style metric and composite alarms",
                       description="Alarms with PutMetricAlarm/PutCompositeAlarm field names, evaluated every "
                       "minute over the lake's metric tiers; state changes notify SNS-like topics.")
    s = p.add_subparsers(dest="alarms_command", metavar="ACTION", required=True)

    put = s.add_parser("put", help="create or update alarms from a YAML/JSON file (one alarm or a list)")
    put.add_argument("file")
    put.set_defaults(func=run_put)

    d = s.add_parser("describe", help="list alarms with their state")
    d.add_argument("names", nargs="*", help="only these alarms")
    d.add_argument("--state-value", choices=STATES)
    d.add_argument("--format", choices=["table", "json"], default="table")
    d.set_defaults(func=run_describe)

    h = s.add_parser("history", help="state changes and actions of an alarm, newest first")
    h.add_argument("name")
    h.add_argument("--type", dest="item_type", choices=["StateUpdate", "Action", "ConfigurationUpdate"])
    h.add_argument("--max", type=int, default=50, help="at most this many items (default 50)")
    h.add_argument("--format", choices=["table", "json"], default="table")
    h.set_defaults(func=run_history)

    e = s.add_parser("evaluate", help="evaluate every alarm now, as of --at, or every minute with --follow")
    e.add_argument("--at", help="evaluate as of this time (ISO 8601, epoch, -15m)")
    e.add_argument("--follow", action="store_true", help="keep evaluating at every minute boundary")
    e.add_argument("--iterations", type=int, default=0, help=argparse.SUPPRESS)
    e.set_defaults(func=run_evaluate)

    r = s.add_parser("replay", help="evaluate every minute over a past range to tune alarms")
    r.add_argument("--from", dest="start", required=True)
    r.add_argument("--to", dest="end", required=True)
    r.add_argument("names", nargs="*", help="only these alarms (composites need their children)")
    r.add_argument("--record", action="store_true", help="write the transitions to history and keep the final states")
    r.add_argument("--notify", action="store_true", help="also run the alarm actions (implies --record)")
    r.add_argument("--format", choices=["table", "json"], default="table")
    r.set_defaults(func=run_replay)

    st = s.add_parser("set-state", help="force a state until the next evaluation (SetAlarmState)")
    st.add_argument("name")
    st.add_argument("--state-value", required=True, choices=STATES)
    st.add_argument("--state-reason", required=True)
    st.add_argument("--state-reason-data", help="JSON")
    st.set_defaults(func=run_set_state)

    de = s.add_parser("delete", help="delete alarms (a composite's children only after the composite)")
    de.add_argument("names", nargs="+")
    de.set_defaults(func=run_delete)


def run_put(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.alarms.store import AlarmStore
    from pipeline.alarms.validate import load_alarms
    from pipeline.console import summary

    alarms = load_alarms(args.file)
    store = AlarmStore(ctx.lake)
    verbs = store.put(alarms)
    store.save()
    for a, v in zip(alarms, verbs, strict=True):
        print(f"{v:8} {a.kind:15} {a.name}")
    if not ctx.quiet:
        summary("alarms put", {"file": args.file, "created": verbs.count("created"),
                               "updated": verbs.count("updated"), "alarms in lake": len(store.alarms)})
    return 0


def _describe_doc(store: Any, name: str) -> dict[str, Any]:
    a, st = store.alarms[name], store.state(name)
    return {**a.definition, "AlarmArn": st.alarm_arn,
            "AlarmConfigurationUpdatedTimestamp": store.updated.get(name, ""),
            "StateValue": st.state_value, "StateReason": st.state_reason,
            **({"StateReasonData": st.state_reason_data} if st.state_reason_data else {}),
            "StateUpdatedTimestamp": st.state_updated_timestamp,
            "StateTransitionedTimestamp": st.state_transitioned_timestamp,
            "ActionsEnabled": a.actions_enabled,
            **({"ActionsSuppressedBy": st.actions_suppressed_by,
                "ActionsSuppressedReason": f"Actions suppressed by {st.actions_suppressed_by}"}
               if st.actions_suppressed_by else {})}


def run_describe(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.alarms.store import AlarmStore
    from pipeline.errors import RuleError

    store = AlarmStore(ctx.lake)
    names = args.names or sorted(store.alarms)
    for n in names:
        if n not in store.alarms:
            raise RuleError(n, "no such alarm")
    names = [n for n in names if args.state_value is None or store.state(n).state_value == args.state_value]
    if args.format == "json":
        out: dict[str, list[dict[str, Any]]] = {"MetricAlarms": [], "CompositeAlarms": []}
        for n in names:
            out[store.alarms[n].kind + "s"].append(_describe_doc(store, n))
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    rows = [(n, store.alarms[n].kind.replace("Alarm", ""), store.state(n).state_value,
             store.state(n).state_transitioned_timestamp, store.state(n).state_reason) for n in names]
    _table(["ALARM", "TYPE", "STATE", "SINCE", "REASON"], rows)
    return 0


def _table(header: list[str], rows: list[tuple[Any, ...]], width: int = 110) -> None:
    cols = [header] + [[str(c) for c in r] for r in rows]
    sizes = [max(len(r[i]) for r in cols) for i in range(len(header) - 1)]
    for r in cols:
        head = "  ".join(c.ljust(sizes[i]) for i, c in enumerate(r[:-1]))
        last = r[-1]
        room = max(20, width - len(head) - 2)
        print(f"{head}  {last if len(last) <= room else last[:room - 1] + '…'}")


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.alarms.store import AlarmStore
    from pipeline.timeutil import iso

    store = AlarmStore(ctx.lake)
    items = store.history(args.name, item_type=args.item_type)[:args.max]
    if args.format == "json":
        print(json.dumps({"AlarmHistoryItems": [
            {"AlarmName": r["alarm_name"], "AlarmType": r["alarm_type"], "Timestamp": iso(r["timestamp"]),
             "HistoryItemType": r["history_item_type"], "HistorySummary": r["history_summary"],
             "HistoryData": r["history_data"]} for r in items]}, indent=2, ensure_ascii=False))
        return 0
    _table(["TIMESTAMP", "TYPE", "SUMMARY / REASON"],
           [(iso(r["timestamp"]), r["history_item_type"],
             r["history_summary"] + (f" — {r['state_reason']}" if r["state_reason"] else "")) for r in items],
           width=400)
    if not items:
        print(f"(no history for {args.name})", file=sys.stderr)
    return 0


def _print_transitions(transitions: list[Any]) -> None:
    from pipeline.timeutil import iso

    for t in transitions:
        print(f"{iso(t.at)}  {t.alarm_name}  {t.old_state} -> {t.new_state}  {t.reason}")


def run_evaluate(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.alarm_job import evaluate
    from jobs.follow import Schedule, follow, stop_on_signals
    from pipeline.console import summary
    from pipeline.timeutil import parse_time, utcnow

    if args.follow and args.at:
        from pipeline.errors import InputError

        raise InputError("use either --at or --follow", field="--at")
    reports = []
    with stop_on_signals() as stop:
        # CloudWatch evaluates each minute; a second after the boundary the minute's data is in.
        for rep in follow(lambda: evaluate(ctx.lake, parse_time(args.at) if args.at else utcnow()),
                          Schedule(60, align=True, offset=1), stop=stop,
                          iterations=(args.iterations or None) if args.follow else 1):
            _print_transitions(rep.transitions)
            for name, msg in rep.errors:
                print(f"watchlake: alarm {name}: evaluation error (state kept): {msg}", file=sys.stderr)
            reports.append(rep)
    if not ctx.quiet:
        summary("alarms evaluate", {"as of": args.at or "now", "evaluations": len(reports),
                                    "alarms": reports[-1].alarms if reports else 0,
                                    "state changes": sum(len(r.transitions) for r in reports),
                                    "evaluation errors": sum(len(r.errors) for r in reports)})
    return 0


def run_replay(args: argparse.Namespace, ctx: Context) -> int:
    from jobs.alarm_job import replay
    from pipeline.alarms.store import AlarmStore
    from pipeline.console import Progress, summary
    from pipeline.timeutil import iso, parse_time

    start, end = parse_time(args.start), parse_time(args.end)
    n_alarms = len(AlarmStore(ctx.lake).metric_alarms())
    with Progress("replaying alarms", n_alarms, enabled=not ctx.quiet) as prog:
        rep = replay(ctx.lake, start, end, names=args.names or None, record=args.record, notify=args.notify,
                     progress=prog.advance)
    res = rep.result
    for name, msg in rep.errors:
        print(f"watchlake: alarm {name}: evaluation error (skipped): {msg}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps({"Transitions": [
            {"AlarmName": t.alarm_name, "Timestamp": iso(t.at), "OldStateValue": t.old_state,
             "NewStateValue": t.new_state, "StateReason": t.reason, "StateReasonData": t.reason_data}
            for t in res.transitions], "MinutesInAlarm": res.minutes_in_alarm, "FinalStates": res.final_states},
            indent=2))
    else:
        _print_transitions(res.transitions)
    if not ctx.quiet:
        summary("alarms replay", {
            "range": f"{iso(start)} .. {iso(end)}", "alarms": len(res.final_states),
            "evaluations": f"{res.evaluations:,}", "state changes": len(res.transitions),
            "minutes in ALARM": ", ".join(f"{k}={v}" for k, v in sorted(res.minutes_in_alarm.items())) or "-",
            "recorded": "yes" if rep.recorded else "no (dry run; --record to keep)",
            "notifications": rep.notifications, "evaluation errors": len(rep.errors),
            "time": f"{rep.seconds:.2f} s"})
    return 0


def run_set_state(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.alarms.engine import Engine
    from pipeline.timeutil import utcnow

    with Engine(ctx.lake) as eng:
        t = eng.set_state(args.name, args.state_value, args.state_reason, args.state_reason_data, at=utcnow())
    print(f"{args.name}: {t.old_state} -> {t.new_state}" if t else f"{args.name}: already {args.state_value}")
    return 0


def run_delete(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.alarms.store import AlarmStore

    store = AlarmStore(ctx.lake)
    store.delete(args.names)
    store.save()
    print(f"deleted {len(args.names)} alarm(s)")
    return 0
