"""``watchlake anomalies detect --engine flink``: the detector as a PyFlink streaming job.

The role RANDOM_CUT_FOREST played in Kinesis Data Analytics: a keyed streaming operator that
scores each point as it arrives. The DataStream job

* reads points ``(series_id, event time ms, value)`` from a text file source (one tab-separated
  line per point, written sorted by event time by :func:`export_points`; Flink's filesystem
  source needs no extra jars for text);
* assigns **event time** from the point's timestamp with a monotonous watermark;
* ``key_by(series_id)`` and runs :class:`ScoreFunction`, a ``KeyedProcessFunction`` whose
  **per-key ValueState** holds that series' detector (bounded state; pickled by Flink's state
  backend, so it is checkpointed with the job);
* emits one record per point (score, expected band, flag) as the point is processed, into a
  text file sink (``execute_and_collect`` would pull every record through py4j, 4× slower).

Scores are identical to the Python engine's (:mod:`jobs.anomaly_job`): the same detector code
runs on the same points in the same per-series order. The collected records are written into
the ``anomalies`` table by the same writer. This engine always replays (fresh state at job
start, trained on the 14 days before ``start``), like a KDA application that restarts.
The same file runs on a cluster with ``flink run -py jobs/flink_anomaly.py -- --input FILE``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from pipeline.anomaly import DEFAULT_DETECTOR, DEFAULT_THRESHOLD, make_detector

OUT_TYPE = Types.TUPLE([Types.STRING(), Types.LONG(), Types.DOUBLE(), Types.DOUBLE(),
                        Types.DOUBLE(), Types.DOUBLE(), Types.DOUBLE(), Types.BOOLEAN()])
_NAN = float("nan")


class _EventTime(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


class ScoreFunction(KeyedProcessFunction):
    """Per-series detector in keyed ValueState; emits ``(sid, t_ms, value, score, expected,
    lower, upper, warm)`` for every point (NaN where the band is not known yet)."""

    def __init__(self, detector: str = DEFAULT_DETECTOR) -> None:
        self.detector = detector
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            ValueStateDescriptor("detector", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterable[Any]:
        det = self.state.value()
        if det is None:
            det = make_detector(self.detector)
        sc = det.step(ctx.timestamp() / 1000.0, value[2])
        self.state.update(det)
        yield (value[0], value[1], value[2], sc.score,
               _NAN if sc.expected is None else sc.expected,
               _NAN if sc.lower is None else sc.lower,
               _NAN if sc.upper is None else sc.upper, sc.warm)


def _parse(line: str) -> tuple[str, int, float]:
    sid, t, v = line.split("\t")
    return sid, int(t), float(v)


def score_file(path: str, detector: str = DEFAULT_DETECTOR, parallelism: int = 1,
               ) -> list[tuple[Any, ...]]:
    """Run the streaming job over a points file; returns the emitted records."""
    from pyflink.common import Configuration
    from pyflink.common.serialization import Encoder
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
    from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

    conf = Configuration()
    conf.set_string("python.executable", sys.executable)  # workers use this venv
    conf.set_string("python.client.executable", sys.executable)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.set_parallelism(parallelism)
    src = FileSource.for_record_stream_format(StreamFormat.text_line_format(), path).build()
    points = (env.from_source(src, WatermarkStrategy.no_watermarks(), "points")
              .map(_parse, output_type=Types.TUPLE([Types.STRING(), Types.LONG(),
                                                    Types.DOUBLE()]))
              .assign_timestamps_and_watermarks(
                  WatermarkStrategy.for_monotonous_timestamps()
                  .with_timestamp_assigner(_EventTime())))
    scored = points.key_by(lambda p: p[0], key_type=Types.STRING()).process(
        ScoreFunction(detector), output_type=OUT_TYPE)
    # a file sink, not execute_and_collect: collecting pulls every record through py4j
    out_dir = Path(path).with_suffix(".out")
    sink = FileSink.for_row_format(str(out_dir), Encoder.simple_string_encoder()).build()
    scored.map(_format, output_type=Types.STRING()).sink_to(sink)
    env.execute("watchlake-anomalies")
    records: list[tuple[Any, ...]] = []
    for f in sorted(out_dir.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            records.extend(_unformat(line) for line in f.read_text().splitlines() if line)
            f.unlink()
    shutil.rmtree(out_dir, ignore_errors=True)
    return records


def _format(r: tuple[Any, ...]) -> str:
    return "\t".join((r[0], str(r[1]), *(repr(float(v)) for v in r[2:7]), "1" if r[7] else "0"))


def _unformat(line: str) -> tuple[Any, ...]:
    f = line.split("\t")
    return (f[0], int(f[1]), *(float(v) for v in f[2:7]), f[7] == "1")


def export_points(series: Iterable[Any], path: str) -> int:
    """Write ``sid<TAB>t_ms<TAB>value`` lines sorted by (time, series); returns the count."""
    rows = [(int(round(t * 1000)), sd.series_id, v) for sd in series
            for t, v in zip(sd.times, sd.values, strict=True)]
    rows.sort()
    with open(path, "w") as fh:
        for t, sid, v in rows:
            fh.write(f"{sid}\t{t}\t{v!r}\n")
    return len(rows)


def run_flink(lake: Any, *, table: str = "metrics_5m", stat: str = "Average",
              detector: str = DEFAULT_DETECTOR, threshold: float = DEFAULT_THRESHOLD,
              start: datetime | None = None, end: datetime | None = None,
              namespace: str | None = None, metric: str | None = None,
              units: list[str] | None = None) -> Any:
    """Replay ``[start, end)`` through the Flink job and write the ``anomalies`` table."""
    import pyarrow as pa

    from jobs.anomaly_job import TRAINING, DetectResult, _write, job_key, read_series
    from pipeline.anomaly.table import ANOMALIES
    from pipeline.timeutil import from_epoch, to_utc

    series = list(read_series(lake, table, stat, namespace=namespace, metric=metric, units=units,
                              start=to_utc(start) - TRAINING if start else None, end=end))
    meta = {sd.series_id: sd for sd in series}
    res = DetectResult(series=len(series))
    tmp = Path(tempfile.mkdtemp(prefix="wl-anomaly-", dir=os.environ.get("WATCHLAKE_FLINK_TMP")))
    path = str(tmp / "points.tsv")
    res.points = export_points(series, path)
    t0 = time.perf_counter()
    records = score_file(path, detector) if res.points else []
    res_seconds = time.perf_counter() - t0
    emit_from = int(to_utc(start).timestamp() * 1000) if start else -1
    cols: dict[str, list[Any]] = {n: [] for n in ANOMALIES.names}
    for sid, t_ms, v, score, exp, lo, up, warm in sorted(records, key=lambda r: (r[0], r[1])):
        if not warm or t_ms < emit_from:
            continue
        sd = meta[sid]
        flagged = score >= threshold
        row = {"series_id": sid, "namespace": sd.namespace, "metric_name": sd.metric_name,
               "dimensions": sd.dimensions, "unit": sd.unit, "stat": stat, "period": sd.period,
               "timestamp": t_ms, "value": v, "score": score,
               "expected": None if math.isnan(exp) else exp,
               "lower": None if math.isnan(lo) else lo, "upper": None if math.isnan(up) else up,
               "is_anomaly": flagged, "detector": detector}
        for k, val in row.items():
            cols[k].append(val)
        if flagged:
            res.anomalies += 1
            res.top.append((score, f"{sd.metric_name} {sd.dimensions}",
                            from_epoch(t_ms, "ms")))
    res.top = sorted(res.top, reverse=True)[:5]
    out = pa.Table.from_pydict(cols, schema=ANOMALIES)
    res.rows = out.num_rows
    res.files = _write(lake, job_key(detector, table, stat) + "-flink", out, (start, end),
                       series=set(meta))
    res.flink_seconds = res_seconds  # type: ignore[attr-defined]
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return res


def main(argv: list[str] | None = None) -> int:
    """Cluster entry point: score a points file and print the anomalies."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="points file: sid<TAB>t_ms<TAB>value")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR)
    args = ap.parse_args(argv)
    for r in score_file(args.input, args.detector):
        if r[3] >= DEFAULT_THRESHOLD:
            print(*r[:4], sep="\t")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
