"""watchlake anomalies score / detect through the CLI."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from jobs.cli import main
from tests.pipeline.anomaly.rollup_fixture import write_rollups


def test_score_nab_csv_round_trip(tmp_path, capsys) -> None:
    src = (Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data" / "realKnownCause"
           / "ec2_request_latency_system_failure.csv")
    inp = tmp_path / "in.csv"
    shutil.copy(src, inp)
    out = tmp_path / "out.csv"
    assert main(["anomalies", "score", "--input", str(inp), "--output", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    original = list(csv.reader(src.open()))
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == len(original) == 4033
    assert [r[0] for r in rows[1:]] == [r[0] for r in original[1:]]
    assert [float(r[1]) for r in rows[1:]] == [float(r[1]) for r in original[1:]]
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    err = capsys.readouterr().err
    assert "anomalies (score ≥ 0.5)" in err
    # the file repeats 03:00 twelve times over the 2014-03-09 clock change: scored and noted
    assert "timestamp repeats the previous row's (scored in file order) ×11" in err


def test_score_bad_input_is_scored_and_noted_by_file_line_and_field(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n")
    out = tmp_path / "o.csv"
    assert main(["anomalies", "score", "--input", str(bad), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "bad.csv:3" in err and "`value`" in err and "abc" in err
    assert [r[1:] for r in csv.reader(out.open())][1:] == [["1", "0.000000"], ["abc", "0.000000"]]
    assert main(["anomalies", "score", "--input", str(tmp_path / "nope.csv"),
                 "--output", str(tmp_path / "o")]) == 2


def test_detect_command_writes_anomalies(lake, settings, capsys) -> None:
    write_rollups(lake)
    assert main(["--lake", str(lake.root), "anomalies", "detect", "--start",
                 "2026-11-02T00:00:00Z"]) == 0
    err = capsys.readouterr().err
    assert "rows written" in err and "2424 into anomalies" in err
    assert "CPUUtilization" in err  # the spike is in the top list


def test_score_notes_the_gaps_the_sequence_judges_sat_out(tmp_path, capsys) -> None:
    from datetime import datetime, timedelta

    t0 = datetime(2026, 11, 2)
    stamps = [t0 + timedelta(minutes=5 * i + (120 if i >= 500 else 0)) for i in range(800)]  # 2 h gap
    inp = tmp_path / "gappy.csv"
    inp.write_text("timestamp,value\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{10 + i % 7}\n"
                                                  for i, t in enumerate(stamps)))
    assert main(["anomalies", "score", "--input", str(inp), "--output", str(tmp_path / "o.csv")]) == 0
    err = capsys.readouterr().err
    assert ("gap of more than 12 sampling intervals ×1: the sequence and resonance judges sat out the "
            "next 56 values (first after: 2026-11-03 19:40:00)") in err  # row 500: 5 × 500 min + 2 h
    assert main(["anomalies", "score", "--input", str(inp), "--output", str(tmp_path / "m.csv"),
                 "--detector", "multiview"]) == 0
    assert "gap of more than" not in capsys.readouterr().err  # only the context detector mutes


def test_score_a_folder_mirrors_it_and_a_refused_file_stops_no_other(tmp_path, capsys) -> None:
    src = (Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data" / "realKnownCause"
           / "ec2_request_latency_system_failure.csv")
    tree = tmp_path / "in"
    (tree / "aws").mkdir(parents=True)
    (tree / "other").mkdir()
    shutil.copy(src, tree / "aws" / "latency.csv")
    (tree / "other" / "colours.csv").write_text("name,colour\nx,red\n")  # not a series
    (tree / "other" / "points.json").write_text('{"Label": "CPU", "Datapoints": ['
                                                '{"Timestamp": "2026-01-01T00:05:00Z", "Average": 2.0},'
                                                '{"Timestamp": "2026-01-01T00:00:00Z", "Average": 1.0}]}')
    (tree / "notes.txt").write_text("not a series file: not read")
    out = tree / "scored"  # inside the input folder: never read back as input
    assert main(["anomalies", "score", "--input", str(tree), "--output", str(out)]) == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "aws/latency.csv", "other/points.csv"]
    alone = tmp_path / "alone.csv"
    assert main(["anomalies", "score", "--input", str(src), "--output", str(alone)]) == 0
    assert (out / "aws" / "latency.csv").read_bytes() == alone.read_bytes()  # as if scored alone
    assert [r[:2] for r in csv.reader((out / "other" / "points.csv").open())] == [
        ["timestamp", "value"], ["2026-01-01T00:05:00Z", "2.0"], ["2026-01-01T00:00:00Z", "1.0"]]
    err = capsys.readouterr().err
    assert "3 files: 2 scored, 1 refused; 4,034 rows" in err
    assert "refused 1" in err and "colours.csv:1: expected a header" in err
    assert "aws/latency.csv: timestamp repeats the previous row's" in err
    assert main(["anomalies", "score", "--input", str(tree), "--output", str(alone)]) == 2  # a file as --output


def test_score_with_band_writes_the_band_alarms_and_dashboards_draw(tmp_path, capsys) -> None:
    from datetime import UTC, datetime

    from pipeline.anomaly.band import expected_band

    src = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data" / "realTraffic" / "speed_6005.csv"
    out = tmp_path / "out.csv"
    assert main(["anomalies", "score", "--input", str(src), "--output", str(out), "--band"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["timestamp", "value", "anomaly_score", "expected", "lower", "upper"]
    times = [datetime.strptime(r[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for r in rows[1:]]
    band = expected_band(times, [float(r[1]) for r in rows[1:]], k=2)  # what ANOMALY_DETECTION_BAND(m, 2) gives
    cells = [[None if c == "" else float(c) for c in r[3:]] for r in rows[1:]]
    assert cells == [list(b) for b in zip(band.expected, band.lower, band.upper, strict=True)]
    assert cells[0] == [None, None, None] and None not in cells[-1]       # empty in the warm-up only
    assert all(lo <= e <= up for e, lo, up in cells[30:])
