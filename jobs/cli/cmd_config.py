"""``watchlake config``: show the effective, validated configuration."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.cli import Context


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="show the effective configuration",
                       description="Print the configuration after merging defaults, "
                       "watchlake.toml and WATCHLAKE__SECTION__KEY environment overrides.")
    p.add_argument("--format", choices=["toml", "json"], default="toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    data = dataclasses.asdict(ctx.settings)
    source = data.pop("source")
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    print(f"# from: {source or 'defaults'} + environment")
    for section, values in data.items():
        print(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                print(f"{key} = {json.dumps(value)}")
        print()
    return 0
