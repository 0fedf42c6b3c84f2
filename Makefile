# The README's two commands: `make run` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint setup services browser-app clean

# The verifier (verifier/, its own distribution) first: the server depends on it and no index has it.
$(STAMP): pyproject.toml verifier/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e "./verifier[flask,test]" -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

## Set up, migrate the SQLite database, generate a dev key, seed the demo user/client, serve on :8000.
## Development mode, explicitly: the Docker image defaults to production.
run: export AUTHSERVER_ENV := development
run: $(STAMP)
	$(BIN)/authserver db upgrade
	$(BIN)/authserver demo seed
	$(BIN)/gunicorn -c python:authserver.gunicorn_config --workers 2 --bind 127.0.0.1:8000 "authserver:create_app()"

## examples/browser_app on 127.0.0.1:8002, beside `make run` (:8000) and the resource service (:8001); see its README.
browser-app: $(STAMP)
	BROWSER_APP_ISSUER=http://127.0.0.1:8000 BROWSER_APP_RESOURCE=http://127.0.0.1:8001 \
		$(BIN)/gunicorn --workers 1 --bind 127.0.0.1:8002 "examples.browser_app.app:create_app()"

## Set up and run the whole suite on SQLite and PostgreSQL (starting local services if needed), after
## the static checks (ruff, ruff format, mypy for the server and, strict, for the verifier). `services` also
## installs Debian's chromium when it is missing (.ci/browser), for the browser tests (`pytest -m browser`).
## pytest's testpaths include verifier/tests, and tests/e2e/test_verifier_distribution.py installs the verifier
## alone into a fresh virtualenv and runs its tests there.
test: lint services
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd verifier && ../$(BIN)/mypy

services:
	@.ci/services
	@.ci/browser

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache verifier/.mypy_cache
