"""The Flink anomaly job's inbox files and output lines (no JVM)."""

from __future__ import annotations

import math

from jobs.anomaly_lake import SeriesData
from jobs.flink_anomaly_io import decode_window, encode_window, read_out, write_inbox


def test_inbox_is_one_closed_time_sorted_csv_with_exact_values(tmp_path) -> None:
    a = SeriesData('AWS/SQS|Age|{"QueueName": "a,\\"b\\""}|Seconds|Average', "AWS/SQS", "Age",
                   '{"QueueName": "a,\\"b\\""}', "Seconds", 60,
                   [60.0, 120.0, 180.0, 240.0], [0.1, math.nan, 1e-300, 2.0 / 3.0])
    b = SeriesData("B|m|{}|None|Average", "B", "m", "{}", "None", 60, [90.0, 150.0], [5.0, math.inf])
    inbox = tmp_path / "inbox"
    fed = write_inbox(inbox, [a, b], seq=7, after={a.series_id: 60_000})
    assert fed.path is not None and fed.path.name == "points-000000000007.csv"
    assert [p.name for p in inbox.iterdir()] == [fed.path.name]  # no hidden temporary left
    assert (fed.points, fed.skipped) == (3, 2)  # NaN and inf counted, not fed; 60 s was fed before
    assert fed.last == {a.series_id: 240_000, b.series_id: 90_000}
    assert fed.path.read_text(encoding="utf-8") == (
        f"90000,5.0,{b.series_id}\n180000,1e-300,{a.series_id}\n240000,{2.0 / 3.0!r},{a.series_id}\n")
    assert float(repr(2.0 / 3.0)) == 2.0 / 3.0
    # nothing new: no file; points older than not_before are left out
    assert write_inbox(inbox, [a], seq=8, after={a.series_id: 240_000}).path is None
    assert write_inbox(inbox, [a], seq=9, not_before=200_000).points == 1


def test_inbox_lines_keep_a_series_id_whole_escaping_only_percent_cr_and_lf() -> None:
    from jobs.flink_anomaly_io import inbox_line

    assert inbox_line('N|m|{"k": "a,b"}|None|Average', 60_000, 0.1) == '60000,0.1,N|m|{"k": "a,b"}|None|Average\n'
    assert inbox_line("CPU%0A|x\r\n|Average", 1, -0.0) == "1,-0.0,CPU%250A|x%0D%0A|Average\n"


def test_window_lines_round_trip_bit_for_bit(tmp_path) -> None:
    w = {"sid": 'x|y|{"k": "v"}|None|Average', "t": [1_790_000_000_000, 1_790_000_060_000, 1_790_000_120_000],
         "v": [0.1, -0.0, 1e308], "score": [0.0, 0.5, 0.987654321],
         "expected": [None, 0.30000000000000004, -2.5], "lower": [None, 0.0, -5e-324],
         "upper": [None, 1.7976931348623157e308, 3.0], "warm": [False, True, True],
         "flag": [False, True, True], "first": [False, True, False], "late": [1_789_999_940_000]}
    back = decode_window(encode_window(w))
    assert back == {**w, "behind": [], "rejected": []}  # a line without points behind or rejected
    w["behind"] = [[1_789_999_880_000, 0.1, 61], [1_789_999_940_000, 1e-300, 0]]
    w["rejected"] = [[1_790_000_180_000, 2.5, "the detector raised ValueError: x"]]
    back = decode_window(encode_window(w))
    assert back == w
    assert math.copysign(1.0, back["v"][1]) == -1.0  # the sign of -0.0 survives too
    bucket = tmp_path / "out" / "2026-12-04--08"
    bucket.mkdir(parents=True)
    (bucket / "part-0-0.json").write_text(encode_window(w) + "\n")
    (bucket / ".part-0-1.json.inprogress").write_text("not committed")
    assert [(f.name, ws) for f, ws in read_out(tmp_path / "out")] == [("part-0-0.json", [w])]


