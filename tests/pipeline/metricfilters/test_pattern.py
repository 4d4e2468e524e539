"""Filter patterns (pipeline.metricfilters.pattern): the documented examples, worked by hand."""

import json
import random

import pytest

from pipeline.errors import RuleError
from pipeline.metricfilters.pattern import Match, PatternError, parse_pattern

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326'
APACHE_HTML = '10.1.2.3 - - [10/Oct/2000:13:26:01 -0700] "GET /index.html HTTP/1.1" 200 5120'
APACHE_GONE = '10.1.2.4 - bob [10/Oct/2000:13:27:44 -0700] "GET /old/page.html HTTP/1.1" 410 0'


def matches(pattern: str, message: str) -> bool:
    return parse_pattern(pattern).match(message) is not None


def js(**doc) -> str:
    return json.dumps(doc)


# -- terms -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, message, expected", [
    ("ERROR", "[ERROR 400] BAD REQUEST", True),
    ("ERROR", "[INFO] all good", False),
    ("ERROR", "error: lower case is another word", False),        # case-sensitive
    ("ERROR ARGUMENTS", "[ERROR] bad ARGUMENTS given", True),
    ("ERROR ARGUMENTS", "[ERROR] bad input", False),
    ("ERROR ARGUMENTS", "ARGUMENTS missing", False),
    ("?ERROR ?ARGUMENTS", "[ERROR] bad input", True),
    ("?ERROR ?ARGUMENTS", "ARGUMENTS missing", True),
    ("?ERROR ?ARGUMENTS", "[INFO] fine", False),
    ("ERROR -ARGUMENTS", "[ERROR] bad input", True),
    ("ERROR -ARGUMENTS", "[ERROR] bad ARGUMENTS", False),
    ("ERROR -ARGUMENTS", "nothing here", False),
    ('"INTERNAL SERVER ERROR"', "500 INTERNAL SERVER ERROR at /api", True),
    ('"INTERNAL SERVER ERROR"', "INTERNAL ERROR on SERVER", False),
    ('ERROR -"Bad Request"', "ERROR 400 Bad Request", False),
    ('ERROR -"Bad Request"', "ERROR 400 Bad request", True),
    ('?"foo bar" ?baz', "x foo bar y", True),
    ('?"foo bar" ?baz', "x foo baz", True),
    ('?"foo bar" ?baz', "x foo y bar", False),
    # plain terms all present, no excluded one, and one of the optional ones
    ("ERROR ?db ?cache -retry", "ERROR in db", True),
    ("ERROR ?db ?cache -retry", "ERROR in cache, retry", False),
    ("ERROR ?db ?cache -retry", "ERROR in disk", False),
    ("ERROR ?db ?cache -retry", "WARN in db", False),
    (r'"say \"hi\""', 'he did say "hi" twice', True),
    (r'"say \"hi\""', "he did say hi twice", False),
    ("status=500", "GET / status=500", True),                       # unquoted punctuation is literal
])
def test_terms(pattern, message, expected):
    assert matches(pattern, message) is expected


@pytest.mark.parametrize("pattern", ["", "   ", '" "', '"   "', '""'])
def test_empty_and_quoted_space_match_everything(pattern):
    p = parse_pattern(pattern)
    assert p.kind == "terms"
    for message in ("", "x", "ERROR 500", '{"a": 1}'):
        m = p.match(message)
        assert m is not None and m.doc is None and m.fields == {}


