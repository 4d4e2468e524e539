"""The typed fast path against the general path (orjson dicts → events_to_table) as second engine.

Whenever :func:`cloudtrail_typed.decode` accepts a document, its table must equal the general
path's: typed columns exactly, free-form JSON text as the same JSON value; whenever it cannot
promise that, it must refuse (None) and the reader must give the general path's result.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS
from pipeline.sources import read
from pipeline.sources.cloudtrail import events_to_table
from pipeline.sources.cloudtrail_files import read_file
from pipeline.sources.cloudtrail_typed import decode, decode_why
from pipeline.sources.locations import Decoded, Unit

from .conftest import collect

_WEBID = ("userIdentity", "sessionContext", "webIdFederationData")


def _general(data: bytes, origin: str) -> pa.Table:
    doc = orjson.loads(data)
    events = doc["Records"] if isinstance(doc, dict) else doc
    table, rejections = events_to_table(events, origin)
    assert not rejections
    return table


def _json_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every JSON text column parsed (the value, not its spelling, must agree)."""
    out = copy.deepcopy(rows)
    for r in out:
        for name in CLOUDTRAIL_JSON_FIELDS:
            r[name] = None if r[name] is None else json.loads(r[name])
        sc = (r["userIdentity"] or {}).get("sessionContext") or {}
        if sc.get("webIdFederationData") is not None:
            sc["webIdFederationData"] = json.loads(sc["webIdFederationData"])
    return out


def assert_same(typed: pa.Table, general: pa.Table) -> None:
    assert typed.schema.equals(CLOUDTRAIL)
    assert typed.num_rows == general.num_rows
    for name in CLOUDTRAIL.names:
        if name not in CLOUDTRAIL_JSON_FIELDS and name != "userIdentity":
            assert typed.column(name).equals(general.column(name)), name
    assert _json_values(typed.to_pylist()) == _json_values(general.to_pylist())


_ABSENT = object()  # a field value that means "leave the field out"


def _event(i: int, **fields: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "eventVersion": "1.09", "eventTime": f"2026-11-0{1 + i % 3}T10:00:{i % 60:02d}Z",
        "eventID": f"id-{i}", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1", "userAgent": "aws-cli/2 (x y)",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s",
                         "sessionContext": {"attributes": {"creationDate": "2026-11-01T00:00:00Z",
                                                           "mfaAuthenticated": "false"},
                                            "sessionIssuer": {"type": "Role", "userName": "r"},
                                            "webIdFederationData": {}}},
        "requestParameters": {"bucketName": "b", "key": f"k {i}", "n": [1, 2.5, None, True]},
        "responseElements": None, "readOnly": True, "managementEvent": False,
        "resources": [{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}],
        "tlsDetails": {"tlsVersion": "TLSv1.3"},
    }
    e.update(fields)
    return {k: v for k, v in e.items() if v is not _ABSENT}



def _doc(events: list[Any], *, indent: int | None = None, records: bool = True) -> bytes:
    return json.dumps({"Records": events} if records else events, indent=indent, ensure_ascii=False).encode()


def test_real_stratus_and_sample_files_take_the_typed_path_and_agree(stratus_dir: Path) -> None:
    files = sorted(stratus_dir.glob("*.json"))
    sample = Path(__file__).resolve().parents[3] / "sample_data" / "cloudtrail"
    files += sorted(p for p in sample.rglob("*.json.gz") if "Digest" not in p.name)
    assert len(files) > 35
    for f in files:
        data = f.read_bytes()
        if f.suffix == ".gz":
            data = gzip.decompress(data)
        typed = decode(data, f.name)
        assert typed is not None, f.name
        assert_same(typed, _general(data, f.name))


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("records", [True, False])
def test_edge_values_agree(indent: int | None, records: bool) -> None:
    events = [
        _event(0),
        _event(1, userIdentity=None, tlsDetails=_ABSENT, readOnly=None),
        _event(2, userIdentity={"type": "IAMUser", "sessionContext": {}}, managementEvent=_ABSENT),
        _event(3, userIdentity={"type": "Root", "sessionContext": {"webIdFederationData": {
            "federatedProvider": "accounts.google.com", "attributes": {"x": "é ü"}}}}),
        _event(4, userIdentity={"sessionContext": {"webIdFederationData": None, "attributes": {}}}),
        _event(5, requestParameters="a JSON string", responseElements=42, additionalEventData=True,
               resources=[], serviceEventDetails={"nested": {"deep": ["x y", {"z": " "}]}}),
        _event(6, requestParameters={"text": "tab\there \"quoted\" \\ é 😀", "f": 1e-7},
               eventName="Naïve", errorMessage="line\nbreak"),
        _event(7, requestParameters={}, responseElements=[], addendum={"reason": "x"}, tlsDetails={}),
    ]
    data = _doc(events, indent=indent, records=records)
    typed = decode(data, "f.json")
    assert typed is not None
    assert_same(typed, _general(data, "f.json"))
    # free-form text is compact whatever the source's layout; strings keep their spaces
    text = typed.column("serviceEventDetails")[5].as_py()
    assert text == '{"nested":{"deep":["x y",{"z":" "}]}}'
    assert typed.column("requestParameters")[5].as_py() == '"a JSON string"'
    assert typed.column("_wl_origin").to_pylist() == [f"f.json:{i}" for i in range(len(events))]


def test_unicode_escapes_and_big_integers_keep_their_value() -> None:
    data = (b'{"Records":[{"eventTime":"2026-11-01T00:00:00Z","eventID":"a",'
            b'"requestParameters":{"name":"caf\\u00e9\\/x","big":123456789012345678901234567890}}]}')
    typed = decode(data, "f")
    assert typed is not None
    text = typed.column("requestParameters")[0].as_py()
    assert json.loads(text)["name"] == "café/x"
    # the source's digits are kept: the general path's orjson turns this into a float
    assert json.loads(text)["big"] == 123456789012345678901234567890


_REFUSED = {
    "unknown top-level field": [_event(0, newField=1)],
    "unknown userIdentity field": [_event(0, userIdentity={"type": "x", "newSub": "y"})],
    "unknown nested field": [_event(0, userIdentity={"sessionContext": {"attributes": {"new": "1"}}})],
    "unknown tlsDetails field": [_event(0, tlsDetails={"keyExchange": "x"})],
    "number in a string field": [_event(0, eventName=7)],
    "string in a boolean field": [_event(0, readOnly="true")],
    "object in a string field": [_event(0, errorCode={"a": 1})],
    "missing eventID": [_event(0), _event(1, eventID=_ABSENT)],
    "null eventTime": [_event(0, eventTime=None)],
    "unparseable eventTime": [_event(0, eventTime="yesterday at noon")],
    "webIdFederationData as a string": [_event(0, userIdentity={"sessionContext": {"webIdFederationData": "x"}})],
    "element not an object": [_event(0), 5],
    "lookup-events item": [{"EventId": "a", "CloudTrailEvent": json.dumps(_event(0))}],
    "EventBridge envelope": [{"detail-type": "AWS API Call via CloudTrail", "detail": _event(0)}],
    "no events": [],
}


@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_refused_documents_go_to_the_general_path(case: str, tmp_path: Path) -> None:
    data = _doc(_REFUSED[case])
    assert decode(data, "f") is None
    # the reader still gives the general path's answer, rejections and extras included
    path = tmp_path / "f.json"
    path.write_bytes(data)
    rows, rejections, _ = collect(read("cloudtrail", path))
    assert len(rows) + len(rejections) == len(_REFUSED[case]) or case == "no events"


def test_refused_layouts_and_bytes() -> None:
    good = _doc([_event(0)])
    assert decode(good, "f") is not None
    assert decode(good.replace(b'"Records"', b'"Other": 1, "Records"'), "f") is None   # extra key
    assert decode(b"\xef\xbb\xbf" + good, "f") is None                                # BOM
    assert decode(good[:-3], "f") is None                                            # truncated
    assert decode(good.replace(b"k 0", b"k \xff"), "f") is None                       # bad UTF-8
    assert decode(json.dumps(_event(0)).encode(), "f") is None                          # single event
    ndjson = b"\n".join(json.dumps(_event(i)).encode() for i in range(2))
    assert decode(ndjson, "f") is None
    digest = json.dumps({"awsAccountId": "1", "digestStartTime": "x", "logFiles": []}).encode()
    assert decode(digest, "f") is None


def test_unknown_field_document_keeps_it_in_extra_via_the_general_path(tmp_path: Path) -> None:
    path = tmp_path / "f.json.gz"
    path.write_bytes(gzip.compress(_doc([_event(0), _event(1, newField={"a": 1})])))
    rows, rejections, _ = collect(read("cloudtrail", path))
    assert not rejections
    assert [r["_wl_extra"] for r in rows] == [None, '{"newField":{"a":1}}']


def test_big_files_are_cut_into_batches_of_batch_size() -> None:
    data = _doc([_event(i) for i in range(5)])
    dec = Decoded(Unit("f.json", len(data), lambda: data), data, raw_bytes=len(data))
    batches = list(read_file(dec, batch_size=2))
    assert [b.table.num_rows for b in batches] == [2, 2, 1]
    assert [b.raw_bytes for b in batches] == [len(data), 0, 0]
    origins = [o for b in batches for o in b.table.column("_wl_origin").to_pylist()]
    assert origins == [f"f.json:{i}" for i in range(5)]
    assert all(not b.rejections for b in batches)


def test_compact_input_gives_byte_identical_free_form_text() -> None:
    events = [_event(i) for i in range(3)] + [_event(3, requestParameters={"a": {"b": [1, "c d"]}})]
    data = orjson.dumps({"Records": events})       # compact, as CloudTrail writes its files
    typed = decode(data, "f")
    assert typed is not None
    general = _general(data, "f")
    for name in CLOUDTRAIL_JSON_FIELDS:
        assert typed.column(name).equals(general.column(name)), name
    assert typed.equals(general)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
_ANY = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                    max_leaves=6)
_STRS = st.one_of(st.none(), st.text(max_size=8))
_OPTIONAL_OBJECT = lambda **members: st.one_of(st.none(), st.fixed_dictionaries({}, optional=members))  # noqa: E731
_TYPED_EVENT = st.fixed_dictionaries(
    {"eventTime": st.sampled_from(["2026-11-01T00:00:00Z", "2026-11-01T00:00:00.5+01:00", "2026-11-01"]),
     "eventID": st.text(min_size=1, max_size=6)},
    optional={"eventName": _STRS, "readOnly": st.one_of(st.none(), st.booleans()), "requestParameters": _ANY,
              "resources": _ANY, "addendum": _ANY, "eventVersion": st.one_of(_STRS, st.integers()),
              "userIdentity": _OPTIONAL_OBJECT(type=_STRS, sessionContext=_OPTIONAL_OBJECT(
                  webIdFederationData=_ANY, attributes=_OPTIONAL_OBJECT(mfaAuthenticated=_STRS))),
              "tlsDetails": st.one_of(_OPTIONAL_OBJECT(tlsVersion=_STRS), _ANY),})


@settings(max_examples=150, deadline=None)
@given(st.lists(_TYPED_EVENT, min_size=1, max_size=5), st.sampled_from([None, 1]), st.booleans())
def test_typed_path_agrees_with_the_general_path_whenever_it_accepts(events: list[dict[str, Any]],
                                                                     indent: int | None, records: bool) -> None:
    data = _doc(events, indent=indent, records=records)
    typed, why = decode_why(data, "f")
    table, rejections = events_to_table(events, "f")
    if typed is None:
        assert why
        return
    assert not rejections
    assert table.column("_wl_extra").null_count == table.num_rows
    assert_same(typed, table)


def test_member_order_does_not_matter(stratus_events: list[dict[str, Any]]) -> None:
    """Real events with their members (and nested members) shuffled: same table either way."""
    rnd = random.Random(11)

    def shuffled(v: Any) -> Any:
        if isinstance(v, dict):
            items = [(k, shuffled(x)) for k, x in v.items()]
            rnd.shuffle(items)
            return dict(items)
        return v

    events = [shuffled(e) for e in stratus_events]
    data = orjson.dumps({"Records": events})
    typed = decode(data, "f")
    assert typed is not None
    assert_same(typed, _general(data, "f"))
    assert typed.num_rows == len(stratus_events)
