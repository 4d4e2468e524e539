"""A user's own saved investigations (SQL and Logs Insights files in the folder that
``query.investigations_dir`` names): listed beside the built-in ones, run with typed parameters,
and a malformed file refused in one line naming the file and the field. Expected rows are counted
by hand from the events below."""

from __future__ import annotations

import pytest

from pipeline.errors import InputError
from pipeline.query import investigations as inv
from pipeline.query.investigations import run_investigation
from tests.pipeline.query.ctdata import event, write_events

EVENTS = [
    event("CreateUser", "2026-11-02T10:00:00Z", user="alice"),
    event("CreateUser", "2026-11-02T10:05:00Z", user="alice"),
    event("CreateUser", "2026-11-02T11:00:00Z", user="bob", key="AKIABOB"),
    event("DeleteUser", "2026-11-02T12:00:00Z", user="bob", key="AKIABOB"),
    event("GetObject", "2026-11-02T12:30:00Z", source="s3.amazonaws.com", user="carol", key="AKIACAROL",
          read_only=True),
]
WINDOW = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-03T00:00:00Z"}

WHO_SQL = """-- name: writes_by
-- description: Write calls of one user name, newest first
-- param: who string — userIdentity.userName
SELECT eventTime, eventName, eventID FROM cloudtrail
WHERE userIdentity.userName = $who AND NOT readOnly AND eventTime >= $start AND eventTime < $end
ORDER BY eventTime DESC LIMIT $limit
"""

CALLS_LI = """# name: callers_of
# description: Who called one API, most calls first (Logs Insights)
# source: cloudtrail
# param: api string — eventName
filter eventName = $api
| stats count(*) as calls by userIdentity.userName
| sort calls desc
"""


@pytest.fixture
def lake_and_folder(lake, tmp_path):
    write_events(lake, EVENTS)
    folder = tmp_path / "investigations"
    folder.mkdir()
    (folder / "writes_by.sql").write_text(WHO_SQL)
    (folder / "callers_of.insights").write_text(CALLS_LI)
    return lake, folder


def test_listed_beside_the_built_in_ones(lake_and_folder):
    _, folder = lake_and_folder
    cat = inv.catalog(user_folder=folder)
    assert {"principal_activity", "writes_by", "callers_of"} <= set(cat)
    assert (cat["writes_by"].user, cat["writes_by"].kind) == (True, "sql")
    li = cat["callers_of"]
    assert (li.user, li.kind, li.source) == (True, "insights", "cloudtrail")
    assert not cat["principal_activity"].user
    assert cat["callers_of"].params["api"].type == "string"


def test_sql_investigation_runs_with_its_parameters(lake_and_folder):
    lake, folder = lake_and_folder
    r = run_investigation(lake, "writes_by", {**WINDOW, "who": "bob"}, user_folder=folder)
    # bob: CreateUser 11:00 and DeleteUser 12:00, newest first
    assert [row[1] for row in r.rows()] == ["DeleteUser", "CreateUser"]
    assert r.notes[0].startswith("writes_by: window [2026-11-01T00:00:00Z")


def test_logs_insights_investigation_runs_with_its_parameters(lake_and_folder):
    lake, folder = lake_and_folder
    r = run_investigation(lake, "callers_of", {**WINDOW, "api": "CreateUser"}, user_folder=folder)
    assert r.rows() == [("alice", 2), ("bob", 1)]
    # the window is the investigation's start/end: a window before the events finds nothing
    early = run_investigation(lake, "callers_of", {"start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z",
                                                   "api": "CreateUser"}, user_folder=folder)
    assert early.rows() == []


def test_a_value_cannot_change_the_query(lake_and_folder):
    lake, folder = lake_and_folder
    r = run_investigation(lake, "callers_of", {**WINDOW, "api": 'x" or eventName != "'}, user_folder=folder)
    assert r.rows() == []
    r = run_investigation(lake, "writes_by", {**WINDOW, "who": "x' OR 1=1 --"}, user_folder=folder)
    assert r.rows() == []


@pytest.mark.parametrize(("file", "text", "field", "line"), [
    ("bad_li.insights", "# name: bad_li\n# description: d\nfilter eventName = = 1\n", "query", None),
    ("bad_src.insights", "# name: bad_src\n# description: d\n# source: vpcflow\nstats count(*)\n", "source", 3),
    ("bad_name.sql", "-- name: bad name!\n-- description: d\nSELECT 1\n", "name", 1),
    ("no_desc.sql", "-- name: nodesc\nSELECT 1\n", "description", 1),
    ("bad_type.sql", "-- name: t\n-- description: d\n-- param: n number\nSELECT $n\n", "param", 3),
    ("dup.sql", "-- name: principal_activity\n-- description: d\nSELECT 1\n", "name", None),
])
def test_a_bad_file_is_one_line_naming_file_and_field(tmp_path, file, text, field, line):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / file).write_text(text)
    with pytest.raises(InputError) as info:
        inv.catalog(user_folder=folder)
    err = info.value
    assert err.path == str(folder / file) and err.field == field and err.line == line
    assert "\n" not in str(err) and str(folder / file) in str(err)


def test_a_missing_folder_names_the_setting(tmp_path):
    with pytest.raises(InputError) as info:
        inv.catalog(user_folder=tmp_path / "nope")
    assert info.value.field == "query.investigations_dir" and str(tmp_path / "nope") in str(info.value)


def test_cli_lists_and_runs_them(lake_and_folder, monkeypatch, capsys):
    from jobs.cli import main

    lake, folder = lake_and_folder
    monkeypatch.setenv("WATCHLAKE__QUERY__INVESTIGATIONS_DIR", str(folder))
    assert main(["--lake", lake.root, "investigate", "--list"]) == 0
    out = capsys.readouterr().out
    assert "callers_of  [yours, Logs Insights]" in out and "writes_by  [yours, SQL]" in out
    assert "principal_activity  [built-in, SQL]" in out
    assert main(["--lake", lake.root, "investigate", "callers_of", "-p", "api=CreateUser", "-p",
                 f"start={WINDOW['start']}", "-p", f"end={WINDOW['end']}", "--format", "csv"]) == 0
    assert capsys.readouterr().out.split() == ["userIdentity.userName,calls", "alice,2", "bob,1"]


@pytest.mark.parametrize("command", [["investigate", "--list"], ["dashboard", "--port", "1"]])
def test_a_bad_file_stops_start_up_in_one_line(lake, tmp_path, monkeypatch, capsys, command):
    from jobs.cli import main

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "x.insights").write_text("# name: x\n# description: d\n# source: vpcflow\nstats count(*)\n")
    monkeypatch.setenv("WATCHLAKE__QUERY__INVESTIGATIONS_DIR", str(folder))
    assert main(["--lake", lake.root, *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(folder / "x.insights") in err[0] and "source" in err[0]