# -- JSON ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, doc, expected", [
    ('{ $.eventType = "UpdateTrail" }', {"eventType": "UpdateTrail"}, True),
    ('{ $.eventType = "UpdateTrail" }', {"eventType": "UpdateTrails"}, False),
    ('{ $.eventType = "UpdateTrail" }', {"eventType": "updatetrail"}, False),
    ('{ $.eventType = "UpdateTrail" }', {"other": "UpdateTrail"}, False),
    ('{ $.eventType = "Update*" }', {"eventType": "UpdateTrail"}, True),
    ('{ $.eventType = "Update*" }', {"eventType": "Update"}, True),
    ('{ $.eventType = "Update*" }', {"eventType": "CreateTrail"}, False),
    ('{ $.s = "a*b*c" }', {"s": "a-b-c"}, True),
    ('{ $.s = "a*b*c" }', {"s": "abc"}, True),
    ('{ $.s = "a*b*c" }', {"s": "acb"}, False),
    ('{ $.s = "ab*ba" }', {"s": "aba"}, False),                     # prefix and suffix may not overlap
    ('{ $.s = "*" }', {"s": ""}, True),
    ("{ $.eventType = UpdateTrail }", {"eventType": "UpdateTrail"}, True),
    ('{ $.latency < 50 }', {"latency": 49.5}, True),
    ('{ $.latency < 50 }', {"latency": 50}, False),
    ('{ $.latency < 50 }', {"latency": "10"}, False),             # a string is not compared to a number
    ('{ $.latency < 50 }', {}, False),
    ('{ $.errorCode != 500 }', {"errorCode": 404}, True),
    ('{ $.errorCode != 500 }', {"errorCode": 500}, False),
    ('{ $.errorCode != 500 }', {"errorCode": 500.0}, False),
    ('{ $.errorCode != 500 }', {"errorCode": "500"}, False),
    ('{ $.errorCode != 500 }', {}, False),                         # missing → false, even for !=
    ('{ $.errorCode = 500 }', {"errorCode": 500}, True),
    ('{ $.errorCode = 500 }', {"errorCode": "500"}, False),
    ('{ $.errorCode = "5*" }', {"errorCode": 503}, True),          # a string against a number's text
    ('{ $.errorCode = 5* }', {"errorCode": "503"}, True),
    ('{ $.sourceIPAddress != 123.123.* }', {"sourceIPAddress": "10.0.0.1"}, True),
    ('{ $.sourceIPAddress != 123.123.* }', {"sourceIPAddress": "123.123.9.9"}, False),
    ('{ $.sourceIPAddress != 123.123.* }', {}, False),
    ('{ $.arrayKey[0] = "value" }', {"arrayKey": ["value", "other"]}, True),
    ('{ $.arrayKey[0] = "value" }', {"arrayKey": ["other", "value"]}, False),
    ('{ $.arrayKey[0] = "value" }', {"arrayKey": []}, False),
    ('{ $.arrayKey[0] = "value" }', {"arrayKey": "value"}, False),
    ('{ $.objectList[1].id = 2 }', {"objectList": [{"id": 1}, {"id": 2}]}, True),
    ('{ $.objectList[1].id = 2 }', {"objectList": [{"id": 2}, {"id": 1}]}, False),
    ('{ $.objectList[1].id = 2 }', {"objectList": [{"id": 2}]}, False),
    ('{ $.SomeObject IS NULL }', {"SomeObject": None}, True),
    ('{ $.SomeObject IS NULL }', {}, False),
    ('{ $.SomeObject IS NULL }', {"SomeObject": ""}, False),
    ('{ $.SomeOtherObject NOT EXISTS }', {}, True),
    ('{ $.SomeOtherObject NOT EXISTS }', {"SomeOtherObject": None}, False),
    ('{ $.a.b NOT EXISTS }', {"a": "text"}, True),
    ('{ $.b IS TRUE }', {"b": True}, True),
    ('{ $.b IS TRUE }', {"b": "true"}, False),
    ('{ $.b IS TRUE }', {"b": 1}, False),
    ('{ $.b IS FALSE }', {"b": False}, True),
    ('{ $.b IS FALSE }', {"b": 0}, False),
    ('{ $.x = * }', {"x": 0}, True),
    ('{ $.x = * }', {"x": {"y": 1}}, True),
    ('{ $.x = * }', {"x": None}, False),
    ('{ $.x = * }', {}, False),
    ('{ $.n = 1e3 }', {"n": 1000}, True),
    ('{ $.n >= -2.5 }', {"n": -2.5}, True),
    ('{ $.n > -2.5 }', {"n": -2.5}, False),
    ('{ $.n <= 0.5 }', {"n": 0.25}, True),
    ('{ $.n = 1 }', {"n": True}, False),                           # a boolean is not a number
    ('{$.a=1&&$.b!="x"}', {"a": 1, "b": "y"}, True),
    ('{$.a=1&&$.b!="x"}', {"a": 1, "b": "x"}, False),
    ('{ $.user.name = "a b" }', {"user": {"name": "a b"}}, True),
    ('  { $.a = 1 }  ', {"a": 1}, True),
])
def test_json(pattern, doc, expected):
    p = parse_pattern(pattern)
    assert p.kind == "json"
    m = p.match(json.dumps(doc))
    assert (m is not None) is expected
    if m is not None:
        assert m.doc == doc and m.fields == {}


