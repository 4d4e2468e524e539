"""CloudWatch Logs metric filters: log events that match a filter pattern become metric datapoints.

:mod:`~pipeline.metricfilters.pattern` parses and matches filter patterns (terms, JSON,
space-delimited); :mod:`~pipeline.metricfilters.model` validates PutMetricFilter definitions and
keeps them in the lake; :mod:`~pipeline.metricfilters.apply` turns log events into ``metrics``
rows, exactly once per event (:class:`~pipeline.metricfilters.apply.FilterFollower`, the live
stage of ``watchlake run``).
"""
