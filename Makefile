# Worklog. `make run` to try it, `make test` to test it. Every target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi.py

HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup run test lint translations messages clean help

help:
	@echo "make run    set up, seed demo accounts on first start, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up, lint, and run the whole test suite"
	@echo "make setup  virtualenv + Python deps, npm assets, translations, database migrations"
	@echo "make lint   ruff"
	@echo "make messages  re-extract UI strings into the catalogs (then translate app/translations/ko)"

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
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: setup lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check app tests migrations wsgi.py

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache
