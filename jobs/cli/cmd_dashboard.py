"""``watchlake dashboard``: serve the Streamlit dashboards for a lake.

Runs ``python -m streamlit run dashboards/app.py`` headless, bound to 127.0.0.1 unless told
otherwise, with usage statistics off; the lake reaches the app through the environment
(``WATCHLAKE_DASHBOARD_LAKE``), so the app reads exactly the lake this command was given.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from jobs.cli import Context

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def register(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="serve the Streamlit dashboards",
                       description="Serve the dashboards (Overview, CloudTrail, Metrics, Alarms, "
                       "Anomalies & Insights, Findings, Investigate) for a lake on a local port.")
    p.add_argument("--lake", dest="dashboard_lake", metavar="PATH",
                   help="lake root to show (default: the global --lake / configured lake)")
    p.add_argument("--port", type=int, help="port (default: dashboard.port, 8501)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    p.add_argument("--refresh", type=int, metavar="SECONDS",
                   help="check for new data this often (default: dashboard.refresh_seconds; 0 = off)")
    p.set_defaults(func=run)


def streamlit_command(port: int, address: str = "127.0.0.1", app: Path = APP) -> list[str]:
    """The server command line (headless, no telemetry, no file watcher)."""
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.headless", "true", "--server.address", address, "--server.port", str(port),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "minimal"]


def port_free(address: str, port: int) -> bool:
    """True when ``port`` can be bound on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pipeline.console import summary
    from pipeline.errors import require
    from pipeline.lake import Lake

    require("streamlit", "dashboards", "watchlake dashboard")
    settings = ctx.settings
    port = args.port if args.port is not None else settings.dashboard.port
    if not 1 <= port <= 65535:
        raise ConfigError("--port", "must be between 1 and 65535", port)
    refresh = args.refresh if args.refresh is not None else settings.dashboard.refresh_seconds
    if refresh < 0:
        raise ConfigError("--refresh", "must not be negative", refresh)
    lake = Lake(args.dashboard_lake, endpoint_url=settings.lake.s3_endpoint_url,
                region=settings.lake.s3_region) if args.dashboard_lake else ctx.lake
    from pipeline.query.investigations import catalog

    catalog(user_folder=settings.query.investigations_dir)  # a bad saved investigation stops start-up
    if not port_free(args.address, port):
        raise ConfigError("--port", f"port {port} on {args.address} is already in use; pick another", port)
    env = {**os.environ, "WATCHLAKE_DASHBOARD_LAKE": lake.root,
           "WATCHLAKE_DASHBOARD_REFRESH": str(refresh),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if settings.lake.s3_endpoint_url:
        env["WATCHLAKE_DASHBOARD_S3_ENDPOINT"] = settings.lake.s3_endpoint_url
    url = f"http://{args.address}:{port}"
    summary("watchlake dashboard", {"url": url, "lake": lake.root,
                                    "refresh": f"every {refresh} s" if refresh else "off",
                                    "stop": "Ctrl+C or SIGTERM"})
    proc = subprocess.Popen(streamlit_command(port, args.address), env=env, stdin=subprocess.DEVNULL)
    return supervise(proc)


def supervise(proc: subprocess.Popen[bytes], grace: float = 10.0) -> int:
    """Wait for the Streamlit child; SIGTERM, SIGHUP or Ctrl+C to this process stop it (terminate,
    then kill after ``grace`` seconds), so a service manager or ``kill`` never leaves an orphan
    server holding the port. Returns 0 when stopped by a signal, else the child's exit code."""
    stopping: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        if proc.poll() is None:
            proc.terminate()

    handled = [signal.SIGTERM, signal.SIGHUP]
    previous = {s: signal.signal(s, forward) for s in handled}
    try:
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            stopping.append(signal.SIGINT)
            proc.terminate()
        if stopping:
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return 0
        return code
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
