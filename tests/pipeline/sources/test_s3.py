"""s3:// locations against a local S3 server (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputNotFoundError
from pipeline.sources import read
from tests.conftest import SAMPLE_DATA, moto_server

from .conftest import collect

BUCKET = "trail-bucket"
CT = SAMPLE_DATA / "cloudtrail"
pytestmark = pytest.mark.slow  # starts a local S3 server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3

    with moto_server() as url:
        s3 = boto3.client("s3", endpoint_url=url)
        s3.create_bucket(Bucket=BUCKET)
        # the committed CloudTrail folder for 2026-11-07 and -08 (both regions) plus the digest file
        for p in sorted(CT.rglob("*.json.gz")):
            rel = p.relative_to(CT).as_posix()
            if "/2026/11/07/" in rel or "/2026/11/08/" in rel or "CloudTrail-Digest" in rel:
                s3.put_object(Bucket=BUCKET, Key=f"org/{rel}", Body=p.read_bytes())
        yield url


def _local(days: tuple[str, ...]) -> list[Path]:
    return [p for p in sorted(CT.rglob("*.json.gz"))
            if any(f"/2026/11/{d}/" in p.as_posix() for d in days) or "CloudTrail-Digest" in p.as_posix()]


def _strip_origin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "_wl_origin"} for r in rows]


def test_s3_run_equals_local_run(s3_endpoint: str) -> None:
    rows, rej, skipped = collect(read("cloudtrail", f"s3://{BUCKET}/org/AWSLogs", endpoint_url=s3_endpoint))
    local_rows, local_rej, local_skipped = collect(read("cloudtrail", _local(("07", "08"))))
    assert len(rows) > 3000 and not rej and not local_rej
    assert skipped == local_skipped == {"digest_files": 1}
    assert _strip_origin(rows) == _strip_origin(local_rows)
    assert rows[0]["_wl_origin"].startswith(f"s3://{BUCKET}/org/AWSLogs/111122223333/CloudTrail/")


def test_s3_since_until_on_date_folders(s3_endpoint: str) -> None:
    rows, _, skipped = collect(read("cloudtrail", f"s3://{BUCKET}/org/", endpoint_url=s3_endpoint,
                                    since="2026-11-08T00:00:00Z", until="2026-11-09T00:00:00Z"))
    local_rows, _, _ = collect(read("cloudtrail", _local(("08",))))
    assert _strip_origin(rows) == _strip_origin([r for r in local_rows])
    assert skipped == {}  # the digest lives in the 11-01 folder


def test_s3_missing_prefix_and_bucket(s3_endpoint: str) -> None:
    with pytest.raises(InputNotFoundError, match="no objects"):
        read("cloudtrail", f"s3://{BUCKET}/nothing-here/", endpoint_url=s3_endpoint)
    with pytest.raises(InputNotFoundError, match="no such bucket"):
        read("cloudtrail", "s3://no-such-bucket/x", endpoint_url=s3_endpoint)
