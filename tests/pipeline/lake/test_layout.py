from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.errors import LayoutError
from pipeline.lake.layout import (
    file_name,
    parse_partition_path,
    partition_path,
    time_partitions,
    validate_partition,
)

TS = datetime(2025, 2, 11, 8, 14, 9, tzinfo=UTC)


def test_partitions_come_from_event_time():
    assert time_partitions("cloudtrail", TS) == {"dt": "2025-02-11", "hour": "08"}
    assert time_partitions("metrics_1h", TS) == {"month": "2025-02"}
    assert partition_path("cloudtrail", time_partitions("cloudtrail", TS)) == \
        "raw/cloudtrail/dt=2025-02-11/hour=08"
    assert partition_path("records", {"stream": "orders", "dt": "2025-02-11"}) == \
        "raw/records/stream=orders/dt=2025-02-11"
    assert partition_path("errors", {"source": "cloudtrail", "dt": "2025-02-11"}) == \
        "errors/cloudtrail/dt=2025-02-11"


@pytest.mark.parametrize("key,value", [
    ("stream", "../x"), ("stream", ".."), ("stream", "a/b"), ("stream", ""), ("stream", "a\\b"),
    ("dt", "../../etc"), ("dt", "2025-02-30"), ("dt", "2025-2-1"), ("hour", "24"), ("hour", "7"),
    ("month", "2025-13"), ("source", "Cloud/Trail"),
])
def test_crafted_partition_values_are_refused(key, value):
    with pytest.raises(LayoutError) as err:
        validate_partition(key, value)
    assert err.value.key == key and err.value.value == value


def test_partition_path_refuses_traversal_and_unknown_keys():
    with pytest.raises(LayoutError):
        partition_path("records", {"stream": "../x", "dt": "2025-02-11"})
    with pytest.raises(LayoutError, match="missing"):
        partition_path("cloudtrail", {"dt": "2025-02-11"})
    with pytest.raises(LayoutError, match="not a partition"):
        partition_path("cloudtrail", {"dt": "2025-02-11", "hour": "01", "stream": "x"})
    with pytest.raises(LayoutError, match="unknown table"):
        partition_path("nope", {})


def test_parse_partition_path_round_trips():
    p = partition_path("records", {"stream": "orders", "dt": "2025-02-11"})
    assert parse_partition_path("records", p + "/part-x.parquet") == \
        {"stream": "orders", "dt": "2025-02-11"}


def test_file_names_are_unique_and_tag_checked():
    a, b = file_name(now=TS), file_name(now=TS)
    assert a != b and a.startswith("part-20250211T081409Z-") and a.endswith(".parquet")
    assert file_name(now=TS, tag="c0ffee").endswith("-c0ffee.parquet")
    with pytest.raises(LayoutError):
        file_name(tag="../evil")
