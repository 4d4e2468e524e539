"""Per-record type checking for the slow path of the columnar converters.

The fast path of a converter hands whole columns to Arrow. When Arrow refuses a column (a value
of the wrong type somewhere), the converter runs every record through :func:`conform_record`,
which either returns a copy whose values fit the schema or names the offending field.

Rules (the same for top-level and nested fields):

* string fields: strings kept; booleans and numbers become their JSON text (``true``, ``12``),
  which is lossless; objects and arrays are rejected — except fields listed in ``json_fields``,
  whose value of any JSON type is stored as JSON text;
* boolean fields: booleans kept; the strings ``"true"``/``"false"`` (any case) converted;
  anything else rejected;
* struct fields: must be an object (or null); its members are checked recursively; members the
  schema does not name are kept unchanged for the caller's ``_wl_extra``;
* timestamp fields: ISO 8601 text, epoch numbers (seconds or ms) or ``datetime``; a value
  without a zone is taken as UTC; anything else rejected;
* float fields: numbers (not booleans) kept; numeric strings converted; else rejected;
* list-of-float fields: arrays of numbers.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from pipeline.timeutil import from_epoch, to_utc


class Bad(Exception):
    """A record does not fit the schema; ``field`` is the dotted path, ``reason`` one line."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


MAX_TEXT_DEPTH = 254
"""Deepest nesting the JSON text writer stores (orjson's serializer limit)."""


class TooDeep(ValueError):
    """A value is nested deeper than :data:`MAX_TEXT_DEPTH` levels and cannot be written as JSON text."""


def dumps(value: Any) -> bytes:
    """orjson.dumps, falling back to the stdlib for what orjson refuses (huge ints).

    Raises:
        TooDeep: the value nests deeper than :data:`MAX_TEXT_DEPTH` levels (never RecursionError).
        ValueError: the value holds a lone surrogate or another string that is not valid UTF-8.
    """
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        if "Recursion limit" in str(exc):
            raise TooDeep(f"nested deeper than {MAX_TEXT_DEPTH} levels") from None
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        except RecursionError:
            raise TooDeep(f"nested deeper than {MAX_TEXT_DEPTH} levels") from None
        except UnicodeEncodeError:
            raise ValueError("string is not valid UTF-8 (a lone surrogate)") from None


def raw_bytes(value: Any) -> bytes:
    """The value as JSON bytes for a rejection's ``raw``: :func:`dumps`, or for a value nested
    too deeply for it the same JSON written without recursion. Never raises."""
    if isinstance(value, bytes):
        return value
    try:
        return dumps(value)
    except ValueError:
        return _dumps_flat(value)


def _dumps_flat(value: Any, limit: int = 1 << 20) -> bytes:
    """Compact JSON of any depth, written with an explicit stack (stops after ``limit`` bytes,
    as rejections keep at most that much)."""
    out: list[str] = []
    size = 0
    stack: list[tuple[bool, Any]] = [(False, value)]  # (is literal text, item)
    while stack and size < limit:
        literal, x = stack.pop()
        if literal:
            text = x
        elif isinstance(x, dict):
            text = "{"
            stack.append((True, "}"))
            items = list(x.items())
            for i in range(len(items) - 1, -1, -1):
                stack.append((False, items[i][1]))
                stack.append((True, json.dumps(str(items[i][0]), ensure_ascii=False) + ":"))
                if i:
                    stack.append((True, ","))
        elif isinstance(x, list):
            text = "["
            stack.append((True, "]"))
            for i in range(len(x) - 1, -1, -1):
                stack.append((False, x[i]))
                if i:
                    stack.append((True, ","))
        else:
            text = json.dumps(x, ensure_ascii=False, default=str)
        out.append(text)
        size += len(text)
    return "".join(out).encode("utf-8", "surrogatepass")[:limit]


def type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def parse_ts(value: Any, field: str) -> datetime:
    """Parse a timestamp value (see module rules) or raise :class:`Bad`."""
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, bool) or value is None:
        raise Bad(field, f"expected a timestamp, got {type_name(value)}")
    if isinstance(value, int | float):
        try:
            return from_epoch(value)
        except (OverflowError, ValueError):
            raise Bad(field, f"timestamp out of range: {value!r}") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return to_utc(datetime.fromisoformat(text))
        except ValueError:
            pass
        try:
            return from_epoch(float(text))
        except (ValueError, OverflowError):
            raise Bad(field, f"not an ISO 8601 time: {value[:80]!r}") from None
    raise Bad(field, f"expected a timestamp, got {type_name(value)}")


def conform_value(value: Any, typ: pa.DataType, path: str, json_fields: frozenset[str]) -> Any:
    """Return ``value`` converted to fit ``typ`` or raise :class:`Bad` naming ``path``."""
    if value is None:
        return None
    if path in json_fields:
        if isinstance(value, str):
            return value
        try:
            return dumps(value).decode()
        except ValueError as exc:
            raise Bad(path, str(exc)) from None
    if pa.types.is_string(typ):
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return dumps(value).decode()
        raise Bad(path, f"expected a string, got {type_name(value)}")
    if pa.types.is_boolean(typ):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise Bad(path, f"expected a boolean, got {type_name(value)}")
    if pa.types.is_struct(typ):
        if not isinstance(value, dict):
            raise Bad(path, f"expected an object, got {type_name(value)}")
        out = dict(value)  # unknown members stay, for the caller's `_wl_extra`
        for i in range(typ.num_fields):
            f = typ.field(i)
            if f.name in value:
                out[f.name] = conform_value(value[f.name], f.type, f"{path}.{f.name}", json_fields)
        return out
    if pa.types.is_timestamp(typ):
        return parse_ts(value, path)
    if pa.types.is_floating(typ):
        if isinstance(value, bool):
            raise Bad(path, "expected a number, got a boolean")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise Bad(path, f"expected a number, got {type_name(value)}")
    if pa.types.is_integer(typ):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise Bad(path, f"expected an integer, got {type_name(value)}")
    if pa.types.is_list(typ):
        if not isinstance(value, list):
            raise Bad(path, f"expected an array, got {type_name(value)}")
        return [conform_value(v, typ.value_type, f"{path}[]", json_fields) for v in value]
    if pa.types.is_binary(typ):
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        raise Bad(path, f"expected bytes, got {type_name(value)}")
    raise Bad(path, f"unsupported schema type {typ}")


def conform_record(record: Any, schema: pa.Schema, json_fields: frozenset[str],
                   skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check every schema field of ``record`` (except ``skip``); return the converted copy.

    Fields the schema does not name are copied unchanged (the caller turns them into
    ``_wl_extra``). Raises :class:`Bad` for a record that is not an object or has a field of
    the wrong type.
    """
    if not isinstance(record, dict):
        raise Bad(None, f"record is {type_name(record)}, not a JSON object")
    out = dict(record)
    for f in schema:
        if f.name in record and f.name not in skip:
            out[f.name] = conform_value(record[f.name], f.type, f.name, json_fields)
    return out


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Parsed JSON holds no reference cycles, but allocating millions of dicts triggers collection
    passes over the whole heap; pausing them doubles parse speed. Re-entrant; restores the
    previous state.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
