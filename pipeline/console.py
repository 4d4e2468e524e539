"""Progress lines and end-of-command summaries, written to stderr (data goes to stdout).

Long work reports progress at most a few times a second; every command ends with a short
summary block. Nothing here changes behaviour, only what the user sees.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any, TypeVar

T = TypeVar("T")


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_count(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    """Throttled one-line progress on a stream (``\\r`` updates on a TTY, lines otherwise)."""

    def __init__(self, label: str, total: int | None = None, *, stream: IO[str] | None = None,
                 every: float = 0.5, enabled: bool = True):
        self.label, self.total, self.every = label, total, every
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._shown = -1  # ``done`` at the last line written
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= (self.every if self._tty else max(self.every, 5.0)):
            self._last = now
            self._emit(note)

    def _emit(self, note: str = "", final: bool = False) -> None:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        of = f"/{human_count(self.total)}" if self.total else ""
        line = f"{self.label}: {human_count(self.done)}{of} ({human_count(rate)}/s){' ' + note if note else ''}"
        end = "\n" if final or not self._tty else ""
        self.stream.write(("\r" if self._tty else "") + line + end)
        self.stream.flush()
        self._shown = self.done

    def close(self) -> None:
        """End the line on a TTY; elsewhere write the final count unless the last line showed it."""
        if self.enabled and (self._tty or (self._last and self._shown != self.done)):
            self._emit(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def summary(title: str, rows: Mapping[str, Any], *, stream: IO[str] | None = None) -> str:
    """Print an aligned ``key: value`` block under a title and return the text."""
    out = stream if stream is not None else sys.stderr
    width = max((len(k) for k in rows), default=0)
    lines = [f"== {title}"] + [f"  {k.ljust(width)}  {v}" for k, v in rows.items()]
    text = "\n".join(lines)
    out.write(text + "\n")
    out.flush()
    return text
