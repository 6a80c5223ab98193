# The two commands a new user needs are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1
STAMP := $(VENV)/.synced

.PHONY: help env run test lint typecheck migrations-check pytest fmt requirements messages demo db migrate bench services urls test-outage

help:
	@echo "make run   - set everything up and run the API server, Celery worker and beat"
	@echo "make test  - lint, types, migrations check and the full test suite"

# uv is installed with pip when missing; the environment is synced from the hashed pins.
$(STAMP): requirements.txt requirements-dev.txt
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@test -x $(BIN)/python || uv venv --quiet --python $(PYTHON) $(VENV)
	uv pip sync --quiet --python $(BIN)/python --require-hashes requirements-dev.txt
	@touch $(STAMP)

env: $(STAMP)

# Starts PostgreSQL and Redis when installed but stopped; says what to install when missing.
services:
	@.ci/start-services

db: env services
	$(BIN)/python manage.py ensure_database

migrate: db
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py load_demo

# The addresses README.md lists (tests/test_make_run.py checks that each answers).
urls:
	@echo "  Start page:        http://127.0.0.1:8000/"
	@echo "  API root:          http://127.0.0.1:8000/api/v1/"
	@echo "  Interactive docs:  http://127.0.0.1:8000/api/v1/docs/"
	@echo "  ReDoc:             http://127.0.0.1:8000/api/v1/redoc/"
	@echo "  OpenAPI schema:    http://127.0.0.1:8000/api/v1/schema/"
	@echo "  Admin:             http://127.0.0.1:8000/admin/"
	@echo "  Health:            http://127.0.0.1:8000/healthz"

run: demo
	@echo
	@$(MAKE) -s urls
	@echo "  (Ctrl-C stops the server, the worker and beat)"
	@echo
	$(BIN)/honcho start -f Procfile.dev

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy .

migrations-check: env
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

pytest: env
	$(BIN)/pytest -q

test: lint typecheck migrations-check pytest

# Redis stopped for 60 s with requests in flight and a real worker, then a Redis that never
# answers; PostgreSQL (a cluster of the test's own) restarted 6 times under load, fast and
# immediate in turn (`make test` runs the same tests with an 8 s outage and 2 restarts);
# prints the figures.
test-outage: env
	FAULT_OUTAGE_SECONDS=$${FAULT_OUTAGE_SECONDS:-60} DB_RESTARTS=$${DB_RESTARTS:-6} \
		$(BIN)/pytest -q -s tests/test_redis_outage.py tests/test_database_restart.py

fmt: env
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: env
	$(BIN)/python manage.py compilemessages --ignore=.venv

# Recompile the pins after changing pyproject.toml (no download addresses are written).
requirements:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -q -o requirements.txt
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -q -o requirements-dev.txt