def test_inbox_files_are_stamped_strictly_newer_in_whole_milliseconds(tmp_path) -> None:
    """Flink's file monitor reads files in modification-time order (whole ms) and skips one no newer
    than the newest it read: files written within one millisecond must still get rising stamps."""
    import os
    import time

    sd = SeriesData("s", "N", "m", "{}", "None", 60, [60.0 * k for k in range(1, 7)], [1.0] * 6)
    inbox = tmp_path / "inbox"
    future = (time.time_ns() // 1_000_000 + 5_000) * 1_000_000  # a file stamped 5 s ahead of the clock
    paths = []
    for k in range(6):
        one = SeriesData(sd.series_id, "N", "m", "{}", "None", 60, sd.times[k:k + 1], sd.values[k:k + 1])
        fed = write_inbox(inbox, [one], seq=k)
        assert fed.path is not None
        paths.append(fed.path)
        if k == 2:
            os.utime(fed.path, ns=(future, future))
    ms = [os.stat(p).st_mtime_ns for p in paths]
    assert all(m % 1_000_000 == 0 for m in ms)  # whole milliseconds: what Flink compares
    assert all(b > a for a, b in zip(ms, ms[1:], strict=False))  # strictly rising, the clock notwithstanding
    assert ms[3] == future + 1_000_000 and ms[5] == future + 3_000_000


def test_rejected_points_are_kept_once_with_their_reason(lake) -> None:
    import base64
    import gzip
    import json

    from jobs.flink_anomaly_io import reject_points

    pts = [("AWS/EC2|CPU|{}|Percent|Average", 1_790_000_000_000, 0.25, "came 61 s behind the watermark"),
           ("AWS/EC2|CPU|{}|Percent|Average", 1_790_000_060_000, 0.5, "came 1 s behind the watermark")]
    assert reject_points(lake, pts) == 2
    assert reject_points(lake, pts) == 2  # the same set again: counted, not stored twice
    assert reject_points(lake, []) == 0
    files = lake.table_files("errors")
    assert len(files) == 1 and files[0].startswith("errors/anomalies/dt=")
    rows = [json.loads(line) for line in gzip.decompress(lake.read_bytes(files[0])).splitlines()]
    assert [(r["source"], r["field"], r["reason"]) for r in rows] == [
        ("anomalies", "timestamp", "came 61 s behind the watermark"),
        ("anomalies", "timestamp", "came 1 s behind the watermark")]
    assert rows[0]["origin"] == "metrics_1m AWS/EC2|CPU|{}|Percent|Average 2026-09-21T14:13:20Z"
    assert json.loads(base64.b64decode(rows[1]["raw"])) == {
        "series_id": "AWS/EC2|CPU|{}|Percent|Average", "timestamp": 1_790_000_060_000, "value": 0.5}


def test_only_the_workers_known_hangup_is_silenced() -> None:
    """quiet_worker_hangup drops gRPC CANCELLED in Beam's reader thread, nothing else."""
    import threading

    import grpc

    from jobs.flink_anomaly import quiet_worker_hangup

    class Rpc(grpc.RpcError):
        def __init__(self, code: grpc.StatusCode) -> None:
            self._code = code

        def code(self) -> grpc.StatusCode:
            return self._code

    seen: list[tuple[str, str]] = []
    before = threading.excepthook
    threading.excepthook = lambda a: seen.append((a.thread.name, repr(a.exc_value)))
    try:
        quiet_worker_hangup()
        quiet_worker_hangup()  # idempotent: one wrapper, not a chain

        def run(name: str, exc: BaseException) -> None:
            def boom() -> None:
                raise exc
            t = threading.Thread(target=boom, name=name)
            t.start()
            t.join()

        run("read_grpc_client_inputs", Rpc(grpc.StatusCode.CANCELLED))
        assert seen == []  # the known shutdown error
        run("read_grpc_client_inputs", Rpc(grpc.StatusCode.UNAVAILABLE))
        run("worker", Rpc(grpc.StatusCode.CANCELLED))
        run("read_grpc_client_inputs", ValueError("x"))
        assert [n for n, _ in seen] == ["read_grpc_client_inputs", "worker", "read_grpc_client_inputs"]
    finally:
        threading.excepthook = before


def test_collected_windows_keep_the_points_the_detector_raised_on(lake, tmp_path) -> None:
    import gzip
    import json

    from jobs.anomaly_lake import SeriesData
    from jobs.flink_anomaly_io import collect_windows

    sid = "AWS/EC2|CPU|{}|Percent|Average"
    w = {"sid": sid, "t": [1_790_000_000_000], "v": [1.0], "score": [0.1], "expected": [1.0], "lower": [0.5],
         "upper": [1.5], "warm": [True], "flag": [False], "first": [False], "late": [],
         "rejected": [[1_790_000_060_000, 2.0, "the detector raised ValueError: x; a fresh one scores later points"]]}
    out = tmp_path / "out" / "b"
    out.mkdir(parents=True)
    (out / "part-0-0.json").write_text(encode_window(w) + "\n")
    meta = {sid: SeriesData(sid, "AWS/EC2", "CPU", "{}", "Percent", 60)}
    res = collect_windows(lake, tmp_path / "out", meta, key="context-metrics1m-Average", stat="Average",
                          detector="context").result
    assert res.points == 1 and res.rows == 1
    assert res.rejected == [(sid, 1_790_000_060_000, 2.0, w["rejected"][0][2])]
    assert res.reset == [f"{sid} at 2026-09-21T14:14:20Z: the detector raised ValueError: x"]
    kept = [json.loads(line) for f in lake.table_files("errors")
            for line in gzip.decompress(lake.read_bytes(f)).splitlines()]
    assert [(r["origin"], r["reason"]) for r in kept] == [
        (f"metrics_1m {sid} 2026-09-21T14:14:20Z", w["rejected"][0][2])]
