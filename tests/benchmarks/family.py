"""The check every declared family's test starts with: its "default" kind is the detector it was
declared against, bit for bit, and each declared variant changes the scores."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.nab_eval import CORPUS, file_scores

#: A real NAB file with spikes, a level change and a daylight-saving clock jump.
FILE = CORPUS / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"


def check_declared(scorer: Callable[..., list[float]], before: Callable[..., list[float]],
                   variants: Iterable[str], path: Path = FILE) -> None:
    """``scorer(…, "default")`` scores ``path`` exactly as ``before``; ``scorer(…, v)`` does not,
    for every ``v`` in ``variants``."""
    want = file_scores(path, before)
    assert file_scores(path, scorer, "default") == want
    for v in variants:
        assert file_scores(path, scorer, v) != want, v


def seeds_of_other_families(own: str) -> set[int]:
    """Every ``FRESH_SEEDS`` / ``MINUTE_SEEDS`` seed of the ``benchmarks.nab_*`` family modules but
    ``own`` (a module name): the series a new family's seeds must not repeat."""
    import importlib
    import pkgutil

    import benchmarks

    used: set[int] = set()
    for mod in pkgutil.iter_modules(benchmarks.__path__):
        if mod.name.startswith("nab_") and mod.name != own:
            m = importlib.import_module(f"benchmarks.{mod.name}")
            for name in ("FRESH_SEEDS", "MINUTE_SEEDS"):
                used |= set(getattr(m, name, ()))
    return used
