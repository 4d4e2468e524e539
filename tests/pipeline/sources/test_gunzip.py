"""gunzip (pipeline.sources.locations): ISA-L inflate gives zlib's bytes and zlib's diagnoses."""

from __future__ import annotations

import gzip
import random
import zlib

from pipeline.sources import locations
from pipeline.sources.locations import gunzip


def _payload(n: int, seed: int) -> bytes:
    r = random.Random(seed)
    return b"".join(b'{"eventID":"%d","v":%f}\n' % (i, r.random()) for i in range(n))


def _zlib_reference(raw: bytes) -> bytes:
    """Every member decompressed by the stdlib, independently of the code under test."""
    out, rest = [], raw
    while rest:
        d = zlib.decompressobj(wbits=31)
        out.append(d.decompress(rest) + d.flush())
        rest = d.unused_data
    return b"".join(out)


def test_isal_is_the_inflater_in_use():
    assert locations._inflate.__name__ == "isal.isal_zlib"


def test_multi_member_gzip_equals_the_stdlib_result():
    a, b = _payload(5000, 1), _payload(3000, 2)
    raw = gzip.compress(a, compresslevel=6) + gzip.compress(b, compresslevel=1)
    data, problem = gunzip(raw)
    assert problem is None
    assert data == a + b == _zlib_reference(raw)


def test_truncated_and_corrupt_streams_keep_the_decodable_prefix():
    body = _payload(20000, 3)
    raw = gzip.compress(body)
    data, problem = gunzip(raw[: len(raw) // 2])
    assert problem is not None and "truncated" in problem
    assert body.startswith(data) and len(data) > 0
    bad = raw[:20] + bytes(b ^ 0xFF for b in raw[20:60]) + raw[60:]
    data, problem = gunzip(bad)
    assert problem is not None and body.startswith(data)


def test_plain_bytes_pass_through():
    assert gunzip(b'{"a":1}') == (b'{"a":1}', None)
