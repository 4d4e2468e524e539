"""`watchlake ingest` through the real readers, on the real Stratus Red Team CloudTrail logs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from jobs.cli import main
from pipeline.config import Settings
from pipeline.lake import Lake
from pipeline.loader.ingest import ingest
from pipeline.query.duck import connect


def _events(folder: Path) -> list[dict]:
    out = []
    for f in sorted(folder.glob("*.json")):
        doc = json.loads(f.read_text())
        out += doc["Records"] if isinstance(doc, dict) else doc
    return out


def test_real_stratus_logs_load_exactly_once(shared_data: Path, lake: Lake, settings: Settings):
    folder = shared_data / "stratus-cloudtrail" / "detonation-logs"
    events = _events(folder)  # parsed independently with the json module
    s = ingest(lake, settings.loader, "cloudtrail", [folder])
    unique = len({e["eventID"] for e in events})
    assert (s.records_in, s.loaded, s.rejected, s.duplicates) == (len(events), unique, 0, 0)
    con = connect(lake, ["cloudtrail"])
    got = con.execute("SELECT eventID, eventName, dt, hour FROM cloudtrail").fetchall()
    assert sorted(r[0] for r in got) == sorted(e["eventID"] for e in events)
    by_id = {e["eventID"]: e for e in events}
    for event_id, name, dt, hour in got:
        t = datetime.strptime(by_id[event_id]["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert (name, dt, hour) == (by_id[event_id]["eventName"], t.strftime("%Y-%m-%d"), t.strftime("%H"))
    again = ingest(lake, settings.loader, "cloudtrail", [folder])
    assert (again.loaded, again.duplicates, again.files) == (0, len(events), 0)


def test_ingest_cli_gzip_with_bad_records(lake: Lake, settings: Settings, tmp_path: Path, capsys):
    good = [{"eventVersion": "1.08", "eventID": f"id-{i}", "eventTime": f"2026-11-0{1 + i % 3}T10:00:00Z",
             "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1"}
            for i in range(30)]
    bad = [{"eventID": "no-time", "eventName": "X", "eventSource": "s3.amazonaws.com"}]
    src = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01"
    src.mkdir(parents=True)
    (src / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": good + bad + good[:5]}).encode()))
    assert main(["--lake", settings.lake.root, "ingest", "cloudtrail", str(tmp_path / "AWSLogs")]) == 0
    err = capsys.readouterr().err
    assert "records in          36" in err and "loaded              30" in err
    assert "rejected            1" in err and "duplicates dropped  5" in err
    days = connect(lake, ["cloudtrail"]).execute("SELECT dt, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 1").fetchall()
    assert days == [("2026-11-01", 10), ("2026-11-02", 10), ("2026-11-03", 10)]
    errs = lake.table_files("errors")
    assert len(errs) == 1 and errs[0].startswith("errors/cloudtrail/")
    assert main(["--lake", settings.lake.root, "ingest", "cloudtrail", str(tmp_path / "nope")]) == 2


def test_parallel_readers_load_the_same_keys(shared_data: Path, lake: Lake, settings: Settings, tmp_path: Path):
    folder = shared_data / "stratus-cloudtrail" / "detonation-logs"
    events = _events(folder)
    s = ingest(lake, settings.loader, "cloudtrail", [folder], workers=2)
    assert (s.records_in, s.loaded, s.inputs) == (len(events), len(events), len(list(folder.glob("*.json"))))
    ids = connect(lake, ["cloudtrail"]).execute("SELECT eventID FROM cloudtrail").fetchall()
    assert sorted(r[0] for r in ids) == sorted(e["eventID"] for e in events)
    assert main(["--lake", settings.lake.root, "ingest", "cloudtrail", str(folder), "--workers", "2"]) == 0
