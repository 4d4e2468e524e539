"""Build the one native module: pipeline.sources._jsoncols (JSON → Arrow buffers, with yyjson).

Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "pipeline.sources._jsoncols",
    sources=["pipeline/sources/_jsoncols.c", "pipeline/sources/vendor/yyjson/yyjson.c"],
    include_dirs=["pipeline/sources/vendor/yyjson"],
    extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],  # warning-free: keep it so
)])
