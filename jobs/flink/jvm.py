"""The PyFlink JVM's class-data-sharing (CDS) archive: a faster start for every Flink job of this install.

Starting the gateway JVM and planning the first job load thousands of classes from Flink's jars; a
dynamic CDS archive of them (``-XX:ArchiveClassesAtExit``, JDK ≥ 13) lets the next JVMs map them
instead: process start → streaming job RUNNING took 0.77× the JVM CPU seconds for a first start
and 0.67× for a restart here (``python -m benchmarks.bench_flink --startup``, 3 fresh processes each).

* :func:`build` (``watchlake flink warm``) makes the archive once: a child process runs the
  rollup job's SQL on a tiny bounded segment in a JVM started with ``-XX:ArchiveClassesAtExit``
  pointing at a private temporary file, stops that JVM, and renames the file into place
  (atomic: a reader sees the whole archive or none). An exclusive lock makes concurrent builds
  wait for one another instead of writing the same file twice.
* :func:`use_archive` (called before a TableEnvironment or StreamExecutionEnvironment is created)
  adds ``-XX:SharedArchiveFile=… -Xshare:auto`` to ``JVM_ARGS`` when the archive for this exact
  JVM and classpath exists: its name carries a digest of both (:func:`fingerprint`), so another
  JDK or apache-flink version simply finds none. ``-Xshare:auto`` also makes the JVM itself ignore
  an archive it cannot map or whose header does not match instead of failing.

The archive lives in :func:`cache_dir` (``WATCHLAKE_FLINK_CACHE``, else
``$XDG_CACHE_HOME/watchlake/flink``, else ``~/.cache/watchlake/flink``); ``WATCHLAKE_FLINK_CDS=0``
turns its use off.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OFF_ENV = "WATCHLAKE_FLINK_CDS"
CACHE_ENV = "WATCHLAKE_FLINK_CACHE"
_MARK = "-XX:SharedArchiveFile="


def cache_dir() -> Path:
    """Where the archive is kept (module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "watchlake" / "flink"


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    exe = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return os.path.realpath(exe) if exe else "java"


def _jars() -> list[str]:
    """The jars of the gateway JVM's classpath (PyFlink's ``lib/*.jar`` and ``opt/flink-python*.jar``)."""
    import pyflink

    home = os.environ.get("FLINK_HOME") or os.path.dirname(os.path.abspath(pyflink.__file__))
    jars = glob.glob(os.path.join(home, "lib", "*.jar")) + glob.glob(os.path.join(home, "opt", "flink-python*.jar"))
    return sorted(jars)


def fingerprint() -> str:
    """A digest of the JVM (its binary and ``libjvm``) and of every classpath jar (path, size,
    mtime): an archive is used only by the JVM and classpath it was made with."""
    java = _java()
    parts = [java]
    files = glob.glob(os.path.join(os.path.dirname(os.path.dirname(java)), "lib", "server", "libjvm.so")) + _jars()
    for f in [java, *files]:
        with contextlib.suppress(OSError):
            st = os.stat(f)
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def archive_path() -> Path:
    """The archive this JVM and classpath would use (it may not exist)."""
    return cache_dir() / f"classes-{fingerprint()}.jsa"


def jvm_options() -> list[str]:
    """The JVM options that use the archive, or ``[]`` when there is none (or use is off)."""
    if os.environ.get(OFF_ENV, "1") == "0":
        return []
    path = archive_path()
    return [f"{_MARK}{path}", "-Xshare:auto"] if path.is_file() else []


def use_archive() -> bool:
    """Add :func:`jvm_options` to ``JVM_ARGS`` (which PyFlink's gateway launcher passes to the
    JVM; only a JVM started after this call is affected). Idempotent; an archive already named in
    ``JVM_ARGS`` (by the user, or a dump in progress) is left alone. Returns whether the JVM will
    use an archive."""
    current = os.environ.get("JVM_ARGS", "")
    if _MARK in current or "-XX:ArchiveClassesAtExit" in current:
        return _MARK in current
    opts = jvm_options()
    if opts:
        os.environ["JVM_ARGS"] = " ".join([current, *opts]).strip()
    return bool(opts)


@contextlib.contextmanager
def _locked(folder: Path):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(*, force: bool = False, timeout: float = 600.0) -> Path:
    """Make the archive for this JVM and classpath (module docstring) and return its path; an
    existing one is kept unless ``force``. Archives of other JVMs/classpaths in the cache folder
    are removed. Raises ``RuntimeError`` (with the child's last output lines) when the child fails
    or writes no archive."""
    final = archive_path()
    with _locked(final.parent):
        if final.is_file() and not force:
            return final
        fd, tmp = tempfile.mkstemp(prefix=".building-", suffix=".jsa", dir=final.parent)
        os.close(fd)
        os.unlink(tmp)   # the JVM creates it; a file left by a killed build has another name
        try:
            env = {**os.environ, "JVM_ARGS": f"-XX:ArchiveClassesAtExit={tmp}", OFF_ENV: "0"}
            root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            proc = subprocess.run([sys.executable, "-m", "jobs.flink.jvm", "--workload"], env=env, timeout=timeout,
                                  capture_output=True, text=True)
            if proc.returncode != 0 or not os.path.isfile(tmp) or os.path.getsize(tmp) == 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
                raise RuntimeError(f"the CDS archive build failed (exit {proc.returncode}):\n{tail}")
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for old in final.parent.glob("classes-*.jsa"):
            if old != final:
                with contextlib.suppress(OSError):
                    old.unlink()
    return final


def _workload() -> None:
    """Run in the build's child (``JVM_ARGS`` asks for the dump): the rollup job's SQL, planned and
    run on a small bounded segment, then the JVM stopped so that it writes the archive."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.flink import sql as fsql

    work = tempfile.mkdtemp(prefix="watchlake-cds-")
    try:
        inbox = os.path.join(work, "inbox")
        os.makedirs(inbox)
        with open(os.path.join(inbox, "seg-1.csv"), "w") as fh:
            for i in range(2000):
                fh.write(f"{i % 20:016x},{1_700_000_000_000 + i * 1000},0,1.0,{i}.0,{i}.0,{i}.0,,\n")
        t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        conf = t_env.get_config()
        for key, value in {"parallelism.default": "1", "table.local-time-zone": "UTC", **fsql.PLANNER_OPTIONS}.items():
            conf.set(key, value)
        for stmt in (fsql.source_ddl("wl_src", "file://" + inbox, out_of_orderness=60),
                     fsql.sink_ddl("wl_out", fsql.OUT_SCHEMA, "file://" + os.path.join(work, "out")),
                     fsql.sink_ddl("wl_late", fsql.LATE_SCHEMA, "file://" + os.path.join(work, "late")),
                     *fsql.views("wl_pts", "wl_src")):
            t_env.execute_sql(stmt)
        plan = "file://" + os.path.join(work, "plan.json")
        t_env.execute_sql(f"COMPILE PLAN '{plan}' FOR STATEMENT SET BEGIN {fsql.rollup_insert('wl_out', 'wl_pts')}; "
                          f"{fsql.late_insert('wl_late', 'wl_pts')}; END")
        t_env.execute_sql(f"EXECUTE PLAN '{plan}'").wait()
        _stop_jvm()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stop_jvm() -> None:
    """Stop this process's gateway JVM with SIGTERM (its exit writes the archive) and wait for it."""
    pids = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    for pid in map(int, pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"java" not in fh.read():
                    continue
        except OSError:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise RuntimeError("the JVM did not exit within 300 s of SIGTERM")


if __name__ == "__main__":
    if sys.argv[1:] == ["--workload"]:
        _workload()
        os._exit(0)   # PyFlink's exit hooks would talk to the stopped JVM
    print(build(force="--force" in sys.argv[1:]))
