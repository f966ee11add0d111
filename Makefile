# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck clean dashboard bench conformance validator-env fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: build a store from the sample organisation and print what mlcost sees
demo: $(STAMP)
	mkdir -p build/demo
	cd build/demo && ../../$(BIN)/mlcost demo

## test: linter, type checker, the FOCUS validator's venv, then the test suite
test: $(STAMP) lint typecheck validator-env
	$(BIN)/python -m pytest -q

# The FinOps Foundation's focus-validator in its own venv (.venv-validator, Python 3.12).
# Exit 3 means this machine has no Python 3.12: the conformance tests then skip, saying so.
validator-env:
	bash conformance/validator.sh || [ $$? -eq 3 ]

## conformance: our FOCUS export checked by focus-validator (see README "Conformance")
conformance: $(STAMP)
	bash conformance/validator.sh
	$(BIN)/python -m pytest -q -s tests/test_conformance.py

## fuzz: the billing loaders' property tests, long (400 generated files per format)
fuzz: $(STAMP)
	MLCOST_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/test_properties.py

lint: $(STAMP)
	$(BIN)/ruff check src connectors app tests bench conformance
	$(BIN)/ruff format --check src connectors app tests bench conformance

typecheck: $(STAMP)
	$(BIN)/mypy src/mlcost connectors app conformance/check.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

## dashboard: serve the dashboard on http://localhost:8501 for ./mlcost.duckdb (or $MLCOST_DB)
dashboard: $(STAMP)
	$(BIN)/mlcost dashboard

## bench: the benchmark suite (1M, 10M, 50M billing rows; see README "Performance")
bench: $(STAMP)
	$(BIN)/python bench/suite.py
