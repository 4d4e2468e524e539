"""Test helpers: CloudTrail event dicts (as in the S3 files) → CLOUDTRAIL-schema lake partitions.

The conversion here is written independently of the loader: JSON-text fields are dumped with
``json.dumps``, ``userIdentity`` is copied into the struct field by field.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from pipeline.lake import Lake
from pipeline.lake.layout import time_partitions
from pipeline.schemas import CLOUDTRAIL, CLOUDTRAIL_JSON_FIELDS


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _struct(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_struct(typ):
        return {f.name: _struct(value.get(f.name), f.type) for f in typ}
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def to_row(event: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in CLOUDTRAIL:
        v = event.get(f.name)
        if f.name == "eventTime":
            row[f.name] = _t(v)
        elif f.name in CLOUDTRAIL_JSON_FIELDS:
            row[f.name] = None if v is None else json.dumps(v)
        else:
            row[f.name] = _struct(v, f.type)
    return row


def write_events(lake: Lake, events: list[dict[str, Any]], table: str = "cloudtrail") -> None:
    """Write events into their dt/hour partitions (one file per partition)."""
    groups: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        parts = time_partitions(table, _t(e["eventTime"]))
        groups[tuple(sorted(parts.items()))].append(to_row(e))
    for key, rows in groups.items():
        lake.write_partition(table, dict(key), pa.Table.from_pylist(rows, schema=CLOUDTRAIL))


_N = 0


def event(name: str, time: str, *, source: str = "iam.amazonaws.com", user: str | None = "alice",
          utype: str = "IAMUser", key: str | None = "AKIAALICE", arn: str | None = None,
          ip: str = "198.51.100.7", region: str = "us-east-1", read_only: bool = False,
          error: str | None = None, request: Any = None, response: Any = None,
          resources: Any = None, session: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """One CloudTrail record with sensible defaults (unique eventID)."""
    global _N
    _N += 1
    ident: dict[str, Any] = {"type": utype, "accountId": "111122223333"}
    if user is not None:
        ident["userName"] = user
    if key is not None:
        ident["accessKeyId"] = key
    ident["arn"] = arn or (f"arn:aws:iam::111122223333:user/{user}" if utype == "IAMUser" else
                           "arn:aws:iam::111122223333:root" if utype == "Root" else None)
    if session is not None:
        ident["sessionContext"] = session
    e = {"eventVersion": "1.09", "userIdentity": ident, "eventTime": time, "eventSource": source,
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": "aws-cli/2.15",
         "errorCode": error, "requestParameters": request, "responseElements": response,
         "eventID": f"ev-{_N:06d}", "eventType": "AwsApiCall", "readOnly": read_only,
         "managementEvent": True, "eventCategory": "Management", "recipientAccountId": "111122223333",
         "resources": resources}
    e.update(extra)
    return e
