"""CloudWatch-faithful alarms: model, validation, evaluation, composite rules, state and history.

Modules: :mod:`.model` (MetricAlarm / CompositeAlarm), :mod:`.validate` (PutMetricAlarm documents
from YAML/JSON), :mod:`.missing` (M-of-N with TreatMissingData), :mod:`.rule` (AlarmRule
language), :mod:`.reason` (StateReason wording), :mod:`.source` (datapoint fetching),
:mod:`.evaluate` (pure evaluation), :mod:`.store` (definitions, state, history in the lake),
:mod:`.engine` (evaluate/replay with actions).

Lake layout and the columns the SQL views expose:

``alarms/definitions.json``
    JSON array of the PutMetricAlarm / PutCompositeAlarm documents as put, each with
    ``AlarmConfigurationUpdatedTimestamp`` added.

``alarms/state.json`` (view ``alarm_state``) — JSON array, one object per alarm:
    ``alarm_name`` (str), ``alarm_type`` (``MetricAlarm`` | ``CompositeAlarm``), ``alarm_arn``,
    ``state_value`` (``OK`` | ``ALARM`` | ``INSUFFICIENT_DATA``), ``state_reason`` (str),
    ``state_reason_data`` (JSON text or null), ``state_updated_timestamp``,
    ``state_transitioned_timestamp``, ``last_evaluated`` (ISO 8601 UTC strings),
    ``actions_enabled`` (bool).

``alarms/history/dt=YYYY-MM-DD/part-*.parquet`` (table and view ``alarm_history``), one row per item:
    ``alarm_name`` string, ``alarm_type`` string, ``timestamp`` timestamp[ms, UTC],
    ``history_item_type`` string (``StateUpdate`` | ``Action`` | ``ConfigurationUpdate``),
    ``history_summary`` string (e.g. ``Alarm updated from OK to ALARM``), ``history_data`` string
    (JSON as DescribeAlarmHistory returns it), ``old_state`` / ``new_state`` string (null for
    non-state items), ``state_reason`` string, ``state_reason_data`` string (JSON),
    ``origin`` string (``evaluate`` | ``replay`` | ``set-state`` | ``put``).
"""

from __future__ import annotations
