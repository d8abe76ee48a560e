# Orchestrator — the two commands: `make run` and `make test`.
# Both install what is missing first (a virtualenv in .venv, Python and npm
# packages, the front-end build) and reuse it on the next call.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP_PY := $(VENV)/.installed
STAMP_NPM := frontend/node_modules/.installed
BUILD := static/build/app.js
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) $(wildcard frontend/*.json frontend/*.ts frontend/*.html)
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || true)

.PHONY: run test lint-imports test-python test-frontend test-postgres install build migrate bench clean help

help:
	@echo "make run    install what is missing, then start Redis (embedded), a Celery worker and daphne on :8000"
	@echo "make test   the whole suite: front-end unit tests, then every Python test (browser tests need chromium)"
	@echo "make bench  the engine benchmark (bench/engine.py)"

$(STAMP_PY): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(STAMP_NPM): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BUILD): $(STAMP_NPM) $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent

install: $(STAMP_PY) $(STAMP_NPM)

build: $(BUILD)

migrate: $(STAMP_PY)
	$(PY) manage.py migrate --noinput -v0

run: install build migrate
	$(PY) manage.py bootstrap_demo
	$(PY) manage.py serve

test: install build lint-imports test-frontend test-python

# The layering (.importlinter): the engine imports nothing from editor/ or evaluation/.
lint-imports: $(STAMP_PY)
	$(VENV)/bin/lint-imports --no-cache

test-frontend: $(STAMP_NPM)
	cd frontend && npm test --silent

test-python: $(STAMP_PY) $(BUILD)
	@if [ -z "$(CHROMIUM)" ]; then \
	  echo ""; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo "!!  No Chromium found: the browser tests will be SKIPPED.                    !!"; \
	  echo "!!  Install Debian's chromium (apt-get install chromium) or set CHROMIUM=path. !!"; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo ""; \
	fi
	# The fault suite (killed workers, Redis restarts and flushes) and the fuzz
	# pass each run in a pytest process of their own, with their own Redis and
	# test database: run in one process with the rest, tests after them failed.
	CHROMIUM="$(CHROMIUM)" $(PY) -m pytest --ignore=tests/faults --ignore=tests/fuzz $(PYTEST_ARGS)
	$(PY) -m pytest tests/fuzz $(PYTEST_ARGS)
	$(PY) -m pytest tests/faults $(PYTEST_ARGS)

# The database-dependent tests again on PostgreSQL (DATABASE_URL must point at a server).
test-postgres: $(STAMP_PY) $(BUILD)
	@test -n "$(DATABASE_URL)" || (echo "set DATABASE_URL=postgres://user@host:5432/db" && exit 2)
	DATABASE_URL="$(DATABASE_URL)" $(PY) -m pytest -m "not browser" --ignore=tests/faults --ignore=tests/fuzz $(PYTEST_ARGS)
	DATABASE_URL="$(DATABASE_URL)" $(PY) -m pytest tests/fuzz $(PYTEST_ARGS)
	DATABASE_URL="$(DATABASE_URL)" $(PY) -m pytest tests/faults $(PYTEST_ARGS)

bench: install build migrate
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) frontend/node_modules static/build var
