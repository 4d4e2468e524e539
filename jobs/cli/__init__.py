"""The ``watchlake`` command: global options, subcommand discovery and error handling.

Each subcommand lives in its own module ``jobs/cli/cmd_<name>.py`` that defines
``register(subparsers)``; modules are discovered at start-up, so adding a command never edits
this file. Subcommand modules import heavy libraries inside their handlers only, so that
``watchlake --help`` stays fast. Handlers receive ``(args, ctx)`` and return an exit code.

Errors the library raises (:class:`PipelineError`) print as one line and exit 2; anything else
prints one line and exits 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.lake import Lake


@dataclass
class Context:
    """What every handler gets: validated settings and the lake they point at."""

    settings: Settings
    debug: bool = False
    quiet: bool = False
    _lake: Lake | None = field(default=None, repr=False)

    @property
    def lake(self) -> Lake:
        if self._lake is None:
            from pipeline.lake import Lake

            self._lake = Lake.from_settings(self.settings)
        return self._lake


def _command_modules() -> list[str]:
    import jobs.cli as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_"))


_VALUED = {"--lake", "--config", "--s3-endpoint-url"}
"""Global options that take a value (the token after them is not the command)."""


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first token that is neither an option nor an
    option's value), or None."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUED:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv`` naming a subcommand whose module is ``cmd_<name>``, only
    that module is imported and registered (the others cost a short command 10–30 ms)."""
    parser = argparse.ArgumentParser(
        prog="watchlake",
        description="Monitoring and audit analytics for AWS-shaped data: CloudTrail, "
        "CloudWatch metrics and logs, Kinesis records → Parquet lake → rollups, alarms, "
        "anomalies, detections, SQL and dashboards.",
    )
    parser.add_argument("--version", action="version", version=f"watchlake {__version__}")
    parser.add_argument("--lake", metavar="PATH", help="lake root: a folder or s3://bucket/prefix "
                        "(default ./lake; env WATCHLAKE__LAKE__ROOT)")
    parser.add_argument("--config", metavar="FILE", help="config file (default ./watchlake.toml if present)")
    parser.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible endpoint for an s3:// lake")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = _command_in(argv) if argv is not None else None
    module = f"cmd_{command.replace('-', '_')}" if command else None
    names = _command_modules()
    if module in names and "-h" not in (argv or ()) and "--help" not in (argv or ()):
        importlib.import_module(f"jobs.cli.{module}").register(sub)
        if command in sub.choices:
            return parser
        return build_parser()  # the module registers other names: every command
    for name in names:
        importlib.import_module(f"jobs.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watchlake`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0 if args.command is None else 2
        from pipeline.config import load_settings

        overrides: dict[str, str] = {}
        if args.lake:
            overrides["lake.root"] = args.lake
        if args.s3_endpoint_url:
            overrides["lake.s3_endpoint_url"] = args.s3_endpoint_url
        ctx = Context(load_settings(args.config, overrides=overrides), debug=args.debug,
                      quiet=args.quiet)
        return int(args.func(args, ctx) or 0)
    except PipelineError as exc:
        if debug:
            raise
        print(f"watchlake: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("watchlake: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one clear line for the unexpected, traceback with --debug
        if debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"watchlake: unexpected error: {type(exc).__name__}: {msg} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
