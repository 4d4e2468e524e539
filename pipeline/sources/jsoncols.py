"""JSON documents straight to Arrow columns for one fixed, nested schema (native, with yyjson).

A :class:`Schema` is compiled once from Arrow fields whose types are strings, booleans and
structs of those; fields named in ``json_text`` (dotted paths) are stored as the compact JSON
text of whatever value they hold. :meth:`Schema.read` then turns a whole document — an array of
objects, or an object whose only member is such an array under ``key`` — into one Arrow array
per top-level field, in C with the GIL released (see ``_jsoncols.c``).

Guarantees of :meth:`Schema.read`:

* it returns arrays only when every element fits the schema exactly: an object; members the
  schema names, each at most once; strings where it has strings, booleans where it has booleans,
  objects where it has structs (JSON ``null`` and an absent member are both SQL NULL, ``{}`` is a
  struct of NULLs); valid UTF-8 (checked by the parser);
* otherwise it returns a one-line reason (``field `x` is not in the schema (element 3)``) and
  the caller takes its general path — nothing is coerced, dropped or guessed;
* JSON text is compact (no insignificant whitespace), strings escaped only where JSON requires
  (non-ASCII as UTF-8, as orjson writes them), numbers spelled as in the source (not converted,
  so big integers keep their digits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from pipeline.native import turned_off

try:
    from pipeline.sources import _jsoncols  # type: ignore[attr-defined]
except ImportError:  # a checkout that was never built: callers take the pure-Python path
    _jsoncols = None

UNAVAILABLE = ("the native JSON module pipeline.sources._jsoncols is not built (run `make install`)"
               if _jsoncols is None else
               "the native JSON module is turned off (WATCHLAKE_NATIVE=0)"
               if turned_off() else "")
"""Why :class:`Schema` cannot be used here (``""`` when it can): callers check it and take their
general, pure-Python path instead."""

_STR, _BOOL, _JSON, _JSON_NOT_STR, _STRUCT = range(5)


class Schema:
    """A compiled schema. ``json_text``: dotted paths stored as JSON text; ``not_strings``:
    those of them that refuse a JSON string (the caller stores strings there differently)."""

    def __init__(self, fields: Sequence[pa.Field], *, json_text: Iterable[str] = (),
                 not_strings: Iterable[str] = ()):
        self.fields = list(fields)
        self._json = frozenset(json_text)
        self._not_str = frozenset(not_strings)
        self._compiled = _jsoncols.compile(self._spec(self.fields, ""))

    def _spec(self, fields: Sequence[pa.Field], prefix: str) -> list[tuple[str, int, Any]]:
        out: list[tuple[str, int, Any]] = []
        for f in fields:
            path = f"{prefix}{f.name}"
            if path in self._json:
                if not pa.types.is_string(f.type):
                    raise TypeError(f"JSON text field {path} must be a string column, not {f.type}")
                out.append((f.name, _JSON_NOT_STR if path in self._not_str else _JSON, None))
            elif pa.types.is_struct(f.type):
                out.append((f.name, _STRUCT, self._spec(list(f.type), f"{path}.")))
            elif pa.types.is_boolean(f.type):
                out.append((f.name, _BOOL, None))
            elif pa.types.is_string(f.type):
                out.append((f.name, _STR, None))
            else:
                raise TypeError(f"field {path}: {f.type} is not supported (strings, booleans, structs)")
        return out

    def read(self, data: bytes, key: str) -> list[pa.Array] | str:
        """One array per field of the schema, or why the document does not fit (see module)."""
        got = _jsoncols.read(data, self._compiled, key)
        if isinstance(got, str):
            return got
        n, columns = got
        return [_array(f.type, n, c) for f, c in zip(self.fields, columns)]


def _array(typ: pa.DataType, n: int, col: tuple[Any, ...]) -> pa.Array:
    valid = None if col[0] is None else pa.py_buffer(col[0])
    if pa.types.is_struct(typ):
        children = [_array(f.type, n, c) for f, c in zip(typ, col[2])]
        return pa.StructArray.from_buffers(typ, n, [valid], null_count=col[1], children=children)
    if pa.types.is_boolean(typ):
        return pa.Array.from_buffers(typ, n, [valid, pa.py_buffer(col[2])], null_count=col[1])
    return pa.Array.from_buffers(typ, n, [valid, pa.py_buffer(col[2]), pa.py_buffer(col[3])], null_count=col[1])
