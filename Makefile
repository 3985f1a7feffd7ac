# Worklog. `make run` to try it, `make test` to test it. Every target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi.py

HOST ?= 127.0.0.1
PORT ?= 5000
BENCH_DEFAULT_URL := postgresql://postgres@127.0.0.1:5432/worklog_bench
BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),$(BENCH_DEFAULT_URL))

.PHONY: setup run run-sso test lint translations messages clean help bench loadtest screenshots faults
# Test processes (pytest-xdist): one per core by default; PYTEST_WORKERS=0 runs in this process.
PYTEST_WORKERS ?= auto
SCENARIO ?= quick

help:
	@echo "make run    set up, seed demo accounts on first start, serve on http://$(HOST):$(PORT)"
	@echo "            (with DATABASE_URL on PostgreSQL, a job worker runs beside it)"
	@echo "make test   set up, lint, and run the whole test suite on every core (PYTEST_WORKERS=0: one process)"
	@echo "make screenshots  pictures of the main screens in instance/screenshots/ (open gallery.html)"
	@echo "make setup  virtualenv + Python deps, npm assets, translations, database migrations"
	@echo "make lint   ruff"
	@echo "make faults the fault-injection suite alone: HAProxy, two gunicorns, a private PostgreSQL and"
	@echo "            Redis, faulted under load (FAULTS=sigkill,postgres-restart,... for some); part of make test"
	@echo "make messages  re-extract UI strings into the catalogs (then translate app/translations/ko)"
	@echo "make bench  seed 1,000 users + 1,000,000 entries into DATABASE_URL, else into the scratch database"
	@echo "            $(BENCH_DEFAULT_URL) (created if missing); load /log, search,"
	@echo "            filters, the list fragment, a repeat view (304), /health and a bare Flask app; print req/s,"
	@echo "            p50/p95, ratios, server CPU ms per request and bytes (BENCH_ARGS=--help)"
	@echo "make loadtest SCENARIO=quick|standard|stress [HOST=http://...]  locust against HOST, or a local"
	@echo "            gunicorn when HOST is not a URL; judged against p95 < 500 ms and errors < 1%"

setup: $(VENV)/.installed static/vendor/.installed translations
	@$(BIN)/flask db upgrade

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css
	@# Used only by the browser tests (injected by Playwright), never by a page.
	cp node_modules/axe-core/axe.min.js static/vendor/axe.min.js
	@touch $@

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d app/translations

messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o app/translations/messages.pot --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-pot-creation-date

run: setup
	@$(BIN)/flask demo seed >/dev/null
	@echo
	@echo "Worklog is starting on http://$(HOST):$(PORT)"
	@if [ -f instance/demo-logins.txt ]; then echo "Demo logins (role, email, password):"; cat instance/demo-logins.txt; fi
	@echo
	@# With PostgreSQL a job worker runs beside the web server (stopped with it); with SQLite
	@# jobs run inside the web process and there is nothing else to start.
	@if [ "$$($(BIN)/flask jobs backend 2>/dev/null)" = "queue" ]; then \
	  echo "Starting a job worker beside the web server (flask jobs worker)"; \
	  $(BIN)/flask jobs worker & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(BIN)/flask run --host $(HOST) --port $(PORT); \
	else \
	  $(BIN)/flask run --host $(HOST) --port $(PORT); \
	fi

# `make run` with company sign-in against a local OpenID provider (oidc-provider-mock, a dev
# dependency) on 127.0.0.1:$(OIDC_DEMO_PORT). Its login form takes any subject: "new.person" gets
# an account (corp.example is an allowed domain), "mina" is linked to the demo member by email.
OIDC_DEMO_PORT ?= 9400
run-sso: setup
	@$(BIN)/flask demo seed >/dev/null
	@echo "Company sign-in: press \"Sign in with Demo SSO\" and type new.person or mina as the subject."
	@$(BIN)/oidc-provider-mock --host 127.0.0.1 --port $(OIDC_DEMO_PORT) \
	  --user-claims '{"sub": "new.person", "email": "new.person@corp.example", "email_verified": true, "name": "New Person"}' \
	  --user-claims '{"sub": "mina", "email": "member@example.com", "email_verified": true, "name": "Mina Park"}' \
	  2>/dev/null & provider=$$!; trap "kill $$provider" EXIT INT TERM; \
	OIDC_PROVIDERS=demo OIDC_DEMO_ISSUER=http://127.0.0.1:$(OIDC_DEMO_PORT) OIDC_DEMO_LABEL="Demo SSO" \
	  OIDC_DEMO_CLIENT_ID=worklog-demo OIDC_DEMO_CLIENT_SECRET=demo-secret-not-for-production \
	  OIDC_ALLOWED_DOMAINS=corp.example $(BIN)/flask run --host $(HOST) --port $(PORT)

test: setup lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Also part of `make test`. FAULTS picks some: healthy, sigkill, sigterm, postgres-restart,
# postgres-freeze, redis, llm.
faults: setup
	WORKLOG_FAULTS=$(FAULTS) $(BIN)/pytest -p no:cacheprovider -q -n 0 -m faults tests/test_ops_faults.py $(PYTEST_ARGS)

# Pictures of the main screens (light, dark, 390 px, English and Korean) in instance/screenshots/,
# listed in gallery.html, for a person to look at; not a test, so not part of `make test`.
screenshots: setup
	$(BIN)/pytest -p no:cacheprovider -q tests/screenshots.py

lint: $(VENV)/.installed
	$(BIN)/ruff check app tests migrations wsgi.py gunicorn.conf.py loadtest

# The database is created if missing; seeding is skipped when the bench data is already there.
bench: setup
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

$(VENV)/.loadtest-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[loadtest]'
	@touch $@

# HOST=http://... loads that server (set LOADTEST_USERS=email:password,...); without a URL a
# local gunicorn over a seeded scratch database is started and stopped. Reports go to bench-results/.
loadtest: setup $(VENV)/.loadtest-installed
	$(BIN)/python loadtest/run.py --scenario $(SCENARIO) $(if $(findstring ://,$(HOST)),--host $(HOST),--serve)

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache
