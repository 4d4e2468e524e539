"""Property: on random events and random predicates, the DuckDB engine (over lake rows written by
the loader's converter) and the Python engine (over the raw dicts and over the lake rows) agree."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.detections.engine import match_events, match_lake
from pipeline.detections.ir import And, Not, Or, Pred, sigma_glob
from pipeline.detections.model import Rule
from pipeline.lake import Lake
from pipeline.query.duck import connect
from tests.pipeline.detections.ctlake import write_events

TEXT = st.text(alphabet=st.sampled_from(list("aAbB_%*?\\.-/ é\"'0123456789")), max_size=6)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), TEXT,
                   st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3)))
KEYS = st.sampled_from(["a", "b", "items", "cidrIp"])
JSONV = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(KEYS, inner, max_size=3)), max_leaves=8)
PATHS = ["eventName", "userAgent", "errorCode", "sourceIPAddress", "userIdentity.type", "userIdentity.arn",
         "requestParameters", "requestParameters.a", "requestParameters.items.a", "requestParameters.a.items.b",
         "responseElements.b", "responseElements.items.cidrIp", "additionalEventData.a", "readOnly",
         "extraField.a", "userIdentity.sessionContext.sessionIssuer.type"]


@st.composite
def events(draw):
    out = []
    for i in range(draw(st.integers(1, 12))):
        ev = {"eventID": f"e{i}", "eventTime": f"2026-11-08T10:00:{i:02d}Z", "eventVersion": "1.09",
              "eventSource": "ec2.amazonaws.com", "eventType": "AwsApiCall",
              "eventName": draw(st.sampled_from(["RunInstances", "runinstances", "Describe_x", "A%b"])),
              "userAgent": draw(TEXT), "sourceIPAddress": draw(st.sampled_from(["10.0.0.1", "AWS Internal", "::1"])),
              "readOnly": draw(st.booleans()),
              "userIdentity": {"type": draw(st.sampled_from(["IAMUser", "AssumedRole", "Root"])),
                               "arn": draw(TEXT),
                               "sessionContext": draw(st.none() | st.just({"sessionIssuer": {"type": "Role"}}))},
              "requestParameters": draw(st.none() | st.dictionaries(KEYS, JSONV, max_size=3)),
              "responseElements": draw(st.none() | st.dictionaries(KEYS, JSONV, max_size=3)),
              "additionalEventData": draw(st.none() | st.dictionaries(KEYS, JSONV, max_size=2))}
        if draw(st.booleans()):
            ev["errorCode"] = draw(TEXT)
        if draw(st.booleans()):
            ev["extraField"] = {"a": draw(SCALAR)}
        out.append(ev)
    return out


def leaf():
    path = st.sampled_from(PATHS)
    return st.one_of(
        st.builds(lambda p, v, c: Pred(p, "eq", v, cased=c), path, TEXT, st.booleans()),
        st.builds(lambda p, v, c: Pred(p, "like", sigma_glob(v), cased=c), path, TEXT, st.booleans()),
        st.builds(lambda p, v: Pred(p, "re", v), path, st.sampled_from(["^a", "b$", "[0-9]+", "A.", "(?i)runinst"])),
        st.builds(lambda p: Pred(p, "absent"), path),
        st.builds(lambda p, op, v: Pred(p, "num", (op, v)), path, st.sampled_from(["<", ">=", "="]),
                  st.integers(-5, 5)),
        st.builds(lambda p, v: Pred(p, "cidr", v), path, st.sampled_from(["10.0.0.0/8", "::/0"])),
        st.builds(lambda p, q, m: Pred(p, "fieldref", (q, m)), path, path,
                  st.sampled_from(["eq", "contains", "startswith", "endswith"])),
        st.builds(lambda p, v: Pred(p, "eq", v, cased=True, negate_each=True), path, TEXT),
    )


PREDICATES = st.recursive(leaf(), lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda x: And(tuple(x))),
    st.lists(inner, min_size=1, max_size=3).map(lambda x: Or(tuple(x))),
    inner.map(Not)), max_leaves=5)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(evs=events(), preds=st.lists(PREDICATES, min_size=1, max_size=12))
def test_engines_agree_on_random_events_and_rules(tmp_path_factory, evs, preds):
    lake = Lake(tmp_path_factory.mktemp("prop") / "lake")
    files = write_events(lake, evs)
    rules = [Rule(id=f"r{i}", title="t", kind="sigma", predicate=p) for i, p in enumerate(preds)]
    rows = [r for f in files for r in pq.read_table(lake.path(f)).to_pylist()]
    sql = [(m.rule_id, m.event_id) for m in match_lake(connect(lake, ["cloudtrail"]), rules)]
    raw = [(m.rule_id, m.event_id) for m in match_events(rules, evs)]
    lake_rows = [(m.rule_id, m.event_id) for m in match_events(rules, rows)]
    assert sql == lake_rows == raw
