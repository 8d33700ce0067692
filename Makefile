# cohortlab: two commands on a fresh machine with Python >= 3.11.
#   make demo   create .venv, install cohortlab, run the demo study and the two bundled
#               study protocols (NHEFS, simulated wearable cohort) into out/demo/
#   make test   create .venv, install the test extras, run the test suite
#   make docs   build the documentation site strictly (warnings fail) into out/site/
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test test-slow lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m cohortlab.demo --out out/demo
	$(BIN)/cohortlab run src/cohortlab/protocol/examples/nhefs.toml --out out/demo/nhefs --overwrite
	$(BIN)/cohortlab run src/cohortlab/protocol/examples/wearable.toml --out out/demo/wearable --overwrite

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks analyses

bench: $(VENV)/.installed-dev
	$(PIP) install --quiet -e ".[dev,bench]"
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python benchmarks/run_all.py --out out/bench/summary.md $(BENCH_ARGS)

docs: $(VENV)/.installed-dev
	$(BIN)/python -m mkdocs build --strict --site-dir out/site

clean:
	rm -rf $(VENV) out .pytest_cache
