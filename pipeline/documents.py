"""Reading a user's definition or request file: JSON (``.json``) or YAML (anything else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import InputError, InputNotFoundError


def read_document(path: str | Path, what: str) -> Any:
    """The parsed content of ``path``; :class:`InputNotFoundError` when it is not a file (``what``
    names it: "alarm definition file"), :class:`InputError` naming the line of a syntax error."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(str(p), f"{what} not found")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg}", path=str(p), line=e.lineno) from None
    except Exception as e:  # yaml.YAMLError carries a mark with the line
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(e, 'problem', e)}", path=str(p),
                         line=mark.line + 1 if mark else None) from None
