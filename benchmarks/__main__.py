"""Run every benchmark in turn: ``python -m benchmarks [--full] [NAME ...]``.

Without ``--full`` each runs with ``--small`` (about a minute each on 2 cores). Each benchmark
prints its own throughput and its ratios against the bare tools on the same data.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="full sizes (slow: tens of minutes)")
    ap.add_argument("names", nargs="*", choices=[n.removeprefix("bench_") for n in names] + [[]],
                    help="benchmarks to run (default: all)")
    args = ap.parse_args()
    chosen = [f"bench_{n}" for n in args.names] if args.names else names
    failed = []
    for name in chosen:
        print(f"\n##### {name}", flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", f"benchmarks.{name}"] + ([] if args.full else ["--small"])
        rc = subprocess.call(cmd, cwd=here.parent)
        print(f"##### {name}: {'ok' if rc == 0 else f'exit {rc}'} in {time.perf_counter() - t0:.0f} s")
        if rc:
            failed.append(name)
    print(f"\n{len(chosen) - len(failed)} benchmarks ran, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
