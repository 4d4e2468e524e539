"""Property tests: no input crashes a reader, and every record is either a row or a rejection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.schemas import CLOUDTRAIL, RAW_SCHEMAS
from pipeline.sources import read
from pipeline.sources.cloudtrail import events_to_table
from tests.strategies import any_json

JSONS = any_json()
FIELDS = ["eventTime", "eventID", "eventName", "userIdentity", "tlsDetails", "readOnly", "requestParameters",
          "sourceIPAddress", "resources", "eventVersion", "brandNew"]
TIMES = st.one_of(st.just("2026-11-01T00:00:00Z"), st.just("2026-11-01T00:00:00.5+01:00"), JSONS)
EVENT = st.fixed_dictionaries({}, optional={
    **{f: JSONS for f in FIELDS}, "eventTime": TIMES,
    "userIdentity": st.one_of(JSONS, st.fixed_dictionaries({}, optional={
        "type": JSONS, "sessionContext": st.one_of(JSONS, st.fixed_dictionaries({}, optional={
            "webIdFederationData": JSONS, "attributes": JSONS}))}))})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(EVENT, JSONS), max_size=8))
def test_events_to_table_never_raises_and_accounts_for_every_event(events: list[Any]) -> None:
    table, rejections = events_to_table(events, "fuzz")
    assert table.schema.equals(CLOUDTRAIL)
    assert table.num_rows + len(rejections) == len(events)
    assert all(r.origin == "fuzz" and r.reason for r in rejections)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), JSONS.map(lambda v: json.dumps(v).encode())),
       st.sampled_from(sorted(RAW_SCHEMAS)))
def test_readers_never_raise_on_arbitrary_bytes(tmp_path: Path, data: bytes, kind: str) -> None:
    p = tmp_path / "input"
    p.write_bytes(data)
    opts = {"namespace": "N", "metric_name": "m"} if kind == "metrics" else {}
    for b in read(kind, p, **opts):
        assert b.table.schema.equals(RAW_SCHEMAS[b.table_name])
        assert b.records_in == b.table.num_rows + len(b.rejections)
