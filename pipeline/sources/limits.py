"""Size and shape limits of the readers: what one input may cost before it is rejected.

A :class:`Limits` travels from the settings (:class:`pipeline.config.LoaderSettings`, keys
``loader.max_object_mib``, ``loader.max_record_kib``, ``loader.max_nesting_depth``,
``loader.max_open_files``) to :func:`pipeline.sources.read`. Each limit turns an input that would
exhaust memory or the stack into one rejection whose reason names the setting, never an error
that stops the run:

* ``max_object_bytes`` — decompressed bytes of one file or object (gzip bombs, a 2 GB export):
  decompression stops at the limit and the object is one rejection; an uncompressed file whose
  stored size is over the limit is not read at all;
* ``max_record_bytes`` — one NDJSON line or one value of a concatenated / damaged document;
* ``max_depth`` — nesting of one record on the general path (the document parser refuses more
  than 1,024 levels whatever the setting);
* ``max_open_files`` — decoded files held in memory at once (read-ahead included).

Memory of a reader is therefore bounded by about ``max_open_files × max_object_bytes`` of bytes
plus the parsed form of one object.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
PARSER_DEPTH = 1024
"""orjson's own nesting limit; deeper documents always take the general (scanning) path."""


@dataclass(frozen=True)
class Limits:
    """Reader limits (see the module docstring)."""

    max_object_bytes: int = 256 * MIB
    max_record_bytes: int = 64 * MIB
    max_depth: int = 1024
    max_open_files: int = 4

    def object_reason(self, size: int | None = None) -> str:
        got = "" if size is None else f" ({size:,} bytes)"
        return (f"object larger than loader.max_object_mib = {self.max_object_bytes // MIB} MiB "
                f"when decompressed{got}; raise the setting to load it")

    def record_reason(self, size: int) -> str:
        return (f"record of {size:,} bytes is larger than loader.max_record_kib = "
                f"{self.max_record_bytes // 1024} KiB")

    def depth_reason(self) -> str:
        return f"nested deeper than loader.max_nesting_depth = {self.max_depth} levels"


DEFAULT_LIMITS = Limits()