@pytest.mark.parametrize("a, b, c", [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)])
def test_json_and_binds_tighter_than_or(a, b, c):
    doc = js(a=a, b=b, c=c)
    assert matches("{ $.a = 1 || $.b = 1 && $.c = 1 }", doc) is bool(a or (b and c))
    assert matches("{ $.a = 1 && $.b = 1 || $.c = 1 }", doc) is bool((a and b) or c)
    assert matches("{ ($.a = 1 || $.b = 1) && $.c = 1 }", doc) is bool((a or b) and c)
    assert matches("{ $.a = 1 && ($.b = 1 || $.c = 1) }", doc) is bool(a and (b or c))


@pytest.mark.parametrize("message", [
    "", "not json", "ERROR 500", "[1, 2]", '"a string"', "42", "null", "{bad", '{"a": 1',
    "[" * 100_000 + "]" * 100_000, '{"a": ' + "9" * 5000 + "}", "{}\x00", "\ud800",
])
def test_json_pattern_on_a_non_object_message_is_no_match(message):
    for pattern in ("{ $.a = 1 }", "{ $.a NOT EXISTS }", "{ $.a != 2 }"):
        assert parse_pattern(pattern).match(message) is None


def test_json_value_of():
    doc = {"a": {"b": [{"c": 7}, {"c": None}]}, "latency": 12.5, "s": "x"}
    m = parse_pattern("{ $.latency > 10 }").match(json.dumps(doc))
    assert m is not None
    assert m.value_of("$.latency") == 12.5
    assert m.value_of("$.a.b[0].c") == 7
    assert m.value_of("$.a.b[1].c") is None
    assert m.value_of("$.a.b[5].c") is None
    assert m.value_of("$.a.b") == [{"c": 7}, {"c": None}]
    assert m.value_of("$.missing.deeper") is None
    assert m.value_of("$.s.t") is None
    assert m.value_of("$latency") is None                          # a delimited reference
    for bad in ("latency", "$", "$.", "$.a..b", "$.a[x]", ""):
        assert m.value_of(bad) is None


# -- space-delimited -------------------------------------------------------------------------------

DOC_PATTERN = "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]"


def test_delimited_documented_example():
    p = parse_pattern(DOC_PATTERN)
    assert p.kind == "delimited"
    assert p.match(APACHE) is None                                 # a .gif request
    assert p.match(APACHE_HTML) is None                            # status 200
    m = p.match(APACHE_GONE)
    assert m is not None and m.doc is None
    assert m.fields == {"ip": "10.1.2.4", "user": "-", "username": "bob",
                        "timestamp": "10/Oct/2000:13:27:44 -0700",
                        "request": "GET /old/page.html HTTP/1.1", "status_code": "410", "bytes": "0"}


def test_delimited_fields_and_value_of():
    m = parse_pattern("[ip, user, username, timestamp, request, status_code, bytes]").match(APACHE)
    assert m is not None
    assert m.value_of("$timestamp") == "10/Oct/2000:13:25:15 -0700"
    assert m.value_of("$request") == "GET /apache_pb.gif HTTP/1.0"
    assert m.value_of("$bytes") == "2326"
    assert m.value_of("$nothing") is None
    assert m.value_of("$.bytes") is None                           # no JSON document
    assert m.value_of("bytes") is None


