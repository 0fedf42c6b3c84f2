# The README's two commands: `make run` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint setup services browser-app third-party-app clean

# The verifier (verifier/, its own distribution) first: the server depends on it and no index has it.
$(STAMP): pyproject.toml verifier/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e "./verifier[flask,test]" -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

## Set up, migrate the SQLite database, generate a dev key, seed the demo users/clients, serve on :8000 (`authserver
## serve`, the production command, with 2 workers), and
## the example resource service (examples/resource_service, the article's GET /user/data) on :8001 beside it.
## The resource service answers CORS for examples/browser_app (`make browser-app`, :8002), for which the demo
## seed registers client demo-spa; it also registers demo-third-party for examples/third_party_app (`make
## third-party-app`, :8003), which calls the resource service from its server (no CORS). Ctrl-C stops both.
## Development mode, explicitly: the Docker image defaults to production.
## `make run PORT=8100 RESOURCE_PORT=8101` moves both (the issuer follows PORT). The server's other two
## listeners (docs/operations.md): the management one (/livez, /readyz, /metrics, /version) on
## 127.0.0.1:$(MANAGEMENT_PORT) and the admin API on 127.0.0.1:$(ADMIN_PORT); Ctrl-C stops at once (no drain).
PORT            ?= 8000
RESOURCE_PORT   ?= 8001
MANAGEMENT_PORT ?= 9000
ADMIN_PORT      ?= 9001
run: export AUTHSERVER_ENV := development
run: export AUTHSERVER_MANAGEMENT_BIND ?= 127.0.0.1:$(MANAGEMENT_PORT)
run: export AUTHSERVER_ADMIN_BIND ?= 127.0.0.1:$(ADMIN_PORT)
run: export AUTHSERVER_ISSUER ?= http://127.0.0.1:$(PORT)
run: export RESOURCE_ISSUER = $(AUTHSERVER_ISSUER)
run: export RESOURCE_AUDIENCE = $(AUTHSERVER_ISSUER)
run: export RESOURCE_CORS_ORIGINS ?= http://127.0.0.1:8002
run: $(STAMP)
	$(BIN)/authserver db upgrade
	$(BIN)/authserver demo seed
	trap 'kill $$resource 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/gunicorn -c python:authserver.gunicorn_config --workers 1 --bind 127.0.0.1:$(RESOURCE_PORT) "examples.resource_service.app:create_app()" & resource=$$!; \
	$(BIN)/authserver serve --workers 2 --bind 127.0.0.1:$(PORT)

## examples/browser_app on 127.0.0.1:8002, beside `make run` (:8000) and the resource service (:8001); see its README.
browser-app: $(STAMP)
	BROWSER_APP_ISSUER=http://127.0.0.1:8000 BROWSER_APP_RESOURCE=http://127.0.0.1:8001 \
		$(BIN)/gunicorn --workers 1 --bind 127.0.0.1:8002 "examples.browser_app.app:create_app()"

## examples/third_party_app on 127.0.0.1:8003, beside `make run` (:8000, :8001): a web app signing users in with the
## authorization code flow (PKCE, OpenID Connect) as the confidential client demo-third-party of the demo seed.
## It gives that client a fresh secret as it starts (`authserver demo third-party-secret`, the same development
## database as `make run`); see its README.
third-party-app: export AUTHSERVER_ENV := development
third-party-app: $(STAMP)
	@secret=$$($(BIN)/authserver demo third-party-secret) || exit 1; \
	export THIRD_PARTY_APP_CLIENT_SECRET=$$secret THIRD_PARTY_APP_CLIENT_ID=demo-third-party \
		THIRD_PARTY_APP_ISSUER=http://127.0.0.1:8000 THIRD_PARTY_APP_RESOURCE=http://127.0.0.1:8001 \
		THIRD_PARTY_APP_URL=http://127.0.0.1:8003; \
	echo "third-party app on http://127.0.0.1:8003 (sign in as demo, with the password make run printed)"; \
	exec $(BIN)/gunicorn --workers 1 --bind 127.0.0.1:8003 "examples.third_party_app.app:create_app()"

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
