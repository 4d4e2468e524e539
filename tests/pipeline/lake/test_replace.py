"""The lake's replace primitive: replace rows by key or predicate and add new ones as one atomic
commit; readers see the old state or the new one, never both and never neither, even when the
writer is killed (SIGKILL) at any moment of the commit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.errors import LayoutError
from pipeline.lake import Lake, layout, ledger
from pipeline.lake.files import table_lock
from pipeline.lake.locks import locked
from pipeline.lake.replace import recover, replace_rows, replacing
from tests.killpoints import KILL_AT_NTH_WRITE

REPO = Path(__file__).resolve().parents[3]
TABLE = "insights"  # any dt-partitioned table: the primitive does not care about the columns
SCHEMA = pa.schema([("k", pa.string()), ("rule", pa.string()), ("v", pa.int64()),
                    ("t", pa.timestamp("us", tz="UTC"))])


def rows(items: list[tuple[str, str, int, str]]) -> pa.Table:
    """``(key, rule, value, 'YYYY-MM-DD HH')`` tuples as a table."""
    return pa.table({"k": [i[0] for i in items], "rule": [i[1] for i in items], "v": [i[2] for i in items],
                     "t": [datetime.strptime(i[3], "%Y-%m-%d %H").replace(tzinfo=UTC) for i in items]},
                    schema=SCHEMA)


def by_day(t: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(f"{layout.table(TABLE).prefix}/dt=",
                                       pc.strftime(t["t"], format="%Y-%m-%d"), "")


def content(lake: Lake) -> list[tuple[str, str, int, str]]:
    out = []
    for f in lake.table_files(TABLE):
        with lake.fs.open_input_file(lake.path(f)) as fh:
            t = pq.read_table(fh)
        for r in t.to_pylist():
            out.append((r["k"], r["rule"], r["v"], r["t"].strftime("%Y-%m-%d %H")))
    return sorted(out)


def test_replace_by_key_updates_and_adds_across_partitions(lake: Lake):
    base = [("a", "r1", 1, "2025-01-01 03"), ("b", "r1", 1, "2025-01-01 05"), ("c", "r2", 1, "2025-01-02 01")]
    res = replace_rows(lake, TABLE, rows(base), schema=SCHEMA, partition_of=by_day, key=["k"])
    assert len(res.added) == 2 and res.retired == [] and res.rows == 3
    # b changes value, d is new (another day); a and c are untouched
    res = replace_rows(lake, TABLE, rows([("b", "r1", 2, "2025-01-01 05"), ("d", "r2", 2, "2025-01-03 00")]),
                       schema=SCHEMA, partition_of=by_day, key=["k"])
    assert content(lake) == [("a", "r1", 1, "2025-01-01 03"), ("b", "r1", 2, "2025-01-01 05"),
                             ("c", "r2", 1, "2025-01-02 01"), ("d", "r2", 2, "2025-01-03 00")]
    # only the 2025-01-01 file was rewritten; 2025-01-02's file is the same file as before
    assert len(res.retired) == 1 and res.retired[0].startswith("insights/dt=2025-01-01/")
    assert sum("dt=2025-01-02" in f for f in lake.table_files(TABLE)) == 1
    # one file per partition, and every step is in the partition's ledger
    assert len(lake.table_files(TABLE)) == 3
    entries = ledger.entries(lake, TABLE, "insights/dt=2025-01-01")
    kinds = sorted((e["kind"], len(e["files"]), len(e["retires"])) for e in entries.values())
    assert kinds == [("replace", 1, 0), ("replace", 1, 1)]


def test_replace_by_predicate_in_named_partitions_keeps_other_rows(lake: Lake):
    base = [("a", "r1", 1, "2025-01-01 03"), ("b", "r2", 1, "2025-01-01 05"),
            ("c", "r1", 1, "2025-01-02 01"), ("e", "r1", 1, "2025-01-04 01")]
    replace_rows(lake, TABLE, rows(base), schema=SCHEMA, partition_of=by_day, key=["k"])
    # re-run of rule r1 over [01-01, 01-03): its old rows there go, r2 and 01-04 stay; no new rows
    lo = pa.scalar(datetime(2025, 1, 1, tzinfo=UTC), SCHEMA.field("t").type)
    hi = pa.scalar(datetime(2025, 1, 3, tzinfo=UTC), SCHEMA.field("t").type)
    res = replace_rows(
        lake, TABLE, rows([("a2", "r1", 2, "2025-01-01 04")]), schema=SCHEMA, partition_of=by_day,
        where=lambda t: pc.and_(pc.equal(t["rule"], "r1"),
                                pc.and_(pc.greater_equal(t["t"], lo), pc.less(t["t"], hi))),
        partitions=[{"dt": "2025-01-01"}, {"dt": "2025-01-02"}])
    assert content(lake) == [("a2", "r1", 2, "2025-01-01 04"), ("b", "r2", 1, "2025-01-01 05"),
                             ("e", "r1", 1, "2025-01-04 01")]
    # 01-02 became empty: its file is retired and no empty file replaces it
    assert not lake.table_files(TABLE, "insights/dt=2025-01-02")
    assert len(res.retired) == 2 and len(res.added) == 1


def test_only_selects_the_files_a_writer_owns(lake: Lake):
    replace_rows(lake, TABLE, rows([("a", "x", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day,
                 key=["k"], tag="ownerx")
    replace_rows(lake, TABLE, rows([("a", "y", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day,
                 key=["k"], tag="ownery", only=lambda f: f.endswith("-ownery.parquet"))
    # same key, but the other owner's file is not touched: both rows live side by side
    assert content(lake) == [("a", "x", 1, "2025-01-01 01"), ("a", "y", 1, "2025-01-01 01")]


def test_recommitting_the_same_rows_is_idempotent(lake: Lake):
    data = rows([(f"k{i}", "r", i, f"2025-01-0{1 + i % 3} {i % 24:02d}") for i in range(30)])
    replace_rows(lake, TABLE, data, schema=SCHEMA, partition_of=by_day, key=["k"])
    first = content(lake)
    for _ in range(2):
        replace_rows(lake, TABLE, data, schema=SCHEMA, partition_of=by_day, key=["k"])
    assert content(lake) == first and len(first) == 30
    assert recover(lake, TABLE) == 0 and recover(lake, TABLE) == 0


def test_a_block_that_raises_changes_nothing(lake: Lake):
    replace_rows(lake, TABLE, rows([("a", "r", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day, key=["k"])
    before = lake.table_files(TABLE)
    with pytest.raises(RuntimeError), replacing(lake, TABLE) as tx:
        for f in tx.files():
            tx.retire(f)
        tx.add({"dt": "2025-01-01"}, rows([("b", "r", 2, "2025-01-01 01")]))
        raise RuntimeError("caller failed half-way")
    assert lake.table_files(TABLE) == before and content(lake) == [("a", "r", 1, "2025-01-01 01")]


def test_retire_refuses_files_of_other_tables(lake: Lake):
    with pytest.raises(LayoutError), replacing(lake, TABLE) as tx:
        tx.retire("findings/dt=2025-01-01/part-x.parquet")


def test_readers_honour_prepared_and_committed_markers(lake: Lake):
    """The two crash states, made by hand: a prepared commit's files are invisible, a committed
    commit's retired files are invisible; recovery rolls the first back and the second forward."""
    replace_rows(lake, TABLE, rows([("a", "r", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day, key=["k"])
    (old,) = lake.table_files(TABLE)
    new = "insights/dt=2025-01-01/" + layout.file_name()
    lake.write_parquet(new, rows([("a", "r", 2, "2025-01-01 01")]))
    doc = {"commit": "c1", "table": TABLE, "adds": [new], "retires": [old]}
    lake.write_json(ledger.marker_path(TABLE, "c1", "prepared"), {**doc, "state": "prepared"})
    assert lake.table_files(TABLE) == [old]
    assert lake.list_files("insights") == [old] and new not in lake.list_files("")
    lake.write_json(ledger.marker_path(TABLE, "c1", "committed"),
                    {**doc, "state": "committed", "files": [{"path": new, "rows": 1, "bytes": 1}]})
    assert lake.table_files(TABLE) == [new]
    with locked(lake, table_lock(TABLE)):
        assert recover(lake, TABLE) == 1
    assert lake.table_files(TABLE) == [new] and not lake.exists(old)
    # prepared only → rolled back: the add is deleted, the old file stays
    new2 = "insights/dt=2025-01-01/" + layout.file_name()
    lake.write_parquet(new2, rows([("a", "r", 3, "2025-01-01 01")]))
    lake.write_json(ledger.marker_path(TABLE, "c2", "prepared"),
                    {"commit": "c2", "table": TABLE, "adds": [new2], "retires": [new], "state": "prepared"})
    stale = f"{ledger.replace_folder(TABLE)}/.c3.committed.json.0badf00d.tmp"  # a killed marker write
    lake.write_bytes(stale, b"{")
    with locked(lake, table_lock(TABLE)):
        assert recover(lake, TABLE) == 1
    assert lake.table_files(TABLE) == [new] and not lake.exists(new2) and not lake.exists(stale)
    assert content(lake) == [("a", "r", 2, "2025-01-01 01")]


def test_a_listing_that_straddles_a_commit_is_taken_again(lake: Lake, monkeypatch: pytest.MonkeyPatch):
    """A directory listing is not atomic: one that runs while a whole commit happens can see the
    old file and the new one. The markers listed before and after differ, so it is retaken."""
    from pipeline.lake import files

    replace_rows(lake, TABLE, rows([("a", "r", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day, key=["k"])
    (old,) = lake.table_files(TABLE)
    real = files.entries
    calls = []

    def racing(lake_: Lake, rel: str = "", *, recursive: bool = True) -> list[files.Entry]:
        if rel != "insights" or calls:
            return real(lake_, rel, recursive=recursive)
        calls.append(rel)
        seen_first = real(lake_, rel, recursive=recursive)         # enumeration reaches A …
        replace_rows(lake, TABLE, rows([("a", "r", 2, "2025-01-01 01")]), schema=SCHEMA,
                     partition_of=by_day, key=["k"])                 # … a commit swaps A for B …
        return seen_first + real(lake_, rel, recursive=recursive)   # … and it reaches B too

    monkeypatch.setattr(files, "entries", racing)
    (new,) = lake.table_files(TABLE)
    assert calls and new != old and content(lake) == [("a", "r", 2, "2025-01-01 01")]


def test_duckdb_views_see_only_committed_files(lake: Lake):
    from pipeline.query.duck import connect

    replace_rows(lake, TABLE, rows([("a", "r", 1, "2025-01-01 01")]), schema=SCHEMA, partition_of=by_day, key=["k"])
    hidden = "insights/dt=2025-01-01/" + layout.file_name()
    lake.write_parquet(hidden, rows([("a", "r", 9, "2025-01-01 01")]))
    lake.write_json(ledger.marker_path(TABLE, "c9", "prepared"),
                    {"commit": "c9", "table": TABLE, "adds": [hidden], "retires": [], "state": "prepared"})
    assert connect(lake, [TABLE]).execute("SELECT k, v FROM insights").fetchall() == [("a", 1)]
    # the SQL console's catalogue too (user-typed SQL goes through it)
    from pipeline.query.duck import run_query

    assert run_query(lake, "SELECT count(*) FROM findings").rows() == [(0,)]
    lake.write_parquet("findings/dt=2025-01-01/" + layout.file_name(), pa.table({"finding_id": ["x"]}))
    lake.write_json(ledger.marker_path("findings", "c8", "prepared"),
                    {"commit": "c8", "table": "findings", "adds": lake.list_files("findings"), "retires": [],
                     "state": "prepared"})
    assert lake.list_files("findings") == []
    assert run_query(lake, "SELECT count(*) FROM findings").rows() == [(0,)]


# -- crashes -------------------------------------------------------------------------------------

N_KEYS = 30
WRITER = r"""
import os, signal, sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from pipeline.lake import Lake
from tests.killpoints import KILL_AT_NTH_WRITE
from pipeline.lake.replace import replace_rows
from tests.pipeline.lake.test_replace import SCHEMA, N_KEYS, TABLE, by_day

root, start, die_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
""" + KILL_AT_NTH_WRITE + r"""
lake = Lake(root)
t0 = datetime(2025, 1, 1, tzinfo=UTC)
print("ready", flush=True)
for n in range(start, start + 10_000):
    # every version moves each key to another day, so old and new files never share a partition
    t = pa.table({"k": [f"k{i:02d}" for i in range(N_KEYS)], "rule": ["r"] * N_KEYS, "v": [n] * N_KEYS,
                  "t": [t0 + timedelta(days=(i + n) % 3, minutes=i) for i in range(N_KEYS)]}, schema=SCHEMA)
    replace_rows(lake, TABLE, t, schema=SCHEMA, partition_of=by_day,
                 where=lambda old: pa.array([True] * old.num_rows),
                 partitions=[{"dt": f"2025-01-0{d}"} for d in (1, 2, 3)])
    print(n, flush=True)
"""


def versions(lake: Lake) -> list[int]:
    """The version of every live row; the invariant: all N_KEYS keys, each once, one version."""
    got = content(lake)
    assert sorted(k for k, *_ in got) == [f"k{i:02d}" for i in range(N_KEYS)], got
    return sorted({v for _, _, v, _ in got})


def _run(root: Path, start: int, die_at: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(start), str(die_at)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _last_version(lake: Lake) -> int:
    (v,) = versions(lake)
    return v


@pytest.mark.slow
def test_sigkill_at_every_step_of_a_commit(lake_root: Path):
    """Kill the writer at its 1st, 2nd, … lake write/delete of a commit (each step of the
    protocol, in every partition): after each kill the table holds exactly one version, the one
    before the commit or the one after; the next writer recovers and moves on."""
    lake = Lake(lake_root)
    p = _run(lake_root, 0, 0)
    assert p.stdout is not None and p.stdout.readline() == "ready\n" and p.stdout.readline() == "0\n"
    p.kill()
    p.wait()
    # a commit makes 10 counted calls (prepared marker, 3 adds, committed marker, 3 retires, 2
    # marker deletes) after up to 4 of recovery (the last done marker, or a crashed commit's
    # files and markers): kill points 1..20 cover every step, before and after the commit point
    version, seen_after = 0, 0
    for die_at in range(1, 21):
        p = _run(lake_root, version + 1, die_at)
        p.wait(timeout=60)
        assert p.returncode == -signal.SIGKILL, p.stderr.read() if p.stderr else ""
        now = _last_version(lake)
        assert now in (version, version + 1)
        seen_after += now == version + 1
        version = now
    assert 0 < seen_after < 20  # both outcomes happened: kills before and after the commit point
    # a final clean writer recovers whatever is left and its commits land
    p = _run(lake_root, version + 1, 10**9)
    assert p.stdout is not None and p.stdout.readline() == "ready\n"
    assert int(p.stdout.readline()) == version + 1
    p.kill()
    p.wait()
    assert _last_version(lake) >= version + 1
    # nothing hidden or temporary is left behind once a commit has recovered
    replace_rows(lake, TABLE, rows([]), schema=SCHEMA, partition_of=by_day)
    leftovers = [e.path for e in lake.entries("insights") if e.path not in lake.table_files(TABLE)]
    assert leftovers == []
    markers = [e.path.rsplit("/", 1)[1] for e in lake.entries(ledger.replace_folder(TABLE))]
    assert markers == []  # the last (empty) commit pruned the done marker and left no temporaries


@pytest.mark.slow
def test_sigkill_at_random_moments_while_a_reader_checks_every_snapshot(lake_root: Path):
    """A writer commits continuously and is killed at 15 random moments; meanwhile this process
    keeps listing and reading the table: every snapshot holds every key exactly once, from a
    single version (old or new, never a mix, never missing)."""
    lake = Lake(lake_root)
    rng = random.Random(15)
    snapshots = misses = kills = 0
    p = _run(lake_root, 0, 0)
    assert p.stdout is not None and p.stdout.readline() == "ready\n" and p.stdout.readline() == "0\n"
    p.kill()
    p.wait()
    version = 0
    while kills < 15:
        p = _run(lake_root, version + 1, 10**9)
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        assert int(p.stdout.readline()) == version + 1  # it commits; from here on we read while it does
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        while time.monotonic() < deadline:
            try:
                vs = versions(lake)
            except (FileNotFoundError, OSError):
                misses += 1  # a retired file deleted between our listing and our read
                continue
            assert len(vs) == 1, f"a reader saw versions {vs} at once"
            snapshots += 1
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        vs = versions(lake)
        assert len(vs) == 1
        version = vs[0]
    assert snapshots > 50 and version >= 15, (snapshots, version, misses)


@pytest.mark.slow
def test_replace_on_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import boto3

    from tests.conftest import moto_server

    with moto_server() as url:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="lake")
        lake = Lake("s3://lake/wl", endpoint_url=url)
        replace_rows(lake, TABLE, rows([("a", "r", 1, "2025-01-01 01"), ("b", "r", 1, "2025-01-02 01")]),
                     schema=SCHEMA, partition_of=by_day, key=["k"])
        res = replace_rows(lake, TABLE, rows([("a", "r", 2, "2025-01-01 01")]), schema=SCHEMA,
                           partition_of=by_day, key=["k"])
        assert len(res.retired) == 1 and not lake.exists(res.retired[0])
        assert content(lake) == [("a", "r", 2, "2025-01-01 01"), ("b", "r", 1, "2025-01-02 01")]
        assert ledger.marker_names(lake, TABLE) == {f"{res.commit}.done.json"}


TWO_WRITERS = r"""
import sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from pipeline.lake import Lake
from pipeline.lake.replace import replace_rows
from tests.pipeline.lake.test_replace import SCHEMA, TABLE, by_day

root, who = sys.argv[1], sys.argv[2]
lake = Lake(root)
t0 = datetime(2025, 1, 1, tzinfo=UTC)
for n in range(40):  # each round rewrites both days, keeping the other writer's rows
    t = pa.table({"k": [f"{who}{n:02d}"], "rule": [who], "v": [n], "t": [t0 + timedelta(days=n % 2)]},
                 schema=SCHEMA)
    replace_rows(lake, TABLE, t, schema=SCHEMA, partition_of=by_day, key=["k"],
                 partitions=[{"dt": "2025-01-01"}, {"dt": "2025-01-02"}])
"""


@pytest.mark.slow
def test_two_writers_at_once_lose_no_update(lake_root: Path):
    """Two processes read-modify-write the same partitions 40 times each: the table lock makes
    every commit see the one before, so all 80 rows survive."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", TWO_WRITERS, str(lake_root), who], cwd=REPO, env=env,
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    got = content(Lake(lake_root))
    assert sorted(k for k, *_ in got) == sorted(f"{w}{n:02d}" for w in "ab" for n in range(40))
    assert len(Lake(lake_root).table_files(TABLE)) == 2


def test_a_commit_opened_here_is_made_on_another_thread_and_an_aborted_one_changes_nothing(lake: Lake):
    import threading

    from pipeline.lake.replace import open_commit

    replace_rows(lake, TABLE, rows([("a", "r1", 1, "2025-01-01 03")]), schema=SCHEMA, partition_of=by_day, key=["k"])
    before = lake.table_files(TABLE)
    tx = open_commit(lake, TABLE)
    folder = before[0].rsplit("/", 1)[0]
    tx.retire(before[0])
    new = tx.add({"dt": "2025-01-01"}, rows([("b", "r1", 2, "2025-01-01 04")]))
    assert tx.added == [new] and tx.retired == before and folder in new
    assert lake.table_files(TABLE) == before  # nothing visible before the commit is made
    done = threading.Thread(target=tx.finish)
    done.start()
    done.join()
    assert tx.result.added == [new] and lake.table_files(TABLE) == [new]
    assert content(lake) == [("b", "r1", 2, "2025-01-01 04")]
    tx = open_commit(lake, TABLE)
    tx.add({"dt": "2025-01-02"}, rows([("c", "r1", 3, "2025-01-02 04")]))
    tx.abort()
    assert lake.table_files(TABLE) == [new]
    with replacing(lake, TABLE) as again:  # the lock was released
        again.retire(new)
    assert lake.table_files(TABLE) == []
