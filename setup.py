"""Build the native modules: pipeline.sources._jsoncols (JSON → Arrow buffers, with yyjson) and
pipeline.rollup._sketchmerge (merging columnar quantile sketches) and pipeline.rollup._rawgroup
(grouping raw datapoints into buckets in one pass) and pipeline.anomaly._art (the adaptive-resonance
anomaly judge after its probation), pipeline.anomaly._seq (the sequence judge, SequenceModel) and
pipeline.anomaly._mv (the multiview detector's surprise and learning, with its forecaster and
calibrator).

Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra"]  # warning-free: keep it so
EXACT = [*FLAGS, "-ffp-contract=off"]  # bit for bit the Python's arithmetic: no fused a*b+c
SHARED = ["pipeline/anomaly/_pylist.h", "pipeline/anomaly/_pyread.h"]  # the judges' state writers and readers

setup(ext_modules=[
    Extension("pipeline.sources._jsoncols",
              sources=["pipeline/sources/_jsoncols.c", "pipeline/sources/vendor/yyjson/yyjson.c"],
              include_dirs=["pipeline/sources/vendor/yyjson"], extra_compile_args=FLAGS),
    Extension("pipeline.rollup._sketchmerge", sources=["pipeline/rollup/_sketchmerge.c"], extra_compile_args=FLAGS),
    Extension("pipeline.rollup._rawgroup", sources=["pipeline/rollup/_rawgroup.c"], extra_compile_args=FLAGS),
    Extension("pipeline.anomaly._art", sources=["pipeline/anomaly/_art.c", "pipeline/anomaly/_art_state.c"],
              depends=["pipeline/anomaly/_art.h", *SHARED], extra_compile_args=FLAGS),
    Extension("pipeline.anomaly._seq", sources=["pipeline/anomaly/_seq.c", "pipeline/anomaly/_seq_state.c"],
              depends=["pipeline/anomaly/_seq.h", *SHARED], extra_compile_args=EXACT),
    Extension("pipeline.anomaly._mv", sources=["pipeline/anomaly/_mv.c", "pipeline/anomaly/_mv_model.c",
                                               "pipeline/anomaly/_mv_state.c"],
              depends=["pipeline/anomaly/_mv.h", *SHARED], extra_compile_args=EXACT),
])
