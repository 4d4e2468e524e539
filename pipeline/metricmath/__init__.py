"""CloudWatch metric math: :mod:`~pipeline.metricmath.parse` (syntax, the functions accepted) and
:mod:`~pipeline.metricmath.evaluate` (kinds and values over a grid of windows). Used by alarms
(:mod:`pipeline.alarms`) and by GetMetricData requests (:mod:`pipeline.query.metricdata`); depends
on nothing else of the pipeline but its errors."""
