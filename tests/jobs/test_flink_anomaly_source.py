"""The streaming anomaly job's input side on a real stream (a continuous job on the mini-cluster):
files one directory scan finds are read in the order they were written, and a point that comes
behind the watermark is reported with its reason — never dropped silently, also when it is read
first after a resume from a savepoint; fed = scored + behind + duplicates."""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.anomaly_job import job_key
from jobs.anomaly_lake import SeriesData
from pipeline.anomaly import DEFAULT_DETECTOR
from tests.jobs.flink.feed import until
from tests.jobs.test_flink_anomaly import library_scores, sample_minutes

pytestmark = [pytest.mark.flink, pytest.mark.slow]

WINDOW_S, LATENESS_S = 300, 60


def _part(sd: SeriesData, lo: int, hi: int) -> SeriesData:
    """Points ``lo..hi-1`` of ``sd``."""
    return SeriesData(sd.series_id, sd.namespace, sd.metric_name, sd.dimensions, sd.unit, sd.period,
                      sd.times[lo:hi], sd.values[lo:hi])


def _ms(t: float) -> int:
    return int(round(t * 1000))


@contextlib.contextmanager
def streaming_job(tmp_path: Path, inbox: Path, out: Path, *, restore: str | None = None) -> Iterator[Any]:
    """The job watching ``inbox`` (every 0.2 s) with 500 ms checkpoints (``restore``: resumed from
    that savepoint); yields its client; cancelled on exit unless it has ended."""
    from jobs.flink_anomaly import build, configure

    env, t_env = configure(2, checkpoint_dir=str(tmp_path / "checkpoints"), checkpoint_ms=500, workers="process",
                           restore=restore)
    build(env, t_env, str(inbox), str(out), window_s=WINDOW_S, lateness_s=LATENESS_S, monitor_s=0.2)
    client = env.execute_async("watchlake-anomalies-test")
    try:
        yield client
    finally:
        if not str(client.get_job_status().result()).endswith(("FAILED", "CANCELED", "FINISHED")):
            client.cancel().result()


def _windows(out: Path) -> list[dict[str, Any]]:
    from jobs.flink_anomaly_io import read_out

    return [w for _, ws in read_out(out) for w in ws]


def _accounted(out: Path) -> int:
    """Points the committed output accounts for: scored, duplicates and behind the watermark."""
    return sum(len(w["t"]) + len(w["late"]) + len(w["behind"]) for w in _windows(out))


def test_files_one_scan_finds_are_read_in_the_order_written(tmp_path) -> None:
    """Four files of consecutive days, all in the inbox when the job's first scan lists it, named in
    the reverse of the order they were written: read in the written order, no point is late and
    every score equals the library's detector stepped point by point (one series' id holds ``%``,
    CR, LF and a comma: it comes back whole)."""
    from jobs.flink_anomaly_io import write_inbox

    odd = sample_minutes()[4]  # an id with every character the inbox line escapes, and a comma
    odd = SeriesData("Odd|CPU%0A|x\r\ny,z|%|Average", odd.namespace, odd.metric_name, odd.dimensions, odd.unit, 60,
                     odd.times, odd.values)
    series = [*sample_minutes()[:3], odd]
    lo = min(sd.times[0] for sd in series)
    hi = max(sd.times[-1] for sd in series) + 1
    edges = [lo + (hi - lo) * k / 4 for k in range(5)]
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for k in range(4):  # quarter k is the file points-(3-k): names sort against the write order
        part = [_part(sd, sum(1 for t in sd.times if t < edges[k]), sum(1 for t in sd.times if t < edges[k + 1]))
                for sd in series]
        assert write_inbox(inbox, part, seq=3 - k).points > 0
    # one point of another series a day later: the watermark passes every window of the real ones
    write_inbox(inbox, [SeriesData("sentinel", "T", "m", "{}", "None", 60, [hi + 86400], [1.0])], seq=9)
    n = sum(len(sd.times) for sd in series)
    with streaming_job(tmp_path, inbox, out):
        until(lambda: _accounted(out) >= n, 240, "the job did not account for every point")
    windows = _windows(out)
    assert sum(len(w["behind"]) for w in windows) == 0  # read in order: nothing behind the watermark
    assert sum(len(w["late"]) for w in windows) == 0
    for sd in series:
        got = sorted(row for w in windows if w["sid"] == sd.series_id
                     for row in zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"], w["warm"],
                                    strict=True))
        assert got == library_scores(sd), sd.series_id  # every point once, bit-equal


