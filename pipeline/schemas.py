"""Explicit Arrow schemas of the lake tables, raw and derived (never inferred from a sample).

Raw tables keep the source's own field names and nesting, so Athena habits and Sigma rules
work unchanged (``eventName``, ``userIdentity.type``, ``userIdentity.sessionContext.
attributes.mfaAuthenticated``). Free-form fields (``requestParameters``, ``responseElements``,
``additionalEventData``, ``serviceEventDetails``, ``resources``, ``insightDetails`` …) are JSON
text, because their shape differs per API and per event. Columns the pipeline adds all start
with :data:`PREFIX`. Partition columns (``dt``, ``hour``, ``month``, ``stream``) are not stored
in the files; they live in the Hive path and are derived from event time.

Bump :data:`SCHEMA_VERSION` when a stored column changes.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

PREFIX = "_wl_"
"""Prefix of every column the pipeline adds to a source's own fields."""

TS = pa.timestamp("ms", tz="UTC")

_PIPELINE_FIELDS = [
    pa.field(f"{PREFIX}origin", pa.string()),        # file/object[:line] or stream/shard/seq it came from
    pa.field(f"{PREFIX}ingest_time", TS),             # when the loader accepted it
]

# -- CloudTrail ----------------------------------------------------------------------------

SESSION_ISSUER = pa.struct([
    ("type", pa.string()), ("principalId", pa.string()), ("arn", pa.string()),
    ("accountId", pa.string()), ("userName", pa.string()),
])
SESSION_CONTEXT = pa.struct([
    ("attributes", pa.struct([("creationDate", pa.string()), ("mfaAuthenticated", pa.string())])),
    ("sessionIssuer", SESSION_ISSUER),
    ("webIdFederationData", pa.string()),            # JSON text: often `{}`, not writable as a struct
    ("sourceIdentity", pa.string()),
    ("ec2RoleDelivery", pa.string()),
    ("assumedRoot", pa.string()),
])
USER_IDENTITY = pa.struct([
    ("type", pa.string()), ("principalId", pa.string()), ("arn", pa.string()),
    ("accountId", pa.string()), ("accessKeyId", pa.string()), ("userName", pa.string()),
    ("invokedBy", pa.string()), ("identityProvider", pa.string()), ("credentialId", pa.string()),
    ("sessionContext", SESSION_CONTEXT),
    ("onBehalfOf", pa.struct([("userId", pa.string()), ("identityStoreArn", pa.string())])),
])
TLS_DETAILS = pa.struct([
    ("tlsVersion", pa.string()), ("cipherSuite", pa.string()),
    ("clientProvidedHostHeader", pa.string()),
])

CLOUDTRAIL_JSON_FIELDS = (
    "requestParameters", "responseElements", "additionalEventData", "serviceEventDetails",
    "resources", "addendum", "edgeDeviceDetails", "insightDetails", "eventContext",
)
"""Top-level CloudTrail fields stored as JSON text (``null`` stays SQL NULL)."""

CLOUDTRAIL = pa.schema([
    ("eventVersion", pa.string()),
    ("userIdentity", USER_IDENTITY),
    ("eventTime", TS),
    ("eventSource", pa.string()),
    ("eventName", pa.string()),
    ("awsRegion", pa.string()),
    ("sourceIPAddress", pa.string()),
    ("userAgent", pa.string()),
    ("errorCode", pa.string()),
    ("errorMessage", pa.string()),
    ("requestParameters", pa.string()),
    ("responseElements", pa.string()),
    ("additionalEventData", pa.string()),
    ("requestID", pa.string()),
    ("eventID", pa.string()),
    ("eventType", pa.string()),
    ("apiVersion", pa.string()),
    ("managementEvent", pa.bool_()),
    ("readOnly", pa.bool_()),
    ("resources", pa.string()),
    ("recipientAccountId", pa.string()),
    ("serviceEventDetails", pa.string()),
    ("sharedEventID", pa.string()),
    ("vpcEndpointId", pa.string()),
    ("vpcEndpointAccountId", pa.string()),
    ("eventCategory", pa.string()),
    ("addendum", pa.string()),
    ("sessionCredentialFromConsole", pa.string()),
    ("edgeDeviceDetails", pa.string()),
    ("tlsDetails", TLS_DETAILS),
    ("insightDetails", pa.string()),
    ("eventContext", pa.string()),
    pa.field(f"{PREFIX}extra", pa.string()),   # JSON of any field not named above (nothing is lost)
    *_PIPELINE_FIELDS,
])