@pytest.mark.parametrize("pattern, message, expected", [
    ("[..., status_code = 404 || status_code = 410, bytes]", APACHE, {"status_code": "404", "bytes": "2326"}),
    ("[..., status_code = 404 || status_code = 410, bytes]", APACHE_GONE, {"status_code": "410", "bytes": "0"}),
    ("[..., status_code = 404 || status_code = 410, bytes]", APACHE_HTML, None),
    ("[..., status_code, bytes]", APACHE_HTML, {"status_code": "200", "bytes": "5120"}),
    ("[ip, ...]", APACHE, {"ip": "127.0.0.1"}),
    ("[ip, ..., bytes]", APACHE, {"ip": "127.0.0.1", "bytes": "2326"}),
    ("[...]", APACHE, {}),
    ("[..., request = *.gif*, ...]", APACHE, {"request": "GET /apache_pb.gif HTTP/1.0"}),
    ("[..., timestamp = *2000*, ..., code = 4*, ...]", APACHE, {"timestamp": "10/Oct/2000:13:25:15 -0700",
                                                              "code": "404"}),
    # the middle segment is placed where its conditions hold, not merely first
    ("[ip, ..., u = frank, ...]", APACHE, {"ip": "127.0.0.1", "u": "frank"}),
    ("[ip, user, username, timestamp, request, status_code]", APACHE, None),        # 7 fields, 6 names
    ("[ip, user, username, timestamp, request, status_code, bytes, extra]", APACHE, None),
    ("[a, b, c, d, e, f, g, h, ...]", APACHE, None),
    ("[..., bytes > 2000]", APACHE, {"bytes": "2326"}),
    ("[..., bytes >= 2326]", APACHE, {"bytes": "2326"}),
    ("[..., bytes < 2326]", APACHE, None),
    ("[..., bytes <= 2.326e3]", APACHE, {"bytes": "2326"}),
    ("[ip, user > 0, ...]", APACHE, None),                           # "-" is not a number
    ("[ip, user != 0, ...]", APACHE, {"ip": "127.0.0.1", "user": "-"}),
    ("[ip, user = -, ...]", APACHE, {"ip": "127.0.0.1", "user": "-"}),
    ("[..., status_code = 404.0, bytes]", APACHE, {"status_code": "404", "bytes": "2326"}),
    ('[..., status_code = "404.0", bytes]', APACHE, None),           # quoted: a string
    ('[..., status_code = "4*", bytes]', APACHE, {"status_code": "404", "bytes": "2326"}),
    ("[..., status_code != 404, bytes]", APACHE, None),
    ("[..., status_code != 4*, bytes]", APACHE_HTML, {"status_code": "200", "bytes": "5120"}),
    ("[..., s >= 400 && s < 500, b]", APACHE, {"s": "404", "b": "2326"}),
    ("[..., s >= 400 && s < 500, b]", APACHE_HTML, None),
    ("[..., s = 2* || s >= 400 && s != 404, b]", APACHE_HTML, {"s": "200", "b": "5120"}),
    ("[..., s = 2* || s >= 400 && s != 404, b]", APACHE, None),
    ("[..., s = 2* || s >= 400 && s != 404, b]", APACHE_GONE, {"s": "410", "b": "0"}),
    ("[a, b, c]", "  one   two three  \n", {"a": "one", "b": "two", "c": "three"}),
    ("[a, b]", '[bracketed words] "quoted words"', {"a": "bracketed words", "b": "quoted words"}),
    ("[a, b, c]", '[] "" x', {"a": "", "b": "", "c": "x"}),
    ("[a, b]", "[unclosed bracket", {"a": "[unclosed", "b": "bracket"}),
    ("[...]", "", {}),
    ("[a]", "", None),
])
def test_delimited(pattern, message, expected):
    m = parse_pattern(pattern).match(message)
    assert (None if m is None else m.fields) == expected


# -- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, pos, reason", [
    ('"unclosed phrase', 0, "unbalanced quote"),
    ('ERROR -"Bad', 7, "unbalanced quote"),
    ("%AUTHORIZED%", 0, "regular expressions"),
    ("{ $.a = 1", 0, "unbalanced `{`"),
    ("  { $.a = 1", 2, "unbalanced `{`"),
    ('{ $.a = "x }', 8, "unbalanced quote"),
    ("{ ($.a = 1 }", 2, "unbalanced `(`"),
    ("{ ($.a = 1 || ($.b = 2) }", 2, "unbalanced `(`"),
    ("{ $.a = 1) }", 9, "unbalanced `)`"),
    ("{ $.a = }", 8, "needs a value"),
    ("{ $.a = && $.b = 1 }", 8, "needs a value"),
    ("{ $.a }", 6, "needs an operator"),
    ("{ $.a == 1 }", 6, "unknown operator `==`"),
    ("{ $.a =~ 1 }", 6, "unknown operator `=~`"),
    ("{ $.a LIKE 1 }", 6, "unknown operator `LIKE`"),
    ("{ $.a & $.b }", 6, "unknown operator `&`"),
    ("{ $.a IS MISSING }", 9, "after IS"),
    ("{ $.a NOT THERE }", 10, "after NOT"),
    ("{ eventType = 1 }", 2, "must start with `$.`"),
    ("{ $eventType = 1 }", 2, "must start with `$.`"),
    ("{ $.a.b[x] = 1 }", 7, "selector step"),
    ("{ $.a < foo }", 8, "compares numbers only"),
    ('{ $.a > "5" }', 8, "compares numbers only"),
    ("{ $.a = $.b }", 8, "two fields"),
    ("{ $.a = %x+% }", 8, "regular expressions"),
    ("{ }", 2, "empty"),
    ("{ $.a = 1 } extra", 12, "after `}`"),
    ("{ $.a = 1 $.b = 2 }", 10, "expected `&&`, `||` or `}`"),
    ("[ip, user", 0, "unbalanced `[`"),
    ("[ip, user,", 0, "unbalanced `[`"),
    ("[ip, , user]", 5, "missing"),
    ("[]", 1, "missing"),
    ("[ip, status = ]", 14, "needs a value"),
    ("[ip, status == 4]", 12, "unknown operator `==`"),
    ("[ip, status = 4 && code = 5]", 19, "must name the field `status`"),
    ("[ip, bytes > big]", 13, "compares numbers only"),
    ("[ip, user-name]", 5, "letters, digits"),
    ("[ip user]", 4, "expected `,` or `]`"),
    ('[ip, "user]', 5, "unbalanced quote"),
    ("[ip] extra", 5, "after `]`"),
    ("x" * 1025, 1024, "1,024"),
])
def test_errors_name_the_character(pattern, pos, reason):
    with pytest.raises(PatternError) as info:
        parse_pattern(pattern)
    err = info.value
    assert err.pos == pos and reason in err.reason
    assert err.reason.endswith(f" at character {pos + 1}") and err.reason in str(err)
    assert isinstance(err, RuleError) and isinstance(err, ValueError)
    assert err.value == pattern and err.field == "filterPattern"


