"""Metric filters end to end on a lake: definitions validated, log events turned into datapoints
(counted here by hand from the events written), the live follower exactly once — across polls, a
crash between its write and its checkpoint, and a filter put after events arrived (no backfill) —
and the datapoints rolled up and read back as a custom metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from jobs.cli import main
from pipeline.errors import RuleError
from pipeline.lake import Lake, layout
from pipeline.metricfilters.apply import ApplyReport, FilterFollower, datapoints
from pipeline.metricfilters.model import FilterStore, parse_filter
from pipeline.schemas import LOGS

T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
GROUP = "/app/api"


def _filter(name="errors", pattern='{ $.level = "ERROR" }', value="1", **kw):
    t = {"metricName": kw.pop("metric", "Errors"), "metricNamespace": "App", "metricValue": value, **kw}
    return {"filterName": name, "logGroupName": GROUP, "filterPattern": pattern, "metricTransformations": [t]}


def _events(n, start=0, group=GROUP):
    """Minute i: a JSON line; every third an ERROR, latency 10·i ms, route /a or /b by parity."""
    out = []
    for i in range(start, start + n):
        msg = {"level": "ERROR" if i % 3 == 0 else "INFO", "latency": 10 * i, "route": "/a" if i % 2 else "/b"}
        out.append({"owner": "123456789012", "logGroup": group, "logStream": "s1", "id": f"ev{i}",
                    "timestamp": T0 + timedelta(minutes=i, seconds=5), "message": json.dumps(msg),
                    "ingestionTime": T0 + timedelta(minutes=i, seconds=6)})
    return out


def _write_logs(lake, events):
    by: dict = {}
    for e in events:
        by.setdefault(tuple(layout.time_partitions("logs", e["timestamp"]).items()), []).append(e)
    for part, rows in by.items():
        lake.write_partition("logs", dict(part), pa.Table.from_pylist(rows, schema=LOGS))


def _put(lake, *docs, at=T0):
    store = FilterStore(lake)
    store.put([parse_filter(d) for d in docs], at)
    store.save()


def _metric_rows(lake):
    import pyarrow.parquet as pq

    return [r for f in lake.table_files("metrics") for r in pq.read_table(lake.path(f)).to_pylist()]


@pytest.mark.parametrize("doc,field", [
    (_filter(metricNamespace="AWS/Logs"), "metricTransformations[0].metricNamespace"),
    (_filter(value="latency"), "metricTransformations[0].metricValue"),
    (_filter(defaultValue=0, dimensions={"Route": "$.route"}), "metricTransformations[0].defaultValue"),
    (_filter(dimensions={"A": "$.a", "B": "$.b", "C": "$.c", "D": "$.d"}), "metricTransformations[0].dimensions"),
    (_filter(unit="Furlongs"), "metricTransformations[0].unit"),
    (_filter(pattern='{ $.level = "ERROR" '), "filterPattern"),
    ({**_filter(), "metricTransformations": []}, "metricTransformations"),
    ({**_filter(), "logGroupName": "bad group!"}, "logGroupName"),
])
def test_bad_definitions_name_the_field(doc, field):
    with pytest.raises(RuleError) as e:
        parse_filter(doc, "filters.yaml")
    assert e.value.field == field and "filters.yaml" in str(e.value)


def test_values_defaults_and_dimensions_as_counted_by_hand():
    evs = _events(12)
    f_err = parse_filter(_filter(defaultValue=0))
    f_lat = parse_filter(_filter("latency", "{ $.latency >= 50 }", "$.latency", metric="Latency",
                                 dimensions={"Route": "$.route"}, unit="Milliseconds"))
    f_none = parse_filter(_filter("nolat", '{ $.level = "ERROR" }', "$.missing", metric="X"))
    rep = ApplyReport()
    rows = datapoints([f_err, f_lat, f_none], evs, rep, T0)
    errors = [r for r in rows if r["metric_name"] == "Errors"]
    assert [r["sum"] for r in errors] == [1.0 if i % 3 == 0 else 0.0 for i in range(12)]   # defaultValue 0
    lat = [(json.loads(r["dimensions"])["Route"], r["sum"]) for r in rows if r["metric_name"] == "Latency"]
    assert lat == [("/a" if i % 2 else "/b", 10.0 * i) for i in range(5, 12)]
    assert rep.no_value == 4 and not [r for r in rows if r["metric_name"] == "X"]      # ERRORs 0, 3, 6, 9
    assert rep.events == 12 and rep.defaults == 8 and rep.datapoints == 12 + 7
    assert {r["unit"] for r in rows if r["metric_name"] == "Latency"} == {"Milliseconds"}
    assert errors[0]["_wl_origin"] == f"metric-filter/{GROUP}/errors:ev0"


def test_the_follower_counts_each_event_once_and_only_after_the_filter(tmp_path):
    lake = Lake(tmp_path / "lake")
    _write_logs(lake, _events(6))                     # before the follower and the filter
    fol = FilterFollower(lake)
    _put(lake, _filter())
    assert fol.poll().files == 0                      # nothing new since the follower started
    _write_logs(lake, _events(9, start=6))            # minutes 6-14: ERROR at 6, 9, 12
    rep = fol.poll()
    assert (rep.files, rep.events, rep.matched, rep.datapoints) == (1, 9, 3, 3)
    assert fol.poll().files == 0
    again = FilterFollower(lake)                      # a restart resumes from the checkpoint
    _write_logs(lake, _events(3, start=15))           # 15 is an ERROR
    assert again.poll().datapoints == 1
    rows = _metric_rows(lake)
    assert sorted(r["_wl_origin"].rsplit(":", 1)[1] for r in rows) == ["ev12", "ev15", "ev6", "ev9"]


def test_a_crash_between_the_write_and_the_checkpoint_does_not_double_count(tmp_path, monkeypatch):
    from pipeline.lake.follow import NewFiles

    lake = Lake(tmp_path / "lake")
    fol = FilterFollower(lake)
    _put(lake, _filter())
    _write_logs(lake, _events(9))                     # ERRORs at 0, 3, 6

    def crash(self, new, extra=None):
        raise KeyboardInterrupt("killed after the datapoints were written")

    monkeypatch.setattr(NewFiles, "done", crash)
    with pytest.raises(KeyboardInterrupt):
        fol.poll()
    assert len(_metric_rows(lake)) == 3               # written, but the checkpoint does not say so
    monkeypatch.undo()
    restarted = FilterFollower(lake)
    assert restarted.recovered == 1                   # the unfinished step's file removed
    assert restarted.poll().datapoints == 3
    assert sorted(r["_wl_origin"] for r in _metric_rows(lake)) == [
        f"metric-filter/{GROUP}/errors:ev{i}" for i in (0, 3, 6)]


def test_compacted_log_files_are_not_read_again(tmp_path):
    from pipeline.loader.compact import compact

    lake = Lake(tmp_path / "lake")
    fol = FilterFollower(lake)
    _put(lake, _filter())
    _write_logs(lake, _events(3))
    _write_logs(lake, _events(3, start=3))
    assert fol.poll().datapoints == 2                 # 0 and 3
    compact(lake, ["logs"], min_files=2)
    assert fol.poll().datapoints == 0 and len(_metric_rows(lake)) == 2


def test_the_datapoints_roll_up_into_a_custom_metric(tmp_path, capsys):
    from pipeline.query.metrics import get_metric_data

    lake = Lake(tmp_path / "lake")
    f = tmp_path / "filters.yaml"
    f.write_text(json.dumps([_filter(), _filter("latency", "{ $.latency = * }", "$.latency", metric="Latency",
                                                unit="Milliseconds")]))
    base = ["--lake", lake.root]
    assert main(base + ["metric-filters", "put", str(f)]) == 0
    _write_logs(lake, _events(30))
    assert main(base + ["metric-filters", "follow", "--from-start"]) == 0
    assert main(base + ["-q", "rollup"]) == 0
    end = T0 + timedelta(minutes=30)
    errs = get_metric_data(lake, "App", "Errors", {}, "Sum", T0, end, 300, now=end)
    assert errs.values == [2.0, 2.0, 1.0, 2.0, 2.0, 1.0]   # ERROR every 3rd minute: 0,3 | 6,9 | 12 | 15,18 | 21,24 | 27
    lat = get_metric_data(lake, "App", "Latency", {}, "Average", T0, end, 600, now=end)
    assert lat.values == [45.0, 145.0, 245.0] and lat.unit == "Milliseconds"
    capsys.readouterr()
    assert main(base + ["metric-filters", "describe", "--format", "json"]) == 0
    assert [d["filterName"] for d in json.loads(capsys.readouterr().out)["metricFilters"]] == ["errors", "latency"]


def test_the_cli_tests_a_pattern_and_backfills(tmp_path, capsys):
    lake = Lake(tmp_path / "lake")
    base = ["--lake", lake.root]
    assert main(base + ["metric-filters", "test", "--pattern", "[ip, user, ..., status = 4*, bytes]",
                        '10.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a.gif HTTP/1.0" 404 2326',
                        '10.0.0.2 - - [10/Oct/2000:13:25:16 -0700] "GET / HTTP/1.0" 200 512',
                        "--value", "$bytes"]) == 0
    out = json.loads(capsys.readouterr().out)["matches"]
    assert [m["eventNumber"] for m in out] == [1] and out[0]["extractedValues"]["$bytes"] == "2326"
    _write_logs(lake, _events(12))
    _put(lake, _filter())
    assert main(base + ["metric-filters", "apply", "--dry-run"]) == 0
    assert "datapoints       4 (dry run: not written)" in capsys.readouterr().err
    assert _metric_rows(lake) == []
    assert main(base + ["metric-filters", "apply", "--from", (T0 + timedelta(minutes=4)).isoformat()]) == 0
    assert len(_metric_rows(lake)) == 2                                  # 6 and 9


def test_a_filter_whose_dimensions_run_away_is_disabled_until_put_again(tmp_path, monkeypatch):
    from pipeline.metricfilters import apply

    monkeypatch.setattr(apply, "DIMENSION_LIMIT", 3)
    lake = Lake(tmp_path / "lake")
    fol = FilterFollower(lake)
    _put(lake, _filter("by-id", "{ $.latency = * }", "$.latency", metric="Lat", dimensions={"Id": "$.latency"}))
    _write_logs(lake, _events(6))                      # 6 distinct latencies within one hour
    rep = fol.poll()
    assert rep.datapoints == 3 and len(rep.disabled) == 1 and "over 3 distinct values" in rep.disabled[0]
    _write_logs(lake, _events(2, start=6))
    assert FilterFollower(lake).poll().datapoints == 0  # still disabled after a restart
    _put(lake, _filter("by-id", "{ $.latency = * }", "$.latency", metric="Lat", dimensions={"Id": "$.latency"}),
         at=T0 + timedelta(hours=1))                   # put again: a new filter
    _write_logs(lake, _events(2, start=8))
    assert FilterFollower(lake).poll().datapoints == 2
