# PostalOps: `make run` serves the portal with demo data on embedded defaults (SQLite, in-process
# broker); `make test` runs every test (core + plugins). Set POSTALOPS_DATABASE_URL /
# POSTALOPS_REDIS_URL to run against PostgreSQL and Redis.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.postalops-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(addprefix -e ,$(PLUGIN_DIRS))
	touch $(STAMP)

# The demo's records sit on the article's dates (autumn 2022): open the dashboards there.
run: export POSTALOPS_DASHBOARD_PERIOD ?= 2022-08-01/2022-09-30
run: install

	$(BIN)/postalops demo --if-empty
	$(BIN)/postalops serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest tests $(addsuffix /tests,$(PLUGIN_DIRS)) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core dashboards tests
	$(BIN)/mypy

bench: install
	set -e; for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done


clean:
	rm -rf $(VENV) instance test-artifacts
