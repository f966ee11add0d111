# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
# Each step says what it does in one line; pip's own output goes to $(LOG), shown on failure.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOG := $(VENV)/install.log
# The extras a developer's environment holds (a comma here would split $(call)'s arguments).
EXTRAS := test,docs

.PHONY: demo test lint typecheck clean dashboard bench conformance validator-env fuzz docs docs-build

# Run a command with its output in $(LOG); on failure show the log's end and stop.
# The editable install sets PYTHONWARNINGS against setuptools' "Editable installation" note
# (an InformationOnly message pip prints as a warning for any layout like ours, where
# connectors/ and app/ map into the mlcost package); a real packaging warning is shown.
logged = $(1) >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo "make: failed: $(1) (whole log: $(LOG))"; exit 1; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "setup: creating the environment $(VENV) with $$($(PYTHON) --version)"; \
		$(PYTHON) -m venv $(VENV); }
	@: >$(LOG)
	@echo "setup: upgrading pip in $(VENV)"
	@$(call logged,$(BIN)/python -m pip install --upgrade pip)
	@echo "setup: installing mlcost and its test and docs tools (a few minutes the first time; log: $(LOG))"
	@$(call logged,PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install -e '.[$(EXTRAS)]')
	@! grep -A12 'BuildBackendWarning' $(LOG) || echo "setup: packaging warnings above (log: $(LOG))"
	@touch $(STAMP)
	@echo "setup: done: $$($(BIN)/mlcost --version) in $(VENV)"

## demo: build a store from the sample organisation and print what mlcost sees
demo: $(STAMP)
	@echo "demo: building the demo store build/demo/mlcost.duckdb from the sample organisation"
	@mkdir -p build/demo
	@cd build/demo && ../../$(BIN)/mlcost demo

# pytest's workers (pytest-xdist): `logical` is one per CPU the machine shows (`auto` would
# count physical cores where psutil is installed: one on a 2-vCPU machine); 0 runs the tests
# in this one process, as `pytest` alone does. The tests of one file run on one worker, so a
# module-scoped fixture (a Spark session, a moto organisation) is built once.
TEST_WORKERS ?= logical

## test: linter, type checker, the documentation site (strict), the FOCUS validator's venv
## (these four side by side, each one's output shown whole when it ends), then the test suite
## on every core
test: $(STAMP)
	@$(MAKE) --no-print-directory --jobs=4 --output-sync=target lint typecheck docs-build validator-env
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

## docs: regenerate the reference pages from the code, then build the site into build/site
docs: $(STAMP)
	$(BIN)/python docs/gen_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "docs: open build/site/index.html, or serve it with $(BIN)/mkdocs serve"

# The site as committed, in strict mode: a broken link, a missing page or a page left out
# of the nav fails (tests/test_docs.py fails when the generated pages are stale).
docs-build: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The FinOps Foundation's focus-validator in its own venv (.venv-validator, Python 3.12).
# Exit 3 means this machine has no Python 3.12: the conformance tests then skip, saying so.
validator-env:
	bash conformance/validator.sh || [ $$? -eq 3 ]

## conformance: our FOCUS export checked by focus-validator (see docs/development.md)
conformance: $(STAMP)
	bash conformance/validator.sh
	$(BIN)/python -m pytest -q -s tests/test_conformance.py

## fuzz: the billing loaders' property tests, long (400 generated files per format)
fuzz: $(STAMP)
	MLCOST_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/test_properties.py

lint: $(STAMP)
	$(BIN)/ruff check src connectors app tests bench conformance docs
	$(BIN)/ruff format --check src connectors app tests bench conformance docs

typecheck: $(STAMP)
	$(BIN)/mypy src/mlcost connectors app conformance/check.py docs/gen_reference.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

## dashboard: serve the dashboard on http://localhost:8501 for ./mlcost.duckdb (or $MLCOST_DB)
dashboard: $(STAMP)
	$(BIN)/mlcost dashboard

## bench: the benchmark suite (1M, 10M, 50M billing rows; see docs/performance.md)
bench: $(STAMP)
	$(BIN)/python bench/suite.py
