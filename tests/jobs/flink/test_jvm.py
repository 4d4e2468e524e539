"""The Flink JVM's class-data-sharing archive (:mod:`jobs.flink.jvm`)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jobs.flink import jvm


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(jvm.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("JVM_ARGS", raising=False)
    monkeypatch.delenv(jvm.OFF_ENV, raising=False)
    return tmp_path / "cache"


def _fake_flink_home(root: Path) -> Path:
    for rel in ("lib/flink-dist.jar", "lib/flink-csv.jar", "opt/flink-python.jar"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"PK" + rel.encode())
    return root


def test_the_archive_is_named_after_the_jvm_and_classpath(cache: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_flink_home(tmp_path / "flink")
    monkeypatch.setenv("FLINK_HOME", str(home))
    first = jvm.fingerprint()
    assert jvm.fingerprint() == first
    (home / "lib" / "flink-csv.jar").write_bytes(b"PK another build of the jar")   # an upgraded jar
    assert jvm.fingerprint() != first
    (home / "lib" / "flink-json.jar").write_bytes(b"PK")                         # one jar more
    second = jvm.fingerprint()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "another-jdk"))               # another JVM
    assert jvm.fingerprint() != second


def test_jvm_args_name_the_archive_only_when_it_exists(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JVM_ARGS", "-Xmx2g")
    assert jvm.use_archive() is False
    assert os.environ["JVM_ARGS"] == "-Xmx2g"
    path = jvm.archive_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"archive")
    (cache / "classes-0000000000000000.jsa").write_bytes(b"of another JVM")
    assert jvm.use_archive() is True
    assert os.environ["JVM_ARGS"] == f"-Xmx2g -XX:SharedArchiveFile={path} -Xshare:auto"
    assert jvm.use_archive() is True                      # idempotent: named once
    assert os.environ["JVM_ARGS"].count("SharedArchiveFile") == 1
    monkeypatch.setenv("JVM_ARGS", "")
    monkeypatch.setenv(jvm.OFF_ENV, "0")
    assert jvm.use_archive() is False and os.environ["JVM_ARGS"] == ""
    monkeypatch.setenv("JVM_ARGS", "-XX:ArchiveClassesAtExit=/tmp/x.jsa")   # a build's own JVM
    monkeypatch.delenv(jvm.OFF_ENV)
    assert jvm.use_archive() is False and "SharedArchiveFile" not in os.environ["JVM_ARGS"]


@pytest.mark.flink
@pytest.mark.slow
def test_concurrent_builds_make_one_archive_that_a_pyflink_jvm_maps(cache: Path, tmp_path: Path) -> None:
    paths: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            paths.append(jvm.build())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert paths[0] == paths[1] == jvm.archive_path()
    assert sorted(p.name for p in cache.iterdir()) == [".lock", paths[0].name]   # no temporary file left
    assert paths[0].stat().st_size > 10_000_000

    # a new PyFlink JVM with the archive: Flink's classes come from the shared archive, not the jars
    log = tmp_path / "classes.log"
    code = ("from jobs.flink import jvm; assert jvm.use_archive(); "
            "from pyflink.table import EnvironmentSettings, TableEnvironment; "
            "t = TableEnvironment.create(EnvironmentSettings.in_streaming_mode()); "
            "t.execute_sql('SELECT 1').collect().close()")
    env = {**os.environ, "JVM_ARGS": f"-Xlog:class+load=info:file={log}",
           "PYTHONPATH": str(Path(jvm.__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300, capture_output=True)
    flink = [line for line in log.read_text().splitlines() if " org.apache.flink." in line]
    shared = [line for line in flink if "source: shared objects file" in line]
    assert len(shared) > 1000, (len(shared), len(flink))
