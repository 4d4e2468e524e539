"""pipeline/errors.py: what a user sees of an error is one line naming where it is."""

from __future__ import annotations

from pipeline.errors import InputError, RuleError


def test_an_input_error_is_one_line_whatever_the_input_held() -> None:
    # a percentile named "\n" in a get-metric-statistics file once split the refusal in two
    e = InputError("the datapoints hold \n, p99\r: choose one with --stat", path="a\nb.json", field="Datapoints",
                   value="x\ny")
    text = str(e)
    assert "\n" not in text and "\r" not in text
    assert text == ("a\\nb.json, field `Datapoints`: the datapoints hold \\n, p99\\r: choose one with --stat "
                    "(got 'x\\ny')")


def test_every_watchlake_error_is_one_line():
    e = RuleError("two\nlines", "bad", path="rules/a.yml", field="title")
    assert str(e) == "rules/a.yml: rule `two\\nlines` field `title`: bad"
