"""jsoncols: JSON documents to Arrow columns for a fixed schema (native), expectations by hand."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from pipeline.sources.jsoncols import Schema

FIELDS = [
    pa.field("name", pa.string()),
    pa.field("ok", pa.bool_()),
    pa.field("doc", pa.string()),
    pa.field("who", pa.struct([("id", pa.string()), ("ctx", pa.struct([("raw", pa.string()),
                                                                         ("flag", pa.bool_())]))])),
]
SCHEMA = Schema(FIELDS, json_text=["doc", "who.ctx.raw"], not_strings=["who.ctx.raw"])


def rows(data: bytes, key: str = "Records") -> list[dict[str, object]]:
    arrays = SCHEMA.read(data, key)
    assert not isinstance(arrays, str), arrays
    for a in arrays:
        a.validate(full=True)
    return pa.Table.from_arrays(arrays, schema=pa.schema(FIELDS)).to_pylist()


def test_values_nulls_and_structs() -> None:
    data = json.dumps({"Records": [
        {"name": "a", "ok": True, "doc": {"k": [1, "x"]}, "who": {"id": "u1", "ctx": {"raw": {}, "flag": False}}},
        {"name": None, "ok": None, "doc": None, "who": None},
        {},
        {"who": {}, "doc": "text", "ok": False},
        {"who": {"ctx": None}, "doc": [], "name": "ü 😀"},
    ]}).encode()
    assert rows(data) == [
        {"name": "a", "ok": True, "doc": '{"k":[1,"x"]}', "who": {"id": "u1", "ctx": {"raw": "{}", "flag": False}}},
        {"name": None, "ok": None, "doc": None, "who": None},
        {"name": None, "ok": None, "doc": None, "who": None},
        {"name": None, "ok": False, "doc": '"text"', "who": {"id": None, "ctx": None}},
        {"name": "ü 😀", "ok": None, "doc": "[]", "who": {"id": None, "ctx": None}},
    ]


def test_bare_array_and_json_text_spelling() -> None:
    data = (b'[\n  {"doc": {"a" : [1.50, 1e5, -0, 123456789012345678901234567890],\n'
            b' "s": "caf\\u00e9 \\/ \\n \\"q\\""}}\n]')
    (row,) = rows(data)
    # compact; numbers as the source wrote them; strings escaped only where JSON requires
    assert row["doc"] == '{"a":[1.50,1e5,-0,123456789012345678901234567890],"s":"café / \\n \\"q\\""}'
    assert json.loads(row["doc"]) == json.loads(data)[0]["doc"]


def test_strings_are_escaped_as_orjson_escapes_them() -> None:
    value = {"s": "tab\t nul\u0000 bell\u0007 ü \u2028 back\\slash"}
    (row,) = rows(json.dumps([{"doc": value}]).encode())
    assert row["doc"] == orjson.dumps(value).decode()


@pytest.mark.parametrize(("data", "reason"), [
    (b'[{"name": "a", "extra": 1}]', "field `extra` is not in the schema (element 0)"),
    (b'[{}, {"who": {"nope": 1}}]', "field `nope` is not in the schema (element 1)"),
    (b'[{"name": 5}]', "`name` is not a string (element 0)"),
    (b'[{"ok": "true"}]', "`ok` is not a boolean (element 0)"),
    (b'[{"who": []}]', "`who` is not an object (element 0)"),
    (b'[{"who": {"ctx": {"raw": "s"}}}]', "`raw` is a JSON string (element 0)"),
    (b'[{"name": "a", "name": "b"}]', "field `name` appears twice (element 0)"),
    (b'[{}, 3]', "an element is not an object (element 1)"),
    (b"[]", "no elements"),
    (b'{"Records": [], "more": 1}', "not an array or an object with only `Records`"),
    (b'{"Other": [{}]}', "not an array or an object with only `Records`"),
    (b'"x"', "not an array or an object with only `Records`"),
])
def test_refusals_say_why(data: bytes, reason: str) -> None:
    assert SCHEMA.read(data, "Records") == reason


@pytest.mark.parametrize("data", [b'[{"name": "a"}', b'[{"name": "\xff"}]', b"\xef\xbb\xbf[{}]", b"[{}] [{}]", b""])
def test_malformed_documents_are_refused(data: bytes) -> None:
    got = SCHEMA.read(data, "Records")
    assert isinstance(got, str) and got.startswith("not one JSON document")


def test_other_key_and_large_documents() -> None:
    n = 20_000
    data = orjson.dumps({"Events": [{"name": f"n{i}", "ok": i % 3 == 0, "doc": {"i": i}} if i % 7 else {}
                                    for i in range(n)]})
    got = rows(data, key="Events")
    assert len(got) == n
    assert got[1] == {"name": "n1", "ok": False, "doc": '{"i":1}', "who": None}
    assert got[7] == {"name": None, "ok": None, "doc": None, "who": None}
    assert sum(r["ok"] is True for r in got) == sum(1 for i in range(n) if i % 7 and i % 3 == 0)


def test_concurrent_reads_with_one_schema_do_not_interfere() -> None:
    docs = [orjson.dumps([{"name": f"{d}-{i}", "doc": [d, i]} for i in range(500 + d)]) for d in range(8)]
    expected = [rows(d) for d in docs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            assert list(pool.map(rows, docs)) == expected


def test_schema_types_are_checked() -> None:
    with pytest.raises(TypeError, match="int64 is not supported"):
        Schema([pa.field("n", pa.int64())])
    with pytest.raises(TypeError, match="must be a string column"):
        Schema([pa.field("s", pa.struct([("a", pa.string())]))], json_text=["s"])


_DAMAGE = [b"{", b"}", b"]", b'"', b"\\", b",", b"null", b'"x":', b"\\u12", b"\xff", b"1e999"]


def test_mutated_real_documents_never_crash_and_stay_valid(stratus_dir: Path) -> None:
    """Random damage to real CloudTrail files: every answer is a reason or valid columns."""
    from pipeline.sources.cloudtrail_typed import decode_why

    seeds = [f.read_bytes() for f in sorted(stratus_dir.glob("*.json"))[:12]]
    rnd = random.Random(7)
    accepted = 0
    for _ in range(3000):
        d = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(d) or 1)
            op = rnd.random()
            if op < 0.3:
                d[i:i + 1] = bytes([rnd.randrange(256)])
            elif op < 0.5:
                del d[i:i + rnd.randint(1, 40)]
            elif op < 0.8:
                d[i:i] = rnd.choice(_DAMAGE)
            else:
                j = rnd.randrange(len(d) or 1)
                d[i:i] = d[j:j + rnd.randint(1, 200)]
        table, why = decode_why(bytes(d), "f")
        if table is None:
            assert why
        else:
            accepted += 1
            table.validate(full=True)
    assert accepted  # some damage (inside strings) leaves a document the typed path takes