def test_longest_pattern_is_accepted():
    assert parse_pattern("x" * 1024).match("x" * 1024) is not None


# -- robustness ------------------------------------------------------------------------------------

def test_match_never_raises_on_any_message():
    patterns = [parse_pattern(p) for p in (
        "ERROR ?a -b", '{ $.a.b[0] = "x*" || $.n > 1 && $.z NOT EXISTS }', "{ $.a = * }", DOC_PATTERN,
        "[..., s = 2* || s >= 400, b]", "[a, ..., b, ..., c]")]
    rng = random.Random(7)
    alphabet = ' []{}"\\:,.-*$0123456789eE\n\tabcnulltruefalse\u00e9\ud800'
    messages = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(2000)]
    messages += [js(a={"b": ["x1"]}, n=2), js(a=[1], n="2"), js(a={"b": {"0": "x"}}), APACHE]
    for p in patterns:
        for message in messages:
            m = p.match(message)
            assert m is None or isinstance(m, Match)


def test_pathological_messages_take_linear_time():
    # an unclosed `[` must not make every later `[` rescan the rest of the message (quadratic)
    for message in ("[" * 200_000, "[a " * 100_000, '"' * 200_000):
        assert parse_pattern("[a, ..., b = 1]").match(message) is None
    m = parse_pattern('{ $.a = "x*y*z*w" }').match(js(a="x" * 200_000 + "yz"))
    assert m is None


def test_patterns_compare_by_text():
    assert parse_pattern("ERROR") == parse_pattern("ERROR")
    assert parse_pattern("ERROR") != parse_pattern("ERROR ")
    assert len({parse_pattern("{ $.a = 1 }"), parse_pattern("{ $.a = 1 }")}) == 1
    assert "json" in repr(parse_pattern("{ $.a = 1 }"))


# -- real data: CloudTrail events delivered to CloudWatch Logs are JSON messages ---------------------

def test_real_cloudtrail_events(shared_data):
    path = shared_data / "stratus-cloudtrail" / "detonation-logs" / "aws.credential-access.ec2-get-password-data.json"
    events = json.loads(path.read_text())
    messages = [json.dumps(e) for e in events]

    def count(pattern: str) -> int:
        p = parse_pattern(pattern)
        return sum(p.match(msg) is not None for msg in messages)

    codes = [e.get("errorCode") for e in events]
    denied = sum(1 for c in codes if c == "AccessDenied" or (c or "").endswith("UnauthorizedOperation"))
    assert 0 < denied < len(events)
    assert count('{ ($.errorCode = "AccessDenied") || ($.errorCode = "*UnauthorizedOperation") }') == denied

    for kind in ("Root", "IAMUser", "AssumedRole"):
        expected = sum(1 for e in events if (e.get("userIdentity") or {}).get("type") == kind)
        assert count(f'{{ $.userIdentity.type = "{kind}" }}') == expected
    assert count('{ $.userIdentity.type = "IAMUser" }') > 0

    no_error = sum(1 for e in events if "errorCode" not in e)
    assert count("{ $.errorCode NOT EXISTS }") == no_error

    # value_of reaches into the matched event (a metric value or a dimension)
    p = parse_pattern('{ $.eventName = "GetPasswordData" }')
    names = [m.value_of("$.userIdentity.type") for m in map(p.match, messages) if m is not None]
    assert names == [e["userIdentity"]["type"] for e in events if e.get("eventName") == "GetPasswordData"]
    # the same events as plain text: a terms pattern counts substrings of the JSON text
    assert count('"UnauthorizedOperation"') == sum("UnauthorizedOperation" in m for m in messages)
