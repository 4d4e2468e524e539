"""The times of a series file, in whatever form a spreadsheet or a console export wrote them.

:func:`~pipeline.timeutil.parse_time` reads ISO 8601 and epoch seconds/milliseconds. Exports also
write ``2026-01-02 10:00:00 UTC``, ``2026/01/02 10:00``, ``01/02/2026 10:00 AM`` or
``02.01.2026 10:00``. :func:`time_reader` picks, once per file, the first of :data:`FORMATS` that
reads every sampled time ISO does not — so a file whose days run past 12 is read day-first, and
one where both orders fit is read month-first, with a note saying so. A zone suffix ``UTC`` /
``GMT`` / ``Z`` is dropped; times without a zone are UTC, as everywhere in watchlake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pipeline.errors import InputError
from pipeline.timeutil import parse_time

#: The forms tried after ISO 8601 and epoch numbers, in order of preference (``strptime``).
FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d-%b-%Y %H:%M:%S", "%d %b %Y %H:%M:%S", "%b %d, %Y %H:%M:%S", "%b %d %Y %H:%M:%S",
)
#: Times sampled to choose the form (the first ones ISO does not read).
SAMPLE = 200
_ZONE = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)


def _iso(text: str) -> float:
    """Epoch seconds of an ISO 8601 / epoch time, a zone suffix dropped (InputError if neither)."""
    try:
        return parse_time(text).timestamp()
    except InputError:
        bare = _ZONE.sub("", text)
        if bare == text or not bare:
            raise
        return parse_time(bare).timestamp()


def _strptime(text: str, fmt: str) -> float:
    return datetime.strptime(_ZONE.sub("", text), fmt).replace(tzinfo=UTC).timestamp()


def _fits(fmt: str, texts: Sequence[str]) -> bool:
    try:
        for t in texts:
            _strptime(t, fmt)
    except ValueError:
        return False
    return True


def time_reader(texts: Sequence[str]) -> tuple[Callable[[str], float], str | None]:
    """``(parse, note)`` for a file whose time column holds ``texts``: ``parse(text)`` gives epoch
    seconds or raises :class:`InputError`; ``note`` says which form was chosen beyond ISO (None
    when ISO / epoch read them). Only the first :data:`SAMPLE` times ISO does not read are tried."""
    odd: list[str] = []
    for t in texts:
        if not t:
            continue
        try:
            _iso(t)
        except InputError:
            odd.append(t)
            if len(odd) == SAMPLE:
                break
    if not odd:
        return _iso, None
    fits = [f for f in FORMATS if _fits(f, odd)]
    if not fits:
        return _iso, None
    fmt = fits[0]
    other = fmt.replace("%m/%d", "%d/%m") if "%m/%d" in fmt and fmt.replace("%m/%d", "%d/%m") in fits else None

    def parse(text: str) -> float:
        try:
            return _iso(text)
        except InputError:
            try:
                return _strptime(text, fmt)
            except ValueError:
                raise InputError("not a time", value=text) from None

    note = f"times read as {fmt} (UTC)"
    if other is not None:
        note += f"; {other} reads them too — write ISO 8601 to be sure"
    return parse, note
