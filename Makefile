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

.PHONY: install run test lint fuzz bench catalogs clean

install: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(addprefix -e ,$(PLUGIN_DIRS))
	touch $(STAMP)

# The demo keeps the article's period (autumn 2022) and a rolling present up to today; each
# start extends the present to today (a first build takes about 3 minutes, a later one seconds).
run: install
	$(BIN)/postalops demo
	$(BIN)/postalops serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest tests $(addsuffix /tests,$(PLUGIN_DIRS)) $(PYTEST_ARGS)

# Schemathesis over every documented operation with an admin and a city token, bounded (a few
# minutes, fixed seed); fails on any 5xx or response that breaks its schema (docs/api.md).
FUZZ_ARGS ?=
fuzz: install
	env -u POSTALOPS_DATABASE_URL -u POSTALOPS_REDIS_URL $(BIN)/python tools/fuzz_api.py $(FUZZ_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core dashboards tests
	$(BIN)/mypy

# Each benchmark prints its figure beside a reference measured in the same run on the same data;
# docs/benchmarks.md records the results. PostgreSQL ones use a database of their own.
BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432
BENCH_DEMO10 ?= /tmp/postalops-demo-scale10
bench: install
	for db in bench_outcall bench_payroll bench_lending bench_sorter bench_ecommerce; do \
	  createdb -h 127.0.0.1 -U postgres $$db 2>/dev/null || true; done
	$(BIN)/python bench/bench_core_scope.py
	$(BIN)/python bench/bench_rls_policy.py
	$(BIN)/python bench/bench_request_path.py
	$(BIN)/python bench/bench_portal.py
	$(BIN)/python bench/bench_portal.py --db $(BENCH_PG)/bench_portal
	$(BIN)/python bench/bench_outcall.py --db $(BENCH_PG)/bench_outcall
	$(BIN)/python bench/bench_pickup_points.py
	$(BIN)/python bench/bench_siting.py
	$(BIN)/python bench/bench_sorter.py --db $(BENCH_PG)/bench_sorter --days 7
	$(BIN)/python bench/bench_ecommerce.py --db $(BENCH_PG)/bench_ecommerce
	$(BIN)/python bench/bench_lending.py --db $(BENCH_PG)/bench_lending
	$(BIN)/python bench/bench_payroll.py --db $(BENCH_PG)/bench_payroll --memory-check --ingest 50000 --repeat 5
	POSTALOPS_INSTANCE_PATH=$(BENCH_DEMO10) $(BIN)/postalops demo --scale 10 --if-empty
	$(BIN)/python bench/bench_metrics.py --instance $(BENCH_DEMO10)

# Translation catalogues, one domain per plugin: merge the code's strings into each zh_CN/en
# catalogue of the core and every installed plugin, then compile (fails when Chinese is missing).
catalogs: install
	$(BIN)/postalops catalogs update || true
	$(BIN)/postalops catalogs compile

clean:
	rm -rf $(VENV) instance test-artifacts
