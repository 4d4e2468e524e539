"""``watchlake anomalies score``: one series file, or every series file below a folder, scored into
NAB's result format.

:func:`score_file` reads one file (:func:`~pipeline.anomaly.series_io.read_series`: a CSV, or the
AWS CLI's CloudWatch JSON), streams it through a fresh detector and writes
``timestamp,value,anomaly_score`` in file order (with ``band``, also ``expected,lower,upper``).
:func:`score_tree` does that for every ``*.csv`` / ``*.json`` below a folder (sorted, the output
folder itself left out), mirroring the tree into the output folder (``data/realTraffic/speed_6005.csv``
→ ``OUT/realTraffic/speed_6005.csv``; a JSON input writes ``.csv``). A file the reader refuses
(:class:`~pipeline.errors.InputError`: it is not a series), or that fails in any other way, does not
stop the others: it is listed with its one-line reason, and every file is either scored or refused —
``files = scored + refused``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError

#: What :func:`score_tree` reads below a folder.
SERIES_SUFFIXES = (".csv", ".json")


@dataclass
class ScoredFile:
    """One scored file: rows written, the rows at or above the alert level as ``(score, raw
    timestamp)``, and what the reader and the detector noted."""

    path: Path
    output: Path
    rows: int
    flagged: list[tuple[float, str]]
    notes: list[str]


@dataclass
class ScoredTree:
    """Every series file below a folder: the scored ones and the refused ones with their reasons."""

    scored: list[ScoredFile] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def score_file(inp: str | Path, out: str | Path, *, detector: str, series: str | None = None,
               stat: str | None = None, band: bool = False, progress: Callable[[int], None] | None = None,
               total: Callable[[int], object] | None = None) -> ScoredFile:
    """Score ``inp`` into ``out`` (see the module docstring; ``band`` adds each score's expected
    band, :func:`~pipeline.anomaly.series_io.write_scores`); ``total`` is told the point count
    once the file is read, ``progress`` of the points as they are scored. Raises what the reader
    raises for a file that is not a series."""
    from pipeline.anomaly import DEFAULT_THRESHOLD
    from pipeline.anomaly.series_io import read_series, run_detector, write_scores

    s = read_series(inp, series=series, stat=stat)
    if total is not None:
        total(len(s.values))
    scores = run_detector(s, detector, progress=progress)
    n = write_scores(out, s, scores, band=band)
    notes = list(s.notes)
    if detector == "context":
        from pipeline.anomaly.gaps import GAP, MUTE, muted_rows

        order = s.order
        starts = muted_rows([s.times[i] for i in order], [s.values[i] for i in order], starts=True)
        if starts:
            first = ", ".join(s.raw_times[order[k]] for k in starts[:3])
            notes.append(f"gap of more than {GAP:g} sampling intervals ×{len(starts)}: the sequence and "
                         f"resonance judges sat out the next {MUTE} values (first after: {first}"
                         f"{', …' if len(starts) > 3 else ''})")
    flagged = [(x.score, r) for x, r in zip(scores, s.raw_times, strict=True) if x.score >= DEFAULT_THRESHOLD]
    return ScoredFile(Path(inp), Path(out), n, flagged, notes)


def series_files(root: Path, skip: Path | None = None) -> list[Path]:
    """The series files below ``root`` (:data:`SERIES_SUFFIXES`, sorted), none below ``skip``."""
    skip = skip.resolve() if skip is not None else None
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SERIES_SUFFIXES
                  and (skip is None or not p.resolve().is_relative_to(skip)))


def score_tree(root: str | Path, out: str | Path, *, detector: str, series: str | None = None,
               stat: str | None = None, band: bool = False, files: Sequence[Path] | None = None,
               each: Callable[[Path], object] | None = None) -> ScoredTree:
    """Score every series file below ``root`` (``files``, when the caller has listed them with
    :func:`series_files` already) into the same place below ``out`` (module docstring); ``each`` is
    told of every file once it is done (scored or refused)."""
    root, out = Path(root), Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("with a folder as --input, --output must be a folder", path=str(out))
    tree = ScoredTree()
    for p in series_files(root, skip=out) if files is None else files:
        target = (out / p.relative_to(root)).with_suffix(".csv")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tree.scored.append(score_file(p, target, detector=detector, series=series, stat=stat, band=band))
        except InputError as exc:  # not a series: its reason names the file and line
            tree.refused.append((p, str(exc)))
        except Exception as exc:  # unreadable, or a defect: named, and the other files still scored
            tree.refused.append((p, f"{p}: {type(exc).__name__}: {exc}"))
        if each is not None:
            each(p)
    return tree
