"""The watchlake error hierarchy.

Every error the library raises derives from :class:`PipelineError`. Concrete errors keep the
offending evidence (file, line, field, value) as attributes and quote it in the message, so the
CLI can print one clear line and tests can assert on the attributes. Each also inherits the closest
builtin (``ValueError``, ``FileNotFoundError``…) so generic handlers still work.
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Root of every error raised by watchlake. Its message is one line whatever the input held:
    a line break in a quoted path, name, field or value is written ``\\n`` (``\\r``)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(a.translate(_ONE_LINE) if isinstance(a, str) else a for a in args))


_ONE_LINE = {ord("\n"): "\\n", ord("\r"): "\\r"}


class TransientError(PipelineError):
    """Marker: retrying the same operation later may succeed (network, lock, throttling)."""


class TerminalError(PipelineError):
    """Marker: retrying the same input will fail the same way."""


def _where(path: str | None, line: int | None, field: str | None) -> str:
    parts = []
    if path is not None:
        parts.append(f"{path}" + (f":{line}" if line is not None else ""))
    elif line is not None:
        parts.append(f"record {line}")
    if field is not None:
        parts.append(f"field `{field}`")
    return ", ".join(parts)


class ConfigError(TerminalError, ValueError):
    """A configuration key or value is invalid.

    Attributes:
        key: dotted key such as ``loader.buffer_mib`` (or the env variable name).
        value: the offending value, if any.
        source: where it came from (file path or ``env``).
    """

    def __init__(self, key: str, reason: str, value: Any = None, source: str | None = None):
        self.key, self.value, self.source, self.reason = key, value, source, reason
        where = f" ({source})" if source else ""
        shown = f" = {value!r}" if value is not None else ""
        super().__init__(f"config `{key}`{shown}{where}: {reason}")


class MissingExtraError(TerminalError, ImportError):
    """A feature needs an optional dependency that is not installed.

    Attributes:
        module: the module that could not be imported (``pyflink``).
        extra: the extra that installs it (``flink`` → ``pip install 'watchlake[flink]'``).
        purpose: what needed it, in a few words.
    """

    def __init__(self, module: str, extra: str, purpose: str):
        self.module, self.extra, self.purpose = module, extra, purpose
        super().__init__(f"{purpose} needs `{module}`, which is not installed: "
                         f"pip install 'watchlake[{extra}]' (or `make install`)")


def require(module: str, extra: str, purpose: str) -> Any:
    """Import and return ``module``; raise :class:`MissingExtraError` naming the extra when it is
    not installed (import errors from *inside* an installed module propagate unchanged)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == module or module.startswith(exc.name + ".")):
            raise MissingExtraError(module, extra, purpose) from exc
        raise


class InputError(TerminalError, ValueError):
    """A record or file of user input is malformed.

    Attributes:
        path: file (or object URL) the input came from.
        line: 1-based line number, or 0-based array index, when known.
        field: the field that was wrong, when known.
        value: the offending value (truncated to 200 characters in the message).
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        value: Any = None,
    ):
        self.reason, self.path, self.line, self.field, self.value = reason, path, line, field, value
        where = _where(path, line, field)
        shown = ""
        if value is not None:
            text = repr(value)
            shown = f" (got {text[:200]}{'…' if len(text) > 200 else ''})"
        super().__init__(f"{where + ': ' if where else ''}{reason}{shown}")


class SchemaMismatchError(InputError):
    """A record parsed, but a field has the wrong type or a required field is missing."""


class InputNotFoundError(TerminalError, FileNotFoundError):
    """A named input file, folder, glob or S3 prefix does not exist or matched nothing."""

    def __init__(self, location: str, reason: str = "not found"):
        self.location = location
        super().__init__(f"{location}: {reason}")


class LayoutError(TerminalError, ValueError):
    """A lake path or partition value is invalid (for example a traversal attempt)."""

    def __init__(self, key: str, value: Any, reason: str):
        self.key, self.value, self.reason = key, value, reason
        super().__init__(f"partition `{key}`={value!r}: {reason}")


class WriteError(PipelineError, OSError):
    """Writing or committing a file to the lake failed; nothing partial became visible."""

    def __init__(self, path: str, reason: str):
        self.path = path
        super().__init__(f"{path}: {reason}")


class LakeBusyError(TransientError, OSError):
    """No consistent listing of a lake folder could be taken: commits kept changing it.

    Attributes:
        path: the folder (lake URI); seconds: how long the listing was retried.
    """

    def __init__(self, path: str, seconds: float):
        self.path, self.seconds = path, seconds
        super().__init__(f"{path}: commits kept changing the folder while it was listed for {seconds:.0f} s")


class QueryError(TerminalError, ValueError):
    """A query is invalid, unsafe, or refers to something that does not exist."""

    def __init__(self, reason: str, *, query: str | None = None, position: int | None = None):
        self.reason, self.query, self.position = reason, query, position
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"{reason}{at}")


class RuleError(TerminalError, ValueError):
    """An alarm, detection rule or detector definition is invalid.

    Attributes:
        rule: the rule's name or id; ``path`` the file it came from; ``field`` the bad field.
    """

    def __init__(
        self, rule: str, reason: str, *, path: str | None = None, field: str | None = None,
        value: Any = None,
    ):
        self.rule, self.reason, self.path, self.field, self.value = rule, reason, path, field, value
        where = f"{path}: " if path else ""
        fld = f" field `{field}`" if field else ""
        shown = f" (got {value!r})" if value is not None else ""
        super().__init__(f"{where}rule `{rule}`{fld}: {reason}{shown}")