def test_points_behind_the_watermark_are_reported_kept_and_counted(tmp_path, lake) -> None:
    """A second file brings points of windows the job has closed: an old stretch of a scored series,
    the history of a new series, and re-sent points around the watermark. Each of them is either
    passed through as behind the watermark (exactly those whose window had fired, by Flink's rule:
    window end − 1 ms ≤ watermark) or — inside a still open window — a duplicate not rescored; the
    collector keeps the behind ones in errors/anomalies; fed = scored + behind + duplicates."""
    from jobs.flink_anomaly_io import collect_windows, write_inbox

    a, b, c = sample_minutes()[:3]
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    first = [_part(a, 0, 300), _part(b, 0, 300)]
    fed = write_inbox(inbox, first, seq=0).points
    max0 = max(_ms(sd.times[-1]) for sd in first)
    wm0 = max0 - LATENESS_S * 1000  # the watermark once the first file is read (no newer point yet)
    second = [SeriesData(a.series_id, a.namespace, a.metric_name, a.dimensions, a.unit, 60,
                 a.times[100:150] + a.times[290:600], a.values[100:150] + a.values[290:600]),
              _part(b, 300, 600), _part(c, 0, 20)]
    sent_before = {(sd.series_id, _ms(t)) for sd in first for t in sd.times}
    sent = [(sd.series_id, _ms(t)) for sd in second for t in sd.times]
    w_ms = WINDOW_S * 1000
    want_behind = {(sid, t) for sid, t in sent if t - t % w_ms + w_ms - 1 <= wm0}
    want_dups = {key for key in sent if key in sent_before} - want_behind  # re-sent into an open window
    assert len(want_behind) > 20 + 50 - 10 and want_dups  # c's history, a's old stretch, some of a's re-sent
    with streaming_job(tmp_path, inbox, out):
        until(lambda: any(w["t"] for w in _windows(out)), 180, "nothing scored from the first file")
        fed += write_inbox(inbox, second, seq=1).points
        fed += write_inbox(inbox, [SeriesData("sentinel", "T", "m", "{}", "None", 60, [a.times[599] + 86400], [1.0])],
                           seq=2).points
        until(lambda: _accounted(out) >= fed - 1, 240, "the job did not account for every point")
    windows = _windows(out)
    behind = [(w["sid"], t) for w in windows for t, _, _ in w["behind"]]
    dups = [(w["sid"], t) for w in windows for t in w["late"]]
    scored = [(w["sid"], t) for w in windows for t in w["t"]]
    assert sorted(behind) == sorted(want_behind)  # each once, exactly the points whose window had fired
    assert all(s >= 0 for w in windows for _, _, s in w["behind"])
    assert sorted(dups) == sorted(want_dups)
    assert len(scored) == len(set(scored)) == 600 + 600  # a and b, each point once; c none
    assert len(scored) + len(behind) + len(dups) == fed - 1  # every point fed is accounted for (not the sentinel)
    for sd in (a, b):
        got = sorted(row for w in windows if w["sid"] == sd.series_id
                     for row in zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"], w["warm"],
                                    strict=True))
        assert got == library_scores(_part(sd, 0, 600)), sd.series_id  # the late points changed no score
    # the collector (what the run stage calls) keeps the points behind the watermark with their reason
    got = collect_windows(lake, out, {sd.series_id: sd for sd in (a, b, c)}, stat="Average",
                          key=job_key(DEFAULT_DETECTOR, "metrics_1m", "Average") + "-flink", detector=DEFAULT_DETECTOR)
    assert len(got.behind) == len(want_behind) and got.late == len(want_dups)
    kept = [json.loads(line) for f in lake.table_files("errors")
            for line in gzip.decompress(lake.read_bytes(f)).splitlines()]
    assert len(kept) == len(want_behind)
    assert all(r["source"] == "anomalies" and "behind the Flink anomaly job's watermark" in r["reason"] for r in kept)
    assert not _windows(out)  # collected part files are gone


