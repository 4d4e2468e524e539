"""tiers.percentiles: which namespaces keep sketches (pipeline.rollup.percentiles), end to end
through the rollup job and the GetMetricData-style query."""

from __future__ import annotations

import random
from datetime import timedelta

import duckdb
import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.lake import Lake
from pipeline.query.metrics import get_metric_data
from pipeline.rollup import percentiles
from pipeline.rollup.engine import DuckDBEngine
from pipeline.rollup.runner import run_rollups
from pipeline.tierchain import parse_percentiles
from tests.pipeline.rollup.gen import T0, point, write_metrics

TIERS = ("metrics_1m", "metrics_5m", "metrics_1h")


@pytest.mark.parametrize(("text", "expected"), [
    ("*", None), ("AWS/*, *", None), ("", ()), ("  ", ()), ("none", ()), ("NONE", ()),
    ("AWS/*", ("AWS/*",)), (" AWS/EC2 ,App? ", ("AWS/EC2", "App?")),
])
def test_parse(text, expected):
    assert parse_percentiles(text) == expected


def test_an_empty_item_is_a_config_error_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="tiers.percentiles"):
        load_settings(env={}, overrides={"lake.root": str(tmp_path), "tiers.percentiles": "AWS/*,,App"})


NAMESPACES = ["AWS/EC2", "AWS/Lambda", "AWSX", "App", "Apps", "My.App(1)", "it's", "a*b", "", "aws/ec2",
              "My App", "a-b~c", "Ünïcode/x"]


@pytest.mark.parametrize("patterns", [None, (), ("AWS/*",), ("App?", "My.App(1)"), ("it's", "a*b"), ("*s",),
                                      ("My App", "a-b~?"), ("Ü*",)])
def test_python_and_sql_agree_on_every_namespace(patterns):
    con = duckdb.connect()
    sql = [r[0] for r in con.execute(f"SELECT {percentiles.sql_condition(patterns)} FROM "
                                     "(SELECT unnest($1) AS namespace, generate_subscripts($1, 1) AS i) ORDER BY i",
                                     [NAMESPACES]).fetchall()]
    assert [percentiles.keeps(patterns, ns) for ns in NAMESPACES] == sql


def test_glob_semantics_by_hand():
    assert percentiles.keeps(("AWS/*",), "AWS/EC2") and not percentiles.keeps(("AWS/*",), "AWSX")
    assert percentiles.keeps(("App?",), "Apps") and not percentiles.keeps(("App?",), "App")
    assert percentiles.keeps(("My.App(1)",), "My.App(1)") and not percentiles.keeps(("My.App(1)",), "MyXApp(1)")
    assert not percentiles.keeps(("AWS/*",), "aws/ec2")          # case-sensitive, like CloudWatch
    assert not percentiles.keeps((), "App") and percentiles.keeps(None, "App")


def _lake(tmp_path, name: str, setting: str) -> tuple[Lake, object]:
    settings = load_settings(env={}, overrides={"lake.root": str(tmp_path / name), "tiers.percentiles": setting})
    lake = Lake.from_settings(settings)
    r = random.Random(5)
    rows = []
    for m in range(130):                      # 2 h 10 min, 3 values a minute, two namespaces
        for k in range(3):
            ts = T0 + timedelta(minutes=m, seconds=20 * k)
            rows.append(point(ts, round(r.lognormvariate(3, 1), 3), ns="Keep/App"))
            rows.append(point(ts, round(r.lognormvariate(3, 1), 3), ns="Other"))
    rows.append(point(T0, values=[1.0, 2.0, 400.0], counts=[2.0, 1.0, 1.0], ns="Other"))
    write_metrics(lake, rows)
    run_rollups(lake, settings, DuckDBEngine())
    return lake, settings


def _rows(lake: Lake, table: str) -> list[tuple]:
    files = [lake.uri(f) for f in lake.table_files(table)]
    return duckdb.connect().execute(
        "SELECT namespace, dimensions, timestamp, sample_count, sum, min, max, "
        "list_zip(sketch_bins, sketch_bin_counts), sketch_count "
        "FROM read_parquet(?) ORDER BY namespace, dimensions, timestamp", [files]).fetchall()


def test_only_matching_namespaces_keep_sketches_at_every_tier(tmp_path):
    full, _ = _lake(tmp_path, "all", "*")
    part, part_settings = _lake(tmp_path, "part", "Keep/*")
    none, _ = _lake(tmp_path, "none", "")
    for table in TIERS:
        a, p, n = _rows(full, table), _rows(part, table), _rows(none, table)
        assert len(a) == len(p) == len(n) > 0
        for ra, rp, rn in zip(a, p, n, strict=True):
            assert ra[:7] == rp[:7] == rn[:7]                       # count/sum/min/max unchanged
            assert ra[8] == ra[3] and ra[7]                          # "*": every row sketched
            assert (rn[7], rn[8]) == ([], 0.0)                       # "": none
            assert (rp[7], rp[8]) == ((ra[7], ra[8]) if ra[0] == "Keep/App" else ([], 0.0))


def test_pnn_on_a_namespace_without_sketches_says_why(tmp_path):
    lake, _ = _lake(tmp_path, "part", "Keep/*")
    end = T0 + timedelta(hours=2)
    kept = get_metric_data(lake, "Keep/App", "Latency", {"Host": "a"}, "p90", T0, end, 300, now=end)
    assert len(kept.values) == 24 and not kept.messages
    other = get_metric_data(lake, "Other", "Latency", {"Host": "a"}, "p90", T0, end, 300, now=end)
    assert other.values == [] and "tiers.percentiles" in other.messages[0]
    avg = get_metric_data(lake, "Other", "Latency", {"Host": "a"}, "Average", T0, end, 300, now=end)
    assert len(avg.values) == 24 and not avg.messages


def test_strip_is_a_no_op_when_everything_is_kept(tmp_path):
    lake, _ = _lake(tmp_path, "all", "*")
    import pyarrow.parquet as pq

    table = pq.read_table(lake.path(lake.table_files("metrics_1m")[0]))
    assert percentiles.strip(table, None) is table
    assert percentiles.strip(table, ("Keep/*", "Other")) is table
    stripped = percentiles.strip(table, ())
    assert stripped.column("sketch_count").to_pylist() == [0.0] * table.num_rows
    assert stripped.schema == table.schema
    for col in ("sketch_bins", "sketch_bin_counts"):
        assert stripped.column(col).to_pylist() == [[]] * table.num_rows
