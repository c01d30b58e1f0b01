# The two commands: `make run` (the platform with a demo project) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export WEB_HOST WEB_PORT
FRONTEND_SRC := $(shell find frontend/src -type f) frontend/index.html frontend/vite.config.ts frontend/tsconfig.json

.PHONY: run test install frontend migrate seed lint check-ci api-types check-api-types clean

# DEBUG is off unless set: the embedded setup turns it on (the tests do in pyproject.toml).
run seed migrate check-ci api-types check-api-types: export DEBUG ?= 1

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && npm run build

install: $(VENV)/.installed frontend
frontend: frontend/dist/index.html

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	@echo
	@echo "  Platform: http://$(WEB_HOST):$(WEB_PORT)/   API docs: http://$(WEB_HOST):$(WEB_PORT)/api/docs/"
	@echo "  Ctrl-C stops web, worker and beat."
	@echo
	$(VENV)/bin/honcho start -f Procfile

# Tests get their own broker folder so that a running `make run` worker never takes their tasks.
test: install
	CELERY_BROKER_DIR=$${CELERY_BROKER_DIR:-var/test-broker} $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

check-ci: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yml

# The frontend's API types (frontend/src/generated/openapi.d.ts), generated from the OpenAPI schema:
# `make api-types` after a change to what the API sends; `make check-api-types` fails while they are stale.
# The schema is generated against SQLite whatever DATABASE_URL says: Django bounds integer fields by
# the database's range (PostgreSQL's are 32-bit), and the schema's int64 formats would follow it.
API_TYPES := frontend/src/generated/openapi.d.ts
SCHEMA_DB := DATABASE_URL=sqlite:///$(CURDIR)/var/schema-db.sqlite3
api-types: install
	$(SCHEMA_DB) $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yml
	cd frontend && npm run --silent gen:api

check-api-types: install
	$(SCHEMA_DB) $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yml
	cd frontend && OPENAPI_TS_OUT=../var/openapi.d.ts npm run --silent gen:api
	@diff -u $(API_TYPES) var/openapi.d.ts \
	  || { echo "$(API_TYPES) is stale: run make api-types and commit it"; exit 1; }

clean:
	rm -rf var/test-broker var/test-db.sqlite3* frontend/dist
