"""pipeline/metricfilters/model.py: a PutMetricFilter definition with any field replaced by any JSON
is a filter or a one-line RuleError naming the field — never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import RuleError
from pipeline.metricfilters.model import parse_filter
from tests.strategies import any_json

GOOD = {"filterName": "errs", "logGroupName": "/aws/lambda/orders", "filterPattern": '{ $.level = "ERROR" }',
        "metricTransformations": [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1",
                                   "unit": "Count", "dimensions": {"Fn": "$.fn"}}]}
ODD_TEXT = st.sampled_from(["$.a", "$.b.c", "1e400", "-1", "$size", "{", "", "$.a[0]", "abc", "Count/Second"])


def test_a_unit_that_is_not_a_string_is_refused_by_field():
    # `"unit": [null]` stopped the loader with "unhashable type: 'list'"
    doc = {**GOOD, "metricTransformations": [{**GOOD["metricTransformations"][0], "unit": [None]}]}
    with pytest.raises(RuleError, match="not a CloudWatch unit") as e:
        parse_filter(doc, "filters.json")
    assert e.value.field == "metricTransformations[0].unit"


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {**GOOD, "metricTransformations": [dict(GOOD["metricTransformations"][0])]}
    for key in draw(st.lists(st.sampled_from(sorted(GOOD)), max_size=2)):
        doc[key] = draw(any_json(6))
    ts = doc["metricTransformations"]
    if isinstance(ts, list) and ts and isinstance(ts[0], dict):
        for key in draw(st.lists(st.sampled_from(["metricName", "metricNamespace", "metricValue", "defaultValue",
                                                  "unit", "dimensions"]), max_size=2)):
            ts[0][key] = draw(any_json(6) | ODD_TEXT)
    return doc


@settings(max_examples=300, deadline=None)
@given(definitions())
def test_any_definition_is_a_filter_or_one_line_naming_the_field(doc):
    try:
        f = parse_filter(doc, "filters.json")
    except RuleError as e:
        assert "\n" not in str(e) and str(e).startswith("filters.json") and e.field
        return
    assert f.name == doc["filterName"]
