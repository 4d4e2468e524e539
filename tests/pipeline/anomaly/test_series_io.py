"""``read_series`` / ``run_detector``: every row of a messy real or hand-made CSV gets a score."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.anomaly.series_io import read_series, run_detector, write_scores
from pipeline.errors import InputError

NAB = Path(__file__).resolve().parents[2] / "data" / "nab-corpus" / "data"


def test_real_clock_jump_is_held_not_refused(tmp_path) -> None:
    src = NAB / "realKnownCause" / "machine_temperature_system_failure.csv"
    s = read_series(src)
    assert len(s.values) == 22695 and s.order == list(range(22695))
    # line 10,151 (row 10,149 counting from 0 after the header) goes back from 02:55 to 02:00
    assert s.raw_times[10149] == "2014-01-07 02:00:00" and s.raw_times[10148] == "2014-01-07 02:55:00"
    assert all(b >= a for a, b in zip(s.times, s.times[1:], strict=False))
    assert s.times[10149] == s.times[10148]  # held at the latest time seen
    assert s.notes == ["clock went back (rows until it caught up scored at the latest time seen) ×1: "
                       "machine_temperature_system_failure.csv:10151 back 55 min"]
    scores = run_detector(s)
    assert len(scores) == 22695
    out = tmp_path / "out.csv"
    assert write_scores(out, s, scores) == 22695
    rows = list(csv.reader(out.open()))
    original = list(csv.reader(src.open()))
    assert [r[:2] for r in rows[1:]] == original[1:]


def test_newest_first_file_scores_like_the_sorted_file(tmp_path) -> None:
    src = NAB / "artificialWithAnomaly" / "art_daily_jumpsup.csv"
    lines = src.read_text().splitlines()
    rev = tmp_path / "rev.csv"
    rev.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    fwd, back = read_series(src), read_series(rev)
    assert len(back.notes) == 1 and back.notes[0].startswith("file out of time order (4031 backward")
    a = [x.score for x in run_detector(fwd)]
    b = [x.score for x in run_detector(back)]
    assert b == a[::-1] and max(a) > 0.5


def test_bad_values_timestamps_and_repeats_are_scored_and_noted(tmp_path) -> None:
    p = tmp_path / "messy.csv"
    body = [f"2014-01-01 {h:02d}:{m:02d}:00,{10 + (m // 5) % 3}" for h in range(4) for m in range(0, 60, 5)]
    body[20] = "2014-01-01 01:40:00,abc"
    body[21] = "not a time,12"
    body[30] = body[29].split(",")[0] + ",11"  # repeats the previous row's timestamp
    body[40] = body[40].split(",")[0] + ",nan"
    body[44] = body[44].split(",")[0] + ","  # a gap
    p.write_text("\n".join(["timestamp,value", *body, ""]))
    s = read_series(p)
    assert len(s.values) == 48 and s.values[20] is None and s.values[40] is None and s.values[44] is None
    assert s.times[21] == s.times[20] + 300.0
    assert s.notes == [
        "`value` not a finite number (row scored 0, not learnt) ×2: messy.csv:22 'abc'; messy.csv:42 'nan'",
        "bad `timestamp` (row placed one step after the previous one) ×1: messy.csv:23 'not a time'",
        "`value` empty: a missing datapoint (row scored 0, not learnt) ×1: messy.csv:46",
        "timestamp repeats the previous row's (scored in file order) ×1: messy.csv:32",
    ]
    scores = run_detector(s)
    assert len(scores) == 48 and scores[20].score == scores[40].score == scores[44].score == 0.0


def test_only_a_missing_file_or_an_unreadable_first_line_is_refused(tmp_path) -> None:
    p = tmp_path / "binary.csv"
    p.write_bytes(b"\x00\x01garbage\xff\n")
    with pytest.raises(InputError, match="binary.csv:1"):
        read_series(p)
    p = tmp_path / "other.csv"
    p.write_text("host,cpu,mem\na,1,2\n")  # neither a time column nor a point
    with pytest.raises(InputError, match="other.csv:1"):
        read_series(p)
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        read_series(tmp_path / "absent.csv")


ROWS = [("2014-01-01 00:00:00", "1"), ("2014-01-01 00:05:00", "2.5"), ("2014-01-01 00:10:00", "")]


@pytest.mark.parametrize(("name", "text", "note"), [
    ("plain.csv", "timestamp,value\n{rows}", None),
    ("swapped.csv", "Value,Timestamp\n{swapped}", None),
    ("semicolon.csv", "timestamp;value\n{semi}", None),
    ("tabs.tsv", "time\tvalue\n{tabs}", None),
    ("extra.csv", "label,timestamp,value,unit\n{extra}", None),
    ("named.csv", "\ufeffTimestamp,CPUUtilization\n{rows}",
     "no `value` column: the one other column read as the value ×1: named.csv:1 'CPUUtilization'"),
    ("bare.csv", "{rows}", "no header: the columns read as `timestamp,value` ×1: bare.csv:1"),
    ("host.csv", "timestamp,host,cpu\n{host}",
     "no `value` column: the one other column of numbers read as the value ×1: host.csv:1 'cpu'"),
    ("stats.csv", "Unit,Timestamp,Average,Maximum\n{stats}",
     "no `value` column: `Average` read as the value, of Average, Maximum (--stat chooses another) ×1: stats.csv:1"),
    ("comma.csv", "timestamp;value\n{comma}",
     "decimal commas read as points (a `;`-delimited file) ×1: comma.csv:3 '2,5'"),
])
def test_columns_are_found_by_name_delimiter_and_header_or_its_absence(tmp_path, name, text, note) -> None:
    fill = {"rows": "".join(f"{t},{v}\n" for t, v in ROWS),
            "swapped": "".join(f"{v},{t}\n" for t, v in ROWS),
            "semi": "".join(f"{t};{v}\n" for t, v in ROWS),
            "tabs": "".join(f"{t}\t{v}\n" for t, v in ROWS),
            "extra": "".join(f"x,{t},{v},Percent\n" for t, v in ROWS),
            "host": "".join(f"{t},web-1,{v}\n" for t, v in ROWS),
            "stats": "".join(f"Percent,{t},{v},9\n" for t, v in ROWS),
            "comma": "".join(f"{t};{v.replace('.', ',')}\n" for t, v in ROWS)}
    p = tmp_path / name
    p.write_text(text.format(**fill))
    s = read_series(p)
    assert s.raw_times == [t for t, _ in ROWS] and s.values == [1.0, 2.5, None]
    assert s.times == [1388534400.0, 1388534700.0, 1388535000.0]
    assert s.notes[:-1] == ([note] if note else [])  # the last note: the empty value on the third row
    assert s.notes[-1].startswith("`value` empty")


def test_an_empty_file_is_a_series_of_no_points(tmp_path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    s = read_series(p)
    assert (s.values, s.notes) == ([], ["empty file: no points to score ×1: empty.csv:1"])
    out = tmp_path / "scored.csv"
    assert write_scores(out, s, run_detector(s)) == 0
    assert out.read_text().splitlines() == ["timestamp,value,anomaly_score"]


def test_progress_is_told_of_every_point_in_chunks(tmp_path, monkeypatch) -> None:
    import pipeline.anomaly.series_io as sio

    monkeypatch.setattr(sio, "PROGRESS_EVERY", 7)
    p = tmp_path / "s.csv"
    p.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 300 * i},{i % 5}\n" for i in range(30)))
    seen: list[int] = []
    scores = run_detector(read_series(p), progress=seen.append)
    assert seen == [7, 7, 7, 7, 2] and len(scores) == 30
    assert scores == run_detector(read_series(p))  # the chunks change nothing


def test_a_value_outside_cloudwatchs_range_is_a_noted_missing_point(tmp_path) -> None:
    p = tmp_path / "big.csv"
    p.write_text("timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:05:00,1e308\n"
                 "2026-01-01 00:10:00,-1e300\n2026-01-01 00:15:00,2\n")
    s = read_series(p)
    assert s.values == [1.0, None, None, 2.0] and s.raw_values[1] == "1e308"
    assert s.notes == ["`value` outside CloudWatch's range ±2^360 (row scored 0, not learnt) ×2: "
                       "big.csv:3 '1e308'; big.csv:4 '-1e300'"]


def test_unnamed_columns_values_only_and_export_times_are_read_not_refused(tmp_path) -> None:
    ts = tmp_path / "ts.csv"
    ts.write_text("ts,v\n1700000000000,1\n1700000060000,2\n")
    s = read_series(ts)
    assert s.times == [1_700_000_000.0, 1_700_000_060.0] and s.values == [1.0, 2.0]
    assert s.notes == ["header `ts,v` names no time column: the first two columns read as `timestamp,value` "
                       "×1: ts.csv:1"]
    only = tmp_path / "only.csv"
    only.write_text("latency\n1.5\n\nabc\n2.5\n")
    s = read_series(only)
    assert s.times == [0.0, 300.0, 600.0] and s.values == [1.5, None, 2.5] and s.raw_times == ["", "", ""]
    assert s.notes == ["one column `latency`, no times: the values read 5 minutes apart (CloudWatch's basic "
                       "period) from 1970-01-01 ×1: only.csv:1",
                       "`value` not a finite number (row scored 0, not learnt) ×1: only.csv:4 'abc'"]
    us = tmp_path / "us.csv"
    us.write_text("Timestamp,Value\n12/31/2025 11:55 PM,1\n01/01/2026 12:00 AM,2\n01/01/2026 12:05 AM,3\n")
    s = read_series(us)
    assert [b - a for a, b in zip(s.times, s.times[1:], strict=False)] == [300.0, 300.0]
    assert s.notes == ["times read as %m/%d/%Y %I:%M %p (UTC) ×1: us.csv:2"]
    assert len(run_detector(s)) == 3
    daily = tmp_path / "daily.csv"  # a clock that repeats a day's date 288 times: scored, not a crash
    daily.write_text("date,value\n" + "".join(f"2026-01-{1 + i // 288:02d},{i % 7}\n" for i in range(1500)))
    assert len(run_detector(read_series(daily))) == 1500
    with pytest.raises(InputError, match="expected a header"):
        bad = tmp_path / "bad.csv"
        bad.write_text("name,colour\nx,red\n")
        read_series(bad)


def test_stat_names_the_value_column_of_a_csv(tmp_path) -> None:
    p = tmp_path / "stats.csv"
    p.write_text("Timestamp,Average,Maximum\n2026-01-01 00:00:00,1,7\n2026-01-01 00:05:00,2,8\n")
    s = read_series(p, stat="maximum")
    assert s.values == [7.0, 8.0] and s.notes == []
    with pytest.raises(InputError, match=r"stats.csv:1, field `--stat`: no `p99` column \(the header names "
                                         r"Timestamp, Average, Maximum\)"):
        read_series(p, stat="p99")
    bare = tmp_path / "bare.csv"  # no header to name a column: asking for one is an error, not ignored
    bare.write_text("2026-01-01 00:00:00,1\n2026-01-01 00:05:00,2\n")
    with pytest.raises(InputError, match=r"bare.csv:1, field `--stat`: no `Maximum` column \(the header names no time"):
        read_series(bare, stat="Maximum")


def test_a_quoted_number_with_thousands_separators_is_that_number(tmp_path) -> None:
    p = tmp_path / "thousands.csv"
    p.write_text('timestamp,value\n2026-01-01 00:00:00,"1,234.5"\n2026-01-01 00:05:00,"12,5"\n')
    s = read_series(p)
    assert s.values == [1234.5, None]  # a decimal comma is not read outside a `;`-delimited file
    assert s.notes == ["thousands separators dropped from numbers ×1: thousands.csv:2 '1,234.5'",
                       "`value` not a finite number (row scored 0, not learnt) ×1: thousands.csv:3 '12,5'"]
