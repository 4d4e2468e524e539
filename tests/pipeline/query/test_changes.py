""""What changed before this?" on a crafted incident with a hand-ranked answer.

Alarm cpu-high (AWS/EC2 CPUUtilization, InstanceId=i-0abc123) goes to ALARM at 14:00. Scores by
hand (window 12:00–14:00, score = 0.6·closeness + 0.4·relevance):
  13:50 ModifyInstanceAttribute, exact, ec2, ok: 0.6·(1−10/120) + 0.4·1.0 = 0.950
  13:45 ssm SendCommand, exact, not ec2, ok:    0.6·(1−15/120) + 0.4·0.7 = 0.805
  13:20 StopInstances, exact, ec2, failed:      0.6·(1−40/120) + 0.4·0.8 = 0.720
  12:30 CreateTags (in resources), ec2, ok:     0.6·(1−90/120) + 0.4·1.0 = 0.550
Excluded: a read, another instance, before the window, after the alarm, an unrelated service.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.errors import QueryError
from pipeline.query.changes import Moment, alarm_moment, what_changed
from tests.pipeline.query.ctdata import event, write_events

AT = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
INST = "i-0abc123"


def t(hm):
    return f"2026-11-03T{hm}:00Z"


EVENTS = [
    event("ModifyInstanceAttribute", t("13:50"), source="ec2.amazonaws.com", user="alice",
          request={"instanceId": INST, "instanceType": {"value": "t3.nano"}}),
    event("SendCommand", t("13:45"), source="ssm.amazonaws.com", user="alice",
          request={"instanceIds": [INST], "documentName": "AWS-RunShellScript"}),
    event("StopInstances", t("13:20"), source="ec2.amazonaws.com", user="bob", error="UnauthorizedOperation",
          request={"instancesSet": {"items": [{"instanceId": INST}]}}),
    event("CreateTags", t("12:30"), source="ec2.amazonaws.com", user="alice", request={"tags": ["env"]},
          resources=[{"ARN": f"arn:aws:ec2:us-east-1:111122223333:instance/{INST}", "type": "AWS::EC2::Instance"}]),
    event("DescribeInstances", t("13:55"), source="ec2.amazonaws.com", read_only=True, request={"instanceId": INST}),
    event("ModifyInstanceAttribute", t("13:58"), source="ec2.amazonaws.com", request={"instanceId": "i-0other"}),
    event("TerminateInstances", t("11:00"), source="ec2.amazonaws.com", request={"instanceId": INST}),
    event("RebootInstances", t("14:10"), source="ec2.amazonaws.com", request={"instanceId": INST}),
    event("PutFunctionConcurrency", t("13:40"), source="lambda.amazonaws.com", request={"functionName": "f"}),
]
EXPECTED = [("ModifyInstanceAttribute", 0.95), ("SendCommand", 0.805), ("StopInstances", 0.72), ("CreateTags", 0.55)]


@pytest.fixture
def incident(lake):
    from pipeline.alarms.store import HISTORY_SCHEMA

    write_events(lake, EVENTS)
    lake.write_json("alarms/definitions.json", [{
        "AlarmName": "cpu-high", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": INST}], "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 3, "Threshold": 80, "ComparisonOperator": "GreaterThanThreshold"}])
    rows = [{"alarm_name": "cpu-high", "timestamp": ts, "history_item_type": "StateUpdate",
             "old_state": "OK", "new_state": "ALARM"}
            for ts in (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), AT)]
    lake.write_partition("alarm_history", {"dt": "2026-11-03"}, pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA))
    return lake


def test_alarm_ranks_changes_on_its_instance(incident):
    moment = alarm_moment(incident, "cpu-high")
    assert moment.at == AT and moment.dims == {"InstanceId": INST} and moment.namespace == "AWS/EC2"
    r = what_changed(incident, moment)
    got = [(row["eventName"], row["score"]) for row in r.table.to_pylist()]
    assert [g[0] for g in got] == [e[0] for e in EXPECTED]
    assert [g[1] for g in got] == pytest.approx([e[1] for e in EXPECTED], abs=1e-3)
    assert r.table.column("minutes_before").to_pylist() == [10.0, 15.0, 40.0, 90.0]
    assert any("alarm cpu-high → ALARM at 2026-11-03T14:00:00Z" in n for n in r.notes)


def test_at_picks_the_earlier_transition(incident):
    moment = alarm_moment(incident, "cpu-high", datetime(2026, 11, 3, 0, 0, tzinfo=UTC))
    assert moment.at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert what_changed(incident, moment).rows() == []


def test_time_range_and_dims(incident):
    r = what_changed(incident, Moment(AT, {"InstanceId": INST}), start=datetime(2026, 11, 3, 13, 30, tzinfo=UTC))
    assert r.table.column("eventName").to_pylist() == ["ModifyInstanceAttribute", "SendCommand"]


def test_unknown_alarm_and_missing_dims(incident):
    with pytest.raises(QueryError, match="unknown alarm"):
        alarm_moment(incident, "nope")
    with pytest.raises(QueryError, match="dimension"):
        what_changed(incident, Moment(AT, {}))


def test_cli_changes(incident, capsys):
    import json

    from jobs.cli import main

    assert main(["--lake", str(incident.root), "changes", "--alarm", "cpu-high", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["eventName"] for r in rows] == [e[0] for e in EXPECTED]
    assert main(["--lake", str(incident.root), "changes", "--end", "2026-11-03T14:00:00Z", "--dim",
                 f"InstanceId={INST}", "--lookback", "20m", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[1].startswith("1,")


def test_anomaly_moment(incident):
    from pipeline.anomaly.table import ANOMALIES
    from pipeline.query.changes import anomaly_moment

    sid = f'AWS/EC2|CPUUtilization|{{"InstanceId":"{INST}"}}|Percent|Average'
    rows = [{"series_id": sid, "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
             "dimensions": f'{{"InstanceId":"{INST}"}}', "timestamp": ts, "score": s, "is_anomaly": s > 0.9}
            for ts, s in ((datetime(2026, 11, 3, 13, 0, tzinfo=UTC), 0.2), (AT, 0.97),
                          (datetime(2026, 11, 3, 15, 0, tzinfo=UTC), 0.5))]
    incident.write_partition("anomalies", {"dt": "2026-11-03"}, pa.Table.from_pylist(rows, schema=ANOMALIES))
    moment = anomaly_moment(incident, sid)
    assert moment.at == AT and moment.dims == {"InstanceId": INST} and moment.namespace == "AWS/EC2"
    assert what_changed(incident, moment).table.column("eventName").to_pylist()[0] == "ModifyInstanceAttribute"
    with pytest.raises(QueryError, match="no anomaly"):
        anomaly_moment(incident, "nope")