# -- CloudWatch metrics --------------------------------------------------------------------

METRICS = pa.schema([
    ("namespace", pa.string()),
    ("metric_name", pa.string()),
    ("dimensions", pa.string()),       # canonical JSON object, keys sorted: {"InstanceId":"i-1"}
    ("timestamp", TS),
    ("unit", pa.string()),             # CloudWatch unit string; "None" when not given
    ("storage_resolution", pa.int32()),  # 1 (high resolution) or 60
    ("sample_count", pa.float64()),    # a single value is a statistic set with count 1
    ("sum", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("values", pa.list_(pa.float64())),  # optional raw values (PutMetricData Values/Counts)
    ("counts", pa.list_(pa.float64())),
    ("account_id", pa.string()),
    ("region", pa.string()),
    ("metric_stream_name", pa.string()),
    pa.field(f"{PREFIX}series_id", pa.string()),  # stable id of namespace+metric+dimensions+unit
    *_PIPELINE_FIELDS,
])

# -- CloudWatch Logs -----------------------------------------------------------------------

LOGS = pa.schema([
    ("owner", pa.string()),
    ("logGroup", pa.string()),
    ("logStream", pa.string()),
    ("id", pa.string()),
    ("timestamp", TS),
    ("message", pa.string()),
    ("ingestionTime", TS),
    *_PIPELINE_FIELDS,
])

# -- Kinesis records -----------------------------------------------------------------------

RECORDS = pa.schema([
    ("streamName", pa.string()),
    ("shardId", pa.string()),
    ("sequenceNumber", pa.string()),
    ("partitionKey", pa.string()),
    ("approximateArrivalTimestamp", TS),
    ("data", pa.binary()),
    *_PIPELINE_FIELDS,
])

# -- Rejected input (errors/SOURCE/…, JSON lines) ------------------------------------------

REJECTED = pa.schema([
    ("source", pa.string()),           # cloudtrail | metrics | logs | records
    ("origin", pa.string()),           # file or object, with :line or [index]
    ("line", pa.int64()),
    ("field", pa.string()),
    ("reason", pa.string()),
    ("raw", pa.binary()),              # the offending bytes, as received (truncated at 1 MiB)
    ("rejected_at", TS),
])

# -- Derived tables (written by the library's jobs; the SQL catalogue declares views from these) --

SKETCH_BINS = pa.list_(pa.int32())
"""Per row, a rollup sketch's bin indexes, strictly ascending (:func:`pipeline.rollup.sketch.bin_of`)."""
SKETCH_COUNTS = pa.list_(pa.float64())
"""Per row, the samples in each bin, parallel to the bins (> 0; Counts may be fractional)."""

ROLLUP = pa.schema([  # metrics_1m / metrics_5m / metrics_1h; see pipeline.rollup
    pa.field(f"{PREFIX}series_id", pa.string()),
    ("namespace", pa.string()),
    ("metric_name", pa.string()),
    ("dimensions", pa.string()),       # canonical JSON object, keys sorted (as in raw metrics)
    ("unit", pa.string()),
    ("timestamp", TS),                 # bucket start, UTC; the bucket is [timestamp, timestamp+period)
    ("period", pa.int32()),            # bucket length in seconds (60, 300, 3600)
    ("sample_count", pa.float64()),
    ("sum", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("sketch_bins", SKETCH_BINS),      # ascending bin indexes (value order)
    ("sketch_bin_counts", SKETCH_COUNTS),  # samples per bin, parallel to sketch_bins
    ("sketch_count", pa.float64()),    # samples represented in the sketch (== sample_count → pNN ok)
])

ALARM_HISTORY = pa.schema([  # alarm_history; see pipeline.alarms.store
    ("alarm_name", pa.string()), ("alarm_type", pa.string()), ("timestamp", TS),
    ("history_item_type", pa.string()), ("history_summary", pa.string()), ("history_data", pa.string()),
    ("old_state", pa.string()), ("new_state", pa.string()), ("state_reason", pa.string()),
    ("state_reason_data", pa.string()), ("origin", pa.string()),
])

FINDINGS = pa.schema([  # findings; columns documented in pipeline.detections.findings
    ("finding_id", pa.string()), ("rule_id", pa.string()), ("rule_kind", pa.string()),
    ("title", pa.string()), ("level", pa.string()), ("mitre", pa.list_(pa.string())),
    ("time", TS), ("last_time", TS), ("principal", pa.string()), ("source_ip", pa.string()),
    ("access_key", pa.string()), ("event_ids", pa.list_(pa.string())), ("event_count", pa.int64()),
    ("dedup_key", pa.string()), ("dedup_window_s", pa.int64()), ("window_start", TS), ("window_end", TS),
    ("threshold", pa.int64()), ("condition", pa.string()),
    (f"{PREFIX}detected_at", TS), (f"{PREFIX}engine", pa.string()),
])

ANOMALIES = pa.schema([  # anomalies; see pipeline.anomaly.table
    ("series_id", pa.string()),        # "<namespace>|<metric>|<dimensions JSON>|<unit>|<stat>"
    ("namespace", pa.string()),
    ("metric_name", pa.string()),
    ("dimensions", pa.string()),       # canonical JSON, keys sorted
    ("unit", pa.string()),
    ("stat", pa.string()),
    ("period", pa.int32()),
    ("timestamp", TS),
    ("value", pa.float64()),
    ("score", pa.float64()),
    ("expected", pa.float64()),
    ("lower", pa.float64()),
    ("upper", pa.float64()),
    ("is_anomaly", pa.bool_()),
    ("detector", pa.string()),
])

ALARM_STATE = pa.schema([  # the alarm_state view, from alarms/state.json (pipeline.alarms.store.AlarmState)
    ("alarm_name", pa.string()), ("alarm_type", pa.string()), ("alarm_arn", pa.string()),
    ("state_value", pa.string()), ("state_reason", pa.string()), ("state_reason_data", pa.string()),
    ("state_updated_timestamp", pa.string()), ("state_transitioned_timestamp", pa.string()),
    ("last_evaluated", pa.string()), ("actions_enabled", pa.bool_()),
    ("actions_suppressed_by", pa.string()), ("held_state", pa.string()), ("held_until", pa.int64()),
    ("announced_state", pa.string()),
])

RAW_SCHEMAS: dict[str, pa.Schema] = {
    "cloudtrail": CLOUDTRAIL,
    "metrics": METRICS,
    "logs": LOGS,
    "records": RECORDS,
}

DERIVED_SCHEMAS: dict[str, pa.Schema] = {
    "metrics_1m": ROLLUP,
    "metrics_5m": ROLLUP,
    "metrics_1h": ROLLUP,
    "alarm_history": ALARM_HISTORY,
    "findings": FINDINGS,
    "anomalies": ANOMALIES,
    "insights": CLOUDTRAIL,
}
"""Schemas of the derived lake tables, by table name (partition columns are not stored)."""

RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "cloudtrail": ("eventID",),
    # series + timestamp + the statistic set + which repeat of an identical sample it is within
    # its input (the `#n` ending of `_wl_origin`, 0 without): two values at one timestamp are two
    # samples, as CloudWatch counts them; the same datapoint read again — the same file, a stream
    # record re-read, a redelivery through another channel — is one
    "metrics": (f"{PREFIX}series_id", "timestamp", "sample_count", "sum", "min", "max", f"{PREFIX}origin"),
    "logs": ("logGroup", "logStream", "id"),
    "records": ("streamName", "shardId", "sequenceNumber"),
}
"""The stable key of each raw table: loading the same input twice yields each key once."""

EVENT_TIME: dict[str, str] = {
    "cloudtrail": "eventTime",
    "metrics": "timestamp",
    "logs": "timestamp",
    "records": "approximateArrivalTimestamp",
}
"""The column partitions are derived from."""
