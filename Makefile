# Two entry points on a fresh machine with only python3 and make:
#   make demo   creates .venv, installs, runs a demo batch with a progress bar
#   make test   installs the dev extras and runs the whole suite (lint, types, tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit docs bench bench-llm clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[dev,server,postgres]"
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p .taskfleet
	$(BIN)/python examples/make_demo.py > .taskfleet/demo.jsonl
	$(BIN)/taskfleet run .taskfleet/demo.jsonl -j 8 --retry-delay 0.1; \
	  code=$$?; echo "demo batch finished with exit code $$code (failed tasks are part of the demo)"; \
	  $(BIN)/taskfleet jobs
	@job=$$($(BIN)/taskfleet jobs --json --limit 1 \
	  | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)[0]["job_id"])'); \
	echo; \
	echo "taskfleet is installed in $(BIN); put it on your PATH in this shell with:"; \
	echo "  . $(BIN)/activate"; \
	echo "then look around:"; \
	echo "  taskfleet failed $$job     # the demo's failures, with their errors"; \
	echo "  taskfleet status $$job     # its counts and times"; \
	echo "  taskfleet --help"; \
	echo "or call it by its path: $(BIN)/taskfleet failed $$job"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

# `docs` is also a directory: without .PHONY, make would call it up to date and succeed.
docs:
	$(PYTHON) examples/check_links.py README.md docs

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

test: lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py

bench-llm: $(STAMP)
	$(BIN)/python bench/bench_llm.py

clean:
	rm -rf $(VENV) .taskfleet .pytest_cache .mypy_cache .ruff_cache
