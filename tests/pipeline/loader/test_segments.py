"""Segments for the Flink rollup: the line format, the loader hook and the seed."""

from __future__ import annotations

import io
from datetime import timedelta

import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.lake import Lake
from pipeline.loader import segments
from pipeline.schemas import METRICS
from tests.jobs.flink.feed import Feeder
from tests.pipeline.rollup.gen import T0, point, sid, write_metrics

MS0 = 1_793_836_800_000  # 2026-11-05T00:00:00Z in epoch ms (date -d 2026-11-05T00:00Z +%s)


def _lines(data: bytes) -> list[tuple]:
    t = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=segments.COLUMNS),
                       convert_options=pacsv.ConvertOptions(null_values=[""], column_types={
                           "sid": pa.string(), "ms": pa.int64(), "k": pa.int32(),
                           **{c: pa.float64() for c in ("n", "s", "lo", "hi", "lv", "lc")}}))
    return [tuple(r.values()) for r in t.to_pylist()]


def test_segment_lines_by_hand():
    a = sid("App", "Latency", {"Host": "a"}, "Milliseconds")
    rows = [point(T0 + timedelta(seconds=90), 0.1),
            point(T0 + timedelta(seconds=30), stats=(3.0, 7.5, 2.5, 2.5)),
            point(T0 + timedelta(seconds=60), values=[0.0, -1.5], counts=[2.0, 1.0]),
            point(T0 + timedelta(seconds=61), values=[4.0])]
    lines = _lines(segments.segment_csv(pa.Table.from_pylist(rows, schema=METRICS)))
    assert sorted(lines, key=lambda r: (r[1], r[2], r[7] or 0)) == [
        (a, MS0 + 30_000, 0, 3.0, 7.5, 2.5, 2.5, None, None),
        (a, MS0 + 60_000, 1, None, None, None, None, -1.5, 1.0),
        (a, MS0 + 60_000, 1, None, None, None, None, 0.0, 2.0),
        (a, MS0 + 60_000, 2, 3.0, -1.5, -1.5, 0.0, None, None),
        (a, MS0 + 61_000, 1, None, None, None, None, 4.0, 1.0),
        (a, MS0 + 61_000, 2, 1.0, 4.0, 4.0, 4.0, None, None),
        (a, MS0 + 90_000, 0, 1.0, 0.1, 0.1, 0.1, None, None),   # 0.1 survives the text round trip
    ]
    assert [r[1] for r in lines] == sorted(r[1] for r in lines)  # in event-time order


def test_commit_writes_a_segment_only_while_enabled_and_never_for_duplicates(tmp_path):
    lake = Lake(tmp_path)
    feed = Feeder(lake)
    first = [point(T0 + timedelta(minutes=i), float(i)) for i in range(3)]
    assert feed.commit(first) == 3
    assert segments.inbox_segments(lake) == []            # not enabled: no segment
    segments.enable(lake)
    second = [point(T0 + timedelta(minutes=i), float(i)) for i in range(2, 6)]
    assert feed.commit(second) == 3                       # minute 2 is a duplicate
    segs = segments.inbox_segments(lake)
    assert len(segs) == 1 and segs[0].path.endswith(".csv")
    assert [r[4] for r in _lines(lake.read_bytes(segs[0].path))] == [3.0, 4.0, 5.0]
    assert feed.commit(second) == 0                       # a re-delivered batch: no new segment
    assert len(segments.inbox_segments(lake)) == 1


def test_seed_exports_what_no_segment_holds(tmp_path):
    lake = Lake(tmp_path)
    write_metrics(lake, [point(T0 + timedelta(minutes=i), float(i)) for i in range(4)])   # before enabling
    segments.enable(lake)
    Feeder(lake).commit([point(T0 + timedelta(minutes=10), 10.0)])                      # has its segment
    rel, lines = segments.seed(lake, since_ms=MS0 + 60_000)
    assert lines == 3 and rel is not None
    assert [r[4] for r in _lines(lake.read_bytes(rel))] == [1.0, 2.0, 3.0]             # minute 10 not again
    assert len(segments.inbox_segments(lake)) == 2
    assert segments.retire_older_than(lake, segments.inbox_segments(lake)[-1].mtime_ns + 1) == 2