def test_points_behind_a_restored_watermark_are_reported_not_lost(tmp_path, lake) -> None:
    """The window operator restores its watermark from a savepoint (FLINK-24501: its state holds
    it), while the watermark assigner — and ``CURRENT_WATERMARK`` — start afresh. Points written
    while the job was stopped, older than the watermark it stopped at and read first after the
    resume, were dropped by the window and not reported behind the watermark either (the old
    ``CURRENT_WATERMARK`` test: null). Now each is reported behind, exactly once: fed = scored +
    behind, every point of the windows still open at the stop scored once, scores unchanged."""
    from jobs.flink_anomaly_io import collect_windows, write_inbox
    from jobs.run.flink_anomaly_stage import _savepoint_then_cancel

    a, b, c = sample_minutes()[:3]
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    first = [_part(a, 0, 300), _part(b, 0, 300)]
    fed = write_inbox(inbox, first, seq=0).points
    wm0 = max(_ms(sd.times[-1]) for sd in first) - LATENESS_S * 1000  # the watermark the job stops at
    w_ms = WINDOW_S * 1000
    closed = sum(1 for sd in first for t in sd.times if _ms(t) - _ms(t) % w_ms + w_ms - 1 <= wm0)
    with streaming_job(tmp_path, inbox, out) as client:
        # every window the watermark wm0 closes is scored and committed: the window operator's
        # watermark has reached wm0 before the savepoint
        until(lambda: _accounted(out) >= closed, 180, "the first file's closed windows were not scored")
        savepoint = _savepoint_then_cancel(client, (tmp_path / "savepoints").resolve().as_uri())
    # written while the job is stopped: a new series' history and an old stretch of a scored one,
    # all in windows wm0 had closed (the next file: a sentinel a day later closes every window)
    second = [_part(c, 0, 60), _part(a, 100, 150)]
    behind_want = {(sd.series_id, _ms(t)) for sd in second for t in sd.times}
    assert all(t - t % w_ms + w_ms - 1 <= wm0 for _, t in behind_want) and len(behind_want) == 110
    fed += write_inbox(inbox, second, seq=1).points
    fed += write_inbox(inbox, [SeriesData("sentinel", "T", "m", "{}", "None", 60, [a.times[299] + 86400], [1.0])],
                       seq=2).points
    with streaming_job(tmp_path, inbox, out, restore=savepoint):
        # the sentinel fires the windows still open at the stop: once they are committed, so is
        # everything the job read before the sentinel (one SQL subtask, barriers in stream order)
        until(lambda: sum(len(w["t"]) for w in _windows(out)) >= 600, 180, "the open windows were not scored")
    windows = _windows(out)
    behind = [(w["sid"], t) for w in windows for t, _, _ in w["behind"]]
    scored = [(w["sid"], t) for w in windows for t in w["t"]]
    dups = [(w["sid"], t) for w in windows for t in w["late"]]
    lost = behind_want - set(behind)
    assert not lost, f"{len(lost)} of {len(behind_want)} points behind the restored watermark: not scored, not reported"
    assert sorted(behind) == sorted(behind_want)  # each once
    assert all(s >= 0 for w in windows for _, _, s in w["behind"])
    assert len(scored) == len(set(scored)) == 600 and not dups  # a's and b's first 300 points, once
    assert len(scored) + len(behind) == fed - 1  # fed = scored + behind (not the sentinel, still open)
    for sd in (a, b):
        got = sorted(row for w in windows if w["sid"] == sd.series_id
                     for row in zip(w["t"], w["v"], w["score"], w["expected"], w["lower"], w["upper"], w["warm"],
                                    strict=True))
        assert got == library_scores(_part(sd, 0, 300)), sd.series_id
    collected = collect_windows(lake, out, {sd.series_id: sd for sd in (a, b, c)}, stat="Average",
                          key=job_key(DEFAULT_DETECTOR, "metrics_1m", "Average") + "-flink", detector=DEFAULT_DETECTOR)
    assert len(collected.behind) == len(behind_want)  # kept in errors/anomalies by the collector
