# watchlake — `make demo` then `make test` on a fresh Debian/Ubuntu machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= ./lake
export DEBIAN_FRONTEND := noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast lint layers typecheck java chromium toolchain install sample-data bench clean

# Python packages: one version set that resolves with apache-flink's pins (constraints.txt),
# plus the native modules (pipeline/sources/_jsoncols.c, pipeline/rollup/_sketchmerge.c, pipeline/rollup/_rawgroup.c, pipeline/anomaly/_art*.c, _seq*.c, _mv*.c), compiled by the editable install.
$(BIN)/.installed: pyproject.toml constraints.txt setup.py pipeline/sources/_jsoncols.c pipeline/rollup/_sketchmerge.c pipeline/rollup/_rawgroup.c pipeline/anomaly/_art.c pipeline/anomaly/_art_state.c pipeline/anomaly/_art.h pipeline/anomaly/_seq.c pipeline/anomaly/_seq_state.c pipeline/anomaly/_seq.h pipeline/anomaly/_mv.c pipeline/anomaly/_mv_model.c pipeline/anomaly/_mv_state.c pipeline/anomaly/_mv.h pipeline/anomaly/_pylist.h pipeline/anomaly/_pyread.h | toolchain
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[flink,dashboards,s3,dev]'
	@touch $@

install: $(BIN)/.installed java

# A C compiler and the Python headers for the native module; apt when missing.
toolchain:
	@command -v cc >/dev/null || { echo "installing a C compiler (apt)"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev; }
	@$(PYTHON) -c "import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
	  || { echo "installing the Python headers (apt)"; apt-get update -qq && \
	       apt-get install -y -qq --no-install-recommends python3-dev; }

# PyFlink needs a JDK (11 or 17); install one through apt when `java` is missing.
java:
	@command -v java >/dev/null || { echo "installing a JDK for PyFlink (apt)"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }
	@java -version 2>&1 | head -1

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium (apt)"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
	@chromium --version 2>/dev/null | head -1

demo: install
	$(BIN)/watchlake --lake $(LAKE) demo

# The whole suite (one pytest-xdist worker per core; the Flink and Chromium tests one at a time on
# one of them), then the source, loader and anomaly tests once more on the pure-Python paths (the
# ones a checkout without the native modules takes).
test: install chromium
	$(BIN)/ruff check pipeline jobs dashboards tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto --dist loadgroup
	WATCHLAKE_NATIVE=0 $(BIN)/python -m pytest -q -m "not slow" tests/pipeline/sources tests/pipeline/loader \
	  tests/pipeline/anomaly \
	  --ignore=tests/pipeline/sources/test_jsoncols.py --ignore=tests/pipeline/sources/test_cloudtrail_typed.py

test-fast: install
	$(BIN)/python -m pytest -q -n auto -m "not slow and not flink and not e2e"

# The layers read in one direction: pipeline/ imports neither jobs/ nor dashboards/, no cycle between
# its packages, jobs/ never imports dashboards/ (an import-graph test; part of `make test` too).
layers: install
	$(BIN)/python -m pytest -q tests/test_layers.py

lint: install
	$(BIN)/ruff check pipeline jobs dashboards tests benchmarks
	$(BIN)/mypy

sample-data: install
	$(BIN)/watchlake sample-data regenerate

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(LAKE) ./streams test-results
