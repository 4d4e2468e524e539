"""Metric rollups: 1m / 5m / 1h tiers of mergeable partials, retention, CloudTrail activity.

Tables (``pipeline/lake/layout.py``): ``metrics_1m`` (``rollups/metrics_1m/dt=…``, built from
raw ``metrics`` and from ``cloudtrail`` activity), ``metrics_5m`` (``dt=…``, from 1m) and
``metrics_1h`` (``month=YYYY-MM``, from 5m). One row per series and bucket
(:data:`pipeline.rollup.schema.ROLLUP`):

================  =====================================================================
column            meaning and guarantee
================  =====================================================================
_wl_series_id     series id: namespace + metric + exact dimension set + unit
                  (:func:`pipeline.sources.cloudwatch.series_id`)
namespace         CloudWatch namespace
metric_name       metric name
dimensions        canonical JSON object, keys sorted (``{}`` for none)
unit              CloudWatch unit string (``None`` when not given); units never mix
timestamp         bucket start, UTC; buckets are half-open ``[timestamp, timestamp+period)``
                  and aligned to UTC epoch multiples of the period
period            60, 300 or 3600 (seconds)
sample_count      Σ SampleCount of the samples in the bucket (datapoints and statistic sets)
sum / min / max   Σ Sum, min Minimum, max Maximum — merged, never averaged
sketch_bins       ``list<int32>``: the DDSketch-style log bins holding the samples
                  (:mod:`pipeline.rollup.sketch`, α = 1 %), strictly ascending (ascending
                  bin = ascending value; negative, zero and positive values)
sketch_bin_counts ``list<double>``, parallel to ``sketch_bins``: samples per bin
sketch_count      samples represented in the sketch; ``pNN`` is answered only where it
                  equals ``sample_count``
================  =====================================================================

Higher tiers merge partials: ``SampleCount`` and ``Sum`` add, ``Minimum``/``Maximum`` take the
min/max, the counts of equal sketch bins add. Count/min/max of a 5m bucket built from 1m rows therefore
equal those built from raw exactly; ``Sum`` is equal exactly whenever the partial sums are exact
in float64 (integers, counts, values with a few binary digits) and otherwise differs only by
float64 rounding of the additions (relative ≤ n·2⁻⁵³). Average is ``sum / sample_count`` at
query time. Percentiles come from the sketch with relative error ≤ 1 % at every tier.

Statistic sets (Metric Streams, PutMetricData ``StatisticValues``) merge into
count/sum/min/max exactly like datapoints. They enter the sketch only in CloudWatch's
documented cases (``min = max`` and ``sum = min × SampleCount``, which includes every single
datapoint); ``values``/``counts`` lists always enter it. A bucket with any other statistic set
has ``sketch_count < sample_count`` and returns no percentile, as CloudWatch returns none.
(Deviation: CloudWatch also refuses percentiles when a value is negative; the sketch handles
negative values, so we answer them.)

Modules: :mod:`~pipeline.rollup.sketch` (the sketch), :mod:`~pipeline.rollup.schema`,
:mod:`~pipeline.rollup.tiers` (jobs, partition ranges; the tier chain is validated in
:mod:`pipeline.config`), :mod:`~pipeline.rollup.sql` (DuckDB queries incl. CloudTrail activity),
:mod:`~pipeline.rollup.merge` (building and merging sketches in numpy),
:mod:`~pipeline.rollup.assemble` (output order, series identity, merged partials),
:mod:`~pipeline.rollup.engine`,
:mod:`~pipeline.rollup.runner` (incremental, idempotent, atomic rebuilds with the recompute
window), :mod:`~pipeline.rollup.incremental` (the bucket-level step ``watchlake run`` takes),
:mod:`~pipeline.rollup.chunks` (chunk and bucket files inside a tier partition),
:mod:`~pipeline.rollup.scan` (what new source files hold), :mod:`~pipeline.rollup.narrow`
(recomputing only the series late data touched),
:mod:`~pipeline.rollup.state`, :mod:`~pipeline.rollup.retention`.
"""
